"""What can go wrong with an outbound request, as data a caller can always record."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """Why a request produced no usable response. The values are stable: they are stored."""

    INVALID_URL = "invalid_url"  # not http(s), no host, credentials in the URL, unparsable
    INVALID_REQUEST = "invalid_request"  # headers or body the client could not send as given
    REFUSED_ADDRESS = "refused_address"  # the address policy said no (SSRF guard)
    DNS = "dns_failure"  # the name did not resolve
    CONNECT_FAILED = "connect_failed"  # refused, unreachable
    CONNECT_TIMEOUT = "connect_timeout"
    READ_TIMEOUT = "read_timeout"  # no byte within the read timeout
    WRITE_TIMEOUT = "write_timeout"
    TOTAL_TIMEOUT = "total_timeout"  # the wall-clock deadline over the whole exchange passed
    TLS = "tls_error"  # handshake failed, untrusted certificate, wrong host name
    CONNECTION_RESET = "connection_reset"  # the peer reset or dropped the connection
    PROTOCOL = "protocol_error"  # not HTTP, headers that never end, a truncated body
    TOO_LARGE = "too_large"  # the body (raw or decompressed) passed the size cap
    DECODING = "decoding_error"  # a Content-Encoding that is broken or not supported
    INVALID_JSON = "invalid_json"  # asked for JSON, the body is not JSON
    TOO_MANY_REDIRECTS = "too_many_redirects"
    REDIRECT_LOOP = "redirect_loop"
    BAD_REDIRECT = "bad_redirect"  # a 3xx without a usable Location
    BUDGET_EXHAUSTED = "budget_exhausted"
    INTERNAL = "internal_error"  # a failure nobody anticipated; logged with its traceback


class ScanError(Exception):
    """A failure with a stable ``kind`` and a short ``message`` that is safe to store.

    Messages never carry credentials: URLs in them have their query string and user info redacted.
    """

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(f"{kind.value}: {message}")
        self.kind = kind
        self.message = message


class BudgetExceeded(ScanError):
    """Raised (not returned) when a client has sent its whole request budget: the check must stop."""

    def __init__(self, limit: int) -> None:
        super().__init__(ErrorKind.BUDGET_EXHAUSTED, f"request budget of {limit} exhausted")
        self.limit = limit
