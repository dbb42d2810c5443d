"""``fail_secure``: after a burst and malformed input, protected operations still refuse, and the API
still answers.

1. Before: a health GET (``target.cheap_get``, else the first GET without path parameters, as the
   first identity when it is protected), and an anonymous call to up to three protected GETs; only
   those that refuse (401/403) now are judged afterwards.
2. Stress, a handful of requests: a burst of eight health GETs; malformed JSON (truncated, invalid
   UTF-8, 5,000 levels of nesting), a 16 KiB header and a wrong content type (XML, form) sent
   without credentials to up to two protected write operations (or as POSTs to the health path
   when there is none; never to a public write, which a lenient parser might act on).
3. After: each judged operation is called anonymously again and with malformed credentials
   (``Bearer null``, an 8 KiB bearer, a ``Basic`` that is not base64). A 2xx is
   ``fails_open_after_errors`` / ``malformed_credentials_accepted`` (high). The health GET again:
   it answered before, and now errors or times out, is ``stops_answering`` (medium).
"""

from __future__ import annotations

from testing.engines.checks._probing import filled_path, refused, success
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

MAX_JUDGED = 3
MAX_WRITES = 2
BURST = 8
MALFORMED_JSON = (b'{"name": "x", "items": [1, 2,', b'\xff\xfe{"\xc3\x28": 1}', b"[" * 5000)
WRONG_TYPES = (("text/xml", b"<a>1</a>"), ("application/x-www-form-urlencoded", b"a=1&admin=true"))
OVERSIZED_HEADER = "a" * 16 * 1024
MALFORMED_CREDENTIALS = ("Bearer null", "Bearer " + "A" * 8 * 1024, "Basic !!!not-base64!!!")


def answering(response: ScanResponse) -> bool:
    return response.ok and response.status is not None and response.status < 500


@register
class FailSecure(Check):
    key = "fail_secure"
    title = "Errors and load do not open access or take the API down"
    sends = (
        "a health GET and anonymous calls to three protected GETs, then a burst of eight GETs, malformed "
        "JSON, a 16 KiB header and wrong content types (anonymous, to protected writes), then the "
        "protected GETs again anonymously and with malformed credentials, and the health GET again"
    )
    owasp = Owasp.API8
    severity = Severity.HIGH
    intrusive = False
    request_budget = 40

    def run(self, ctx: Context) -> list[Problem]:
        target = ctx.target
        health_op, health_path = self._health(ctx)
        identity = (
            target.identities[0]
            if target.identities and (health_op is None or health_op.auth_required)
            else None
        )
        protected = sorted(
            (op for op in target.protected() if op.method == "GET"), key=lambda op: (op.path, op.method)
        )[:MAX_JUDGED]
        if health_path is None and not protected:
            raise Skip("no GET to judge the API by")

        def health() -> ScanResponse | None:
            if health_path is None:
                return None
            return ctx.send("GET", health_path, identity=identity, operation=health_op)

        before = health()
        judged: list[tuple[OperationSpec, str]] = []
        for op in protected:
            path = filled_path(op, None)
            if refused(ctx.send("GET", path, operation=op)):
                judged.append((op, path))
        if not judged and (before is None or not answering(before)):
            raise Skip("nothing to compare: no protected GET refuses now and the health GET does not answer")
        ctx.metrics.update(judged=[op.key for op, _ in judged], health=health_path)

        self._stress(ctx, health_path, identity, health_op)

        for op, path in judged:
            again = ctx.send("GET", path, operation=op)
            if success(again):
                ctx.problem(
                    detail="fails_open_after_errors",
                    operation=op.key,
                    message=(
                        f"Refused anonymous calls before a burst and malformed input; afterwards it answered "
                        f"{again.status} to one."
                    ),
                    responses=[again],
                )
                continue
            for credential in MALFORMED_CREDENTIALS:
                response = ctx.send("GET", path, operation=op, headers={"Authorization": credential})
                if success(response):
                    ctx.problem(
                        detail="malformed_credentials_accepted",
                        operation=op.key,
                        message=(
                            f"Expected a malformed Authorization header ({credential[:16]}…) to be refused; it "
                            f"answered {response.status}."
                        ),
                        responses=[response],
                    )
                    break
        after = health()
        if before is not None and after is not None and answering(before) and not answering(after):
            ctx.problem(
                detail="stops_answering",
                operation=f"GET {health_op.path if health_op else health_path}",
                severity=Severity.MEDIUM,
                message=(
                    f"Answered {before.status} before a burst and malformed input; afterwards "
                    f"{after.status or after.error_kind}."
                ),
                responses=[after, before],
            )
        return ctx.problems

    def _health(self, ctx: Context) -> tuple[OperationSpec | None, str | None]:
        target = ctx.target
        if target.cheap_get:
            return target.operation(f"GET {target.cheap_get}"), target.cheap_get
        op = next(
            (
                o
                for o in sorted(target.operations, key=lambda o: (o.path, o.method))
                if o.method == "GET" and not o.path_parameters()
            ),
            None,
        )
        return op, (op.path if op else None)

    def _stress(
        self,
        ctx: Context,
        health_path: str | None,
        identity: Identity | None,
        health_op: OperationSpec | None,
    ) -> None:
        stats = {"sent": 0, "5xx_or_error": 0}

        def note(response: ScanResponse) -> None:
            stats["sent"] += 1
            stats["5xx_or_error"] += 0 if answering(response) else 1

        if health_path is not None:
            for _ in range(BURST):
                note(ctx.send("GET", health_path, identity=identity, operation=health_op))
            note(
                ctx.send(
                    "GET", health_path, identity=identity, headers={"X-Scanner-Filler": OVERSIZED_HEADER}
                )
            )
        writes = sorted(
            (op for op in ctx.target.protected() if op.method in ("POST", "PUT", "PATCH")),
            key=lambda op: (op.path, op.method),
        )[:MAX_WRITES]
        targets = [(op.method, filled_path(op, None)) for op in writes]
        if not targets and health_path is not None:
            targets = [("POST", health_path)]
        for method, path in targets:
            for body in MALFORMED_JSON:
                note(ctx.send(method, path, content=body, headers={"Content-Type": "application/json"}))
            for content_type, body in WRONG_TYPES:
                note(ctx.send(method, path, content=body, headers={"Content-Type": content_type}))
        ctx.metrics["stress"] = stats
