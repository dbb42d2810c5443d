"""``cleartext``: plain HTTP is refused or redirected to HTTPS, and serves no API content.

For an https base URL the check asks the http:// equivalent on port 80 and, when the base URL names
another port, plain HTTP on that same port (a server that answers both on one port), for the base
path and up to two documented public, safe operations without path parameters. Never with
credentials: an identity's token sent over plain HTTP would be the leak this check looks for.

A plain answer is judged by its status: a redirect to https:// (or a refusal: 4xx that the HTTPS
side does not give, a reset, nothing listening) passes; a 2xx is API content over cleartext
(``cleartext_served``, high); a redirect to another http:// URL is ``redirect_not_https``
(medium); the same non-2xx answer as over HTTPS, byte for byte (the API's own 401, say), means the
API itself answers over plain HTTP (``cleartext_reachable``, medium). For an http base URL the
registration itself is the finding (``cleartext_base_url``): high, or medium (the check's default)
when the host is loopback.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit, urlunsplit

from testing.engines.checks._probing import is_loopback_host, success
from testing.engines.checks.base import Check, Context, Owasp, Problem, Severity, Skip, register
from testing.engines.safe_http import ScanResponse

REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_PATHS = 3


def _netloc(host: str, port: int | None) -> str:
    name = f"[{host}]" if ":" in host else host
    return name if port is None else f"{name}:{port}"


@register
class Cleartext(Check):
    key = "cleartext"
    title = "Plain HTTP is refused or redirected to HTTPS"
    sends = (
        "unauthenticated GETs over plain http:// (port 80 and the API's own port) to the base path and "
        "up to two public operations, and the same GETs over https:// to compare"
    )
    owasp = Owasp.API8
    severity = Severity.MEDIUM
    intrusive = False
    request_budget = 16

    def run(self, ctx: Context) -> list[Problem]:
        parts = urlsplit(ctx.target.base_url)
        host = parts.hostname or ""
        if not host or parts.scheme not in ("http", "https"):
            raise Skip("the base URL is not an http(s) URL with a host")
        paths = self._paths(ctx, parts.path.rstrip("/"))
        if parts.scheme == "http":
            self._http_base(ctx, host, paths[0])
            return ctx.problems
        ports: list[int | None] = [None]  # port 80
        if parts.port not in (None, 443, 80):
            ports.append(parts.port)
        ctx.metrics["plain_ports"] = [p or 80 for p in ports]
        for port in ports:
            for path in paths:
                plain_url = urlunsplit(("http", _netloc(host, port), path, "", ""))
                plain = ctx.send("GET", plain_url, follow_redirects=False)
                self._judge(ctx, plain, path, port)
        return ctx.problems

    def _paths(self, ctx: Context, prefix: str) -> list[str]:
        public = sorted(
            op.path
            for op in ctx.target.operations
            if not op.auth_required and op.safe and not op.path_parameters()
        )
        paths = [prefix + "/"] + [prefix + p for p in dict.fromkeys(public)]
        return list(dict.fromkeys(paths))[:MAX_PATHS]

    def _http_base(self, ctx: Context, host: str, path: str) -> None:
        response = ctx.send("GET", urlunsplit(("http", urlsplit(ctx.target.base_url).netloc, path, "", "")))
        loopback = is_loopback_host(host)
        ctx.metrics["loopback"] = loopback
        ctx.problem(
            detail="cleartext_base_url",
            operation=f"GET {path}",
            severity=None if loopback else Severity.HIGH,
            message=(
                "The API is registered with an http:// base URL: every call, credentials included, "
                "crosses the network unencrypted. Expected https://"
                + (" (the host is loopback, so the exposure is local)." if loopback else ".")
            ),
            responses=[response] if response.ok else [],
        )

    def _judge(self, ctx: Context, plain: ScanResponse, path: str, port: int | None) -> None:
        where = f"GET {path}"
        label = f"http://…:{port or 80}{path}"
        outcomes = ctx.metrics.setdefault("plain_answers", {})
        if not plain.ok or plain.status is None:
            outcomes[label] = f"refused ({plain.error_kind})"
            return
        status = plain.status
        outcomes[label] = status
        if status in REDIRECTS:
            location = str(plain.headers.get("location", ""))[:2000]
            if urlsplit(urljoin(plain.url, location)).scheme == "https":
                return
            ctx.problem(
                detail="redirect_not_https",
                operation=where,
                message=f"Plain HTTP on port {port or 80} redirects ({status}) to a URL that is not https://.",
                responses=[plain],
            )
            return
        if success(plain):
            ctx.problem(
                detail="cleartext_served",
                operation=where,
                severity=Severity.HIGH,
                message=(
                    f"Expected plain HTTP on port {port or 80} to be refused or redirected to https://; "
                    f"it answered {status} with content."
                ),
                responses=[plain],
            )
            return
        # Not content, not a redirect: the API's own refusal over plain HTTP, or a front end's?
        secure_url = urlunsplit(("https", urlsplit(ctx.target.base_url).netloc, path, "", ""))
        secure = ctx.send("GET", secure_url, follow_redirects=False)
        if secure.ok and secure.status == status and secure.body == plain.body and plain.body:
            ctx.problem(
                detail="cleartext_reachable",
                operation=where,
                message=(
                    f"Plain HTTP on port {port or 80} reaches the API itself (the same {status} answer as "
                    "over HTTPS): a client that sends its credentials to http:// leaks them."
                ),
                responses=[plain, secure],
            )
