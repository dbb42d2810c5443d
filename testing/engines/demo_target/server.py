"""``DemoTarget``: the demo API on a real socket, on loopback only, in a background thread.

    with DemoTarget(port=0, tls=True) as target:      # port 0: pick a free port
        target.url                                      # "https://127.0.0.1:40123"
        target.tls_versions                             # ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3") here

The stdlib ``ThreadingHTTPServer`` with HTTP/1.1 keep-alive: one thread per connection, so the slow
endpoint never holds up the others. Bounded: at most ``max_connections`` at once (more are closed
on accept), a socket timeout per connection, bodies over ``max_body`` refused with 413 without
being read, chunked bodies refused with 411, at most 100 headers (http.client's own limit).
A TLS handshake happens in the connection's thread, never in the accept loop.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from testing.engines.demo_target import tls as weak_tls
from testing.engines.demo_target.app import SLOW_SECONDS, DemoApp, Request, Response

MAX_BODY = 64 * 1024
MAX_QUERY_FIELDS = 50
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


class NotLoopback(ValueError):  # noqa: N818 - reads as the reason: "NotLoopback: 10.0.0.1"
    """The demo target only ever listens on a loopback address."""


def loopback_address(host: str) -> str:
    """``host`` if it is a loopback IP literal (127.0.0.0/8, ::1) or ``localhost`` (→ 127.0.0.1)."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise NotLoopback(f"{host!r} is not a loopback IP address") from None
    if not address.is_loopback:
        raise NotLoopback(f"{host} is not a loopback address; the demo target is flawed on purpose")
    return str(address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    server: _Server

    def send_response(self, code: int, message: str | None = None) -> None:
        # The stdlib adds "Server: BaseHTTP/0.6 Python/3.x": a banner only the flawed route may send.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The stdlib's HTML error page (with its banner); a short JSON answer instead.
        self.close_connection = True
        body = json.dumps({"error": self.responses.get(code, ("error",))[0].lower()}).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        log = self.server.target.log
        if log is not None:
            log(f"{self.address_string()} {format % args}")

    def _serve(self) -> None:
        target = self.server.target
        if "transfer-encoding" in self.headers:
            self.send_error(411)
            return
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            self.send_error(400)
            return
        if length < 0:
            self.send_error(400)
            return
        if length > target.max_body:
            self.send_error(413)  # closes the connection: the body is never read
            return
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        try:
            query = dict(
                reversed(parse_qsl(split.query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS))
            )
        except ValueError:
            self.send_error(400)
            return
        head = self.requestline + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
        request = Request(
            method=self.command,
            path=split.path or "/",
            query=query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            client=self.client_address[0],
            raw_head=head,
        )
        self._write(target.app.handle(request))

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        names = {name.lower() for name, _ in response.headers}
        for name, value in response.headers:
            self.send_header(name, value)
        if "content-length" not in names and response.status not in (204, 304) and response.status >= 200:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.status not in (204, 304):
            self.wfile.write(response.body)


for _method in METHODS:
    setattr(_Handler, f"do_{_method}", _Handler._serve)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, target: DemoTarget, address: tuple[str, int]) -> None:
        self.target = target
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._slots = threading.BoundedSemaphore(target.max_connections)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look up the host's FQDN (DNS); loopback needs no name.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # full: refuse rather than queue without bound
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(self.target.request_timeout)
        context = self.target.ssl_context
        if context is not None:
            try:
                request = context.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return  # a failed handshake (a client refusing our certificate, a version probe)
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)
            if context is not None:
                request.close()

    def close_connections(self) -> None:
        """Ends every open connection (keep-alive ones included), so a stopped target answers nothing."""
        with self._connections_lock:
            open_now = list(self._connections)
        for connection in open_now:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away mid-answer is not news


class DemoTarget:
    """The flawed demo API served on loopback; ``start()``/``stop()``, or use it as a context manager.

    State (users, orders, rate-limit windows) is fresh at every ``start()``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        slow_seconds: float = SLOW_SECONDS,
        rate_limit: int = 10,
        rate_window_s: float = 10.0,
        max_body: int = MAX_BODY,
        request_timeout: float = 10.0,
        max_connections: int = 64,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.host = loopback_address(host)
        self.requested_port = port
        self.tls = tls
        self.slow_seconds = slow_seconds
        self.rate_limit = rate_limit
        self.rate_window_s = rate_window_s
        self.max_body = max_body
        self.request_timeout = request_timeout
        self.max_connections = max_connections
        self.log = log
        self.ssl_context: ssl.SSLContext | None = None
        self.certificate_pem = b""
        self.tls_versions: tuple[str, ...] = ()
        self.app = DemoApp()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the demo target is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``scheme://host:port`` with no trailing slash (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def start(self) -> DemoTarget:
        if self._server is not None:
            raise RuntimeError("the demo target is already running")
        if self.tls:
            self.ssl_context, self.certificate_pem = weak_tls.weak_server_context(self.host)
        self._stopping = threading.Event()
        self._server = _Server(self, (self.host, self.requested_port))
        self.app = DemoApp(
            base_url=self.url,
            slow_seconds=self.slow_seconds,
            rate_limit=self.rate_limit,
            rate_window_s=self.rate_window_s,
            stopping=self._stopping,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="demo-target", daemon=True
        )
        self._thread.start()
        if self.tls:
            self.tls_versions = weak_tls.accepted_versions(self.host, self.port)
        return self

    def serve_forever(self) -> None:
        """Blocks until ``stop()`` is called from elsewhere (the management command's loop)."""
        if self._thread is None:
            self.start()
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes the slow endpoint
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(5)
        self._server, self._thread = None, None

    def __enter__(self) -> DemoTarget:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
