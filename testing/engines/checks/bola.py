"""``bola``: one identity cannot read or change another identity's objects.

Needs two identities: those named A and B (any case), else the first two; without them it skips.
A's objects are ``Identity.object_ids`` when configured, else ids captured from A's own answers to
the list operation above each object path (``GET /items`` for ``/items/{id}``: an array of objects,
an envelope such as ``{"items": [...]}``, or one object, with ``id``/``uuid``/``_id`` fields).

For each protected GET with a path id (sorted, at most six) and each of A's ids (at most three, until
one is readable by A): A reads it (a 2xx, else that pair is inconclusive), then B reads the same
path. B's 2xx with the same body byte for byte, or with a JSON object naming the same id, is
``bola_read`` (high). Writes only when the plan allows intrusive checks (the check itself is not
intrusive): for each protected PUT/PATCH with a path id (at most four), B sends A's own current
representation (or an example body) to A's object; a 2xx is ``bola_write`` (critical). DELETE is
never tried: a working exploit would destroy the object every later run depends on. When no pair
could be compared at all (no ids, A cannot read its own objects) the check skips and says why,
rather than pass.
"""

from __future__ import annotations

from typing import Any

from testing.engines.checks._probing import (
    collect_ids,
    example_body,
    id_parameter,
    json_body,
    parent_path,
    success,
    two_identities,
)
from testing.engines.checks.base import (
    Check,
    Context,
    Identity,
    OperationSpec,
    Owasp,
    Problem,
    Severity,
    Skip,
    fill_path,
    register,
)
from testing.engines.safe_http import ScanResponse

MAX_READ_OPS = 6
MAX_WRITE_OPS = 4
MAX_IDS = 3
MAX_CAPTURES = 4


def same_object(mine: ScanResponse, theirs: ScanResponse) -> bool:
    if mine.body == theirs.body:
        return True
    a, b = json_body(mine), json_body(theirs)
    if isinstance(a, dict) and isinstance(b, dict):
        ids = collect_ids(a, limit=1)
        return bool(ids) and ids == collect_ids(b, limit=1)
    return False


@register
class Bola(Check):
    key = "bola"
    title = "One identity cannot read or change another's objects"
    sends = (
        "as identity A, its list operations (to find its object ids) and its objects; as identity B, "
        "reads of A's objects, and with intrusive checks allowed, PUT/PATCH of A's own data to A's objects"
    )
    owasp = Owasp.API1
    severity = Severity.HIGH
    intrusive = False
    request_budget = 60

    def run(self, ctx: Context) -> list[Problem]:
        pair = two_identities(ctx.target)
        if pair is None:
            raise Skip("needs two identities (A and B) to compare")
        owner, other = pair
        with_ids = sorted(
            (op for op in ctx.target.protected() if id_parameter(op)), key=lambda op: (op.path, op.method)
        )
        reads = [op for op in with_ids if op.method == "GET"][:MAX_READ_OPS]
        writes = [op for op in with_ids if op.method in ("PUT", "PATCH")][:MAX_WRITE_OPS]
        if not ctx.target.intrusive_allowed:
            ctx.metrics["writes"] = "not tried: intrusive checks are not allowed"
            writes = []
        if not reads and not writes:
            raise Skip("no protected operation addresses an object by a path id")
        self.captured: dict[str, list[str]] = {}
        self.current: dict[str, Any] = {}
        inconclusive: dict[str, str] = {}
        tested = 0
        for op in reads:
            ids = self._ids(ctx, owner, op)
            verdict = "no object id of A's to try" if not ids else ""
            for object_id in ids:
                path = fill_path(op, {id_parameter(op) or "": object_id})
                mine = ctx.send("GET", path, identity=owner, operation=op)
                if not success(mine):
                    verdict = f"A itself cannot read its object ({mine.status or mine.error_kind})"
                    continue
                self.current[op.path] = json_body(mine)
                theirs = ctx.send("GET", path, identity=other, operation=op)
                tested += 1
                verdict = ""
                if success(theirs) and same_object(mine, theirs):
                    ctx.problem(
                        detail="bola_read",
                        operation=op.key,
                        message=(
                            f"Identity {other.name!r} read an object that belongs to {owner.name!r} "
                            f"({theirs.status}, the same object A sees); expected 403 or 404."
                        ),
                        responses=[theirs, mine],
                    )
                break
            if verdict:
                inconclusive[op.key] = verdict
        for op in writes:
            ids = self._ids(ctx, owner, op)
            if not ids:
                inconclusive[op.key] = "no object id of A's to try"
                continue
            tested += 1
            self._write(ctx, op, owner, other, ids[0])
        ctx.metrics.update(owner=owner.name, other=other.name, pairs_tested=tested, inconclusive=inconclusive)
        if not tested:
            first = next(iter(inconclusive.items()), ("", "nothing to try"))
            raise Skip(f"no object of A's could be compared (e.g. {first[0]}: {first[1]})"[:300])
        return ctx.problems

    def _ids(self, ctx: Context, owner: Identity, op: OperationSpec) -> list[str]:
        if owner.object_ids:
            ctx.metrics["ids_from"] = "configured"
            return list(owner.object_ids[:MAX_IDS])
        parent = parent_path(op)
        if parent not in self.captured:
            listing = ctx.target.operation(f"GET {parent}")
            if listing is None or listing.path_parameters() or len(self.captured) >= MAX_CAPTURES:
                self.captured[parent] = []
            else:
                response = ctx.send("GET", parent, identity=owner, operation=listing)
                self.captured[parent] = collect_ids(json_body(response), limit=MAX_IDS)
                ctx.metrics["ids_from"] = "captured"
        return self.captured[parent]

    def _write(
        self, ctx: Context, op: OperationSpec, owner: Identity, other: Identity, object_id: str
    ) -> None:
        path = fill_path(op, {id_parameter(op) or "": object_id})
        body = self.current.get(op.path)
        if not isinstance(body, dict):
            body = example_body(op.request_schema) if op.request_schema else {}
        response = ctx.send(op.method, path, identity=other, operation=op, json=body)
        if success(response):
            ctx.problem(
                detail="bola_write",
                operation=op.key,
                severity=Severity.CRITICAL,
                message=(
                    f"Identity {other.name!r} changed ({op.method}) an object that belongs to {owner.name!r}: "
                    f"it answered {response.status}; expected 403 or 404. (The body sent was A's own data.)"
                ),
                responses=[response],
            )
