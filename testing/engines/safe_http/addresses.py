"""Which addresses the scanner may connect to, and how a host spelling becomes an address.

The policy is applied to the address a connection is actually opened to (see ``backend``), never to
a name: names are resolved by the client itself, every answer is checked, and the socket connects to
exactly the checked address.

Order of the rules (the first that matches decides):

1. always refused, whatever the allowlist says: link-local (169.254.0.0/16, fe80::/10), the cloud
   metadata addresses (AWS, GCP, Azure, Alibaba, Oracle...), unspecified (0.0.0.0/8, ::), multicast,
   reserved and broadcast ranges, IPv6 site-local;
2. global (public) addresses are allowed;
3. everything else (loopback, RFC 1918, CGNAT, ULA, documentation ranges...) is allowed only when an
   allowlisted network (``SCANNER_ALLOWED_NETWORKS``) contains it.

IPv6 addresses that embed an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``,
6to4 ``2002::/16``) are judged by the embedded address as well, so no spelling reaches the metadata
service through a translation layer.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud metadata and similar host-introspection endpoints. Most are inside a range refused anyway;
# they are listed so the refusal says what they are.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud Classic
        "168.63.129.16",  # Azure WireServer
    )
)
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.tencentyun.com",
    }
)

ALWAYS_REFUSED: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(cidr), why)
    for cidr, why in (
        ("0.0.0.0/8", "unspecified ('this network')"),
        ("169.254.0.0/16", "link-local"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),  # includes 255.255.255.255
        ("::/128", "unspecified"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated)"),
        ("ff00::/8", "multicast"),
        # RFC 8215's local-use NAT64 prefix: where the embedded IPv4 sits depends on the prefix
        # length a site picked, so it cannot be judged; nothing legitimate is scanned through it.
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
    )
)

NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d (:: and ::1 excepted)
SIIT = ipaddress.ip_network("::ffff:0:0:0/96")  # RFC 6145 IPv4-translated ::ffff:0:a.b.c.d


class InvalidHost(ValueError):
    """A host that looks like a numeric address but is not a valid one."""


_NUMERIC_PART = re.compile(r"(?:0[xX][0-9A-Fa-f]*|[0-9]+)\Z")


def _legacy_ipv4_part(part: str) -> int:
    if part[:2] in ("0x", "0X"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        if not part.isdigit() or any(c in "89" for c in part):
            raise InvalidHost(f"bad octal part {part!r}")
        return int(part, 8)
    return int(part, 10)


def parse_ip(host: str) -> IPAddress | None:
    """The address ``host`` spells, or None when it is a name.

    Accepts what resolvers and browsers accept (the WHATWG URL IPv4 parser): decimal ``2130706433``,
    hex ``0x7f000001``, octal ``0177.0.0.1``, short ``127.1``, mixed forms, and IPv6 with or without
    brackets and zone id. A host whose last label is numeric but that is not a valid address raises
    ``InvalidHost`` (a resolver might still read it as an address, so it is never passed on as a name).
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text.split("%", 1)[0])
        except ValueError as exc:
            raise InvalidHost(f"bad IPv6 address {host!r}") from exc
    if "%" in text:
        # A resolver would not percent-decode, a browser would: neither reading is safe to pass on.
        raise InvalidHost(f"percent-encoded host {host[:60]!r}")
    labels = text.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()  # a trailing dot, as in "127.0.0.1."
    if not labels or not _NUMERIC_PART.match(labels[-1]):
        return None
    if len(labels) > 4 or any(not _NUMERIC_PART.match(label) for label in labels):
        raise InvalidHost(f"bad IPv4 address {host!r}")
    numbers = [_legacy_ipv4_part(label) for label in labels]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise InvalidHost(f"IPv4 address out of range {host!r}")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, SIIT, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64 or address in SIIT or (address in IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return None


def parse_networks(cidrs: Iterable[str | IPNetwork]) -> tuple[IPNetwork, ...]:
    """CIDRs (``10.0.0.0/8``, ``::1/128``, a bare address) as networks; ValueError names a bad one."""
    networks: list[IPNetwork] = []
    for cidr in cidrs:
        if isinstance(cidr, ipaddress.IPv4Network | ipaddress.IPv6Network):
            networks.append(cidr)
            continue
        text = cidr.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError as exc:
            raise ValueError(f"not a CIDR network: {text!r}") from exc
    return tuple(networks)


@dataclass(frozen=True)
class AddressPolicy:
    """The SSRF guard: ``refusal(address)`` is None when the scanner may connect, else the reason."""

    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_cidrs(cls, cidrs: Iterable[str | IPNetwork]) -> AddressPolicy:
        return cls(allowed_networks=parse_networks(cidrs))

    def refusal(self, address: IPAddress) -> str | None:
        if isinstance(address, ipaddress.IPv6Address):
            if address.scope_id:
                address = ipaddress.IPv6Address(int(address))  # fe80::1%eth0 is judged as fe80::1
            embedded = embedded_ipv4(address)
            if embedded is not None:
                # The translation (dual stack, NAT64, 6to4) delivers to the embedded address: judge that.
                inner = self.refusal(embedded)
                return None if inner is None else f"{address} embeds {inner}"
        if address in METADATA_ADDRESSES:
            return f"{address} is a cloud metadata address"
        for network, why in ALWAYS_REFUSED:
            if address.version == network.version and address in network:
                return f"{address} is {why}"
        # Python calls some reserved IPv6 space global (::/8 beyond the forms above): not for us.
        if address.is_global and not (address.version == 6 and address.is_reserved):
            return None
        if any(address.version == n.version and address in n for n in self.allowed_networks):
            return None
        return f"{address} is not a public address and not in SCANNER_ALLOWED_NETWORKS"


def is_metadata_name(host: str) -> bool:
    return host.strip().rstrip(".").lower() in METADATA_NAMES
