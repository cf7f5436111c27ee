"""What ``HttpClient`` (``http.py``) hands its callers and its cache: the answer
(``Response``), the run's wire statistics (``Stats``), the cache's interface
(``HttpCache``, ``CachedResponse``), and the streamed-body plumbing between the transport
and a caller's ``BodySink`` (``Tee`` counts and hashes the body as it passes;
``delivered`` feeds a body a transport buffered; ``to_response`` closes the sink).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from indexgate.index.transport.base import RawResponse, Sink, SinkFactory
from indexgate.index.transport.headers import Headers

_FEED_SLICE = 1 << 20  # a buffered body is fed to a sink in slices of this size


class BodySink(Protocol):
    """What a streamed body goes to (``HttpClient.request(sink=...)``): ``feed`` with
    each piece as it arrives, ``close`` once the body is complete, ``summary`` when the
    cache keeps the answer. None may raise: a sink keeps its own failure (a page that
    does not parse) for its owner to read."""

    def feed(self, data: bytes) -> None: ...

    def close(self) -> None: ...

    def summary(self, answer: Response) -> bytes | None:
        """What the cache keeps of the body in its stead, in the answer's own entry (a
        project page's parse), or None to keep nothing; asked only when the cache stores
        ``answer`` (closed, its ``body_sha256`` set). A cached answer hands it back as
        ``Response.summary`` for the sink's owner to read: its format, and what besides
        the body it depends on, are the owner's to record and check."""
        ...


BodySinkFactory = Callable[[str, int, Headers], "BodySink | None"]
"""Called with the answer's URL (after redirects), status and headers, once per attempt
at a 2xx answer with a body: the sink for that body, or None to have it buffered."""


@dataclass(frozen=True)
class Response:
    """One answer as the index client reads it (redirects followed)."""

    url: str
    status: int
    reason: str
    headers: Headers
    content: bytes
    from_cache: bool = False
    history: tuple[str, ...] = ()  # the URLs that redirected here, first asked first
    # A streamed answer: the caller's sink that got the whole body (``content`` is empty).
    sink: BodySink | None = field(default=None, compare=False)
    # The body's sha256 (hex) when ``content`` does not hold it: a streamed answer, or a
    # cached one whose body the cache did not keep (its hash only).
    body_sha256: str | None = None
    # A cached streamed answer: what its sink made of the body (``BodySink.summary``), kept
    # in the body's stead; None when the sink kept nothing.
    summary: bytes | None = field(default=None, repr=False)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


@dataclass
class Stats:
    """What the run cost on the wire; the benchmark prints these."""

    requests: int = 0
    bytes: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    cache_hits: int = 0
    revalidated: int = 0

    def count(self, method: str, nbytes: int) -> None:
        self.requests += 1
        self.bytes += nbytes
        self.by_method[method] = self.by_method.get(method, 0) + 1


@dataclass(frozen=True)
class Streaming:
    """How one logical request streams: the caller's sink factory, and ``reload``."""

    sink: BodySinkFactory | None
    reload: bool = False


class Tee:
    """Between the transport and the caller's sink: counts and hashes the body (the
    cache keeps its hash, the page key is made of it) as it passes."""

    __slots__ = ("_hash", "inner", "size")

    def __init__(self, inner: BodySink) -> None:
        self.inner = inner
        self.size = 0
        self._hash = hashlib.sha256()

    def feed(self, data: bytes) -> None:
        self.size += len(data)
        self._hash.update(data)
        self.inner.feed(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def tee_factory(sink: BodySinkFactory | None, url: str) -> SinkFactory | None:
    """What the transport is given for a request to ``url``: each call (one per
    attempt) a new sink from the caller's factory, for 2xx answers only."""
    if sink is None:
        return None

    def factory(status: int, headers: Headers) -> Sink | None:
        if not 200 <= status < 300:  # redirects, refusals, errors: buffered as ever
            return None
        inner = sink(url, status, headers)
        return None if inner is None else Tee(inner)

    return factory


def delivered(method: str, raw: RawResponse, factory: SinkFactory | None) -> RawResponse:
    """``raw`` with its body in the sink ``factory`` makes, when the transport buffered a
    body the caller wanted streamed (``file://``, a test transport); else ``raw``."""
    if factory is None or raw.sink is not None or method == "HEAD":
        return raw
    target = factory(raw.status, raw.headers)
    if target is None:
        return raw
    view = memoryview(raw.content)
    for start in range(0, len(view), _FEED_SLICE):
        target.feed(bytes(view[start : start + _FEED_SLICE]))
    return replace(raw, content=b"", sink=target)


def to_response(url: str, raw: RawResponse) -> Response:
    """The answer ``HttpClient`` hands on; a streamed body's sink is closed here, once the
    transport read the whole body."""
    tee = raw.sink
    if not isinstance(tee, Tee):
        return Response(url, raw.status, raw.reason, raw.headers, raw.content)
    tee.inner.close()
    return Response(
        url,
        raw.status,
        raw.reason,
        raw.headers,
        b"",
        sink=tee.inner,
        body_sha256=tee.hexdigest(),
    )


class HttpCache(Protocol):
    """What the client needs of a persistent cache (``indexgate.index.cache``)."""

    #: False when the cache could not be set up (a read-only home): it then keeps nothing,
    #: so a run that would reuse what it keeps (resolver/reuse.py) does not try.
    enabled: bool

    def lookup(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        digest: str | None = None,
        *,
        authed: bool = False,
    ) -> CachedResponse | None:
        """The stored answer, if any; ``authed``: this request carries credentials, so
        nothing is fresh for it but a hashed file's bytes."""
        ...

    def store(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        response: Response,
        digest: str | None = None,
        *,
        authed: bool = False,
    ) -> None:
        """Keep ``response`` for later runs: a streamed one as its body's hash and its
        sink's ``summary`` (handed back as ``Response.summary``), not its bytes.
        ``authed``: the request carried credentials, so the answer is never served again
        without asking the server (``CachedResponse.authed``)."""
        ...

    def refresh(self, cached: CachedResponse, not_modified: Response) -> Response: ...

    def get_blob(self, kind: str, key: str) -> bytes | None:
        """Bytes kept under a content hash (a wheel's metadata, a reused outcome); None
        when absent."""
        ...

    def put_blob(self, kind: str, key: str, data: bytes) -> None:
        """Keep ``data``, which depends only on the content ``key`` hashes."""
        ...


@dataclass(frozen=True)
class CachedResponse:
    """A stored answer, whether it is still fresh, and how to revalidate it."""

    response: Response
    fresh: bool
    validators: dict[str, str]
    key: str
    # The answer was given to a request with credentials: never fresh (unless its bytes are
    # named by a hash), so another run, with other credentials or none, asks the server
    # again, and only the server's 304 to that run's own request lets it reuse the body.
    authed: bool = False
