"""Real local servers for the scanner's client tests: each misbehaves in one way, on 127.0.0.1.

``RawServer(behaviour)`` accepts TCP connections in threads, reads the request head (and a body of
Content-Length bytes), then hands the socket to ``behaviour(conn, request)``. With ``tls=`` the socket
is wrapped server-side first. ``FakeResolver`` is the client's injectable resolver: names map to
answers (a list of answer lists is served one per lookup, the last repeating).
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import socketserver
import ssl
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Behaviour = Callable[[socket.socket, Request], None]


def _read_request(conn: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 1_000_000:
            return None
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Request(method, path, headers, rest[:length])


class RawServer:
    def __init__(self, behaviour: Behaviour, *, tls: ssl.SSLContext | None = None, keep_alive: bool = False):
        self.behaviour = behaviour
        self.tls = tls
        self.keep_alive = keep_alive
        self.requests: list[Request] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                conn.settimeout(30)
                try:
                    if outer.tls is not None:
                        conn = outer.tls.wrap_socket(conn, server_side=True)
                    while True:
                        request = _read_request(conn)
                        if request is None:
                            return
                        outer.requests.append(request)
                        _this_connection.keep_alive = outer.keep_alive
                        outer.behaviour(conn, request)
                        if not outer.keep_alive:
                            return
                except (OSError, ValueError):
                    return  # the client went away or refused our certificate: that is the test

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            block_on_close = False
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    def url(self, path: str = "/", host: str = "127.0.0.1", scheme: str | None = None) -> str:
        return f"{scheme or ('https' if self.tls else 'http')}://{host}:{self.port}{path}"

    def __enter__(self) -> RawServer:
        self._thread.daemon = True
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# behaviours -----------------------------------------------------------------------------------------


_this_connection = threading.local()  # what the handler thread serving the answer knows


def respond(
    conn: socket.socket, status: int = 200, body: bytes = b"", headers: Sequence[tuple[str, str]] = ()
) -> None:
    head = f"HTTP/1.1 {status} X\r\n"
    names = {n.lower() for n, _ in headers}
    if not getattr(_this_connection, "keep_alive", True) and "connection" not in names:
        # The handler closes after this answer: say so, or the client may reuse the socket and
        # race the close (a real server that closes without saying so is a test of its own).
        head += "Connection: close\r\n"
    if "content-length" not in names and "transfer-encoding" not in names:
        head += f"Content-Length: {len(body)}\r\n"
    for name, value in headers:
        head += f"{name}: {value}\r\n"
    conn.sendall(head.encode("latin-1") + b"\r\n" + body)


def ok_json(body: bytes = b'{"ok": true}') -> Behaviour:
    return lambda conn, request: respond(conn, 200, body, [("Content-Type", "application/json")])


def echo(conn: socket.socket, request: Request) -> None:
    """Answers with what it received, as JSON: method, path, headers, body."""
    import json

    payload = {
        "method": request.method,
        "path": request.path,
        "headers": request.headers,
        "body": request.body.decode("latin-1"),
    }
    respond(conn, 200, json.dumps(payload).encode(), [("Content-Type", "application/json")])


def reset(conn: socket.socket, request: Request) -> None:
    """Close with RST (SO_LINGER 0) instead of answering."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def reset_mid_body(conn: socket.socket, request: Request) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
    time.sleep(0.05)
    reset(conn, request)


def drip(
    conn: socket.socket, request: Request, *, head: bytes, interval: float = 0.1, seconds: float = 20
) -> None:
    conn.sendall(head)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        conn.sendall(b"a")
        time.sleep(interval)


def endless_headers(conn: socket.socket, request: Request) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    line = b"X-Padding: " + b"p" * 1000 + b"\r\n"
    for _ in range(10_000):  # 10 MB of headers, never the blank line
        conn.sendall(line)


def silent(conn: socket.socket, request: Request) -> None:
    time.sleep(5)


def stream_forever(conn: socket.socket, request: Request) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")  # no length: body until close
    block = b"a" * 65536
    for _ in range(2000):  # 128 MB at most
        conn.sendall(block)


@dataclass
class Router:
    """Path → behaviour, for redirects between paths of one server."""

    routes: dict[str, Behaviour] = field(default_factory=dict)

    def __call__(self, conn: socket.socket, request: Request) -> None:
        self.routes.get(request.path, lambda c, r: respond(c, 404, b"nope"))(conn, request)


def redirect(location: str, status: int = 302) -> Behaviour:
    return lambda conn, request: respond(conn, status, b"", [("Location", location)])


# resolver ---------------------------------------------------------------------------------------------


class FakeResolver:
    """The client's injectable resolver: fixed answers per name; records every lookup."""

    def __init__(self, answers: dict[str, list[str] | list[list[str]]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    def resolve(self, host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        from testing.engines.safe_http.backend import NameNotResolved

        self.lookups.append(host)
        if host not in self.answers:
            raise NameNotResolved(f"{host} does not resolve")
        answer = self.answers[host]
        if answer and isinstance(answer[0], list):
            count = self.lookups.count(host)
            answer = answer[min(count, len(answer)) - 1]
        return [ipaddress.ip_address(a) for a in answer]  # type: ignore[arg-type]


# certificates -----------------------------------------------------------------------------------------


@dataclass
class Pki:
    ca_pem: bytes
    folder: Path
    _ca_key: ec.EllipticCurvePrivateKey
    _ca_name: x509.Name

    def server_context(self, *names: str, self_signed: bool = False) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if self_signed else self._ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        )
        cert = builder.sign(key if self_signed else self._ca_key, hashes.SHA256())
        stem = self.folder / f"{names[0]}-{'self' if self_signed else 'ca'}"
        cert_path, key_path = stem.with_suffix(".crt"), stem.with_suffix(".key")
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Verification on (chain and host name), trusting only this test CA."""
        context = ssl.create_default_context(cadata=self.ca_pem.decode())
        return context


def make_pki(folder: Path) -> Pki:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Scanner Test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Pki(cert.public_bytes(serialization.Encoding.PEM), folder, key, name)
