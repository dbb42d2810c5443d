"""Reading an HR export of the org chart (CSV or JSON) into a validated import plan.

Pure: bytes in, an ``OrgChartPlan`` out, or ``InvalidOrgChart`` carrying every problem found, each
with the CSV line (the header is line 1) or the JSON record (1-based) it comes from. No model is
imported here; what the database already holds is asked through the ``existing_units`` callable,
so the whole file can be judged in one pass. ``portal.services`` applies a plan.

One row per (unit, user, role), or a unit alone to declare structure. Columns:

    unit       slug of the unit (required)
    unit_name  display name (optional; defaults to the slug in title case)
    kind       company, division, department, team, office or unit (optional; default unit)
    parent     slug of the parent unit, empty for a root
    email      the member's email (optional, together with role)
    role       ciso, security_engineer, incident_responder, developer, auditor or viewer
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Literal

Format = Literal["csv", "json"]

COLUMNS = ("unit", "unit_name", "kind", "parent", "email", "role")
REQUIRED_COLUMNS = ("unit", "parent")

# Mirrors portal.models (Role, OrgUnit.Kind, slug_validator); a test keeps them in step.
ROLES = ("ciso", "security_engineer", "incident_responder", "developer", "auditor", "viewer")
KINDS = ("company", "division", "department", "team", "office", "unit")
DEFAULT_KIND = "unit"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
NAME_MAX = 200
MAX_ROWS = 500_000  # rows (CSV) or records (JSON) in one file
MAX_COLUMNS = 64
SHOWN_MAX = 80  # characters of a value repeated in an error message
EMAIL_MAX = 254
USERNAME_MAX = 150

# Looks up which of the given slugs already exist: {slug: parent slug or None for a root}.
ExistingUnits = Callable[[Iterable[str]], Mapping[str, str | None]]


@dataclass(frozen=True, order=True)
class RowError:
    line: int  # 0 for problems with the file as a whole
    message: str
    where: str = "line"  # "line" (CSV, physical lines) or "record" (JSON, 1-based)

    def __str__(self) -> str:
        return f"{self.where} {self.line}: {self.message}" if self.line else self.message


class InvalidOrgChart(Exception):
    """The file cannot be imported; ``errors`` lists every problem, ordered by line."""

    def __init__(self, errors: Iterable[RowError]) -> None:
        self.errors = sorted(errors)
        super().__init__(format_errors(self.errors))


def format_errors(errors: list[RowError], limit: int = 50) -> str:
    shown = [str(e) for e in errors[:limit]]
    if len(errors) > limit:
        shown.append(f"… and {len(errors) - limit} more.")
    return "\n".join(shown)


@dataclass(frozen=True)
class PlannedUnit:
    slug: str
    name: str
    kind: str
    parent: str | None
    line: int  # the first row naming this unit
    lines: tuple[int, ...] = ()  # every row naming it


@dataclass(frozen=True)
class PlannedMembership:
    unit: str
    email: str  # as first written in the file; matched case-insensitively
    role: str
    line: int

    @property
    def email_key(self) -> str:
        return self.email.lower()


@dataclass(frozen=True)
class OrgChartPlan:
    units: tuple[PlannedUnit, ...]  # parents before their children
    memberships: tuple[PlannedMembership, ...]
    rows: int
    sha256: str
    where: str = "line"

    def users(self) -> dict[str, PlannedMembership]:
        """The first membership row of each distinct email (lower-cased key)."""
        out: dict[str, PlannedMembership] = {}
        for m in self.memberships:
            out.setdefault(m.email_key, m)
        return out


def username_for(email: str) -> str:
    """A username derived from the email, within Django's username alphabet and length."""
    return re.sub(r"[^\w.@+-]", "-", email.lower())[:USERNAME_MAX]


def _shown(value: str) -> str:
    """repr() of a value for an error message, shortened: a 100 KB field must not make a 100 KB message."""
    return repr(value if len(value) <= SHOWN_MAX else value[: SHOWN_MAX - 1] + "…")


def _listed(names: list[str], limit: int = 10) -> str:
    shown = ", ".join(_shown(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit:,} more" if len(names) > limit else "")


def default_name(slug: str) -> str:
    return slug.replace("-", " ").title()


# --- Reading --------------------------------------------------------------------------------------


def read_limited(stream: IO[bytes], max_bytes: int) -> bytes:
    """Read at most ``max_bytes``; refuse a larger file without reading the rest of it."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InvalidOrgChart([RowError(0, f"The file is larger than the {max_bytes:,}-byte limit.")])
    return data


def detect_format(filename: str, data: bytes) -> Format:
    lower = filename.lower()
    if lower.endswith(".json"):
        return "json"
    if lower.endswith(".csv"):
        return "csv"
    return "json" if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{") else "csv"


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidOrgChart(
            [
                RowError(
                    line,
                    f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                    "save the export as UTF-8.",
                )
            ]
        ) from None


@dataclass
class _Row:
    line: int
    values: dict[str, str]


def _csv_rows(text: str) -> tuple[list[_Row], list[RowError]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    errors: list[RowError] = []
    try:
        header = next(reader, None)
    except csv.Error as exc:
        return [], [RowError(1, f"unreadable CSV header: {exc}")]
    if header is None or not any(h.strip() for h in header):
        return [], [RowError(0, "The file is empty.")]
    if len(header) > MAX_COLUMNS:
        return [], [RowError(1, f"the header has {len(header):,} columns; expected {', '.join(COLUMNS)}.")]
    names = [h.strip().lower() for h in header]
    counts = Counter(names)  # not names.count() per name: O(columns²) on a header of a million commas
    missing = [c for c in REQUIRED_COLUMNS if c not in counts]
    unknown = [n for n in counts if n not in COLUMNS]
    repeated = sorted(n for n, count in counts.items() if count > 1)
    if missing:
        errors.append(RowError(1, f"missing required column(s): {', '.join(missing)}."))
    if unknown:
        errors.append(RowError(1, f"unknown column(s): {_listed(unknown)}; expected {', '.join(COLUMNS)}."))
    if repeated:
        errors.append(RowError(1, f"column(s) given more than once: {_listed(repeated)}."))
    if errors:
        return [], errors

    rows: list[_Row] = []
    last_line = reader.line_num
    while True:
        start = last_line + 1  # a quoted field may span lines; report where the row starts
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(start, f"unreadable CSV: {exc}"))
            break
        last_line = reader.line_num
        if not any(f.strip() for f in fields):
            continue  # blank line
        if len(rows) >= MAX_ROWS:
            return [], [RowError(0, f"The file has more than {MAX_ROWS:,} rows; split it.")]
        if len(fields) != len(names):
            errors.append(RowError(start, f"expected {len(names)} fields, found {len(fields)}."))
            continue
        rows.append(_Row(start, {n: f.strip() for n, f in zip(names, fields, strict=True)}))
    return rows, errors


def _json_rows(text: str) -> tuple[list[_Row], list[RowError]]:
    if not text.strip():
        return [], [RowError(0, "The file is empty.")]
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        # Before any record exists, the physical position is the only useful pointer.
        return [], [RowError(0, f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.")]
    except RecursionError:  # "[[[[…": the decoder recurses once per level
        return [], [RowError(0, "not valid JSON for an org chart: nested far too deeply.")]
    except ValueError as exc:  # e.g. an integer longer than Python's digit limit
        return [], [RowError(0, f"not valid JSON: {str(exc)[:200]}.")]
    if not isinstance(doc, list):
        return [], [RowError(0, "The JSON file must be an array of objects, one per row.")]
    if len(doc) > MAX_ROWS:
        return [], [RowError(0, f"The file has more than {MAX_ROWS:,} records; split it.")]
    rows: list[_Row] = []
    errors: list[RowError] = []
    for number, record in enumerate(doc, start=1):
        if not isinstance(record, dict):
            errors.append(RowError(number, "must be an object.", "record"))
            continue
        unknown = [k for k in record if k not in COLUMNS]
        if unknown:
            errors.append(
                RowError(
                    number, f"unknown key(s) {_listed(unknown)}; expected {', '.join(COLUMNS)}.", "record"
                )
            )
            continue
        not_text = [k for k, v in record.items() if v is not None and not isinstance(v, str)]
        if not_text:
            errors.append(RowError(number, f"{', '.join(not_text)} must be text or null.", "record"))
            continue
        rows.append(_Row(number, {c: (record.get(c) or "").strip() for c in COLUMNS}))
    return rows, errors


# --- Validating -----------------------------------------------------------------------------------


@dataclass
class _UnitDraft:
    slug: str
    parent: str | None
    line: int  # the first row naming the unit, which also fixes its parent
    name: str = ""
    name_line: int = 0
    kind: str = ""
    kind_line: int = 0
    rows: list[int] = field(default_factory=list)

    def planned(self) -> PlannedUnit:
        return PlannedUnit(
            self.slug,
            self.name or default_name(self.slug),
            self.kind or DEFAULT_KIND,
            self.parent,
            self.line,
            tuple(self.rows),
        )


def parse_org_chart(data: bytes, *, fmt: Format, existing_units: ExistingUnits | None = None) -> OrgChartPlan:
    """Validate the whole file; return the plan or raise ``InvalidOrgChart`` with every problem."""
    where = "record" if fmt == "json" else "line"
    if not data.strip(b"\xef\xbb\xbf \t\r\n"):
        raise InvalidOrgChart([RowError(0, "The file is empty.")])
    # Counted before parsing (a CSV row takes at least one line, a JSON record one "{"), so that a
    # file far over the cap is refused at once rather than after reading half a million rows.
    if fmt == "json" and data.count(b"{") > MAX_ROWS:
        raise InvalidOrgChart([RowError(0, f"The file has more than {MAX_ROWS:,} records; split it.")])
    if fmt == "csv" and data.count(b"\n") > MAX_ROWS + 1:
        raise InvalidOrgChart([RowError(0, f"The file has more than {MAX_ROWS:,} rows; split it.")])
    text = _decode(data)
    rows, errors = _json_rows(text) if fmt == "json" else _csv_rows(text)
    if not rows and not errors:
        errors.append(RowError(0, "The file has no rows."))
    if not rows:
        raise InvalidOrgChart(errors)

    def err(line: int, message: str) -> None:
        errors.append(RowError(line, message, where))

    units: dict[str, _UnitDraft] = {}
    memberships: list[PlannedMembership] = []
    seen: dict[tuple[str, str, str], int] = {}  # (unit, email key, role) → first line

    for row in rows:
        v, line = row.values, row.line
        slug, parent = v.get("unit", ""), v.get("parent", "") or None
        name, kind = v.get("unit_name", ""), v.get("kind", "").lower()
        email, role = v.get("email", ""), v.get("role", "").lower()

        problems = len(errors)
        if not slug:
            err(line, "unit is required.")
        elif not SLUG_RE.match(slug):
            err(line, f"unit {_shown(slug)} is not a valid slug (lowercase letters, digits, hyphens; 1-63).")
        if parent is not None and not SLUG_RE.match(parent):
            err(
                line,
                f"parent {_shown(parent)} is not a valid slug (lowercase letters, digits, hyphens; 1-63).",
            )
        if len(name) > NAME_MAX:
            err(line, f"unit_name is longer than {NAME_MAX} characters.")
        if kind and kind not in KINDS:
            err(line, f"unknown kind {_shown(kind)}; use one of {', '.join(KINDS)}.")
        unit_ok = len(errors) == problems
        if bool(email) != bool(role):
            err(line, "email and role must be given together (or both left empty for a unit alone).")
        if role and role not in ROLES:
            err(line, f"unknown role {_shown(role)}; use one of {', '.join(ROLES)}.")
        if email and not _valid_email(email):
            err(line, f"invalid email {_shown(email)}.")
        row_ok = len(errors) == problems
        if not unit_ok:
            continue
        # A row whose membership part is bad still declares its unit, so that its children are not
        # reported as having an unknown parent as well.

        draft = units.get(slug)
        if draft is None:
            draft = units[slug] = _UnitDraft(slug, parent, line)
        elif draft.parent != parent:
            err(
                line,
                f"unit {slug!r} is given parent {parent or '(none)'!r} here "
                f"but {draft.parent or '(none)'!r} on {where} {draft.line}.",
            )
            continue
        if name:
            if draft.name and draft.name != name:
                err(
                    line,
                    f"unit {slug!r} is named {_shown(name)} here but {_shown(draft.name)} on {where} {draft.name_line}.",
                )
                continue
            draft.name, draft.name_line = name, draft.name_line or line
        if kind:
            if draft.kind and draft.kind != kind:
                err(
                    line,
                    f"unit {slug!r} is a {kind!r} here but a {draft.kind!r} on {where} {draft.kind_line}.",
                )
                continue
            draft.kind, draft.kind_line = kind, draft.kind_line or line
        draft.rows.append(line)
        if not row_ok:
            continue

        key = (slug, email.lower(), role)
        if key in seen:
            what = f"{email} as {role} on {slug!r}" if email else f"unit {slug!r} alone"
            err(line, f"duplicate row ({what}); first given on {where} {seen[key]}.")
            continue
        seen[key] = line
        if email:
            memberships.append(PlannedMembership(slug, email, role, line))

    planned = [d.planned() for d in units.values()]
    slugs = {u.slug for u in planned} | {u.parent for u in planned if u.parent}
    existing = dict(existing_units(slugs)) if existing_units else {}
    errors.extend(unit_errors(planned, existing, where))
    if errors:
        raise InvalidOrgChart(errors)
    return OrgChartPlan(
        units=tuple(_parents_first(planned)),
        memberships=tuple(memberships),
        rows=len(rows),
        sha256=hashlib.sha256(data).hexdigest(),
        where=where,
    )


def unit_errors(
    units: Iterable[PlannedUnit], existing: Mapping[str, str | None], where: str = "line"
) -> list[RowError]:
    """Parents that exist nowhere, units that exist elsewhere in the tree, and cycles.

    ``existing`` maps the slugs already in the portal to their parent's slug (None for a root).
    """
    by_slug = {u.slug: u for u in units}
    errors: list[RowError] = []
    for u in by_slug.values():
        if u.parent and u.parent not in by_slug and u.parent not in existing:
            errors.extend(
                RowError(line, f"unknown parent {u.parent!r} (neither in the file nor in the portal).", where)
                for line in u.lines
            )
        if u.slug in existing and existing[u.slug] != u.parent:
            now = existing[u.slug] or "(none: it is a root)"
            errors.extend(
                RowError(
                    line,
                    f"unit {u.slug!r} already exists under {now!r}, not {u.parent or '(none)'!r}; "
                    "move it in the portal first.",
                    where,
                )
                for line in u.lines
            )
    errors.extend(_cycle_errors(by_slug, where))
    return errors


def _valid_email(email: str) -> bool:
    """A plain structural check (one @, a dotted domain of letters, digits and hyphens): this engine
    imports no Django, and the mail server is the final judge of deliverability."""
    if len(email) > EMAIL_MAX or email.count("@") != 1 or any(c.isspace() for c in email):
        return False
    local, domain = email.split("@")
    labels = domain.split(".")
    if not local or len(local) > 64 or len(labels) < 2:
        return False
    return all(
        label
        and len(label) <= 63
        and not label.startswith("-")
        and not label.endswith("-")
        and all(c.isalnum() or c == "-" for c in label)
        for label in labels
    )


def _cycle_errors(units: Mapping[str, PlannedUnit], where: str) -> list[RowError]:
    """One error per cycle in the parent links, naming its units in order."""
    errors: list[RowError] = []
    state: dict[str, int] = {}  # 1 = on the current walk, 2 = done
    for start in units:
        walk: list[str] = []
        slug: str | None = start
        while slug is not None and slug in units and slug not in state:
            state[slug] = 1
            walk.append(slug)
            slug = units[slug].parent
        if slug is not None and state.get(slug) == 1:
            cycle = walk[walk.index(slug) :]
            chain = " → ".join(f"{s} ({where} {units[s].line})" for s in cycle)
            errors.append(
                RowError(
                    min(units[s].line for s in cycle),
                    f"parent links form a cycle: {chain} → {slug}.",
                    where,
                )
            )
        for s in walk:
            state[s] = 2
    return errors


def _parents_first(units: Iterable[PlannedUnit]) -> list[PlannedUnit]:
    by_slug = {u.slug: u for u in units}
    ordered: list[PlannedUnit] = []
    placed: set[str] = set()
    for start in by_slug:
        chain: list[str] = []
        in_chain: set[str] = set()  # beside the list: "slug in chain" on it is O(depth²) on a deep tree
        slug: str | None = start
        while slug is not None and slug in by_slug and slug not in placed and slug not in in_chain:
            chain.append(slug)
            in_chain.add(slug)
            slug = by_slug[slug].parent
        for s in reversed(chain):
            placed.add(s)
            ordered.append(by_slug[s])
    return ordered
