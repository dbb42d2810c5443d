"""Shadow / zombie API discovery from gateway access logs.

A pure engine: no Django, no I/O beyond the iterables it is handed. The pipeline is

    lines --iter_records--> LogRecord | SkippedLine --aggregate--> Aggregate
    Aggregate.endpoints --Matcher.match--> Match (documented / shadow_api / undocumented / zombie)

Everything is streaming: memory depends on the number of distinct endpoints (capped by
``max_endpoints``), never on the number of lines. Bad input never raises; a line that cannot be
understood comes out as a :class:`SkippedLine` carrying its 1-based line number.

Invariant: :func:`iter_records` yields exactly one item per input line (blank lines become
``SkippedLine(reason="blank line")``), so ``Aggregate.lines == parsed + skipped`` equals the
number of lines read.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote, unquote, urlsplit

from inventory.engines.path_match import PathPattern, TemplateIndex

__all__ = [
    "Aggregate",
    "EndpointStats",
    "KnownApi",
    "KnownOperation",
    "LogFormatError",
    "LogRecord",
    "Match",
    "Matcher",
    "SkippedLine",
    "TooManyUnreadableLines",
    "aggregate",
    "detect_log_format",
    "iter_records",
    "normalize_path",
]

FORMATS = ("nginx", "json")
FORMAT_LABELS = {"nginx": "nginx / Apache combined", "json": "JSON lines"}
MAX_LINE_LENGTH = 32 * 1024
MAX_TEMPLATE_LENGTH = 500
EXCERPT_LENGTH = 120
MAX_SKIPPED_EXAMPLES = 5
MAX_UNREADABLE_LINES = 100_000  # what the portal passes as aggregate(max_unreadable=...)

# Methods we accept. Anything else in a request line is scanner noise / binary junk.
HTTP_METHODS = frozenset(
    {
        "GET",
        "HEAD",
        "POST",
        "PUT",
        "DELETE",
        "PATCH",
        "OPTIONS",
        "TRACE",
        "CONNECT",
        # WebDAV & friends, which gateways do see.
        "PROPFIND",
        "PROPPATCH",
        "MKCOL",
        "COPY",
        "MOVE",
        "LOCK",
        "UNLOCK",
        "SEARCH",
        "REPORT",
        "MKCALENDAR",
        "QUERY",
    }
)


# --------------------------------------------------------------------------------------------
# Data types
# --------------------------------------------------------------------------------------------


class LogFormatError(ValueError):
    """The log format could not be recognised (or an unknown ``fmt`` was asked for)."""


class TooManyUnreadableLines(LogFormatError):
    """Most of the log could not be read (see ``aggregate(max_unreadable=...)``)."""


@dataclass(frozen=True, slots=True)
class LogRecord:
    host: str  # lower-cased, default port (:80 / :443) removed; "" when unknown
    method: str  # upper-case, one of HTTP_METHODS
    path: str  # raw path, no query string / fragment, starts with "/"
    status: int  # 100..599
    at: datetime | None  # timezone-aware UTC


@dataclass(frozen=True, slots=True)
class SkippedLine:
    line_number: int  # 1-based
    reason: str
    excerpt: str  # <= 120 chars, control/format characters stripped


@dataclass
class EndpointStats:
    host: str
    method: str
    path_template: str
    hits: int = 0
    status_codes: dict[str, int] = field(default_factory=dict)
    first_seen: datetime | None = None
    last_seen: datetime | None = None


@dataclass
class Aggregate:
    endpoints: dict[tuple[str, str, str], EndpointStats] = field(default_factory=dict)
    lines: int = 0
    parsed: int = 0
    skipped: int = 0
    skipped_examples: list[SkippedLine] = field(default_factory=list)


@dataclass(frozen=True)
class KnownOperation:
    method: str
    path_template: str
    deprecated: bool
    operation_key: object


@dataclass(frozen=True)
class KnownApi:
    api_key: object
    base_urls: list[str]
    retired: bool
    operations: list[KnownOperation]


@dataclass(frozen=True)
class Match:
    kind: str  # "documented" | "shadow_api" | "undocumented" | "zombie"
    api_key: object | None
    operation_key: object | None


DOCUMENTED = "documented"
SHADOW_API = "shadow_api"
UNDOCUMENTED = "undocumented"
ZOMBIE = "zombie"


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _excerpt(text: str) -> str:
    """First 120 visible characters: control, format (bidi, zero-width), surrogate and private-use
    characters are dropped so the excerpt is safe to store and to show."""
    out: list[str] = []
    for ch in text[: EXCERPT_LENGTH * 4]:
        if ch.isascii():
            if " " <= ch <= "~":
                out.append(ch)
            elif ch == "\t":
                out.append(" ")
        elif unicodedata.category(ch)[0] not in ("C", "Z") or ch == "\u00a0":
            out.append(ch)
        if len(out) >= EXCERPT_LENGTH:
            break
    return "".join(out).strip()


_HOST_RE = re.compile(r"(?:\[[0-9a-f:.]{2,45}\]|[a-z0-9_](?:[a-z0-9_.-]{0,252}))(?::[0-9]{1,5})?")
_host_cache: dict[str, str | None] = {}


def _normalize_host(raw: str) -> str | None:
    """Lower-case, strip the default ports (:80, :443) and a trailing dot. ``None`` if invalid."""
    try:
        return _host_cache[raw]
    except KeyError:
        pass
    result = _normalize_host_uncached(raw)
    if len(_host_cache) > 4096:
        _host_cache.clear()
    _host_cache[raw] = result
    return result


def _normalize_host_uncached(raw: str) -> str | None:
    host = raw.strip().lower()
    if not _HOST_RE.fullmatch(host):
        return None
    if host.startswith("["):
        end = host.index("]") + 1
        name, port = host[:end], host[end + 1 :]
    else:
        name, _, port = host.partition(":")
        name = name.rstrip(".")
    if not name:
        return None
    if port in ("", "80", "443"):
        return name
    if not 0 < int(port) <= 65535:
        return None
    return f"{name}:{port}"


def _split_target(target: str) -> tuple[str | None, str] | None:
    """Request target → (authority or None, path without query). ``None`` if not a usable target."""
    if target.startswith("/"):
        authority = None
        path = target
    else:
        lowered = target[:8].lower()
        if lowered.startswith("http://"):
            rest = target[7:]
        elif lowered.startswith("https://"):
            rest = target[8:]
        else:
            return None  # "*", authority-form (CONNECT), garbage
        cut = len(rest)
        for sep in "/?#":
            i = rest.find(sep)
            if i != -1 and i < cut:
                cut = i
        authority = rest[:cut].rpartition("@")[2]
        path = rest[cut:] or "/"
    for sep in "?#":
        i = path.find(sep)
        if i != -1:
            path = path[:i]
    if not path.startswith("/"):
        path = "/" + path
    return authority, path


_BAD_PATH_RE = re.compile(r"[\x00-\x1f\x7f]")


def _path_ok(path: str) -> bool:
    if _BAD_PATH_RE.search(path):
        return False
    if not path.isascii():
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates (e.g. from JSON "\ud800")
            return False
    return True


# --- time ------------------------------------------------------------------------------------

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
_CLF_TIME_RE = re.compile(
    r"([0-9]{1,2})/([A-Za-z]{3})/([0-9]{4}):([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?"
    r"(?:\s*([+-])([0-9]{2}):?([0-9]{2}))?"
)
_tz_cache: dict[tuple[str, str, str], timezone] = {}


def _parse_clf_time(text: str) -> datetime | None:
    m = _CLF_TIME_RE.fullmatch(text.strip())
    if m is None:
        return None
    day, mon, year, hh, mm, ss, sign, tzh, tzm = m.groups()
    month = _MONTHS.get(mon.lower())
    if month is None:
        return None
    tz: timezone = UTC
    if sign:
        key = (sign, tzh, tzm)
        cached = _tz_cache.get(key)
        if cached is None:
            try:
                offset = timedelta(hours=int(tzh), minutes=int(tzm))
                cached = timezone(-offset if sign == "-" else offset)
            except ValueError:
                return None
            _tz_cache[key] = cached
        tz = cached
    try:
        return datetime(int(year), month, int(day), int(hh), int(mm), int(ss), tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _parse_epoch(value: float) -> datetime | None:
    if value != value:  # NaN
        return None
    if value > 1e14:  # microseconds
        value /= 1e6
    elif value > 1e11:  # milliseconds
        value /= 1e3
    if not 0 <= value < 253402300800:  # up to year 9999
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _parse_any_time(value: object) -> datetime | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return _parse_epoch(float(value))
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    text = value.strip()
    if text.replace(".", "", 1).isdigit() and text.isascii():
        return _parse_epoch(float(text))
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return _parse_clf_time(text)
    try:
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


# --------------------------------------------------------------------------------------------
# Path normalisation
# --------------------------------------------------------------------------------------------

_SAFE_PATH_RE = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")
_SEGMENT_SAFE = "!$&'()*+,;=:@-._~"  # RFC 3986 pchar minus "%" (braces are always encoded)
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX_RE = re.compile(r"[0-9a-fA-F]{16,}")
_TOKEN_RE = re.compile(r"[A-Za-z0-9_\-+]{24,}={0,2}")
_HAS_DIGIT_RE = re.compile(r"[0-9]")
_HAS_ALPHA_RE = re.compile(r"[A-Za-z]")
_SEPARATOR_RE = re.compile(r"[-_+]")


_PLACEHOLDERS = frozenset({"{id}", "{uuid}", "{hash}"})


class _Placeholder(str):
    """A segment that was already an (unencoded) placeholder in the input."""

    __slots__ = ()


def _is_slug_part(part: str) -> bool:
    if len(part) <= 3 or part.isdigit():
        return True
    return part.isalpha() and (part.islower() or part.isupper() or part.istitle())


def _classify(seg: str) -> str | None:
    """Placeholder for an identifier-like segment, or None for a literal."""
    if seg.isdigit() and seg.isascii():
        return "{id}"
    n = len(seg)
    if n < 16:
        return None
    if n == 36 and _UUID_RE.fullmatch(seg):
        return "{uuid}"
    if _HEX_RE.fullmatch(seg):
        return "{hash}"
    if n >= 24 and _TOKEN_RE.fullmatch(seg) and _HAS_DIGIT_RE.search(seg) and _HAS_ALPHA_RE.search(seg):
        # Slugs such as "quarterly-report-2024-q1-final" are words, not tokens: with separators, it is
        # a slug when every part is a word in one case style, a number, or a short mix like "q1".
        parts = _SEPARATOR_RE.split(seg.rstrip("="))
        if len(parts) > 1 and all(_is_slug_part(p) for p in parts):
            return None
        return "{hash}"
    return None


def _canonical_segment(decoded: str) -> str:
    return quote(decoded, safe=_SEGMENT_SAFE, errors="replace")


def _segments(path: str) -> tuple[list[str], bool]:
    """Decoded, dot-resolved, non-empty segments of ``path`` (query/fragment already removed), and
    whether every segment is already in canonical (RFC 3986 pchar) form."""
    simple = _SAFE_PATH_RE.fullmatch(path) is not None
    out: list[str] = []
    for raw in path.split("/"):
        if not raw:
            continue
        if raw in _PLACEHOLDERS:  # already a template: keep it (normalize_path is idempotent)
            out.append(_Placeholder(raw))
            continue
        seg = raw if simple else unquote(raw, errors="replace")
        if seg == ".":
            continue
        if seg == "..":
            if out:
                out.pop()  # never climbs above the root
            continue
        out.append(seg)
    return out, simple


def _template_from_segments(segments: Iterable[str], simple: bool = False) -> str:
    parts: list[str] = []
    total = 0
    for seg in segments:
        if type(seg) is _Placeholder:
            piece = str(seg)
        else:
            piece = _classify(seg) or (seg if simple else _canonical_segment(seg))
        total += len(piece) + 1
        if total > MAX_TEMPLATE_LENGTH:
            if not parts:  # a single huge segment: hard-cut without splitting a %XX escape
                piece = piece[: MAX_TEMPLATE_LENGTH - 1]
                tail = piece.rfind("%")
                if tail >= len(piece) - 2:
                    piece = piece[:tail]
                parts.append(piece)
            break
        parts.append(piece)
    return "/" + "/".join(parts)


def normalize_path(path: str) -> str:
    """Collapse a concrete request path into a template.

    numeric segments → ``{id}``; UUIDs → ``{uuid}``; ≥16 hex chars, or ≥24-char base64url-ish tokens
    mixing letters and digits → ``{hash}``. Query string and fragment are dropped, segments are
    percent-decoded then re-encoded canonically (so ``{``, ``}``, ``/`` and ``%`` inside a segment can
    never fake a placeholder or a separator), ``.``/``..`` are resolved without ever leaving the
    root, duplicate and trailing slashes are removed, and the result is at most 500 characters.
    """
    if not isinstance(path, str):
        return "/"
    for sep in "?#":
        i = path.find(sep)
        if i != -1:
            path = path[:i]
    return _template_from_segments(*_segments(path))


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

_QUOTED = r'"((?:[^"\\]++|\\.)*+)"'  # possessive: nothing to give back, so nothing backtracks
_NGINX_RE = re.compile(
    r'(?:([^\s"\[]+) )?'  # Apache vhost_combined: "host:port " prefix
    r'[^\s"\[]+ [^\s"\[]+ (?:[^\s"\[]+|"[^"]*") '  # remote_addr ident remote_user
    r"\[([^\]]{1,64})\] "  # [time_local]
    + _QUOTED  # "request"
    + r" ([0-9]{3}) (?:[0-9]+|-)"  # status body_bytes_sent
    r"(.*)",  # referer, user agent, extra fields
    re.DOTALL,
)


# One quoted field, or an unclosed one running to the end. The possessive runs never give back
# what they took, and an unclosed field consumes the rest of the line instead of failing, so the
# scan never restarts inside it: linear. (``findall`` of the plain quoted-string pattern restarted
# at every quote of an unclosed field: a line of escaped quotes, ``"a\\"\\"\\"…``, cost O(n²).)
_QUOTED_FIELD_RE = re.compile(r'"((?:[^"\\]++|\\.)*+)("?)')


def _quoted_fields(text: str) -> list[str]:
    """The closed double-quoted fields of ``text`` (backslash escapes kept, as in the log)."""
    return [m.group(1) for m in _QUOTED_FIELD_RE.finditer(text) if m.group(2)]


def _parse_request_line(request: str) -> tuple[str, str | None, str] | str:
    """(method, authority|None, path) or a skip reason."""
    if not request or request == "-":
        return "empty request line"
    parts = request.split(" ")
    if len(parts) == 3:
        if not parts[2].startswith("HTTP/"):
            return "malformed request line"
    elif len(parts) != 2:  # HTTP/0.9 is "GET /"
        return "malformed request line"
    method = parts[0].upper()
    if method not in HTTP_METHODS:
        return "invalid method"
    split = _split_target(parts[1])
    if split is None:
        return "invalid request target"
    return method, split[0], split[1]


def _resolve_host(candidates: Iterable[str | None], default_host: str) -> str | None:
    """First usable host among candidates, else the default. None → invalid host given."""
    for cand in candidates:
        if cand is None or cand == "" or cand == "-":
            continue
        return _normalize_host(cand)
    return _normalize_host(default_host) if default_host else ""


class _Parser:
    """Per-call state: caches for the last timestamp (consecutive lines usually share one)."""

    def __init__(self, default_host: str) -> None:
        self.default_host = default_host
        self._last_time: str | None = None
        self._last_dt: datetime | None = None

    def clf_time(self, text: str) -> datetime | None:
        if text != self._last_time:
            self._last_time = text
            self._last_dt = _parse_clf_time(text)
        return self._last_dt

    def nginx(self, line: str) -> LogRecord | str:
        m = _NGINX_RE.fullmatch(line)
        if m is None:
            return "unrecognised nginx line"
        vhost, time_text, request, status_text, rest = m.groups()
        status = int(status_text)
        if not 100 <= status <= 599:
            return "status out of range"
        req = _parse_request_line(request)
        if isinstance(req, str):
            return req
        method, authority, path = req
        trailing_host = None
        if rest and rest.count('"') >= 6:  # referer, user agent and at least one more quoted field
            rest = rest.rstrip()
            start = rest.rfind('"', 0, len(rest) - 1)
            if rest.endswith('"') and "\\" not in rest[start:]:
                trailing_host = rest[start + 1 : -1]  # fast path: the last field is a plain quoted string
            else:
                fields = _quoted_fields(rest)
                if len(fields) >= 3:
                    trailing_host = fields[-1]
        host = _resolve_host((authority, vhost, trailing_host), self.default_host)
        if host is None:
            return "invalid host"
        if not _path_ok(path):
            return "invalid path"
        return LogRecord(host, method, path, status, self.clf_time(time_text))

    def json(self, line: str) -> LogRecord | str:
        if not line.startswith("{"):
            return "not a JSON object"
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            return "invalid JSON"
        if not isinstance(obj, dict):
            return "not a JSON object"
        get = obj.get

        method = _first_str(get, ("method", "request_method", "http_method"))
        target = _first_str(get, ("path", "uri", "url", "request_uri"))
        authority: str | None = None
        if method is None or target is None:
            request = get("request")
            if not isinstance(request, str):
                return "missing method or path"
            req = _parse_request_line(request)
            if isinstance(req, str):
                return req
            method, authority, path = req
        else:
            method = method.upper()
            if method not in HTTP_METHODS:
                return "invalid method"
            split = _split_target(target)
            if split is None:
                return "invalid request target"
            authority, path = split

        status_value = get("status", get("status_code"))
        if isinstance(status_value, str) and status_value.isascii() and status_value.isdigit():
            status_value = int(status_value)
        if isinstance(status_value, float) and status_value.is_integer():
            status_value = int(status_value)
        if not isinstance(status_value, int) or isinstance(status_value, bool):
            return "missing or invalid status"
        if not 100 <= status_value <= 599:
            return "status out of range"

        host = _resolve_host(
            (authority, _first_str(get, ("host", "http_host", "server_name"))), self.default_host
        )
        if host is None:
            return "invalid host"
        if not _path_ok(path):
            return "invalid path"
        at = None
        for key in ("time", "timestamp", "@timestamp", "time_iso8601", "time_local", "msec", "ts"):
            value = get(key)
            if value is not None:
                at = _parse_any_time(value)
                break
        return LogRecord(host, method, path, status_value, at)


def _first_str(get: Callable[[str], object], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = get(key)
        if isinstance(value, str) and value:
            return value
    return None


def detect_log_format(first_lines: list[str]) -> str:
    """``"nginx"`` or ``"json"`` from a sample of the first lines; :class:`LogFormatError` if neither."""
    parser = _Parser("")
    votes = {"nginx": 0, "json": 0}
    seen = 0
    for i, line in enumerate(first_lines):
        if isinstance(line, bytes):
            line = line.decode("utf-8", errors="replace")
        if not isinstance(line, str):
            continue
        if i == 0:
            line = line.lstrip("\ufeff")
        line = line.strip()
        if not line:
            continue
        seen += 1
        if seen > 50:
            break
        if line.startswith("{"):
            if not isinstance(parser.json(line), str) or _is_json_object(line):
                votes["json"] += 1
        elif _NGINX_RE.fullmatch(line):
            votes["nginx"] += 1
    if not votes["nginx"] and not votes["json"]:
        raise LogFormatError("Unrecognised log format: expected nginx/Apache combined or JSON lines.")
    return "json" if votes["json"] > votes["nginx"] else "nginx"


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False


def iter_records(
    lines: Iterable[str], *, fmt: str, default_host: str = ""
) -> Iterator[LogRecord | SkippedLine]:
    """One :class:`LogRecord` or :class:`SkippedLine` per input line, in order. Never raises on
    content; raises :class:`LogFormatError` straight away for an unknown ``fmt``."""
    if fmt not in FORMATS:
        raise LogFormatError(f"Unknown log format {fmt!r}; expected one of {', '.join(FORMATS)}.")
    parser = _Parser(default_host or "")
    parse = parser.nginx if fmt == "nginx" else parser.json
    return _iter(lines, parse)


def _iter(lines: Iterable[str], parse: Callable[[str], LogRecord | str]) -> Iterator[LogRecord | SkippedLine]:
    for number, line in enumerate(lines, 1):
        if not isinstance(line, str):
            if isinstance(line, bytes | bytearray):
                line = bytes(line).decode("utf-8", errors="replace")
            else:
                yield SkippedLine(number, "not text", "")
                continue
        if number == 1 and line.startswith("\ufeff"):
            line = line[1:]
        line = line.rstrip("\r\n")
        if len(line) > MAX_LINE_LENGTH:
            yield SkippedLine(number, "line too long", _excerpt(line))
            continue
        stripped = line.strip()
        if not stripped:
            yield SkippedLine(number, "blank line", "")
            continue
        try:
            result = parse(stripped)
        except Exception:  # defence in depth: a line must never abort an import
            result = "unparseable line"
        if isinstance(result, str):
            yield SkippedLine(number, result, _excerpt(stripped))
        else:
            yield result


# --------------------------------------------------------------------------------------------
# Aggregation
# --------------------------------------------------------------------------------------------

_STATUS_KEYS = {code: str(code) for code in range(100, 600)}


def aggregate(
    records: Iterable[LogRecord | SkippedLine],
    *,
    max_endpoints: int = 100_000,
    max_unreadable: int | None = None,
) -> Aggregate:
    """Group records by (host, method, normalised path). Memory is bounded by ``max_endpoints``;
    a record that would create an endpoint beyond the cap is counted as skipped.

    With ``max_unreadable``, raise :class:`TooManyUnreadableLines` as soon as more lines than that
    were skipped *and* they outnumber the lines read: a file of junk (10 MB of newlines is five
    million lines) is refused after a bounded amount of work instead of being walked to the end.
    """
    result = Aggregate()
    endpoints = result.endpoints
    examples = result.skipped_examples
    templates: dict[str, str] = {}  # raw path → template, bounded memo
    lines = parsed = skipped = 0
    limit_reason = f"endpoint limit reached ({max_endpoints})"

    for rec in records:
        lines += 1
        if type(rec) is not LogRecord:
            if isinstance(rec, SkippedLine):
                skipped += 1
                if len(examples) < MAX_SKIPPED_EXAMPLES and rec.reason != "blank line":
                    examples.append(rec)
            else:
                skipped += 1
            if max_unreadable is not None and skipped > max_unreadable and skipped > parsed:
                raise TooManyUnreadableLines(
                    f"More than {max_unreadable:,} lines could not be read (up to line {lines:,}); "
                    "is this the right log format?"
                )
            continue
        template = templates.get(rec.path)
        if template is None:
            template = normalize_path(rec.path)
            if len(templates) >= 50_000:
                templates.clear()
            templates[rec.path] = template
        key = (rec.host, rec.method, template)
        stats = endpoints.get(key)
        if stats is None:
            if len(endpoints) >= max_endpoints:
                skipped += 1
                if len(examples) < MAX_SKIPPED_EXAMPLES:
                    examples.append(
                        SkippedLine(lines, limit_reason, _excerpt(f"{rec.method} {rec.host}{template}"))
                    )
                continue
            stats = endpoints[key] = EndpointStats(rec.host, rec.method, template)
        parsed += 1
        stats.hits += 1
        code = _STATUS_KEYS.get(rec.status) or str(rec.status)
        codes = stats.status_codes
        codes[code] = codes.get(code, 0) + 1
        at = rec.at
        if at is not None:
            if stats.first_seen is None or at < stats.first_seen:
                stats.first_seen = at
            if stats.last_seen is None or at > stats.last_seen:
                stats.last_seen = at

    result.lines, result.parsed, result.skipped = lines, parsed, skipped
    return result


# --------------------------------------------------------------------------------------------
# Matching against the registry
# --------------------------------------------------------------------------------------------


def _literal_segment(raw: str) -> str:
    """A literal template segment, normalised exactly like an observed path segment."""
    decoded = unquote(raw)
    return _classify(decoded) or _canonical_segment(decoded)


def _compile_template(template: str) -> tuple[str, PathPattern | None]:
    """A documented template → (canonical string, pattern or None when it has no parameters).

    Literal segments are normalised exactly like observed paths (so a documented ``/v1/2024/x``
    is ``/v1/{id}/x``); ``{param}`` matches one whole segment, which includes the discovered
    placeholders ``{id}``/``{uuid}``/``{hash}``. Partial parameters (``{name}.json``) work too.
    Matching is segment by segment (:mod:`inventory.engines.path_match`), never a regex.
    """
    path = template.split("?", 1)[0].split("#", 1)[0]
    raw_segments = [seg for seg in path.split("/") if seg and seg != "."]
    pattern = PathPattern.compile(
        raw_segments,
        literal_segment=_literal_segment,
        literal_piece=lambda piece: _canonical_segment(unquote(piece)),
    )
    canonical = "/" + "/".join(
        compiled if isinstance(compiled, str) else raw
        for raw, compiled in zip(raw_segments, pattern.segments, strict=True)
    )
    return canonical, (pattern if pattern.has_parameters else None)


class _OpIndex:
    def __init__(self, operations: Iterable[KnownOperation]) -> None:
        self.exact: dict[tuple[str, str], KnownOperation] = {}
        # Templated operations per method, indexed segment by segment: an endpoint is not compared
        # with every template of the API (100,000 endpoints × 4,000 operations would be 400 million
        # matches).
        self.templates: dict[str, TemplateIndex] = {}
        for order, op in enumerate(operations):
            method = str(op.method or "").upper()
            canonical, pattern = _compile_template(str(op.path_template or "/"))
            if pattern is None:
                self.exact.setdefault((method, canonical), op)
            else:
                self.templates.setdefault(method, TemplateIndex()).add(pattern, order, op)

    def find(self, method: str, paths: tuple[str, ...]) -> KnownOperation | None:
        """The exact operation, else the first declared template that matches any of ``paths``."""
        methods = (method, "GET") if method == "HEAD" else (method,)
        for m in methods:
            for path in paths:
                op = self.exact.get((m, path))
                if op is not None:
                    return op
            index = self.templates.get(m)
            if index is None:
                continue
            found = [hit for path in paths if (hit := index.first(path)) is not None]
            if found:
                first = min(found, key=lambda hit: hit[0])[1]
                assert isinstance(first, KnownOperation)
                return first
        return None


@dataclass(frozen=True, slots=True)
class _Mount:
    base_path: str  # canonical, "" for root
    base_pattern: PathPattern | None  # when the base path has {variables}
    api: KnownApi
    ops: _OpIndex

    def remainder(self, path: str) -> str | None:
        if self.base_pattern is not None:
            return self.base_pattern.remainder(path)
        base = self.base_path
        if not base:
            return path
        if path == base:
            return "/"
        if path.startswith(base) and path[len(base)] == "/":
            return path[len(base) :]
        return None


def _split_base_url(url: str) -> tuple[str, str] | None:
    """'https://pay.example.com/v1' → ('pay.example.com', '/v1'). None if unusable."""
    url = (url or "").strip()
    if not url:
        return None
    if "://" not in url:
        if url.startswith("/"):
            return None  # relative server URL: no host to index by
        url = "https://" + url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
    except ValueError:
        return None
    if "{" in netloc:
        return None  # templated hosts are not supported
    host = _normalize_host(netloc)
    if not host:
        return None
    scheme = parts.scheme.lower()
    if (scheme == "https" and host.endswith(":443")) or (scheme == "http" and host.endswith(":80")):
        host = host.rpartition(":")[0]
    return host, parts.path


def _bare_name(host: str) -> str:
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit() and (name.endswith("]") or ":" not in name):
        return name
    return host


class Matcher:
    """Classify discovered endpoints against the registered APIs.

    unknown host → ``shadow_api``; the most specific API mounted at the path is retired → ``zombie``;
    an operation matches (method + template) → ``documented`` (``zombie`` if deprecated or the API is
    retired); known host, no operation → ``undocumented`` (``api_key`` is the most specific API whose
    base path contains the path, or None when the path is outside every base path).
    A host logged without a port also matches APIs registered on a non-default port of that name.
    ``HEAD`` falls back to a documented ``GET``.
    """

    def __init__(self, apis: Iterable[KnownApi]) -> None:
        by_host: dict[str, list[_Mount]] = {}
        seen: set[tuple[str, str, int]] = set()
        for api in apis:
            ops = _OpIndex(api.operations or ())
            for url in api.base_urls or ():
                split = _split_base_url(url)
                if split is None:
                    continue
                host, raw_base = split
                base_path, base_pattern = self._compile_base(raw_base)
                key = (host, base_path, id(api))
                if key in seen:
                    continue
                seen.add(key)
                by_host.setdefault(host, []).append(_Mount(base_path, base_pattern, api, ops))
        for mounts in by_host.values():
            mounts.sort(key=lambda m: (-len(m.base_path), m.api.retired))
        self._by_host = by_host
        by_name: dict[str, list[_Mount]] = {}
        for host, mounts in by_host.items():
            by_name.setdefault(_bare_name(host), []).extend(mounts)
        for mounts in by_name.values():
            mounts.sort(key=lambda m: (-len(m.base_path), m.api.retired))
        self._by_name = by_name

    @staticmethod
    def _compile_base(raw: str) -> tuple[str, PathPattern | None]:
        canonical, pattern = _compile_template(raw or "/")
        if pattern is None:
            return ("" if canonical == "/" else canonical), None
        return canonical, pattern

    def _mounts(self, host: str) -> list[_Mount]:
        normalized = _normalize_host(host or "") or (host or "").strip().lower()
        mounts = self._by_host.get(normalized)
        if mounts is None and _bare_name(normalized) == normalized:
            mounts = self._by_name.get(normalized)
        return mounts or []

    def match(self, host: str, method: str, path_template: str) -> Match:
        mounts = self._mounts(host)
        if not mounts:
            return Match(SHADOW_API, None, None)
        path = path_template or "/"
        if not path.startswith("/"):
            path = "/" + path
        method = (method or "").upper()

        candidates = [(m, rem) for m in mounts if (rem := m.remainder(path)) is not None]
        if not candidates:
            apis = {id(m.api): m.api for m in mounts}
            if all(api.retired for api in apis.values()):
                only = next(iter(apis.values())) if len(apis) == 1 else None
                return Match(ZOMBIE, only.api_key if only else None, None)
            return Match(UNDOCUMENTED, None, None)

        for mount, rem in candidates:
            paths = (rem,) if rem == path else (rem, path)
            op = mount.ops.find(method, paths)
            if op is not None:
                kind = ZOMBIE if (mount.api.retired or op.deprecated) else DOCUMENTED
                return Match(kind, mount.api.api_key, op.operation_key)
        first = candidates[0][0].api
        return Match(ZOMBIE if first.retired else UNDOCUMENTED, first.api_key, None)
