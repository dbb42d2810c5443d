"""The pure discovery engine: parsing, normalising, aggregating and matching. No database."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory.engines.discovery import (
    Aggregate,
    KnownApi,
    KnownOperation,
    LogFormatError,
    LogRecord,
    Match,
    Matcher,
    SkippedLine,
    aggregate,
    detect_log_format,
    iter_records,
    normalize_path,
)

UUID = "550e8400-e29b-41d4-a716-446655440000"


def nginx(
    request: str = "GET /v1/users/1 HTTP/1.1", status: str = "200", *, prefix: str = "", extra: str = ""
):
    line = (
        f'{prefix}203.0.113.9 - - [10/Oct/2024:13:55:36 +0200] "{request}" {status} 512 '
        f'"https://ref.example/" "curl/8.5"{extra}'
    )
    return line


def records(lines, fmt="nginx", default_host=""):
    return list(iter_records(lines, fmt=fmt, default_host=default_host))


def one(line, fmt="nginx", default_host=""):
    [item] = records([line], fmt, default_host)
    return item


# --------------------------------------------------------------------------------------------
# normalize_path
# --------------------------------------------------------------------------------------------


class TestNormalizePath:
    def test_numeric_ids_collapse_to_one_template(self):
        assert normalize_path("/users/100") == normalize_path("/users/101") == "/users/{id}"

    def test_uuid(self):
        assert normalize_path(f"/orders/{UUID}/items") == "/orders/{uuid}/items"
        assert normalize_path(f"/orders/{UUID.upper()}") == "/orders/{uuid}"

    @pytest.mark.parametrize(
        "segment",
        [
            "d41d8cd98f00b204e9800998ecf8427e",  # md5
            "deadbeefdeadbeef",  # exactly 16 hex chars
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",  # sha1
            "aB3dE9fG2hJkLmN0pQrStUvWxYz",  # base64url token
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",  # JWT header
            "abc-XyZ12kLm9Q_rTT0p9Lkk3mn",
        ],
    )
    def test_hash_like(self, segment):
        assert normalize_path(f"/files/{segment}") == "/files/{hash}"

    @pytest.mark.parametrize(
        "segment",
        [
            "deadbeefdeadbe",  # 14 hex chars: too short
            "ThisIsAVeryLongSegmentWithoutDigits",  # letters only
            "quarterly-report-2024-q1-final-version",  # a slug, not a token
            "v2",
            "user123",
        ],
    )
    def test_literals_stay(self, segment):
        assert normalize_path(f"/files/{segment}") == f"/files/{segment}"

    def test_query_string_and_fragment_ignored(self):
        assert normalize_path("/search?q=1&page=2") == "/search"
        assert normalize_path("/a/42#frag") == "/a/{id}"

    def test_duplicate_and_trailing_slashes(self):
        assert normalize_path("//api///v1//users/") == "/api/v1/users"
        assert normalize_path("/") == "/"
        assert normalize_path("") == "/"
        assert normalize_path("///") == "/"

    def test_dot_segments_never_escape_the_root(self):
        assert normalize_path("/a/b/../c/./d") == "/a/c/d"
        assert normalize_path("/../../../etc/passwd") == "/etc/passwd"
        assert normalize_path("/%2e%2e/%2E%2E/secret") == "/secret"
        assert normalize_path("/a/%2e/b") == "/a/b"

    def test_percent_decoding_is_safe(self):
        assert normalize_path("/users/%31%32%33") == "/users/{id}"
        # An encoded slash stays inside its segment; braces can never fake a placeholder.
        assert normalize_path("/a%2Fb/c") == "/a%2Fb/c"
        assert normalize_path("/%7Bid%7D") == "/%7Bid%7D"
        assert normalize_path("/{x}") == "/%7Bx%7D"
        assert normalize_path("/users/{id}/{uuid}/{hash}") == "/users/{id}/{uuid}/{hash}"  # idempotent
        # Bad escapes and invalid UTF-8 do not raise.
        assert normalize_path("/%zz/%") == "/%25zz/%25"
        assert normalize_path("/%ff") == "/%EF%BF%BD"
        assert normalize_path("/caf%C3%A9") == normalize_path("/café") == "/caf%C3%A9"

    def test_control_characters_are_encoded(self):
        assert normalize_path("/a\x00b/\nx") == "/a%00b/%0Ax"

    def test_length_capped(self):
        long_path = "/seg" * 400
        out = normalize_path(long_path)
        assert len(out) <= 500
        assert out.startswith("/seg/seg")
        huge = normalize_path("/" + "%C3%A9" * 300)
        assert len(huge) <= 500
        assert not huge.endswith("%") and huge[-2] != "%"

    @settings(max_examples=200, deadline=None)
    @given(st.text(alphabet=st.characters(codec=None), max_size=300))
    def test_never_raises_and_is_idempotent(self, text):
        out = normalize_path(text)
        assert out.startswith("/")
        assert len(out) <= 500
        assert "//" not in out
        assert normalize_path(out) == out


# --------------------------------------------------------------------------------------------
# nginx / Apache parsing
# --------------------------------------------------------------------------------------------


class TestNginx:
    def test_combined(self):
        rec = one(nginx("GET /v1/users/7?x=1 HTTP/1.1"), default_host="API.Example.com")
        assert rec == LogRecord(
            "api.example.com", "GET", "/v1/users/7", 200, datetime(2024, 10, 10, 11, 55, 36, tzinfo=UTC)
        )

    def test_common_log_format_without_referer_and_agent(self):
        rec = one('127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326')
        assert isinstance(rec, LogRecord)
        assert (rec.host, rec.path, rec.status) == ("", "/a.gif", 200)

    def test_trailing_host_field(self):
        rec = one(nginx(extra=' 0.012 "Orders.Example.com:443"'), default_host="fallback")
        assert rec.host == "orders.example.com"

    def test_trailing_dash_host_falls_back_to_default(self):
        assert one(nginx(extra=' "-"'), default_host="fallback").host == "fallback"

    def test_vhost_combined_prefix(self):
        rec = one(nginx(prefix="pay.example.com:443 "), default_host="fallback")
        assert rec.host == "pay.example.com"
        assert one(nginx(prefix="pay.example.com:8443 ")).host == "pay.example.com:8443"

    def test_absolute_uri_request_line_gives_host(self):
        rec = one(nginx("GET http://Legacy.Example.com:80/old/5?q HTTP/1.1"), default_host="fallback")
        assert (rec.host, rec.path) == ("legacy.example.com", "/old/5")
        rec = one(nginx("GET https://user@x.example.com HTTP/1.1"))
        assert (rec.host, rec.path) == ("x.example.com", "/")

    def test_http09_request(self):
        assert one(nginx("GET /")).path == "/"

    def test_bad_timestamp_keeps_record(self):
        line = '1.2.3.4 - - [99/Foo/2024:99:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"'
        rec = one(line)
        assert isinstance(rec, LogRecord) and rec.at is None

    @pytest.mark.parametrize(
        ("line", "reason"),
        [
            ("garbage", "unrecognised nginx line"),
            (nginx()[:60], "unrecognised nginx line"),  # truncated
            (nginx("FOO /x HTTP/1.1"), "invalid method"),
            (nginx("get-it /x HTTP/1.1"), "invalid method"),
            (nginx(status="700"), "status out of range"),
            (nginx(status="099"), "status out of range"),
            (nginx("-"), "empty request line"),
            (nginx(""), "empty request line"),
            (nginx("\\x16\\x03\\x01\\x02\\x00\\x01"), "malformed request line"),
            (nginx("GET /a b c HTTP/1.1"), "malformed request line"),
            (nginx("GET /a FTP/1.0"), "malformed request line"),
            (nginx("OPTIONS * HTTP/1.1"), "invalid request target"),
            (nginx("CONNECT example.com:443 HTTP/1.1"), "invalid request target"),
            (nginx(extra=' "bad host!"'), "invalid host"),
            ("\x00\x01\x02\xff\xfe binary \x1b[31m", "unrecognised nginx line"),
            ("x" * 40_000, "line too long"),
        ],
    )
    def test_bad_lines_are_skipped(self, line, reason):
        item = one(line)
        assert isinstance(item, SkippedLine)
        assert item.reason == reason
        assert item.line_number == 1
        assert len(item.excerpt) <= 120
        assert all(ch.isprintable() for ch in item.excerpt)

    def test_line_numbers_and_one_item_per_line(self):
        lines = [nginx(), "junk", "", nginx("POST /v1/users HTTP/1.1", "201"), "\ufeff"]
        items = records(lines)
        assert len(items) == len(lines)
        assert [type(i).__name__ for i in items] == [
            "LogRecord",
            "SkippedLine",
            "SkippedLine",
            "LogRecord",
            "SkippedLine",
        ]
        assert [i.line_number for i in items if isinstance(i, SkippedLine)] == [2, 3, 5]
        assert items[2].reason == "blank line"

    def test_bom_crlf_and_bytes(self):
        items = records(["\ufeff" + nginx() + "\r\n", nginx().encode() + b"\n"])
        assert all(isinstance(i, LogRecord) for i in items)

    def test_excerpt_strips_control_and_bidi_characters(self):
        item = one("evil\x1b[2J\u202eline\x00" + "z" * 300)
        assert item.excerpt.startswith("evil[2Jline")
        assert len(item.excerpt) == 120

    def test_unknown_format_rejected_eagerly(self):
        with pytest.raises(LogFormatError):
            iter_records([], fmt="csv")


# --------------------------------------------------------------------------------------------
# JSON lines
# --------------------------------------------------------------------------------------------


class TestJson:
    def test_basic(self):
        line = json.dumps(
            {"host": "API.example.com:443", "method": "get", "path": "/v1/x/9", "status": 200,
             "time": "2024-05-01T10:00:00Z"}
        )  # fmt: skip
        assert one(line, "json") == LogRecord(
            "api.example.com", "GET", "/v1/x/9", 200, datetime(2024, 5, 1, 10, tzinfo=UTC)
        )

    @pytest.mark.parametrize(
        ("obj", "expected"),
        [
            ({"http_host": "a.example.com", "method": "GET", "uri": "/u?x=1", "status": "404"}, ("a.example.com", "/u", 404)),
            ({"server_name": "b.example.com", "method": "GET", "url": "/u", "status": 200}, ("b.example.com", "/u", 200)),
            ({"host": "ignored", "method": "GET", "url": "https://c.example.com:8443/p?q", "status": 200}, ("c.example.com:8443", "/p", 200)),
            ({"request": "DELETE /v1/things/3 HTTP/1.1", "status": 204}, ("dflt", "/v1/things/3", 204)),
            ({"request_method": "PUT", "request_uri": "/r", "status_code": 200.0}, ("dflt", "/r", 200)),
        ],
    )  # fmt: skip
    def test_key_variants(self, obj, expected):
        rec = one(json.dumps(obj), "json", default_host="dflt")
        assert isinstance(rec, LogRecord)
        assert (rec.host, rec.path, rec.status) == expected

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (1714557600, datetime(2024, 5, 1, 10, tzinfo=UTC)),
            (1714557600123, datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)),
            ("1714557600.5", datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=UTC)),
            ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
            ("2024-05-01 10:00:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),  # naive → UTC
            ("01/May/2024:12:00:00 +0200", datetime(2024, 5, 1, 10, tzinfo=UTC)),
            ("yesterday", None),
            (-5, None),
            (1e300, None),
            (True, None),
            ({"nested": 1}, None),
        ],
    )
    def test_timestamps(self, value, expected):
        rec = one(json.dumps({"method": "GET", "path": "/", "status": 200, "timestamp": value}), "json")
        assert rec.at == expected

    @pytest.mark.parametrize(
        ("line", "reason"),
        [
            ('{"method": "GET", "path": "/"', "invalid JSON"),  # truncated
            ("{not json}", "invalid JSON"),
            ("[1, 2]", "not a JSON object"),
            ('"just a string"', "not a JSON object"),
            ("[" * 100_000, "line too long"),
            ("{" + '"a":[' * 5000 + "]" * 5000 + "}", "invalid JSON"),  # deep nesting → RecursionError
            ('{"method": "GET", "path": "/", "status": 1' + "0" * 5000 + "}", "invalid JSON"),  # huge int
            ('{"method": "GET", "path": "/"}', "missing or invalid status"),
            ('{"method": "GET", "path": "/", "status": true}', "missing or invalid status"),
            ('{"method": "GET", "path": "/", "status": 1000}', "status out of range"),
            ('{"method": "BREW", "path": "/", "status": 200}', "invalid method"),
            ('{"method": 7, "path": "/", "status": 200}', "missing method or path"),
            ('{"request": "nonsense", "status": 200}', "malformed request line"),
            ('{"method": "GET", "path": "ftp://x/y", "status": 200}', "invalid request target"),
            ('{"method": "GET", "path": "/a\\u0000b", "status": 200}', "invalid path"),
            ('{"method": "GET", "path": "/\\ud800", "status": 200}', "invalid path"),
            ('{"host": "a b", "method": "GET", "path": "/", "status": 200}', "invalid host"),
            ('{"host": "h:99999", "method": "GET", "path": "/", "status": 200}', "invalid host"),
        ],
    )
    def test_bad_lines_are_skipped(self, line, reason):
        item = one(line, "json")
        assert isinstance(item, SkippedLine), item
        assert item.reason == reason
        assert len(item.excerpt) <= 120


# --------------------------------------------------------------------------------------------
# Format detection and fuzzing
# --------------------------------------------------------------------------------------------


def test_detect_log_format():
    assert detect_log_format(["", nginx(), nginx()]) == "nginx"
    assert detect_log_format(['{"method": "GET", "path": "/", "status": 200}', "junk"]) == "json"
    assert detect_log_format(["\ufeff" + nginx()]) == "nginx"
    with pytest.raises(LogFormatError):
        detect_log_format(["hello", "world"])
    with pytest.raises(LogFormatError):
        detect_log_format([])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=st.characters(codec=None), max_size=200),
            st.builds(nginx, st.text(max_size=60), st.text(alphabet="0123456789", min_size=3, max_size=3)),
            st.builds(
                lambda m, p, s, h: json.dumps({"method": m, "path": p, "status": s, "host": h}),
                st.text(max_size=8),
                st.text(max_size=40),
                st.one_of(st.integers(), st.text(max_size=4), st.none()),
                st.text(max_size=20),
            ),
        ),
        max_size=8,
    ),
    st.sampled_from(["nginx", "json"]),
)
def test_iter_records_never_raises(lines, fmt):
    items = list(iter_records(lines, fmt=fmt, default_host="h.example"))
    assert len(items) == len(lines)
    for number, item in enumerate(items, 1):
        if isinstance(item, SkippedLine):
            assert item.line_number == number and len(item.excerpt) <= 120
        else:
            assert 100 <= item.status <= 599 and item.path.startswith("/")
    agg = aggregate(items)
    assert agg.lines == agg.parsed + agg.skipped == len(lines)
    with contextlib.suppress(LogFormatError):
        detect_log_format(lines)


# --------------------------------------------------------------------------------------------
# aggregate
# --------------------------------------------------------------------------------------------

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 1, 2, tzinfo=UTC)


class TestAggregate:
    def test_groups_by_host_method_template(self):
        items = [
            LogRecord("a", "GET", "/users/100", 200, T1),
            LogRecord("a", "GET", "/users/101/", 404, T0),
            LogRecord("a", "GET", "/users/102", 200, None),
            LogRecord("a", "POST", "/users", 201, T0),
            LogRecord("b", "GET", "/users/1", 200, T0),
            SkippedLine(6, "junk", "x"),
        ]
        agg = aggregate(items)
        assert (agg.lines, agg.parsed, agg.skipped) == (6, 5, 1)
        assert set(agg.endpoints) == {
            ("a", "GET", "/users/{id}"),
            ("a", "POST", "/users"),
            ("b", "GET", "/users/{id}"),
        }
        users = agg.endpoints[("a", "GET", "/users/{id}")]
        assert users.hits == 3
        assert users.status_codes == {"200": 2, "404": 1}
        assert (users.first_seen, users.last_seen) == (T0, T1)

    def test_skipped_examples_capped_at_five(self):
        agg = aggregate([SkippedLine(i, "junk", "x") for i in range(1, 11)])
        assert agg.skipped == 10
        assert [s.line_number for s in agg.skipped_examples] == [1, 2, 3, 4, 5]

    def test_endpoint_cap(self):
        items = [LogRecord("h", "GET", f"/p{i}", 200, None) for i in range(10)]
        items.append(LogRecord("h", "GET", "/p0", 200, None))  # existing key still counted
        agg = aggregate(items, max_endpoints=3)
        assert len(agg.endpoints) == 3
        assert (agg.lines, agg.parsed, agg.skipped) == (11, 4, 7)
        assert agg.endpoints[("h", "GET", "/p0")].hits == 2
        assert agg.skipped_examples[0].reason.startswith("endpoint limit reached")
        assert agg.skipped_examples[0].line_number == 4

    def test_streams_from_a_generator(self):
        gen = (LogRecord("h", "GET", f"/x/{i}", 200, None) for i in range(5000))
        agg = aggregate(gen)
        assert isinstance(agg, Aggregate) and agg.endpoints[("h", "GET", "/x/{id}")].hits == 5000


# --------------------------------------------------------------------------------------------
# Matcher
# --------------------------------------------------------------------------------------------


def op(method, path, key, deprecated=False):
    return KnownOperation(method, path, deprecated, key)


@pytest.fixture
def matcher():
    pay = KnownApi(
        "pay",
        ["https://pay.example.com/v1", "http://PAY.example.com:80/v1/"],
        False,
        [
            op("GET", "/charges/{chargeId}", "get-charge"),
            op("POST", "/charges", "create-charge"),
            op("GET", "/legacy/refunds", "old-refunds", deprecated=True),
            op("GET", "/files/{name}.json", "file"),
            op("get", "/reports/2024", "report-2024"),
        ],
    )
    pay_admin = KnownApi(
        "pay-admin", ["https://pay.example.com/v1/admin"], False, [op("GET", "/stats", "stats")]
    )
    old = KnownApi("old", ["https://old.example.com"], True, [op("GET", "/things/{id}", "thing")])
    nospec = KnownApi("nospec", ["https://nospec.example.com:8443/api"], False, [])
    skipped = KnownApi("relative", ["/relative-only", "", "https://{region}.example.com"], False, [])
    return Matcher([pay, pay_admin, old, nospec, skipped])


class TestMatcher:
    def test_unknown_host_is_shadow(self, matcher):
        assert matcher.match("rogue.example.com", "GET", "/x") == Match("shadow_api", None, None)
        assert matcher.match("", "GET", "/x").kind == "shadow_api"
        assert matcher.match("nospec.example.com:9999", "GET", "/api").kind == "shadow_api"

    def test_documented(self, matcher):
        assert matcher.match("pay.example.com", "GET", "/v1/charges/{id}") == Match(
            "documented", "pay", "get-charge"
        )
        assert matcher.match("pay.example.com", "GET", "/v1/charges/{hash}").operation_key == "get-charge"
        assert matcher.match("pay.example.com", "POST", "/v1/charges").operation_key == "create-charge"
        assert matcher.match("pay.example.com", "GET", "/v1/files/report.json").operation_key == "file"
        # A documented literal that looks like an id is normalised like observed paths.
        assert matcher.match("pay.example.com", "GET", "/v1/reports/{id}").operation_key == "report-2024"

    def test_host_case_and_default_ports_ignored(self, matcher):
        for host in ("PAY.Example.COM", "pay.example.com:443", "pay.example.com:80"):
            assert matcher.match(host, "post", "/v1/charges").kind == "documented"

    def test_head_falls_back_to_get(self, matcher):
        assert matcher.match("pay.example.com", "HEAD", "/v1/charges/{id}").kind == "documented"

    def test_wrong_method_or_path_is_undocumented(self, matcher):
        assert matcher.match("pay.example.com", "DELETE", "/v1/charges/{id}") == Match(
            "undocumented", "pay", None
        )
        assert matcher.match("pay.example.com", "GET", "/v1/charges/{id}/capture").kind == "undocumented"
        # Outside every base path of a known host: undocumented, no API to pin it on.
        assert matcher.match("pay.example.com", "GET", "/v2/charges") == Match("undocumented", None, None)
        # Base path must match whole segments.
        assert matcher.match("pay.example.com", "GET", "/v10/charges").api_key is None

    def test_longest_base_path_wins(self, matcher):
        assert matcher.match("pay.example.com", "GET", "/v1/admin/stats") == Match(
            "documented", "pay-admin", "stats"
        )
        assert matcher.match("pay.example.com", "GET", "/v1/admin/other") == Match(
            "undocumented", "pay-admin", None
        )

    def test_deprecated_operation_is_zombie(self, matcher):
        assert matcher.match("pay.example.com", "GET", "/v1/legacy/refunds") == Match(
            "zombie", "pay", "old-refunds"
        )

    def test_retired_api_is_zombie(self, matcher):
        assert matcher.match("old.example.com", "GET", "/things/{id}") == Match("zombie", "old", "thing")
        assert matcher.match("old.example.com", "POST", "/anything") == Match("zombie", "old", None)

    def test_api_without_spec_is_undocumented(self, matcher):
        assert matcher.match("nospec.example.com:8443", "GET", "/api/x") == Match(
            "undocumented", "nospec", None
        )
        # nginx $host carries no port: the bare name still finds the API on :8443.
        assert matcher.match("nospec.example.com", "GET", "/api/x").api_key == "nospec"

    def test_placeholders_do_not_match_literals(self, matcher):
        assert matcher.match("pay.example.com", "POST", "/v1/charges/{id}").kind == "undocumented"

    def test_end_to_end(self, matcher):
        lines = [
            nginx("GET /v1/charges/123 HTTP/1.1", extra=' "pay.example.com"'),
            nginx("GET /v1/charges/456 HTTP/1.1", extra=' "pay.example.com"'),
            nginx(f"GET /internal/{UUID} HTTP/1.1", extra=' "pay.example.com"'),
            nginx("GET /things/1 HTTP/1.1", extra=' "old.example.com"'),
            nginx("GET /debug HTTP/1.1"),
        ]
        agg = aggregate(iter_records(lines, fmt="nginx", default_host="shadow.example.com"))
        kinds = {key: matcher.match(*key).kind for key in agg.endpoints}
        assert kinds == {
            ("pay.example.com", "GET", "/v1/charges/{id}"): "documented",
            ("pay.example.com", "GET", "/internal/{uuid}"): "undocumented",
            ("old.example.com", "GET", "/things/{id}"): "zombie",
            ("shadow.example.com", "GET", "/debug"): "shadow_api",
        }
        assert agg.endpoints[("pay.example.com", "GET", "/v1/charges/{id}")].hits == 2
