"""``tls``: HTTPS is offered with a valid certificate, no legacy protocol or broken cipher, and HSTS.

The handshakes go through ``safe_http.tls_probe`` with the client's own backend (address policy,
resolver) and trust roots, and count against this check's budget like requests. Sub-tests this
machine cannot run (its OpenSSL cannot offer TLS 1.0/1.1 or weak suites) are listed in
``metrics["skipped_subtests"]``; they are never counted as passed.

Problems (detail → severity): ``https_not_offered`` high; ``tls_handshake_failed`` high;
``certificate_expired`` critical; ``certificate_expiring`` medium (fewer than 30 days left);
``certificate_not_yet_valid`` / ``certificate_hostname_mismatch`` / ``certificate_untrusted`` /
``certificate_invalid`` high; ``tls1_0_accepted`` / ``tls1_1_accepted`` medium;
``weak_cipher_accepted`` high; ``hsts_missing`` medium; ``hsts_short`` low.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from testing.engines.checks._probing import skipped_subtest
from testing.engines.checks.base import Check, Context, Owasp, Problem, Severity, Skip, register
from testing.engines.safe_http.tls_probe import (
    VERIFY_EXPIRED,
    VERIFY_HOSTNAME_MISMATCH,
    VERIFY_NOT_YET_VALID,
    Certificate,
    Handshake,
    ProbeOutcome,
    TlsProbe,
)

EXPIRY_WARNING_DAYS = 30
HSTS_MIN_SECONDS = 180 * 86400
UNTRUSTED_CODES = frozenset({2, 18, 19, 20, 21, 27})  # issuer unknown, self-signed, untrusted chain
UNREACHABLE = frozenset({ProbeOutcome.CONNECT_FAILED, ProbeOutcome.TIMEOUT})
LEGACY = (("TLSv1", "tls1_0_accepted"), ("TLSv1.1", "tls1_1_accepted"))


def hsts_max_age(value: str) -> int | None:
    """``max-age`` of a Strict-Transport-Security value; None when absent or not a number."""
    for part in value[:500].split(";"):
        name, _, raw = part.strip().partition("=")
        if name.strip().lower() == "max-age":
            raw = raw.strip().strip('"')
            return int(raw) if raw.isdigit() and len(raw) <= 12 else None
    return None


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@register
class Tls(Check):
    key = "tls"
    title = "HTTPS with a valid certificate, no legacy TLS or weak ciphers, and HSTS"
    sends = (
        "up to five TLS handshakes (verified, unverified, TLS 1.0 only, TLS 1.1 only, weak ciphers "
        "only) and one GET for the Strict-Transport-Security header"
    )
    owasp = Owasp.API8
    severity = Severity.HIGH
    intrusive = False
    request_budget = 8

    def run(self, ctx: Context) -> list[Problem]:
        parts = urlsplit(ctx.target.base_url)
        host = parts.hostname or ""
        if not host:
            raise Skip("the base URL has no host")
        https = parts.scheme == "https"
        port = (parts.port or 443) if https else 443
        where = f"TLS {host}:{port}"
        limits = ctx.client.limits
        probe = TlsProbe(
            ctx.client.backend,
            trust=ctx.client.ssl_context,
            timeout=min(limits.total_timeout, limits.connect_timeout + limits.read_timeout),
        )

        ctx.spend(host, port)
        hello = probe.verified(host, port)
        ctx.metrics["address"] = hello.address
        if hello.outcome in (ProbeOutcome.REFUSED_ADDRESS, ProbeOutcome.DNS):
            raise Skip(f"cannot probe {host}:{port}: {hello.reason}")
        if hello.outcome in UNREACHABLE:
            if https:
                raise Skip(f"{host}:{port} did not answer: {hello.reason}")
            ctx.problem(
                detail="https_not_offered",
                operation=where,
                message=f"The API is registered as http:// and nothing answers TLS on port 443 ({hello.reason}).",
            )
            return ctx.problems
        certificate = self._verification(ctx, probe, hello, host, port, where)
        if certificate is not None:
            self._dates(ctx, certificate, where)
        if hello.ok:
            ctx.metrics.update(protocol=hello.protocol, cipher=hello.cipher)

        for version, detail in LEGACY:
            ctx.spend(host, port)
            self._offer(ctx, probe.legacy(host, port, version), version, detail, Severity.MEDIUM, where)
        ctx.spend(host, port)
        self._offer(ctx, probe.weak_ciphers(host, port), "weak ciphers", "weak_cipher_accepted", None, where)
        if hello.ok:
            self._hsts(ctx, f"https://{parts.netloc}" if https else f"https://{_bracketed(host)}", where)
        return ctx.problems

    # certificate -----------------------------------------------------------------------------------

    def _verification(
        self, ctx: Context, probe: TlsProbe, hello: Handshake, host: str, port: int, where: str
    ) -> Certificate | None:
        """Reports a handshake or certificate failure; the certificate whose dates to check."""
        if hello.ok:
            ctx.metrics["certificate"] = "valid"
            return hello.certificate
        ctx.spend(host, port)
        raw = probe.unverified(host, port)
        if hello.outcome != ProbeOutcome.VERIFY_FAILED:
            ctx.metrics["certificate"] = "unknown"
            ctx.problem(
                detail="tls_handshake_failed",
                operation=where,
                message=f"A TLS handshake with the client's settings (TLS 1.2+, verified) failed: {hello.reason}.",
            )
            return raw.certificate if raw.ok else None
        code = hello.verify_code
        ctx.metrics["certificate"] = f"invalid: {hello.reason}"[:200]
        if code == VERIFY_EXPIRED:
            if raw.certificate is None:  # the dates were not readable: report what OpenSSL said
                ctx.problem(
                    detail="certificate_expired",
                    operation=where,
                    severity=Severity.CRITICAL,
                    message="The certificate has expired (OpenSSL: certificate has expired).",
                )
            return raw.certificate
        detail = {
            VERIFY_NOT_YET_VALID: "certificate_not_yet_valid",
            VERIFY_HOSTNAME_MISMATCH: "certificate_hostname_mismatch",
        }.get(code or -1, "certificate_untrusted" if code in UNTRUSTED_CODES else "certificate_invalid")
        names = ", ".join(raw.certificate.names[:5]) if raw.certificate else "unreadable"
        ctx.problem(
            detail=detail,
            operation=where,
            message=(
                f"Expected a certificate that verifies for {host}; verification failed: {hello.reason} "
                f"(the certificate names: {names})."
            ),
        )
        return raw.certificate

    def _dates(self, ctx: Context, certificate: Certificate, where: str) -> None:
        days = certificate.days_left()
        ctx.metrics["certificate_days_left"] = round(days, 1)
        ctx.metrics["certificate_not_after"] = certificate.not_after.isoformat()
        if days < 0:
            ctx.problem(
                detail="certificate_expired",
                operation=where,
                severity=Severity.CRITICAL,
                message=f"The certificate expired on {certificate.not_after:%Y-%m-%d}.",
            )
        elif days < EXPIRY_WARNING_DAYS:
            ctx.problem(
                detail="certificate_expiring",
                operation=where,
                severity=Severity.MEDIUM,
                message=(
                    f"The certificate expires on {certificate.not_after:%Y-%m-%d}, in {days:.0f} days "
                    f"(warning below {EXPIRY_WARNING_DAYS})."
                ),
            )

    # protocols and ciphers ------------------------------------------------------------------------

    def _offer(
        self,
        ctx: Context,
        hello: Handshake,
        offered: str,
        detail: str,
        severity: Severity | None,
        where: str,
    ) -> None:
        results = ctx.metrics.setdefault("offers", {})
        if hello.outcome == ProbeOutcome.LOCAL_UNSUPPORTED:
            results[offered] = "skipped"
            skipped_subtest(ctx, offered, hello.reason)
        elif hello.ok:
            results[offered] = "accepted"
            what = f"{hello.protocol} with {hello.cipher}" if offered == "weak ciphers" else hello.protocol
            ctx.problem(
                detail=detail,
                operation=where,
                severity=severity,
                message=f"Offered only {offered}; expected the server to refuse, it accepted ({what}).",
            )
        elif hello.outcome in (ProbeOutcome.TLS_REFUSED, ProbeOutcome.VERIFY_FAILED):
            results[offered] = "refused"
        else:  # timed out or the connection failed: neither refused nor accepted
            results[offered] = "inconclusive"
            skipped_subtest(ctx, offered, f"inconclusive: {hello.reason}")

    # HSTS -----------------------------------------------------------------------------------------

    def _hsts(self, ctx: Context, origin: str, where: str) -> None:
        path = urlsplit(ctx.target.base_url).path or ""
        response = ctx.send("GET", f"{origin}{path}/", follow_redirects=False)
        if not response.ok:
            skipped_subtest(ctx, "hsts", f"no answer to read the header from ({response.error_kind})")
            return
        value = str(response.headers.get("strict-transport-security", ""))
        age = hsts_max_age(value) if value else None
        ctx.metrics["hsts_max_age"] = age
        if not value or not age:
            ctx.problem(
                detail="hsts_missing",
                operation=where,
                severity=Severity.MEDIUM,
                message="Expected a Strict-Transport-Security header with a max-age; "
                + ("it is absent." if not value else "its max-age is missing or zero."),
                responses=[response],
            )
        elif age < HSTS_MIN_SECONDS:
            ctx.problem(
                detail="hsts_short",
                operation=where,
                severity=Severity.LOW,
                message=f"Strict-Transport-Security max-age is {age} s; expected at least {HSTS_MIN_SECONDS} s.",
                responses=[response],
            )
