"""TLS for the network tests: a private CA made here with ``cryptography`` (no openssl CLI,
no download), certificates it signs for 127.0.0.1 (servers) and for clients (mutual TLS),
the demo's index server served over TLS, and an HTTP/2-only front for it.

``cryptography`` is in the ``test`` extra: a missing one fails, never skips.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import ipaddress
import socket
import ssl
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from indexgate.demo import IndexServer, ServerConfig


@dataclass
class Issued:
    cert: Path  # the certificate (PEM)
    key: Path  # its private key (PEM)
    combined: Path  # certificate then key, as pip's --client-cert wants

    def key_lines(self) -> list[str]:
        """The base64 lines of the private key: none of them may show up in any output."""
        return [
            line for line in self.key.read_text().splitlines() if line and "PRIVATE" not in line
        ]


@dataclass
class PrivateCa:
    """A certificate authority no trust store knows; ``name`` is all lower case, so that
    the OpenSSL subject hash below is the plain SHA-1 of the name's DER."""

    folder: Path
    name: str = "indexgate test ca"
    cert: Path = field(init=False)
    _key: Any = field(init=False, repr=False)
    _cert: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.folder.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)])
        now = datetime.datetime.now(datetime.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        self.cert = self.folder / "ca.pem"
        self.cert.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, name: str, *, client: bool = False) -> Issued:
        """A certificate for 127.0.0.1 and localhost (a server's), or for a client."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        if not client:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                        x509.DNSName("localhost"),
                    ]
                ),
                critical=False,
            )
        cert = builder.sign(self._key, hashes.SHA256())
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        paths = Issued(
            self.folder / f"{name}.crt", self.folder / f"{name}.key", self.folder / f"{name}.pem"
        )
        paths.cert.write_bytes(cert_pem)
        paths.key.write_bytes(key_pem)
        paths.combined.write_bytes(cert_pem + key_pem)
        return paths

    def subject_hash(self) -> str:
        """OpenSSL's ``X509_NAME_hash`` of the CA's subject: the file name (``<hash>.0``) a
        hashed certificate folder (``SSL_CERT_DIR``, ``c_rehash``) files it under."""
        der = self._cert.subject.public_bytes()
        # The canonical form is the DER of the RDN SETs without the outer SEQUENCE header;
        # for a lower-case single-spaced UTF8String name it is that DER unchanged.
        length = der[1]
        body = der[2:] if length < 0x80 else der[2 + (length & 0x7F) :]
        digest = hashlib.sha1(body).digest()
        return f"{int.from_bytes(digest[:4], 'little'):08x}"

    def server_context(self, *, alpn: list[str] | None = None, **options: Any) -> ssl.SSLContext:
        """A server context with a fresh certificate this CA signed; ``client_ca`` (a path)
        turns on mutual TLS: a client certificate that CA signed is required."""
        issued = self.issue("server")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(issued.cert, issued.key)
        context.set_alpn_protocols(alpn or ["http/1.1"])
        client_ca = options.get("client_ca")
        if client_ca is not None:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=str(client_ca))
        if options.get("tls12"):
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        return context


class TlsIndexServer(IndexServer):
    """The demo's index server over TLS: each accepted connection is wrapped and shakes hands
    in its handler thread; ``tcp_connections`` counts connections, ``handshake_errors``
    what OpenSSL said of the ones that failed."""

    def __init__(
        self, root: Path, context: ssl.SSLContext, config: ServerConfig | None = None
    ) -> None:
        super().__init__(root, config)
        self.context = context
        self.tcp_connections = 0
        self.handshake_errors: list[str] = []

    def start(self) -> Self:
        if self._server is not None:
            return self
        super().start()
        server = self._server
        assert server is not None
        accept, finish = server.get_request, server.finish_request
        context = self.context

        def get_request() -> tuple[Any, Any]:
            sock, address = accept()
            self.tcp_connections += 1
            return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), (
                address
            )

        def finish_request(request: Any, address: Any) -> None:
            try:
                request.settimeout(10)
                request.do_handshake()
            except (ssl.SSLError, OSError) as exc:
                self.handshake_errors.append(str(getattr(exc, "reason", None) or exc))
                _linger(request)
                return
            finish(request, address)

        server.get_request = get_request  # type: ignore[method-assign]
        server.finish_request = finish_request  # type: ignore[method-assign]
        return self

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


def _linger(request: Any) -> None:
    """Close as nginx and Apache do (a lingering close): read what the client still sends
    before closing, so that its bytes do not make the kernel reset the connection, which
    would destroy the TLS alert the client has yet to read."""
    try:
        request.shutdown(socket.SHUT_WR)
        request.settimeout(1)
        while socket.socket.recv(request, 65536):  # the raw bytes, no TLS
            pass
    except OSError:
        pass


class LoopServer:
    """A TLS server on an asyncio loop of its own thread, on 127.0.0.1 and a free port:
    the test HTTP/2 servers' lifecycle (subclasses give ``_protocol``)."""

    def __init__(self, context: ssl.SSLContext | Any) -> None:
        self.context = context
        self.paths: list[str] = []
        self.connections = 0
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()

        async def start() -> int:
            self._server = await self.loop.create_server(
                self._protocol, "127.0.0.1", 0, ssl=self.context
            )
            return self._server.sockets[0].getsockname()[1]

        self.port = asyncio.run_coroutine_threadsafe(start(), self.loop).result(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self._server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def _protocol(self) -> asyncio.Protocol:
        raise NotImplementedError


class H2Front(LoopServer):
    """An HTTP/2-only TLS server (ALPN h2, on the ``h2`` package) that answers each request
    by asking ``backend`` (an http:// index) the same path."""

    def __init__(self, backend: str, context: ssl.SSLContext) -> None:
        super().__init__(context)
        self.backend = backend.rstrip("/")

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _ask_backend(self, path: str, headers: dict[str, str]) -> tuple[int, list, bytes]:
        wanted = {k: v for k, v in headers.items() if k in ("accept", "range", "authorization")}
        method = headers[":method"]
        request = urllib.request.Request(self.backend + path, headers=wanted, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, list(answer.headers.items()), answer.read()
        except urllib.error.HTTPError as error:
            return error.code, list(error.headers.items()), error.read()

    def _protocol(self) -> asyncio.Protocol:
        import h2.config
        import h2.connection
        import h2.events

        front = self
        self.connections += 1
        skip = {"connection", "transfer-encoding", "keep-alive", "content-length", "server"}

        class Protocol(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport: Any = transport
                config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
                self.conn = h2.connection.H2Connection(config=config)
                self.conn.initiate_connection()
                self.transport.write(self.conn.data_to_send())

            def data_received(self, data: bytes) -> None:
                for event in self.conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        headers = dict(event.headers)
                        path = headers[":path"]
                        front.paths.append(path)
                        status, answer_headers, body = front._ask_backend(path, headers)
                        out = [(":status", str(status))]
                        out += [(k.lower(), v) for k, v in answer_headers if k.lower() not in skip]
                        if headers[":method"] == "HEAD":
                            body = b""
                        else:
                            out.append(("content-length", str(len(body))))
                        self.conn.send_headers(event.stream_id, out, end_stream=not body)
                        size = self.conn.max_outbound_frame_size
                        for start in range(0, len(body), size):  # small bodies: in the window
                            last = start + size >= len(body)
                            chunk = body[start : start + size]
                            self.conn.send_data(event.stream_id, chunk, end_stream=last)
                self.transport.write(self.conn.data_to_send())

        return Protocol()
