"""The SSRF corpus: every vector is refused, and nothing reaches the canary server behind it.

A canary HTTP server listens on 127.0.0.1; the loopback vectors point at its port, so a vector that
slipped through would show as a hit. Name-based vectors go through an injected resolver (a real
interface of the client); the connect-time check itself is the real one.
"""

from __future__ import annotations

import ipaddress

import pytest

from testing.engines.safe_http import AddressPolicy, ErrorKind, Limits, SafeClient, parse_ip
from testing.engines.safe_http.addresses import InvalidHost
from tests.testing.servers import FakeResolver, RawServer, Router, ok_json, redirect

LIMITS = Limits(connect_timeout=1, read_timeout=1, total_timeout=3, per_host_rate=0)
REFUSED = {ErrorKind.REFUSED_ADDRESS}


@pytest.fixture(scope="module")
def canary():
    with RawServer(ok_json()) as server:
        yield server


def resolver() -> FakeResolver:
    return FakeResolver(
        {
            "meta.attacker.test": ["169.254.169.254"],
            "mixed.attacker.test": ["127.0.0.1", "169.254.169.254"],
            "alibaba.attacker.test": ["100.100.100.200"],
            "v6meta.attacker.test": ["fd00:ec2::254"],
            "mapped.attacker.test": ["::ffff:169.254.169.254"],
            "localhost": ["127.0.0.1"],
            "169.254.169.254.nip.io": ["169.254.169.254"],
            "allowed.test": ["127.0.0.1"],
            # A rebinding name whose first answer was spent on someone else's pre-flight check.
            "rebind.attacker.test": [["127.0.0.1"], ["169.254.169.254"]],
        }
    )


# (url template, loopback allowed?, error kinds accepted)
CORPUS = [
    ("http://2130706433:{port}/", False, REFUSED),
    ("http://0x7f000001:{port}/", False, REFUSED),
    ("http://0177.0.0.1:{port}/", False, REFUSED),
    ("http://017700000001:{port}/", False, REFUSED),
    ("http://127.1:{port}/", False, REFUSED),
    ("http://0x7f.1:{port}/", False, REFUSED),
    ("http://127.0.0.1.:{port}/", False, REFUSED),
    ("http://[::ffff:127.0.0.1]:{port}/", False, REFUSED),
    ("http://[::ffff:7f00:1]:{port}/", False, REFUSED),
    ("http://127.0.0.1:{port}/", False, REFUSED),
    ("http://localhost:{port}/", False, REFUSED),
    ("http://[::1]:{port}/", False, REFUSED),
    ("http://0.0.0.0:{port}/", True, REFUSED),
    ("http://0:{port}/", True, REFUSED),
    ("http://[::]:{port}/", True, REFUSED),
    ("http://169.254.169.254/latest/meta-data/", True, REFUSED),
    ("http://2852039166/latest/meta-data/", True, REFUSED),  # 169.254.169.254 as one integer
    ("http://[::ffff:169.254.169.254]/", True, REFUSED),
    ("http://[64:ff9b::a9fe:a9fe]/", True, REFUSED),  # NAT64 to the metadata address
    ("http://[fd00:ec2::254]/", True, REFUSED),
    ("http://[fe80::1]/", True, REFUSED),
    ("http://[fe80::1%25eth0]/", True, REFUSED),
    ("http://100.100.100.200/latest/meta-data/", True, REFUSED),
    ("http://meta.attacker.test/", True, REFUSED),
    ("http://mixed.attacker.test:{port}/", True, REFUSED),  # one bad answer refuses the name
    ("http://alibaba.attacker.test/", True, REFUSED),
    ("http://v6meta.attacker.test/", True, REFUSED),
    ("http://mapped.attacker.test/", True, REFUSED),
    ("http://metadata.google.internal/computeMetadata/v1/", True, REFUSED),
    ("http://rebind.attacker.test:{port}/", True, REFUSED),
    ("http://allowed.test@169.254.169.254/", True, REFUSED),
    ("http://169.254.169.254@allowed.test:{port}/", True, {ErrorKind.INVALID_URL}),
    ("http://1.2.3.4.5:{port}/", True, REFUSED),
    ("http://%31%32%37%2e%30%2e%30%2e%31:{port}/", False, REFUSED),  # percent-encoded 127.0.0.1
    ("http://allowed.test:{port}\\@169.254.169.254/", True, REFUSED),  # parser differential
    ("http://[::ffff:a9fe:a9fe]/", True, REFUSED),
    ("http://169.254.169.254.nip.io/", True, REFUSED),  # wildcard DNS answering the embedded address
    ("http://{canary}/redirect-to-metadata", True, REFUSED),
    ("http://{canary}/redirect-to-hex-metadata", True, REFUSED),
    ("file:///etc/passwd", True, {ErrorKind.INVALID_URL}),
    ("gopher://127.0.0.1:{port}/_GET", True, {ErrorKind.INVALID_URL, ErrorKind.REFUSED_ADDRESS}),
]


@pytest.fixture(scope="module")
def redirecting():
    """An allowed target whose redirects point at forbidden places (checked with loopback allowed)."""
    router = Router(
        {
            "/redirect-to-metadata": redirect("http://169.254.169.254/latest/meta-data/iam"),
            "/redirect-to-hex-metadata": redirect("http://0xa9fea9fe/latest/"),
        }
    )
    with RawServer(router) as server:
        yield server


@pytest.mark.parametrize(("template", "loopback_allowed", "kinds"), CORPUS)
def test_it_refuses_every_vector(canary, redirecting, template, loopback_allowed, kinds):
    lookups = resolver()
    lookups.resolve("rebind.attacker.test", 80)  # the pre-flight check someone else did
    before = len(canary.requests)
    url = template.format(port=canary.port, canary=f"127.0.0.1:{redirecting.port}")
    allowed = (
        ["127.0.0.1/32"] if "{canary}" in template else ([] if not loopback_allowed else ["10.9.0.0/16"])
    )
    with SafeClient(allowed_networks=allowed, limits=LIMITS, resolver=lookups) as client:
        response = client.get(url)
    assert response.error_kind in kinds, (url, response.error)
    assert response.status is None or "{canary}" in template
    assert len(canary.requests) == before, f"{url} reached the canary"
    # Numeric spellings are never handed to a resolver (which might read them as addresses).
    assert all(parse_ip(name) is None for name in lookups.lookups), lookups.lookups


def test_the_corpus_has_at_least_twelve_vectors():
    assert len(CORPUS) >= 12


def test_loopback_spellings_reach_the_canary_when_loopback_is_allowed(canary):
    """The same spellings are normalised, not just rejected: allowed, they reach 127.0.0.1."""
    with SafeClient(allowed_networks=["127.0.0.0/8"], limits=LIMITS, resolver=resolver()) as client:
        for host in ("2130706433", "0x7f000001", "127.1", "[::ffff:127.0.0.1]", "localhost"):
            response = client.get(f"http://{host}:{canary.port}/")
            assert response.status == 200, (host, response.error)
            assert response.peer in ("127.0.0.1", "::ffff:7f00:1")


def test_a_rebinding_name_is_resolved_once_and_the_checked_address_is_the_one_connected(canary):
    lookups = FakeResolver({"rebind.test": [["127.0.0.1"], ["169.254.169.254"]]})
    with SafeClient(allowed_networks=["127.0.0.0/8"], limits=LIMITS, resolver=lookups) as client:
        first = client.get(f"http://rebind.test:{canary.port}/")
        assert first.status == 200
        assert first.peer == "127.0.0.1"
        assert lookups.lookups == ["rebind.test"]  # one lookup: checked and connected to the same answer
    with SafeClient(allowed_networks=["127.0.0.0/8"], limits=LIMITS, resolver=lookups) as client:
        second = client.get(f"http://rebind.test:{canary.port}/")
    assert second.error_kind is ErrorKind.REFUSED_ADDRESS
    assert "169.254.169.254" in second.error.message


def test_a_redirect_to_metadata_is_recorded_and_refused(redirecting):
    with SafeClient(allowed_networks=["127.0.0.0/8"], limits=LIMITS) as client:
        response = client.get(redirecting.url("/redirect-to-metadata"))
    assert response.error_kind is ErrorKind.REFUSED_ADDRESS
    assert [hop.status for hop in response.redirects] == [302]
    assert response.url == "http://169.254.169.254/latest/meta-data/iam"


@pytest.mark.parametrize(
    ("spelling", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0x7f.0.0.0x1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("0", "0.0.0.0"),  # noqa: S104 - an address under test, nothing binds
        ("2852039166", "169.254.169.254"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("fe80::1%eth0", "fe80::1"),
    ],
)
def test_it_normalises_address_spellings(spelling, address):
    parsed = parse_ip(spelling)
    assert parsed is not None
    assert parsed == ipaddress.ip_address(address.split("%")[0]) or str(parsed).startswith(address)


@pytest.mark.parametrize("name", ["example.com", "api.internal", "x1", "localhost"])
def test_names_are_not_addresses(name):
    assert parse_ip(name) is None


@pytest.mark.parametrize(
    "bad", ["1.2.3.4.5", "256.0.0.1", "0x100.0.0.1", "09.0.0.1", "4294967296", "1.2.3.08"]
)
def test_numeric_hosts_that_are_not_addresses_are_invalid_not_names(bad):
    with pytest.raises(InvalidHost):
        parse_ip(bad)


def test_the_allowlist_never_opens_link_local_or_metadata():
    everything = AddressPolicy.from_cidrs(["0.0.0.0/0", "::/0"])
    for address in (
        "169.254.169.254",
        "169.254.1.1",
        "fe80::1",
        "fd00:ec2::254",
        "100.100.100.200",
        "0.0.0.0",  # noqa: S104 - an address under test
        "::",
        "224.0.0.1",
        "255.255.255.255",
    ):
        assert everything.refusal(ipaddress.ip_address(address)) is not None, address
    assert everything.refusal(ipaddress.ip_address("10.1.2.3")) is None


def test_private_ranges_need_the_allowlist_and_public_addresses_do_not():
    policy = AddressPolicy.from_cidrs(["10.0.0.0/8"])
    assert policy.refusal(ipaddress.ip_address("10.20.30.40")) is None
    assert policy.refusal(ipaddress.ip_address("192.168.1.1")) is not None
    assert policy.refusal(ipaddress.ip_address("172.16.0.1")) is not None
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) is not None
    assert policy.refusal(ipaddress.ip_address("93.184.216.34")) is None
    assert policy.refusal(ipaddress.ip_address("2606:4700::1111")) is None


@pytest.mark.parametrize(
    "address",
    [
        "::a9fe:a9fe",  # IPv4-compatible 169.254.169.254
        "::ffff:0:a9fe:a9fe",  # SIIT IPv4-translated
        "64:ff9b:1::a9fe:a9fe",  # local-use NAT64
        "::127.0.0.1",  # IPv4-compatible loopback
        "::ffff:0:7f00:1",  # SIIT loopback
    ],
)
def test_ipv6_forms_that_carry_an_ipv4_address_are_judged_by_it(address):
    """Python calls these global; a translator on the path would deliver them to metadata or loopback."""
    assert AddressPolicy.from_cidrs([]).refusal(ipaddress.ip_address(address)) is not None


def test_loopback_ipv6_still_follows_the_allowlist():
    assert AddressPolicy.from_cidrs(["::1/128"]).refusal(ipaddress.ip_address("::1")) is None
    assert AddressPolicy.from_cidrs([]).refusal(ipaddress.ip_address("::1")) is not None
