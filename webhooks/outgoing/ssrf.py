"""Keep outgoing webhooks off internal networks (server-side request forgery).

A destination is checked every time it is about to be used: the URL must be
http(s), the host must not be a cloud metadata name, and EVERY address the
name resolves to must be public. The caller then connects to the address that
was checked (see ``transport.py``), so a second, different DNS answer (DNS
rebinding) cannot redirect the request. ``outgoing.allow_private_networks``
lifts the address rule (tests and the demo talk to loopback); the scheme and
metadata rules always apply.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

METADATA_HOSTS = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "169.254.169.254"}
)
SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# Not public, yet absent from Python 3.11's tables: site-local (deprecated, still routed
# inside some networks) and the IPv6 documentation range of RFC 9637.
UNLISTED_V6 = (ipaddress.ip_network("fec0::/10"), ipaddress.ip_network("3fff::/20"))
GENERIC_REFUSAL = "destination not allowed"  # what attempt logs show; details go to the log


class BlockedDestination(Exception):
    """The URL may not be called; ``str()`` is the precise reason (for logs only)."""


@dataclass(frozen=True)
class Destination:
    url: str
    scheme: str
    host: str  # as written in the URL (Host header, TLS SNI and certificate name)
    port: int
    address: str  # the checked IP address to connect to


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refusal(address: IPAddress) -> str | None:
    """Why this address is not a public destination, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return refusal(address.ipv4_mapped)
        if any(address in net for net in NAT64):
            return "NAT64 address"
        if address.sixtofour is not None:
            return refusal(address.sixtofour)
        if address.teredo is not None:
            return "Teredo address"
        if any(address in net for net in UNLISTED_V6):
            return "site-local or documentation address"
    checks = (
        ("loopback", address.is_loopback),
        ("private", address.is_private),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("reserved", address.is_reserved),
        ("shared (100.64/10)", isinstance(address, ipaddress.IPv4Address) and address in SHARED),
        ("not global", not address.is_global),
    )
    for name, hit in checks:
        if hit:
            return f"{name} address"
    return None


def check(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> Destination:
    """Resolve and vet ``url``; raise BlockedDestination, or return where to connect."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BlockedDestination(f"scheme {scheme!r} is not http or https")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise BlockedDestination("no host in the URL")
    if host in METADATA_HOSTS:
        raise BlockedDestination(f"{host} is a cloud metadata host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise BlockedDestination("invalid port") from None
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    try:
        answers = [host] if literal else list(resolver(host, port))
    except OSError as exc:
        raise BlockedDestination(f"{host} does not resolve: {exc}") from None
    if not answers:
        raise BlockedDestination(f"{host} has no addresses")
    addresses = [ipaddress.ip_address(answer.split("%", 1)[0]) for answer in answers]
    for address in addresses:
        if str(address) == "169.254.169.254" or address == ipaddress.ip_address("fd00:ec2::254"):
            raise BlockedDestination(f"{host} resolves to a cloud metadata address")
        reason = refusal(address)
        if reason and not allow_private:
            raise BlockedDestination(f"{host} resolves to {address}, a {reason}")
    return Destination(url=url, scheme=scheme, host=host, port=port, address=str(addresses[0]))
