"""Misbehaving real servers on 127.0.0.1: each one ends in a result within the client's limits."""

from __future__ import annotations

import functools
import gzip
import socket
import time
import zlib

import pytest

from testing.engines.safe_http import BudgetExceeded, ErrorKind, Limits, SafeClient, ScanError
from tests.testing.servers import (
    FakeResolver,
    RawServer,
    Router,
    drip,
    echo,
    endless_headers,
    make_pki,
    ok_json,
    redirect,
    reset,
    reset_mid_body,
    respond,
    silent,
    stream_forever,
)

CAP = 256 * 1024
LIMITS = Limits(
    connect_timeout=2, read_timeout=2, total_timeout=3, max_body_bytes=CAP, per_host_rate=0, max_requests=100
)
LOOPBACK = ["127.0.0.0/8"]


def client(**overrides) -> SafeClient:
    options = {"allowed_networks": LOOPBACK, "limits": LIMITS, **overrides}
    return SafeClient(**options)


def fetch(behaviour, path="/", *, limits=LIMITS, **kwargs):
    with RawServer(behaviour) as server, client(limits=limits) as c:
        started = time.monotonic()
        response = c.get(server.url(path), **kwargs)
        return response, time.monotonic() - started


def test_it_reads_a_normal_json_answer():
    response, _ = fetch(ok_json(b'{"items": [1, 2]}'))
    assert response.ok and response.status == 200
    assert response.json() == {"items": [1, 2]}
    assert response.peer == "127.0.0.1"


def test_invalid_json_is_a_typed_error_not_a_crash():
    response, _ = fetch(ok_json(b'{"items": [1, 2'))
    assert response.ok and response.status == 200
    with pytest.raises(ScanError) as caught:
        response.json()
    assert caught.value.kind is ErrorKind.INVALID_JSON


def test_invalid_utf8_is_invalid_json_and_text_still_renders():
    response, _ = fetch(ok_json(b'{"name": "\xff\xfe"}'))
    assert response.ok
    with pytest.raises(ScanError) as caught:
        response.json()
    assert caught.value.kind is ErrorKind.INVALID_JSON
    assert response.text == '{"name": "\ufffd\ufffd"}'


def test_broken_chunked_framing_is_a_protocol_error():
    def chunked(conn, request):
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n")
        time.sleep(0.3)

    response, _ = fetch(chunked)
    assert response.error_kind is ErrorKind.PROTOCOL
    assert response.status == 200


def test_a_huge_body_stops_at_the_cap():
    response, took = fetch(stream_forever)
    assert response.error_kind is ErrorKind.TOO_LARGE
    assert response.status == 200
    assert len(response.body) <= CAP
    assert took < 3


def test_a_declared_huge_body_is_refused_before_reading():
    def declared(conn, request):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\nabc")

    response, _ = fetch(declared)
    assert response.error_kind is ErrorKind.TOO_LARGE
    assert response.body == b""


def test_a_head_answer_declaring_a_huge_length_is_not_too_large():
    def head(conn, request):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n")

    with RawServer(head) as server, client() as c:
        response = c.request("HEAD", server.url())
    assert response.ok and response.status == 200 and response.body == b""


def test_a_slow_drip_body_is_cut_at_the_total_timeout():
    limits = Limits(connect_timeout=1, read_timeout=1, total_timeout=1.0, max_body_bytes=CAP, per_host_rate=0)
    behaviour = functools.partial(
        drip, head=b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", interval=0.05
    )
    response, took = fetch(behaviour, limits=limits)
    assert response.error_kind is ErrorKind.TOTAL_TIMEOUT
    assert response.status == 200
    assert 0 < len(response.body) < 100
    assert 0.9 < took < 3.5


def test_slowly_dripped_headers_are_cut_at_the_total_timeout():
    limits = Limits(connect_timeout=1, read_timeout=1, total_timeout=1.0, max_body_bytes=CAP, per_host_rate=0)
    behaviour = functools.partial(drip, head=b"HTTP/1.1 200 OK\r\nX-Slow: ", interval=0.05)
    response, took = fetch(behaviour, limits=limits)
    assert response.error_kind is ErrorKind.TOTAL_TIMEOUT
    assert response.status is None
    assert took < 3.5


def test_headers_that_never_end_are_a_protocol_error():
    response, took = fetch(endless_headers)
    assert response.error_kind is ErrorKind.PROTOCOL
    assert took < 3


def test_a_silent_server_is_a_read_timeout():
    limits = Limits(connect_timeout=1, read_timeout=0.5, total_timeout=3, per_host_rate=0)
    response, took = fetch(silent, limits=limits)
    assert response.error_kind is ErrorKind.READ_TIMEOUT
    assert took < 3.0


def test_a_connection_reset_before_the_answer():
    response, _ = fetch(reset)
    assert response.error_kind is ErrorKind.CONNECTION_RESET


def test_a_connection_reset_in_the_middle_of_the_body_keeps_what_arrived():
    response, _ = fetch(reset_mid_body)
    assert response.error_kind is ErrorKind.CONNECTION_RESET
    assert response.status == 200


def test_a_closed_port_is_a_connect_failure():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with client() as c:
        response = c.get(f"http://127.0.0.1:{port}/")
    assert response.error_kind is ErrorKind.CONNECT_FAILED


def test_a_server_that_does_not_speak_http():
    def ssh(conn, request):
        conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\nProtocol mismatch.\r\n\r\n")
        time.sleep(0.5)

    response, _ = fetch(ssh)
    assert response.error_kind is ErrorKind.PROTOCOL


# compression --------------------------------------------------------------------------------------


def _bomb(encoding: str) -> bytes:
    zeros = b"\0" * (16 * 1024 * 1024)  # 16 MB (64 times the cap) that compress to ~16 KB
    if encoding == "gzip":
        return gzip.compress(zeros, compresslevel=9)
    return zlib.compress(zeros, 9)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compression_bomb_stops_at_the_cap(encoding):
    bomb = _bomb(encoding)
    assert len(bomb) < CAP  # the raw body is within the cap: only the decompressed size is caught
    behaviour = lambda conn, request: respond(conn, 200, bomb, [("Content-Encoding", encoding)])  # noqa: E731
    response, took = fetch(behaviour)
    assert response.error_kind is ErrorKind.TOO_LARGE
    assert len(response.body) <= CAP
    assert took < 3


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_bodies_are_decoded(encoding):
    data = b'{"compressed": true}'
    body = gzip.compress(data) if encoding == "gzip" else zlib.compress(data)
    behaviour = lambda conn, request: respond(conn, 200, body, [("Content-Encoding", encoding)])  # noqa: E731
    response, _ = fetch(behaviour)
    assert response.ok
    assert response.json() == {"compressed": True}


def test_raw_deflate_is_decoded_too():
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    body = packer.compress(b"raw deflate") + packer.flush()
    response, _ = fetch(lambda conn, request: respond(conn, 200, body, [("Content-Encoding", "deflate")]))
    assert response.ok and response.body == b"raw deflate"


@pytest.mark.parametrize(
    ("encoding", "body"),
    [("gzip", b"this is not gzip at all"), ("br", b"\x0b\x02\x80hello\x03"), ("gzip, gzip, gzip", b"x")],
)
def test_a_broken_or_unsupported_encoding_is_a_decoding_error(encoding, body):
    response, _ = fetch(lambda conn, request: respond(conn, 200, body, [("Content-Encoding", encoding)]))
    assert response.error_kind is ErrorKind.DECODING
    assert response.status == 200


# redirects ----------------------------------------------------------------------------------------


def test_a_redirect_loop_is_detected():
    response, _ = fetch(Router({"/a": redirect("/b"), "/b": redirect("/a")}), "/a")
    assert response.error_kind is ErrorKind.REDIRECT_LOOP
    assert [hop.location for hop in response.redirects] == ["/b", "/a"]


def test_more_redirects_than_allowed_stop_at_the_limit():
    router = Router({f"/{n}": redirect(f"/{n + 1}") for n in range(10)})
    with RawServer(router) as server, client() as c:
        response = c.get(server.url("/0"))
        assert response.error_kind is ErrorKind.TOO_MANY_REDIRECTS
        assert len(router.routes) == 10 and len(server.requests) == 4  # the first + 3 followed
    with RawServer(router) as server, client(limits=Limits(max_redirects=1, per_host_rate=0)) as c:
        assert c.get(server.url("/0")).error_kind is ErrorKind.TOO_MANY_REDIRECTS
        assert len(server.requests) == 2


def test_redirects_are_followed_and_recorded():
    router = Router({"/old": redirect("/new", 301), "/new": ok_json(b'{"moved": true}')})
    response, _ = fetch(router, "/old")
    assert response.ok and response.json() == {"moved": True}
    assert response.url.endswith("/new")
    assert [(hop.status, hop.location) for hop in response.redirects] == [(301, "/new")]


def test_not_following_redirects_returns_the_3xx():
    response, _ = fetch(Router({"/old": redirect("/new")}), "/old", follow_redirects=False)
    assert response.ok and response.status == 302 and response.redirects == ()


@pytest.mark.parametrize("location", ["file:///etc/passwd", "gopher://127.0.0.1:70/", None])
def test_a_redirect_to_a_non_http_url_or_nowhere_is_refused(location):
    behaviour = redirect(location) if location else lambda conn, request: respond(conn, 302)
    response, _ = fetch(behaviour)
    assert response.error_kind in (ErrorKind.BAD_REDIRECT, ErrorKind.INVALID_URL)


def test_credentials_are_not_carried_to_another_origin():
    with RawServer(echo) as other:
        router = Router({"/same": redirect("/echo"), "/away": redirect(other.url("/echo")), "/echo": echo})
        with RawServer(router) as server, client() as c:
            secret = {"Authorization": "Bearer s3cret-token", "X-Api-Key": "k3y-value", "X-Trace": "kept"}
            same = c.get(server.url("/same"), headers=secret).json()
            away = c.get(server.url("/away"), headers=secret).json()
    assert same["headers"]["authorization"] == "Bearer s3cret-token"
    assert "authorization" not in away["headers"] and "x-api-key" not in away["headers"]
    # Any header of the caller's may be a credential by another name: none goes to another origin.
    assert "x-trace" not in away["headers"] and same["headers"]["x-trace"] == "kept"


def test_a_post_redirected_by_303_becomes_a_get_without_body():
    router = Router({"/form": redirect("/echo", 303), "/echo": echo})
    with RawServer(router) as server, client() as c:
        echoed = c.post(server.url("/form"), json={"a": 1}).json()
        kept = c.request("PUT", server.url("/echo"), json={"a": 1}).json()
    assert echoed["method"] == "GET" and echoed["body"] == ""
    assert "content-type" not in echoed["headers"]
    assert kept["method"] == "PUT" and kept["body"] == '{"a":1}'


# TLS ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_a_self_signed_certificate_is_a_tls_error(pki):
    with RawServer(ok_json(), tls=pki.server_context("localhost", self_signed=True)) as server, client() as c:
        response = c.get(server.url(host="localhost"))
    assert response.error_kind is ErrorKind.TLS
    assert "certificate" in response.error.message


def test_tls_verifies_the_urls_host_name_while_connecting_to_the_checked_address(pki):
    resolver = FakeResolver({"good.test": ["127.0.0.1"], "evil.test": ["127.0.0.1"]})
    with (
        RawServer(ok_json(), tls=pki.server_context("good.test")) as server,
        client(resolver=resolver, ssl_context=pki.client_context()) as c,
    ):
        good = c.get(server.url(host="good.test"))
        evil = c.get(server.url(host="evil.test"))
    assert good.ok and good.status == 200 and good.peer == "127.0.0.1"
    assert evil.error_kind is ErrorKind.TLS
    assert "hostname" in evil.error.message.lower() or "match" in evil.error.message.lower()


# budget and rate ----------------------------------------------------------------------------------


def test_the_request_budget_counts_every_hop_and_then_raises():
    router = Router({"/hop": redirect("/ok"), "/ok": ok_json()})
    limits = Limits(max_requests=3, per_host_rate=0)
    with RawServer(router) as server, client(limits=limits) as c:
        assert c.get(server.url("/hop")).ok  # two requests
        assert c.get(server.url("/ok")).ok
        assert c.budget.remaining == 0
        with pytest.raises(BudgetExceeded) as caught:
            c.get(server.url("/ok"))
    assert caught.value.kind is ErrorKind.BUDGET_EXHAUSTED
    assert "budget of 3" in str(caught.value)
    assert len(server.requests) == 3


def test_requests_to_one_host_are_spaced_by_the_per_host_rate():
    with RawServer(ok_json(), keep_alive=True) as server, client(limits=Limits(per_host_rate=20)) as c:
        started = time.monotonic()
        for _ in range(6):
            assert c.get(server.url()).ok
        spaced = time.monotonic() - started
        last = c.get(server.url())
    assert spaced >= 5 / 20 * 0.95
    # The pause is ours, not the target's: it is not part of the measured latency.
    assert last.waited > 0.02
    assert last.elapsed < last.waited


def test_the_rate_is_per_host():
    with client(limits=Limits(per_host_rate=1)) as c:
        assert c.rate.delay_for("a.test:443") == 0
        assert c.rate.delay_for("b.test:443") == 0
        assert c.rate.delay_for("a.test:443") > 0.9


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("not a url", ErrorKind.INVALID_URL),
        ("http://", ErrorKind.INVALID_URL),
        ("ftp://127.0.0.1/", ErrorKind.INVALID_URL),
        ("http://user:pass@localhost/", ErrorKind.INVALID_URL),
        ("http://nowhere.invalid/", ErrorKind.DNS),
    ],
)
def test_bad_urls_are_results(url, kind):
    with client(resolver=FakeResolver({"localhost": ["127.0.0.1"]})) as c:
        response = c.get(url)
    assert response.error_kind is kind
    assert response.status is None


def test_a_name_lookup_that_hangs_is_cut_at_the_connect_timeout():
    class HangingResolver:
        def resolve(self, host, port):
            time.sleep(3)
            return []

    limits = Limits(connect_timeout=0.3, read_timeout=1, total_timeout=5, per_host_rate=0)
    with client(resolver=HangingResolver(), limits=limits) as c:
        started = time.monotonic()
        response = c.get("http://slow-dns.test/")
        took = time.monotonic() - started
    assert response.error_kind is ErrorKind.DNS
    assert "timed out" in response.error.message
    assert took < 3.0


def test_a_resolver_that_crashes_is_still_a_result():
    class BrokenResolver:
        def resolve(self, host, port):
            raise RuntimeError("resolver bug")

    with client(resolver=BrokenResolver()) as c:
        response = c.get("http://broken.test/")
    assert response.error_kind is ErrorKind.INTERNAL
    assert response.error.message == "unexpected RuntimeError"


def test_bad_header_values_are_a_result():
    with RawServer(ok_json()) as server, client() as c:
        response = c.get(server.url(), headers={"X-Bad": "line\r\nInjected: yes"})
    assert response.error_kind is ErrorKind.INVALID_REQUEST
    assert server.requests == []


def test_limits_refuse_nonsense():
    with pytest.raises(ValueError):
        Limits(total_timeout=0)
    with pytest.raises(ValueError):
        Limits(max_body_bytes=0)
