"""``http_methods``: TRACE and methods a path does not document are refused.

For up to 8 documented paths (sorted; the template filled from the examples of the path's first
operation), the check sends:

* ``TRACE`` with a marker header: a 2xx that echoes the marker is ``trace_echo`` (cross-site
  tracing: the echo hands scripts the cookies and Authorization header they cannot read), any other
  2xx is ``trace_allowed``;
* ``OPTIONS``: an ``Allow`` header advertising a write method the path does not document is
  ``undocumented_method_advertised`` (the code serves more than the inventory knows);
* ``GET`` when the path documents no GET (GET is safe, so always sent);
* with intrusive checks allowed only, the write methods (DELETE, PATCH, PUT, POST) the path does not
  document, at most 2 per path, with an empty JSON object as body.

"Refused" is 400, 401, 403, 404, 405 or 501 (or no answer); other 3xx/4xx answers are not counted
as served either (a 415 or 422 may mean the method is routed, but the scanner cannot tell). An
undocumented method answered with a 2xx is ``undocumented_method:<METHOD>``, unless the answer is the very page the server gives for a
path that does not exist (an SPA catch-all); a 5xx is ``method_server_error:<METHOD>``.
"""

from __future__ import annotations

import secrets

from testing.engines.checks._probing import identity_for, looks_alike
from testing.engines.checks.base import (
    Check,
    Context,
    OperationSpec,
    Owasp,
    Problem,
    Severity,
    Skip,
    fill_path,
    register,
)
from testing.engines.safe_http import ScanResponse

MAX_PATHS = 8
MAX_WRITE_PROBES = 2  # per path
WRITE_METHODS = ("DELETE", "PATCH", "PUT", "POST")
REFUSED = frozenset({400, 401, 403, 404, 405, 501})
TRACE_MARKER_HEADER = "X-Scanner-Trace"


def _allow_header(response: ScanResponse) -> set[str]:
    value = response.headers.get("allow", "") or response.headers.get("access-control-allow-methods", "")
    return {m.strip().upper() for m in value[:500].split(",") if m.strip()}


@register
class HttpMethods(Check):
    key = "http_methods"
    title = "TRACE and undocumented methods are refused"
    sends = (
        "TRACE, OPTIONS and (when undocumented) GET to up to 8 documented paths; "
        "undocumented write methods only when intrusive checks are allowed"
    )
    owasp = Owasp.API8
    severity = Severity.LOW
    intrusive = False
    request_budget = 42

    def run(self, ctx: Context) -> list[Problem]:
        target = ctx.target
        by_path: dict[str, list[OperationSpec]] = {}
        for op in target.operations:
            by_path.setdefault(op.path, []).append(op)
        if not by_path:
            raise Skip("no documented path to probe")
        catch_all: ScanResponse | None = None
        for path in sorted(by_path)[:MAX_PATHS]:
            ops = sorted(by_path[path], key=lambda op: op.method)
            documented = {op.method for op in ops}
            if "GET" in documented:
                documented.add("HEAD")
            first = ops[0]
            url_path = fill_path(first)
            who = identity_for(target, first) if first.auth_required else None

            marker = secrets.token_hex(8)
            trace = ctx.send("TRACE", url_path, identity=who, headers={TRACE_MARKER_HEADER: marker})
            if trace.status is not None and 200 <= trace.status < 300 and "TRACE" not in documented:
                echoed = marker in trace.text
                ctx.problem(
                    detail="trace_echo" if echoed else "trace_allowed",
                    operation=f"TRACE {path}",
                    severity=Severity.MEDIUM if echoed else None,
                    message=(
                        f"Expected TRACE to be refused (405); got HTTP {trace.status}"
                        + (", echoing the request headers back." if echoed else ".")
                    ),
                    responses=[trace],
                )

            options = ctx.send("OPTIONS", url_path, identity=who)
            advertised = sorted(
                m for m in _allow_header(options) if m in WRITE_METHODS and m not in documented
            )
            if options.status is not None and options.status < 300 and advertised:
                ctx.problem(
                    detail="undocumented_method_advertised",
                    operation=f"OPTIONS {path}",
                    message=(
                        f"Expected OPTIONS to advertise only documented methods ({', '.join(sorted(documented))}); "
                        f"it also advertises {', '.join(advertised)}."
                    ),
                    responses=[options],
                )

            probes = [] if "GET" in documented else ["GET"]
            if target.intrusive_allowed:
                probes += [m for m in WRITE_METHODS if m not in documented][:MAX_WRITE_PROBES]
            for method in probes:
                body: dict[str, str] | None = {} if method in ("PATCH", "PUT", "POST") else None
                response = ctx.send(method, url_path, identity=who, json=body)
                status = response.status
                if status is None or status in REFUSED or 300 <= status < 500:
                    continue
                if status >= 500:
                    ctx.problem(
                        detail=f"method_server_error:{method}",
                        operation=f"{method} {path}",
                        message=f"Expected an undocumented {method} to be refused (405); got HTTP {status}.",
                        responses=[response],
                    )
                    continue
                if catch_all is None:
                    catch_all = ctx.send("GET", f"/{secrets.token_hex(12)}-not-a-route", identity=who)
                if looks_alike(response, catch_all):
                    continue
                ctx.problem(
                    detail=f"undocumented_method:{method}",
                    operation=f"{method} {path}",
                    severity=Severity.MEDIUM if method in WRITE_METHODS else None,
                    message=(
                        f"Expected {method} to be refused on a path that documents only "
                        f"{', '.join(sorted(documented - {'HEAD'}))}; got HTTP {status}."
                    ),
                    responses=[response],
                )
        return ctx.problems
