"""The test infrastructure itself: pypiserver, the quarantine proxy, the dev index server."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import tarfile
import zipfile
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest
from support.packages import Wheelhouse, sdist, wheel

from indexgate.demo import FirewallRule, IndexServer, QuarantineProxy, ServerConfig
from indexgate.demo.wheels import build_sdist, build_wheel
from indexgate.index.firewall import classify_block

JSON = "application/vnd.pypi.simple.v1+json"
FLASK_WHL = "flask-3.1.0-py3-none-any.whl"
PACKAGES = [
    wheel("flask", "3.0.3", "werkzeug>=3"),
    wheel("flask", "3.1.0", "werkzeug>=3", requires_python=">=3.9"),
    wheel("werkzeug", "3.1.0"),
]
IQ = "https://iq.example/ui/links/repositories/quarantinedComponent/feedbeef"
NEXUS_PHRASE = (
    "-------------------->>> REQUESTED ITEM IS QUARANTINED -------------------->>> "
    f"FOR DETAILS SEE ------>>> {IQ} <<<------"
)


# --- generated packages -------------------------------------------------------------------


def test_build_wheel_is_valid_and_deterministic(tmp_path: Path) -> None:
    def build(folder: Path) -> Path:
        return build_wheel(
            folder,
            "Acme.Core",
            "1.0",
            requires_dist=["flask>=3", 'rich; extra == "cli"'],
            requires_python=">=3.9",
            provides_extra=["cli"],
            tag="cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
            extra_files={"acme_core/data.txt": b"hello"},
        )

    path = build(tmp_path / "a")
    assert path.name == "acme_core-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        metadata = BytesParser().parsebytes(archive.read("acme_core-1.0.dist-info/METADATA"))
        wheel_file = archive.read("acme_core-1.0.dist-info/WHEEL").decode()
        record = archive.read("acme_core-1.0.dist-info/RECORD").decode()
        names = archive.namelist()
        contents = {name: archive.read(name) for name in names}
    assert metadata["Metadata-Version"] == "2.1"
    assert (metadata["Name"], metadata["Version"]) == ("Acme.Core", "1.0")
    assert metadata.get_all("Requires-Dist") == ["flask>=3", 'rich; extra == "cli"']
    assert metadata["Requires-Python"] == ">=3.9"
    assert metadata["Provides-Extra"] == "cli"
    assert "Tag: cp311-cp311-manylinux2014_x86_64" in wheel_file
    assert "Tag: cp311-cp311-manylinux_2_17_x86_64" in wheel_file
    assert "acme_core/data.txt" in names
    for line in record.splitlines():
        name, digest, size = line.split(",")
        if name.endswith("RECORD"):
            continue
        expected = hashlib.sha256(contents[name]).digest()
        assert digest == "sha256=" + base64.urlsafe_b64encode(expected).rstrip(b"=").decode()
        assert int(size) == len(contents[name])
    again = build(tmp_path / "b")
    assert again.read_bytes() == path.read_bytes()


def test_build_sdist_has_static_pkg_info_and_a_booby_trapped_setup_py(tmp_path: Path) -> None:
    path = build_sdist(tmp_path, "acme-core", "2.0", requires_dist=["flask"], dynamic=["Summary"])
    assert path.name == "acme_core-2.0.tar.gz"
    with tarfile.open(path) as tar:
        pkg_info = tar.extractfile("acme_core-2.0/PKG-INFO").read()  # type: ignore[union-attr]
        setup_py = tar.extractfile("acme_core-2.0/setup.py").read().decode()  # type: ignore[union-attr]
    metadata = BytesParser().parsebytes(pkg_info)
    assert metadata["Metadata-Version"] == "2.2"
    assert metadata["Dynamic"] == "Summary"
    assert metadata["Requires-Dist"] == "flask"
    with pytest.raises(RuntimeError, match="was executed"):
        exec(compile(setup_py, "setup.py", "exec"), {})
    assert (
        build_sdist(
            tmp_path / "again", "acme-core", "2.0", requires_dist=["flask"], dynamic=["Summary"]
        ).read_bytes()
        == path.read_bytes()
    )


# --- pypiserver --------------------------------------------------------------------------


def test_private_pypiserver_requires_auth(private_index, private_credentials) -> None:
    server = private_index(PACKAGES)
    assert server.credentials == private_credentials
    assert httpx.get(server.url + "flask/").status_code == 401
    assert httpx.get(server.url + "flask/").headers["WWW-Authenticate"].startswith("Basic")
    assert httpx.get(server.url + "flask/", auth=("ci", "wrong")).status_code == 403
    page = httpx.get(server.url + "flask/", auth=private_credentials)
    assert page.status_code == 200
    hrefs = re.findall(r'href="([^"]+)"', page.text)
    assert [h.split("#")[0] for h in hrefs] == [
        "/packages/flask-3.0.3-py3-none-any.whl",
        f"/packages/{FLASK_WHL}",
    ]
    assert all("#sha256=" in h for h in hrefs)
    assert "data-requires-python" not in page.text  # pypiserver does not emit it
    # no PEP 691 from pypiserver, whatever we ask for
    assert (
        httpx.get(server.url + "flask/", auth=private_credentials, headers={"Accept": JSON})
        .headers["content-type"]
        .startswith("text/html")
    )
    download = httpx.get(server.file_url(FLASK_WHL), auth=private_credentials)
    assert download.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(download.content)).testzip() is None
    assert httpx.get(server.url + "nothing-here/", auth=private_credentials).status_code == 404

    log = server.access_log()
    assert [(e.method, e.path, e.status) for e in log] == [
        ("GET", "/simple/flask/", 401),
        ("GET", "/simple/flask/", 401),
        ("GET", "/simple/flask/", 403),
        ("GET", "/simple/flask/", 200),
        ("GET", "/simple/flask/", 200),
        ("GET", f"/packages/{FLASK_WHL}", 200),
        ("GET", "/simple/nothing-here/", 404),
    ]
    assert server.requests_for("/simple/werkzeug/") == []


def test_public_pypiserver_is_open_and_shared(public_index) -> None:
    server = public_index(PACKAGES)
    assert public_index(PACKAGES) is server  # same package set, same server
    assert httpx.get(server.url).status_code == 200
    assert "werkzeug" in httpx.get(server.url).text
    assert httpx.get(server.url + "werkzeug/").status_code == 200
    assert [e.path for e in server.requests_for("/simple/")] == [
        "/simple/",
        "/simple/",
        "/simple/werkzeug/",
    ]
    assert server.requests_for("/simple/flask/") == []
    with pytest.raises(RuntimeError, match="fresh=True"):
        server.add(Path("whatever.whl"))


def test_fresh_pypiserver_takes_new_packages(public_index, wheelhouse: Wheelhouse) -> None:
    server = public_index(["solo==1.0"], fresh=True)
    assert "solo-2.0" not in httpx.get(server.url + "solo/").text
    server.add(wheelhouse.build("solo==2.0"))
    assert "solo-2.0-py3-none-any.whl" in httpx.get(server.url + "solo/").text


def test_pypiserver_range_requests(public_index, wheelhouse: Wheelhouse) -> None:
    server = public_index(PACKAGES)
    data = wheelhouse.build(PACKAGES[1]).read_bytes()
    response = httpx.get(server.file_url(FLASK_WHL), headers={"Range": "bytes=-22"})
    assert response.status_code == 206
    assert response.content == data[-22:]


# --- quarantine proxy --------------------------------------------------------------------


def test_proxy_passes_pages_files_and_auth_through(
    firewalled_private, private_credentials, wheelhouse
) -> None:
    index = firewalled_private(PACKAGES)
    assert httpx.get(index.url + "flask/").status_code == 401
    assert httpx.get(index.url + "flask/", auth=("ci", "nope")).status_code == 403
    page = httpx.get(index.url + "flask/", auth=private_credentials)
    upstream_page = httpx.get(index.upstream.url + "flask/", auth=private_credentials)
    assert page.status_code == 200
    assert page.text == upstream_page.text
    href = re.findall(r'href="([^"#]+)', page.text)[-1]
    download = httpx.get(httpx.URL(index.url + "flask/").join(href), auth=private_credentials)
    assert download.status_code == 200
    assert download.content == wheelhouse.build(PACKAGES[1]).read_bytes()
    # redirects come back pointing at the proxy, not the upstream
    redirect = httpx.get(index.url + "Flask/", auth=private_credentials)
    assert redirect.status_code == 301
    assert redirect.headers["Location"].startswith(index.base_url)

    assert [(e.path, e.status) for e in index.requests_for("/")] == [
        ("/simple/flask/", 401),
        ("/simple/flask/", 403),
        ("/simple/flask/", 200),
        (f"/packages/{FLASK_WHL}", 200),
        ("/simple/Flask/", 301),
    ]
    assert index.requests_for(f"/packages/{FLASK_WHL}")[0].headers["authorization"] == "Basic ci"
    assert [e.path for e in index.upstream.requests_for("/packages/")] == [f"/packages/{FLASK_WHL}"]


@pytest.mark.parametrize(
    ("rule", "vendor", "phrase"),
    [
        (FirewallRule("nexus", details_url=IQ), "nexus-firewall", NEXUS_PHRASE),
        (FirewallRule("nexus-problem", details_url=IQ), "nexus-firewall", "Forbidden"),
        ("curation", "jfrog-curation", "Forbidden"),
        (FirewallRule("xray", repo="pypi-virtual"), "jfrog-xray", "Forbidden"),
        ("plain", "unknown", "Forbidden"),
    ],
)
def test_proxy_answers_in_each_vendor_format(
    firewalled_private, private_credentials, rule, vendor, phrase
) -> None:
    index = firewalled_private(PACKAGES, {FLASK_WHL: rule})
    response = httpx.get(index.file_url(FLASK_WHL), auth=private_credentials)
    assert response.status_code == 403
    assert response.reason_phrase == phrase
    block = classify_block(
        response.status_code, response.reason_phrase, response.headers, response.content
    )
    assert block.vendor == vendor
    if vendor == "nexus-firewall":
        assert (block.reason, block.details_url) == ("REQUESTED ITEM IS QUARANTINED", IQ)
    if rule == "curation":
        message = json.loads(response.content)["errors"][0]["message"]
        assert message.startswith(
            "Package flask:3.1.0 download was blocked by JFrog Packages Curation service due to "
            "the following policies violated {"
        )
        assert block.policies and block.policies[0]["policy"] == "block-malicious"
    if vendor == "jfrog-xray":
        assert json.loads(response.content) == {
            "errors": [
                {
                    "status": 403,
                    "message": "Artifact download request rejected: pypi-virtual-cache/packages/"
                    f"{FLASK_WHL} was not downloaded due to the download blocking policy "
                    "configured in Xray for pypi-virtual.",
                }
            ]
        }
    # the page still lists the file and other files still download
    assert FLASK_WHL in httpx.get(index.url + "flask/", auth=private_credentials).text
    other = httpx.get(index.file_url("flask-3.0.3-py3-none-any.whl"), auth=private_credentials)
    assert other.status_code == 200
    # the blocked download never reached the index behind the firewall
    assert index.upstream.requests_for(f"/packages/{FLASK_WHL}") == []


def test_proxy_blocks_metadata_or_file_separately(firewalled_private, private_credentials) -> None:
    index = firewalled_private(PACKAGES, {FLASK_WHL: FirewallRule("xray", block="metadata")})
    auth = private_credentials
    assert httpx.get(index.file_url(FLASK_WHL + ".metadata"), auth=auth).status_code == 403
    assert httpx.get(index.file_url(FLASK_WHL), auth=auth).status_code == 200
    index.set_rules({FLASK_WHL: FirewallRule("curation", block="file")})
    assert httpx.get(index.file_url(FLASK_WHL), auth=auth).status_code == 403
    # pypiserver has no PEP 658 files: the request passed the firewall and got the index's 404
    assert httpx.get(index.file_url(FLASK_WHL + ".metadata"), auth=auth).status_code == 404
    index.set_rules({})  # drift: released from quarantine
    assert httpx.get(index.file_url(FLASK_WHL), auth=auth).status_code == 200


def test_proxy_path_rule_blocks_a_project_page(firewalled_private, private_credentials) -> None:
    index = firewalled_private(PACKAGES, {"/simple/flask/": FirewallRule("plain", message="nope")})
    response = httpx.get(index.url + "flask/", auth=private_credentials)
    assert (response.status_code, response.text) == (403, "nope")
    assert httpx.get(index.url + "werkzeug/", auth=private_credentials).status_code == 200


@pytest.mark.parametrize(
    ("header", "piece"),
    [
        ("bytes=0-9", slice(0, 10)),
        ("bytes=-30", slice(-30, None)),
        ("bytes=100-", slice(100, None)),
    ],
)
def test_range_requests_through_the_proxy(
    firewalled_private, private_credentials, wheelhouse, header, piece
) -> None:
    index = firewalled_private(PACKAGES)
    data = wheelhouse.build(PACKAGES[1]).read_bytes()
    response = httpx.get(
        index.file_url(FLASK_WHL), auth=private_credentials, headers={"Range": header}
    )
    assert response.status_code == 206
    assert response.content == data[piece]
    start = range(len(data))[piece][0]
    assert (
        response.headers["Content-Range"]
        == f"bytes {start}-{start + len(data[piece]) - 1}/{len(data)}"
    )
    head = httpx.head(index.file_url(FLASK_WHL), auth=private_credentials)
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(data))
    assert index.requests_for(f"/packages/{FLASK_WHL}")[0].headers["range"] == header


def test_proxy_in_front_of_dev_index_keeps_json_and_metadata(
    dev_index, private_credentials
) -> None:
    upstream = dev_index(PACKAGES)
    with QuarantineProxy(
        upstream.base_url, {FLASK_WHL: FirewallRule("nexus", block="file")}
    ) as proxy:
        page = httpx.get(proxy.url + "flask/", headers={"Accept": JSON})
        assert page.headers["content-type"] == JSON
        entry = {f["filename"]: f for f in page.json()["files"]}[FLASK_WHL]
        url = httpx.URL(proxy.url + "flask/").join(entry["url"])
        metadata = httpx.get(str(url) + ".metadata")
        assert metadata.status_code == 200
        assert hashlib.sha256(metadata.content).hexdigest() == entry["core-metadata"]["sha256"]
        assert httpx.get(url).reason_phrase.startswith("-------------------->>> REQUESTED ITEM")


def test_proxy_reports_an_unreachable_upstream() -> None:
    with IndexServer(Path("/nonexistent")) as gone:
        base = gone.base_url
    with QuarantineProxy(base) as proxy:
        assert httpx.get(proxy.url).status_code == 502


# --- dev index server --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "text/html"),
        ("*/*", "text/html"),
        ("text/html", "text/html"),
        (JSON, JSON),
        (f"{JSON}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01", JSON),
        (f"text/html, {JSON};q=0.5", "text/html"),
        ("application/vnd.pypi.simple.latest+json", JSON),
        (f"{JSON};q=0", "text/html"),
    ],
)
def test_dev_index_negotiates_json_or_html(dev_index, accept, expected) -> None:
    server = dev_index(PACKAGES)
    headers = {"Accept": accept} if accept else {}
    response = httpx.get(server.url + "flask/", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(expected)
    assert response.headers["vary"] == "Accept"


def test_dev_index_json_off_always_answers_html(dev_index) -> None:
    server = dev_index(PACKAGES, json=False)
    response = httpx.get(server.url + "flask/", headers={"Accept": JSON})
    assert response.headers["content-type"].startswith("text/html")


def test_dev_index_pages_carry_every_attribute(dev_index, wheelhouse) -> None:
    files = [*PACKAGES, sdist("flask", "3.1.0", "werkzeug>=3")]
    server = dev_index(
        files,
        yanked={"flask-3.0.3-py3-none-any.whl": "broken build"},
        upload_times={FLASK_WHL: "2024-11-13T18:23:12.345678Z"},
    )
    page = httpx.get(server.url + "flask/", headers={"Accept": JSON}).json()
    assert page["meta"] == {"api-version": "1.1"}
    assert page["name"] == "flask"
    assert page["versions"] == ["3.0.3", "3.1.0"]
    by_name = {f["filename"]: f for f in page["files"]}
    assert set(by_name) == {"flask-3.0.3-py3-none-any.whl", FLASK_WHL, "flask-3.1.0.tar.gz"}
    new = by_name[FLASK_WHL]
    data = wheelhouse.build(PACKAGES[1]).read_bytes()
    assert new["hashes"] == {"sha256": hashlib.sha256(data).hexdigest()}
    assert new["size"] == len(data)
    assert new["requires-python"] == ">=3.9"
    assert new["upload-time"] == "2024-11-13T18:23:12.345678Z"
    assert new["core-metadata"] == new["dist-info-metadata"]
    assert by_name["flask-3.0.3-py3-none-any.whl"]["yanked"] == "broken build"
    assert "yanked" not in new
    assert "core-metadata" not in by_name["flask-3.1.0.tar.gz"]

    html = httpx.get(server.url + "flask/").text
    anchor = re.search(rf'<a href="([^"]+)"([^>]*)>{re.escape(FLASK_WHL)}</a>', html)
    assert anchor is not None
    assert anchor.group(1) == f"../../files/{FLASK_WHL}#sha256={hashlib.sha256(data).hexdigest()}"
    assert 'data-requires-python="&gt;=3.9"' in anchor.group(2)
    assert f'data-core-metadata="sha256={new["core-metadata"]["sha256"]}"' in anchor.group(2)
    assert 'data-dist-info-metadata="sha256=' in anchor.group(2)
    assert 'data-yanked="broken build"' in html

    root = httpx.get(server.url, headers={"Accept": JSON}).json()
    assert root["projects"] == [{"name": "flask"}, {"name": "werkzeug"}]
    assert '<a href="werkzeug/">werkzeug</a>' in httpx.get(server.url).text


def test_dev_index_pep658_metadata_files(dev_index) -> None:
    server = dev_index(PACKAGES)
    page = httpx.get(server.url + "flask/", headers={"Accept": JSON}).json()
    entry = {f["filename"]: f for f in page["files"]}[FLASK_WHL]
    metadata = httpx.get(f"{server.base_url}/files/{FLASK_WHL}.metadata")
    assert metadata.status_code == 200
    assert hashlib.sha256(metadata.content).hexdigest() == entry["core-metadata"]["sha256"]
    assert b"Requires-Dist: werkzeug>=3" in metadata.content

    without = dev_index(PACKAGES, pep658=False)
    assert "core-metadata" not in httpx.get(without.url + "flask/").text
    assert httpx.get(f"{without.base_url}/files/{FLASK_WHL}.metadata").status_code == 404


def test_dev_index_ranges_and_head(dev_index, wheelhouse) -> None:
    server = dev_index(PACKAGES)
    data = wheelhouse.build(PACKAGES[1]).read_bytes()
    url = f"{server.base_url}/files/{FLASK_WHL}"
    for header, piece in [
        ("bytes=0-0", slice(0, 1)),
        ("bytes=-22", slice(-22, None)),
        ("bytes=10-", slice(10, None)),
        ("bytes=0-99999", slice(0, None)),
    ]:
        response = httpx.get(url, headers={"Range": header})
        assert response.status_code == 206, header
        assert response.content == data[piece]
        assert response.headers["accept-ranges"] == "bytes"
    unsatisfiable = httpx.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["content-range"] == f"bytes */{len(data)}"
    full = httpx.get(url, headers={"Range": "bytes=0-1,5-6"})
    assert (full.status_code, full.content) == (200, data)
    head = httpx.head(url)
    assert (head.status_code, head.headers["content-length"], head.content) == (
        200,
        str(len(data)),
        b"",
    )


def test_dev_index_basic_auth(dev_index) -> None:
    server = dev_index(PACKAGES, basic_auth=("ci", "secret"))
    missing = httpx.get(server.url)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Basic realm=")
    assert httpx.get(server.url, auth=("ci", "bad")).status_code == 401
    assert httpx.get(server.url, auth=("ci", "secret")).status_code == 200
    assert (
        httpx.get(f"{server.base_url}/files/{FLASK_WHL}", auth=("ci", "secret")).status_code == 200
    )

    artifactory_like = dev_index(PACKAGES, basic_auth=("ci", "secret"), forbid_without_auth=True)
    denied = httpx.get(artifactory_like.url + "flask/")
    assert denied.status_code == 403
    assert "www-authenticate" not in denied.headers
    log = server.access_log.entries()
    assert [e.status for e in log] == [401, 401, 200, 200]
    assert "authorization" not in log[0].headers
    assert log[2].headers["authorization"] == "Basic ci"  # who, never the password
    assert all("secret" not in repr(e) for e in log)


def test_dev_index_firewall_page_status_and_flaky(dev_index) -> None:
    server = dev_index(
        PACKAGES,
        firewall={FLASK_WHL: FirewallRule("nexus-problem", block="metadata")},
        page_status={"werkzeug": 403},
        flaky={"/simple/flask/": 2},
    )
    assert [httpx.get(server.url + "flask/").status_code for _ in range(3)] == [503, 503, 200]
    blocked = httpx.get(f"{server.base_url}/files/{FLASK_WHL}.metadata")
    assert blocked.headers["content-type"] == "application/problem+json"
    assert classify_block(403, "", blocked.headers, blocked.content).vendor == "nexus-firewall"
    assert httpx.get(f"{server.base_url}/files/{FLASK_WHL}").status_code == 200
    assert httpx.get(server.url + "werkzeug/").status_code == 403
    assert httpx.get(server.url + "nothing/").status_code == 404
    assert [e.path for e in server.requests_for("/files/")] == [
        f"/files/{FLASK_WHL}.metadata",
        f"/files/{FLASK_WHL}",
    ]


def test_dev_index_serves_files_added_later_and_stops_cleanly(dev_index, wheelhouse) -> None:
    server = dev_index(["solo==1.0"])
    wheelhouse.add(server.root, "solo==2.0")
    url = server.url + "solo/"
    with httpx.Client() as client:  # keep-alive connection
        assert "solo-2.0-py3-none-any.whl" in client.get(url).text
        server.stop()
        with pytest.raises(httpx.TransportError):
            client.get(url)


def test_dev_index_server_config_as_object(tmp_path: Path) -> None:
    build_wheel(tmp_path, "one", "1.0")
    with IndexServer(tmp_path, ServerConfig(json=False)) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx.get(server.url + "one/").status_code == 200
    with pytest.raises(RuntimeError):
        _ = server.port
