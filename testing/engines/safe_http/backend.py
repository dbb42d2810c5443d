"""The httpcore network backend that makes the address policy hold at connect time.

``GuardedBackend.connect_tcp(host, port)`` resolves ``host`` once (with the injected ``Resolver``),
checks every answer against the ``AddressPolicy``, refuses the whole name if any answer is refused,
and opens the socket to exactly a checked address. There is no second lookup, so DNS rebinding has
nothing to race. TLS is started by httpcore on the returned stream with ``server_hostname`` set to the
URL's host, so SNI and certificate verification still use the name, not the address.

Name lookups run with the connect timeout (``getaddrinfo`` has none of its own). Every stream it
returns also enforces the wall-clock deadline of the current request (a context
variable set by the client): each read, write and handshake waits at most until the deadline, so a
server that drips one byte a second, in the body or in headers that never end, is cut off.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
import typing
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

import httpcore

from testing.engines.safe_http.addresses import (
    AddressPolicy,
    InvalidHost,
    IPAddress,
    is_metadata_name,
    parse_ip,
)

MAX_CANDIDATES = 4  # addresses tried per name, in resolver order

_deadline: ContextVar[float | None] = ContextVar("safe_http_deadline", default=None)


class AddressRefused(httpcore.ConnectError):
    """The policy refused the host (a name is refused when any of its addresses is)."""


class NameNotResolved(httpcore.ConnectError):
    """The resolver found no address for the name."""


class DeadlineReached(httpcore.TimeoutException):
    """The request's total (wall-clock) time is up."""


class Resolver(Protocol):
    """Turns a host name into addresses. Inject your own (tests, a pinned DNS server, a cache)."""

    def resolve(self, host: str, port: int) -> Sequence[IPAddress]: ...


class SystemResolver:
    """The operating system's resolver (``getaddrinfo``), TCP answers only, in its order."""

    def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        try:
            answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError) as exc:
            raise NameNotResolved(f"{host} does not resolve") from exc
        out: list[IPAddress] = []
        for _family, _type, _proto, _canon, sockaddr in answers:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in out:
                out.append(address)
        return out


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every stream operation inside this block ends by ``seconds`` from now."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def _bounded(timeout: float | None) -> float | None:
    """``timeout`` shortened to what is left before the deadline; raises when nothing is left."""
    end = _deadline.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise DeadlineReached("total timeout reached")
    return left if timeout is None else min(timeout, left)


def time_left() -> float:
    """Seconds before the current request's deadline (infinite outside ``deadline()``)."""
    end = _deadline.get()
    return float("inf") if end is None else end - time.monotonic()


def deadline_passed() -> bool:
    end = _deadline.get()
    return end is not None and time.monotonic() >= end


class GuardedStream(httpcore.NetworkStream):
    """A stream to a checked address; every operation bounded by the request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, address: IPAddress) -> None:
        self._inner = inner
        self.address = address

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self._inner.read(max_bytes, _bounded(timeout))
        except httpcore.ReadTimeout as exc:
            if deadline_passed():
                raise DeadlineReached("total timeout reached") from exc
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            self._inner.write(buffer, _bounded(timeout))
        except httpcore.WriteTimeout as exc:
            if deadline_passed():
                raise DeadlineReached("total timeout reached") from exc
            raise

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout))
        return GuardedStream(inner, self.address)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "checked_address":
            return self.address
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore backend: resolve once, check every answer, connect to exactly a checked address."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver | None = None) -> None:
        self.policy = policy
        self.resolver: Resolver = resolver or SystemResolver()
        self._sockets = httpcore.SyncBackend()
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    def _resolve(self, host: str, port: int, timeout: float | None) -> Sequence[IPAddress]:
        """The resolver's answer within ``timeout`` (getaddrinfo itself has no timeout)."""
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="safe-http-dns")
        future = self._executor.submit(self.resolver.resolve, host, port)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout as exc:
            future.cancel()
            if deadline_passed():
                raise DeadlineReached("total timeout reached") from exc
            raise NameNotResolved(f"looking up {host} timed out") from exc

    def addresses_for(self, host: str, port: int, timeout: float | None = None) -> list[IPAddress]:
        """The checked addresses for ``host``; raises ``AddressRefused`` / ``NameNotResolved``."""
        try:
            literal = parse_ip(host)
        except InvalidHost as exc:
            raise AddressRefused(str(exc)) from exc
        if literal is not None:
            candidates: Sequence[IPAddress] = [literal]
        else:
            if is_metadata_name(host):
                raise AddressRefused(f"{host} is a cloud metadata name")
            candidates = self._resolve(host, port, _bounded(timeout))
            if not candidates:
                raise NameNotResolved(f"{host} does not resolve")
        for address in candidates:
            reason = self.policy.refusal(address)
            if reason is not None:
                raise AddressRefused(
                    reason if literal is not None else f"{host} resolves to a refused address: {reason}"
                )
        return list(candidates[:MAX_CANDIDATES])

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        last_error: Exception | None = None
        for address in self.addresses_for(host, port, timeout):
            try:
                stream = self._sockets.connect_tcp(
                    str(address),
                    port,
                    timeout=_bounded(timeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
                continue
            return GuardedStream(stream, address)
        assert last_error is not None  # addresses_for never returns an empty list
        if deadline_passed():
            raise DeadlineReached("total timeout reached") from last_error
        raise last_error

    def close(self) -> None:
        """Stop the lookup threads (a lookup still running finishes on its own)."""
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise AddressRefused("unix sockets are never a scan target")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
