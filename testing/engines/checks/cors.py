"""``cors``: no foreign origin may read responses with the user's credentials.

For up to 3 documented GET operations (sorted; those needing authentication first, since that is
where credentials matter) the check sends a GET with ``Origin: https://cors-probe.invalid`` (an origin
nobody can own), a GET with ``Origin: null`` (sandboxed iframes, ``file:`` pages) and a preflight
OPTIONS from the foreign origin. Findings:

* ``origin_reflected_with_credentials``: the foreign origin comes back in
  ``Access-Control-Allow-Origin`` with ``Access-Control-Allow-Credentials: true`` (any site can read
  the user's data);
* ``null_origin_with_credentials``: the same for ``null``;
* ``wildcard_with_credentials``: ``*`` with credentials (browsers refuse it, but it shows the policy
  was meant to allow everyone, and a proxy may rewrite ``*`` into the origin).
"""

from __future__ import annotations

from testing.engines.checks._probing import call, identity_for
from testing.engines.checks.base import (
    Check,
    Context,
    OperationSpec,
    Owasp,
    Problem,
    Severity,
    Skip,
    register,
)
from testing.engines.safe_http import ScanResponse

FOREIGN_ORIGIN = "https://cors-probe.invalid"
MAX_OPERATIONS = 3


def _allows(response: ScanResponse) -> tuple[str, bool]:
    allow_origin = response.headers.get("access-control-allow-origin", "").strip()
    credentials = response.headers.get("access-control-allow-credentials", "").strip().lower() == "true"
    return allow_origin, credentials


def _operations(ctx: Context) -> list[OperationSpec]:
    ops = [op for op in ctx.target.operations if op.method == "GET"]
    return sorted(ops, key=lambda op: (not op.auth_required, op.path))[:MAX_OPERATIONS]


@register
class Cors(Check):
    key = "cors"
    title = "No foreign origin reads responses with credentials"
    sends = (
        "a GET from a foreign origin, a GET from the null origin and a preflight, to up to 3 safe operations"
    )
    owasp = Owasp.API8
    severity = Severity.HIGH
    intrusive = False
    request_budget = 10

    def run(self, ctx: Context) -> list[Problem]:
        ops = _operations(ctx)
        if not ops:
            raise Skip("no documented GET operation to probe")
        for op in ops:
            probes: tuple[tuple[str, str, dict[str, str]], ...] = (
                ("GET", FOREIGN_ORIGIN, {}),
                ("GET", "null", {}),
                ("OPTIONS", FOREIGN_ORIGIN, {"Access-Control-Request-Method": "GET"}),
            )
            seen: set[str] = set()
            for method, origin, extra in probes:
                response = call(
                    ctx,
                    op,
                    method=method,
                    identity=identity_for(ctx.target, op),
                    headers={"Origin": origin, **extra},
                )
                allow_origin, credentials = _allows(response)
                if not credentials or not allow_origin:
                    continue
                if allow_origin == "*":
                    detail, severity = "wildcard_with_credentials", Severity.MEDIUM
                elif allow_origin == origin == "null":
                    detail, severity = "null_origin_with_credentials", Severity.HIGH
                elif allow_origin == origin:
                    detail, severity = "origin_reflected_with_credentials", Severity.HIGH
                else:
                    continue
                if detail in seen:
                    continue
                seen.add(detail)
                ctx.problem(
                    detail=detail,
                    operation=op.key,
                    severity=severity,
                    message=(
                        f"Expected a {method} from Origin {origin} not to be allowed with credentials; got "
                        f"Access-Control-Allow-Origin: {allow_origin[:100]} and "
                        "Access-Control-Allow-Credentials: true."
                    ),
                    responses=[response],
                )
        return ctx.problems
