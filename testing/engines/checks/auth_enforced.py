"""``auth_enforced``: every operation the spec marks as protected refuses anonymous and bogus callers.

For each protected operation (sorted by path then method, at most 15; write operations only when the
plan allows intrusive checks, since an unprotected DELETE would really delete), three requests:

1. the baseline, as the first identity (its own object filling the path when it has one), for
   safe operations only;
2. no credentials at all;
3. a garbage credential in the identity's own header (``Authorization: Bearer <garbage>`` without one).

401 and 403 are refusals (a redirect, say to a login page, counts as one too). A 2xx is access:
``unauthenticated_access`` / ``invalid_token_accepted`` (high) when it equals the authenticated
answer byte for byte, or when there is no authenticated answer to compare with but the answer is
not a catch-all; ``unauthenticated_2xx`` / ``invalid_token_2xx`` (medium) when it differs from the
authenticated one (a public variant or an error dressed as 200: worth a look, not proof).

False positives kept out by baselines: an anonymous GET of a path that cannot exist, and of up to
two documented public operations. A protected operation whose anonymous 2xx equals one of those
answers byte for byte is a catch-all (an SPA shell, a login page served 200), not access. A 404 is
a refusal only when the identity got something else; otherwise (an example id that matches nothing)
it is inconclusive, as are 400/405/415/422 (validation before authentication) and 5xx or no answer.
Inconclusive operations are listed in ``metrics["inconclusive"]``: they are not passes; when no
operation could be judged at all, the check skips and says why.
"""

from __future__ import annotations

from testing.engines.checks._probing import filled_path, success
from testing.engines.checks.base import (
    Check,
    Context,
    Identity,
    OperationSpec,
    Owasp,
    Problem,
    Severity,
    Skip,
    register,
)
from testing.engines.safe_http import ScanResponse

MAX_OPERATIONS = 15
MAX_PUBLIC = 2
GARBAGE = "asp-scanner-invalid-credential-0000000000"
NONEXISTENT = "/asp-scanner-no-such-path-7f3a9c"
REDIRECTS = frozenset({301, 302, 303, 307, 308})


def garbage_headers(identity: Identity | None) -> dict[str, str]:
    """The identity's credential headers with their secret replaced by garbage (the scheme kept)."""
    if identity is None or not identity.headers:
        return {"Authorization": f"Bearer {GARBAGE}"}
    out: dict[str, str] = {}
    for name, value in identity.headers.items():
        scheme, sep, _rest = value.partition(" ")
        keep_scheme = sep and scheme.lower() in ("bearer", "basic", "token", "digest", "apikey", "jwt")
        out[name] = f"{scheme} {GARBAGE}" if keep_scheme else GARBAGE
    return out


@register
class AuthEnforced(Check):
    key = "auth_enforced"
    title = "Protected operations refuse calls without valid credentials"
    sends = (
        "for up to 15 protected operations: one call as an identity, one without credentials and one "
        "with a garbage token (write operations only when intrusive checks are allowed), plus "
        "anonymous calls to a non-existent path and two public operations as baselines"
    )
    owasp = Owasp.API2
    severity = Severity.HIGH
    intrusive = False
    request_budget = 50

    def run(self, ctx: Context) -> list[Problem]:
        target = ctx.target
        protected = sorted(target.protected(), key=lambda op: (op.path, op.method))
        if not protected:
            raise Skip("the spec marks no operation as needing authentication")
        allowed = [op for op in protected if op.safe or target.intrusive_allowed]
        if not allowed:
            raise Skip("every protected operation writes, and intrusive checks are not allowed")
        chosen = allowed[:MAX_OPERATIONS]
        ctx.metrics.update(
            operations=len(chosen),
            writes_skipped=len(protected) - len(allowed),
            not_tested=max(0, len(allowed) - MAX_OPERATIONS),
        )
        identity = next((i for i in target.identities if i.headers), None)
        catch_all = self._catch_all_answers(ctx)
        inconclusive: dict[str, str] = {}
        judged = 0
        for op in chosen:
            path = filled_path(op, identity)
            body: dict[str, object] | None = {} if op.request_schema is not None and not op.safe else None
            baseline = None
            if identity is not None and op.safe:  # no authenticated write: it would create or change data
                baseline = ctx.send(op.method, path, identity=identity, operation=op)
                if not baseline.ok:
                    baseline = None
            anonymous = ctx.send(op.method, path, operation=op, json=body, follow_redirects=False)
            bogus = ctx.send(
                op.method,
                path,
                operation=op,
                json=body,
                headers=garbage_headers(identity),
                follow_redirects=False,
            )
            verdicts = [
                self._judge(ctx, op, probe, baseline, catch_all, kind)
                for probe, kind in ((anonymous, "unauthenticated"), (bogus, "invalid_token"))
            ]
            for verdict, kind in zip(verdicts, ("unauthenticated", "invalid_token"), strict=True):
                if verdict:
                    inconclusive.setdefault(op.key, f"{kind}: {verdict}")
            judged += not all(verdicts)
        ctx.metrics.update(inconclusive=inconclusive, judged=judged)
        if not judged:  # nothing refused and nothing got in: that is no verdict, and never a pass
            first = next(iter(inconclusive.items()))
            raise Skip(f"no operation could be judged (e.g. {first[0]}: {first[1]})"[:300])
        return ctx.problems

    def _catch_all_answers(self, ctx: Context) -> list[bytes]:
        """Bodies of 2xx answers to anonymous calls that are not access to anything protected."""
        bodies: list[bytes] = []
        response = ctx.send("GET", NONEXISTENT, follow_redirects=False)
        if success(response):
            bodies.append(response.body)
            ctx.metrics["catch_all"] = True
        public = sorted(
            (
                op
                for op in ctx.target.operations
                if not op.auth_required and op.safe and not op.path_parameters()
            ),
            key=lambda op: op.path,
        )
        for op in public[:MAX_PUBLIC]:
            response = ctx.send("GET", op.path, operation=op, follow_redirects=False)
            if success(response):
                bodies.append(response.body)
        return bodies

    def _judge(
        self,
        ctx: Context,
        op: OperationSpec,
        probe: ScanResponse,
        baseline: ScanResponse | None,
        catch_all: list[bytes],
        kind: str,
    ) -> str:
        """Records a problem when ``probe`` got in; returns why it is inconclusive, or ""."""
        status = probe.status
        if not probe.ok or status is None:
            return f"no answer ({probe.error_kind})"
        if status in (401, 403) or status in REDIRECTS:
            return ""
        if status == 404:
            if baseline is not None and baseline.status != 404:
                return ""  # hidden from anonymous callers: a refusal
            return "404: the path's example id matches nothing, so access was not tested"
        if not success(probe):
            return f"answered {status}"
        if probe.body in catch_all:
            return "the same 2xx as a public or non-existent path (a catch-all)"
        credential = "no credentials" if kind == "unauthenticated" else "a garbage token"
        if baseline is None or not success(baseline) or probe.body == baseline.body:
            compared = (
                "the same answer, byte for byte, as an authenticated call"
                if baseline is not None and success(baseline)
                else "success, and there is no authenticated answer to compare with"
            )
            ctx.problem(
                detail=f"{'unauthenticated_access' if kind == 'unauthenticated' else 'invalid_token_accepted'}",
                operation=op.key,
                message=f"The spec requires authentication; with {credential} it answered {status}: {compared}.",
                responses=[probe] + ([baseline] if baseline is not None else []),
            )
        else:
            ctx.problem(
                detail=f"{kind}_2xx",
                operation=op.key,
                severity=Severity.MEDIUM,
                message=(
                    f"The spec requires authentication; with {credential} it answered {status}, with a body "
                    "that differs from the authenticated answer (a public variant, or an error sent as 2xx?)."
                ),
                responses=[probe, baseline],
            )
        return ""
