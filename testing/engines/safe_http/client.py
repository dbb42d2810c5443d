"""``SafeClient``: the one way scanner code sends HTTP. Every call returns a ``ScanResponse``.

A response either carries a status, headers and a (capped, decoded) body, or an ``error`` with a
stable ``ErrorKind`` (and, when the failure came after the headers, the status and headers too).
Nothing from httpx/httpcore escapes. The one exception is ``BudgetExceeded``, raised when the
client's request budget is spent, because the check has to stop rather than record and carry on.

What each request goes through, in order:

1. the URL: http or https only, a host, no user info (credentials come from identities, never URLs),
   a numeric host normalised and checked before anything else;
2. the budget (every hop counts) and the per-host rate (requests per second per host:port);
3. the connection: ``GuardedBackend`` resolves, checks and connects to the checked address; TLS is
   verified against the URL's host name;
4. the deadline: connect, read and write timeouts per operation, and a wall-clock total over the
   whole exchange (redirects included) enforced inside every socket operation;
5. the body: read by the client itself, raw bytes and decoded bytes both capped (``max_body_bytes``);
6. redirects: followed here (never by httpx), each hop re-checked from step 1, at most
   ``max_redirects``, loops detected, credentials dropped when the origin changes.

Not thread-safe for one request across threads, but one client may be used from several threads:
the budget, the rate limiter and httpcore's pool are.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import logging
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpcore
import httpx

from testing.engines.safe_http.addresses import AddressPolicy, InvalidHost, IPNetwork, parse_ip
from testing.engines.safe_http.backend import (
    AddressRefused,
    DeadlineReached,
    GuardedBackend,
    NameNotResolved,
    Resolver,
    deadline,
    time_left,
)
from testing.engines.safe_http.decoding import BoundedDecoder
from testing.engines.safe_http.errors import BudgetExceeded, ErrorKind, ScanError
from testing.engines.safe_http.redaction import Redactor

logger = logging.getLogger(__name__)

USER_AGENT = "api-security-portal-scanner/1"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# The only request headers a redirect carries to another origin.
CROSS_ORIGIN_HEADERS = frozenset({"user-agent", "accept", "accept-encoding", "content-type"})
READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """How much one client may do. Timeouts in seconds; 0 for ``per_host_rate`` means no limit."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0  # wall clock, whole exchange including redirects
    max_body_bytes: int = 2 * 1024 * 1024  # raw and decompressed
    max_redirects: int = 3
    per_host_rate: float = 10.0  # requests per second to one host:port
    max_requests: int = 1000  # the budget: requests (redirect hops included) over the client's life

    def __post_init__(self) -> None:
        if min(self.connect_timeout, self.read_timeout, self.total_timeout) <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_body_bytes < 1 or self.max_redirects < 0 or self.max_requests < 0:
            raise ValueError("max_body_bytes must be positive; max_redirects, max_requests >= 0")
        if self.per_host_rate < 0:
            raise ValueError("per_host_rate must be >= 0")


@dataclass(frozen=True)
class RedirectHop:
    """One 3xx the client followed (URLs as sent; use ``ScanResponse.evidence`` to store them)."""

    url: str
    status: int
    location: str


@dataclass
class ScanResponse:
    """What a request produced. ``error`` is None when the exchange completed."""

    method: str
    url: str  # the final URL (after redirects)
    status: int | None = None
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    body: bytes = b""  # decoded (Content-Encoding undone), at most max_body_bytes
    elapsed: float = 0.0  # seconds, whole exchange, not counting waits for the per-host rate
    waited: float = 0.0  # seconds spent waiting for the per-host rate before sending
    redirects: tuple[RedirectHop, ...] = ()
    peer: str | None = None  # the checked address the last hop connected to
    error: ScanError | None = None
    request_headers: tuple[tuple[str, str], ...] = ()  # as sent on the last hop (unredacted)
    request_body: bytes = b""  # as sent on the last hop, first max_body_bytes

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def error_kind(self) -> ErrorKind | None:
        return None if self.error is None else self.error.kind

    @property
    def content_type(self) -> str:
        return str(self.headers.get("content-type", ""))

    @property
    def text(self) -> str:
        charset = "utf-8"
        for part in self.content_type.split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ScanError(INVALID_JSON)`` when it is not JSON."""
        try:
            return jsonlib.loads(self.body)
        except (ValueError, RecursionError) as exc:
            raise ScanError(ErrorKind.INVALID_JSON, "the body is not valid JSON") from exc

    def evidence(self, redactor: Redactor | None = None, *, limit: int = 2000) -> dict[str, Any]:
        """A redacted, bounded, JSON-serialisable record of this response, safe to store."""
        r = redactor or Redactor()
        return {
            "request": {
                "method": self.method,
                "url": r.url(self.url),
                "headers": r.headers(self.request_headers),
                "body_excerpt": r.excerpt(
                    self.request_body, _header(self.request_headers, "content-type"), limit=limit
                ),
            },
            "method": self.method,
            "url": r.url(self.url),
            "status": self.status,
            "error": None
            if self.error is None
            else {"kind": self.error.kind.value, "message": r.text(self.error.message)},
            "headers": r.headers(self.headers.multi_items()),
            "body_excerpt": r.excerpt(self.body, self.content_type, limit=limit),
            "body_bytes": len(self.body),
            "elapsed_ms": round(self.elapsed * 1000, 1),
            "redirects": [
                {"url": r.url(h.url), "status": h.status, "location": r.url(h.location)}
                for h in self.redirects
            ],
            "peer": self.peer,
        }


def _header(headers: Iterable[tuple[str, str]], name: str) -> str:
    return next((value for key, value in headers if key.lower() == name), "")


class RequestBudget:
    """Requests a client may still send; ``take()`` raises ``BudgetExceeded`` when none is left."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    @property
    def remaining(self) -> int:
        return self.limit - self.used

    def take(self) -> None:
        with self._lock:
            if self.used >= self.limit:
                raise BudgetExceeded(self.limit)
            self.used += 1


class HostRateLimiter:
    """Spaces requests to one host:port at least ``1 / per_second`` apart (0 disables it)."""

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def delay_for(self, key: str) -> float:
        """Reserve the next slot for ``key``; the seconds to wait before using it."""
        if not self.interval:
            return 0.0
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(key, now))
            self._next[key] = slot + self.interval
            if len(self._next) > 10_000:  # forget hosts whose slot has passed
                self._next = {k: v for k, v in self._next.items() if v > now}
        return slot - now

    def wait(self, key: str) -> float:
        delay = self.delay_for(key)
        if delay > 0:
            self._sleep(delay)
        return delay


def default_ssl_context() -> ssl.SSLContext:
    """Certificate chain and host name verified against certifi's roots; TLS 1.2 at least."""
    context = ssl.create_default_context(cafile=certifi.where())
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _cause(exc: BaseException) -> BaseException | None:
    return exc.__cause__ or exc.__context__


def classify(exc: BaseException) -> ScanError:
    """The ``ScanError`` for any exception raised while sending or reading."""
    if isinstance(exc, ScanError):
        return exc
    if isinstance(exc, AddressRefused):
        return ScanError(ErrorKind.REFUSED_ADDRESS, str(exc))
    if isinstance(exc, NameNotResolved):
        return ScanError(ErrorKind.DNS, str(exc))
    if isinstance(exc, DeadlineReached):
        return ScanError(ErrorKind.TOTAL_TIMEOUT, "the total timeout passed")
    cause = _cause(exc)
    if isinstance(exc, httpcore.ConnectTimeout | httpcore.PoolTimeout):
        return ScanError(ErrorKind.CONNECT_TIMEOUT, "connecting timed out")
    if isinstance(exc, httpcore.ReadTimeout):
        return ScanError(ErrorKind.READ_TIMEOUT, "no data within the read timeout")
    if isinstance(exc, httpcore.WriteTimeout):
        return ScanError(ErrorKind.WRITE_TIMEOUT, "sending timed out")
    if isinstance(cause, ssl.SSLError) and isinstance(exc, httpcore.NetworkError):
        detail = (
            getattr(cause, "verify_message", None) or getattr(cause, "reason", None) or "handshake failed"
        )
        return ScanError(ErrorKind.TLS, f"TLS: {str(detail)[:200]}")
    if isinstance(exc, httpcore.ConnectError):
        if isinstance(cause, ConnectionRefusedError):
            return ScanError(ErrorKind.CONNECT_FAILED, "connection refused")
        return ScanError(ErrorKind.CONNECT_FAILED, f"could not connect: {str(cause or exc)[:200]}")
    if isinstance(exc, httpcore.ReadError | httpcore.WriteError):
        return ScanError(ErrorKind.CONNECTION_RESET, f"connection lost: {str(cause or exc)[:200]}")
    if isinstance(exc, httpcore.RemoteProtocolError):
        if "disconnected" in str(exc) or "peer closed" in str(exc):
            return ScanError(ErrorKind.CONNECTION_RESET, str(exc)[:200])
        return ScanError(ErrorKind.PROTOCOL, f"not valid HTTP: {str(exc)[:200]}")
    if isinstance(exc, httpcore.LocalProtocolError):
        return ScanError(ErrorKind.INVALID_REQUEST, f"cannot send this request: {str(exc)[:200]}")
    if isinstance(exc, httpcore.UnsupportedProtocol):
        return ScanError(ErrorKind.INVALID_URL, "unsupported URL scheme")
    logger.exception("unexpected failure in the scanner's HTTP client")
    return ScanError(ErrorKind.INTERNAL, f"unexpected {type(exc).__name__}")


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


def _host_key(url: httpx.URL) -> str:
    port = url.port or (443 if url.scheme == "https" else 80)
    return f"{url.host}:{port}"


class SafeClient:
    """The scanner's HTTP client; see the module docstring for what every request goes through.

    ``allowed_networks``: CIDRs where loopback/private targets are allowed (``SCANNER_ALLOWED_NETWORKS``).
    ``resolver``: how names become addresses (default: the system resolver).
    ``ssl_context``: trust roots and TLS settings (default: certifi roots, TLS >= 1.2, verification on).
    ``redactor``: what ``evidence()`` callers should use; the secret headers it lists are also what is
    dropped when a redirect leaves the origin.
    ``connections_per_origin`` / ``max_origins``: keep-alive connections kept per scheme+host+port, and
    how many origins keep theirs (least recently used beyond that are closed).
    """

    def __init__(
        self,
        *,
        allowed_networks: Iterable[str | IPNetwork] = (),
        limits: Limits | None = None,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        redactor: Redactor | None = None,
        user_agent: str = USER_AGENT,
        connections_per_origin: int = 4,
        max_origins: int = 256,
    ) -> None:
        self.limits = limits or Limits()
        self.policy = AddressPolicy.from_cidrs(allowed_networks)
        self.backend = GuardedBackend(self.policy, resolver)
        self.redactor = redactor or Redactor()
        self.budget = RequestBudget(self.limits.max_requests)
        self.rate = HostRateLimiter(self.limits.per_host_rate)
        self.user_agent = user_agent
        self._ssl_context = ssl_context or default_ssl_context()
        self._connections_per_origin = connections_per_origin
        self._max_origins = max_origins
        # One small httpcore pool per origin: httpcore's pool scans all its connections (quadratically)
        # on every request, which halves throughput at 50 targets; small pools keep that constant.
        self._pools: OrderedDict[tuple[bytes, bytes, int | None], httpcore.ConnectionPool] = OrderedDict()
        self._pools_lock = threading.Lock()

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The trust roots and TLS settings every https request is verified with (read-only: the TLS
        probe verifies certificates exactly as the client would)."""
        return self._ssl_context

    # lifecycle -------------------------------------------------------------------------------------

    def close(self) -> None:
        with self._pools_lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()
        self.backend.close()

    def _pool_for(self, url: httpx.URL) -> httpcore.ConnectionPool:
        key = (url.raw_scheme, url.raw_host, url.port)
        evicted = None
        with self._pools_lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = httpcore.ConnectionPool(
                    ssl_context=self._ssl_context,
                    max_connections=self._connections_per_origin,
                    max_keepalive_connections=self._connections_per_origin,
                    keepalive_expiry=30.0,
                    http1=True,
                    http2=False,
                    retries=0,
                    network_backend=self.backend,
                )
                self._pools[key] = pool
                if len(self._pools) > self._max_origins:
                    _key, evicted = self._pools.popitem(last=False)
            else:
                self._pools.move_to_end(key)
        if evicted is not None:
            evicted.close()
        return pool

    def __enter__(self) -> SafeClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # requests --------------------------------------------------------------------------------------

    def get(self, url: str, **kwargs: Any) -> ScanResponse:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> ScanResponse:
        return self.request("POST", url, **kwargs)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        follow_redirects: bool = True,
    ) -> ScanResponse:
        """Send one request (following redirects unless told not to) and return what happened."""
        try:
            return self._request(method, url, params, headers, json, content, follow_redirects)
        except BudgetExceeded:
            raise
        except Exception as exc:  # the promise: a result the caller can record, whatever happened
            return ScanResponse(method.upper(), url, error=classify(exc))

    def _request(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        json: Any,
        content: bytes | str | None,
        follow_redirects: bool,
    ) -> ScanResponse:
        started = time.monotonic()
        method = method.upper()
        sent_headers = {"User-Agent": self.user_agent, "Accept": "*/*", "Accept-Encoding": "gzip, deflate"}
        sent_headers.update(headers or {})
        try:
            # Some spellings (octal "0177.0.0.1") are refused by httpx's parser: judge them first, so
            # the answer says what the address is.
            early = self._literal_refusal(urlsplit(url).hostname or "")
        except ValueError:
            early = None
        if early is not None:
            return ScanResponse(method, url, error=early)
        try:
            request = httpx.Request(
                method, url, params=params, headers=sent_headers, json=json, content=content
            )
            body = request.read()
            # Carried to every hop; Host and Content-Length are recomputed for each.
            sent_headers = {
                k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
            }
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            return ScanResponse(method, url, error=ScanError(ErrorKind.INVALID_URL, str(exc)[:200]))
        except (TypeError, ValueError) as exc:
            return ScanResponse(method, url, error=ScanError(ErrorKind.INVALID_REQUEST, str(exc)[:200]))

        hops: list[RedirectHop] = []
        seen = {(method, str(request.url))}
        current = request.url
        waited = 0.0
        with deadline(self.limits.total_timeout):
            while True:
                response = self._send_one(method, current, sent_headers, body)
                response.redirects = tuple(hops)
                # Latency is the target's, not our own rate limiter's pause before each hop.
                waited += response.waited
                response.waited = waited
                response.elapsed = max(0.0, time.monotonic() - started - waited)
                location = response.headers.get("location")
                if not follow_redirects or response.status not in REDIRECT_STATUSES or response.error:
                    return response
                if location is None:
                    response.error = ScanError(ErrorKind.BAD_REDIRECT, f"{response.status} without Location")
                    return response
                try:
                    target = current.join(location)
                except (httpx.InvalidURL, ValueError):
                    response.error = ScanError(ErrorKind.BAD_REDIRECT, "the Location header is not a URL")
                    return response
                hops.append(RedirectHop(str(current), response.status or 0, location))
                response.redirects = tuple(hops)
                if target.scheme not in ("http", "https"):
                    response.error = ScanError(
                        ErrorKind.BAD_REDIRECT, f"redirect to a {target.scheme[:20]!r} URL"
                    )
                    return response
                if len(hops) > self.limits.max_redirects:
                    response.error = ScanError(
                        ErrorKind.TOO_MANY_REDIRECTS, f"more than {self.limits.max_redirects} redirects"
                    )
                    return response
                method, body = self._redirect_method(response.status or 0, method, body, sent_headers)
                if (method, str(target)) in seen:
                    response.error = ScanError(ErrorKind.REDIRECT_LOOP, "the redirects loop")
                    return response
                seen.add((method, str(target)))
                if _origin(target) != _origin(current):
                    # Credentials were meant for the original origin only, and a caller's header may
                    # be one under any name (an API key in "X-Orders-Key"): only our own neutral
                    # headers go on to another origin.
                    sent_headers = {
                        k: v for k, v in sent_headers.items() if k.lower() in CROSS_ORIGIN_HEADERS
                    }
                current = target

    @staticmethod
    def _redirect_method(status: int, method: str, body: bytes, headers: dict[str, str]) -> tuple[str, bytes]:
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            for name in [k for k in headers if k.lower() in ("content-type", "content-length")]:
                del headers[name]
            return "GET", b""
        return method, body

    def _literal_refusal(self, host: str) -> ScanError | None:
        """A host that spells an address (in any notation) is checked before anything is sent."""
        try:
            literal = parse_ip(host)
        except InvalidHost as exc:
            return ScanError(ErrorKind.REFUSED_ADDRESS, str(exc))
        reason = None if literal is None else self.policy.refusal(literal)
        return None if reason is None else ScanError(ErrorKind.REFUSED_ADDRESS, reason)

    def _precheck(self, url: httpx.URL) -> ScanError | None:
        if url.scheme not in ("http", "https"):
            return ScanError(ErrorKind.INVALID_URL, "only http and https URLs are scanned")
        if not url.host:
            return ScanError(ErrorKind.INVALID_URL, "the URL has no host")
        refused = self._literal_refusal(url.host)
        if refused is not None:
            return refused
        if url.userinfo:
            return ScanError(ErrorKind.INVALID_URL, "credentials in the URL are not accepted")
        return None

    def _send_one(self, method: str, url: httpx.URL, headers: dict[str, str], body: bytes) -> ScanResponse:
        result = ScanResponse(method, str(url))
        result.error = self._precheck(url)
        if result.error is not None:
            return result
        self.budget.take()
        delay = self.rate.delay_for(_host_key(url))
        if delay > 0:
            paused = time.monotonic()
            time.sleep(max(0.0, min(delay, time_left())))
            result.waited = time.monotonic() - paused
            if time_left() <= 0:
                result.error = ScanError(ErrorKind.TOTAL_TIMEOUT, "the total timeout passed (rate limit)")
                return result
        try:
            request = httpx.Request(method, url, headers=headers, content=body or None)
            core_request = httpcore.Request(
                method=method.encode("ascii"),
                url=httpcore.URL(
                    scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
                ),
                headers=request.headers.raw,
                content=body,
                extensions={
                    "timeout": {
                        "connect": self.limits.connect_timeout,
                        "read": self.limits.read_timeout,
                        "write": self.limits.read_timeout,
                        "pool": self.limits.connect_timeout,
                    }
                },
            )
        except (TypeError, ValueError, UnicodeError) as exc:
            result.error = ScanError(ErrorKind.INVALID_REQUEST, str(exc)[:200])
            return result
        result.request_headers = tuple(request.headers.multi_items())
        result.request_body = body[: self.limits.max_body_bytes]
        try:
            core_response = self._pool_for(url).handle_request(core_request)
        except Exception as exc:
            result.error = classify(exc)
            return result
        try:
            result.status = core_response.status
            result.headers = httpx.Headers(core_response.headers)
            stream = core_response.extensions.get("network_stream")
            if stream is not None:
                address = stream.get_extra_info("checked_address")
                result.peer = None if address is None else str(address)
            if result.status in REDIRECT_STATUSES:
                return result  # the body of a redirect is not read; closing drops the connection
            if method == "HEAD" or result.status in (204, 304):
                return result  # no body, whatever Content-Length says
            chunks: list[bytes] = []
            try:
                self._read_body(core_response, result.headers, chunks)
            finally:
                result.body = b"".join(chunks)
        except Exception as exc:
            result.error = classify(exc)
        finally:
            # Closing a connection the peer broke may fail too; the result stands.
            with contextlib.suppress(Exception):
                core_response.close()
        return result

    def _read_body(self, response: httpcore.Response, headers: httpx.Headers, into: list[bytes]) -> None:
        cap = self.limits.max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise ScanError(ErrorKind.TOO_LARGE, f"Content-Length {int(declared)} exceeds {cap} bytes")
        decoder = BoundedDecoder(headers.get("content-encoding", ""), cap)
        raw = 0
        for chunk in response.iter_stream():
            raw += len(chunk)
            if raw > cap:
                raise ScanError(ErrorKind.TOO_LARGE, f"the body exceeds {cap} bytes")
            into.append(decoder.feed(chunk))
        into.append(decoder.finish())
