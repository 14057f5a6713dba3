"""The SSRF guard: which destinations are refused, and that we connect where we checked."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence

import pytest
import requests

from tests.webhooks.outgoing_support import Receiver, running_receiver
from webhooks.outgoing import transport
from webhooks.outgoing.ssrf import BlockedDestination, Resolver, check, refusal

BLOCKED = [
    "127.0.0.1",
    "127.255.0.9",
    "0.0.0.0",  # noqa: S104 (a destination to refuse, not a bind)
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.45.1",  # link-local
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # shared (carrier-grade NAT)
    "100.100.0.0",
    "224.0.0.1",  # multicast (Python calls it global)
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "192.0.2.10",  # documentation
    "198.18.0.1",  # benchmarking
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "2001:db8::1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1, which Python calls global
    "64:ff9b::808:808",  # NAT64 of anything
    "64:ff9b:1::1",
    "2002:7f00:1::1",  # 6to4 wrapping 127.0.0.1
]
ALLOWED = ["8.8.8.8", "93.184.216.34", "1.1.1.1", "::ffff:8.8.8.8", "2606:4700:4700::1111"]


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None
    with pytest.raises(BlockedDestination):
        host = f"[{address}]" if ":" in address else address
        check(f"https://{host}/hook", allow_private=False)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None
    host = f"[{address}]" if ":" in address else address
    checked = check(f"https://{host}/hook", allow_private=False).address
    assert ipaddress.ip_address(checked) == ipaddress.ip_address(address)


def fixed(*answers: str) -> Resolver:
    """A resolver that always gives these answers."""
    return lambda host, port: list(answers)


def test_a_name_resolving_to_loopback_is_refused_unless_private_networks_are_allowed() -> None:
    with pytest.raises(BlockedDestination, match="loopback"):
        check("http://hooks.example/h", allow_private=False, resolver=fixed("127.0.0.1"))
    allowed = check("http://hooks.example/h", allow_private=True, resolver=fixed("127.0.0.1"))
    assert allowed.address == "127.0.0.1" and allowed.host == "hooks.example"


def test_every_address_of_a_name_must_be_public() -> None:
    with pytest.raises(BlockedDestination):
        check("https://hooks.example/h", allow_private=False, resolver=fixed("8.8.8.8", "10.0.0.1"))
    ok = check("https://hooks.example/h", allow_private=False, resolver=fixed("8.8.8.8", "1.1.1.1"))
    assert ok.address == "8.8.8.8" and ok.port == 443


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example/h",
        "file:///etc/passwd",
        "gopher://hooks.example/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_other_schemes_and_metadata_hosts_are_refused_even_when_private_is_allowed(
    url: str,
) -> None:
    with pytest.raises(BlockedDestination):
        check(url, allow_private=True, resolver=fixed("8.8.8.8"))


def test_an_unresolvable_name_is_refused() -> None:
    def failing(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    with pytest.raises(BlockedDestination, match="does not resolve"):
        check("https://nowhere.example/h", allow_private=False, resolver=failing)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from running_receiver()


def test_the_request_goes_to_the_checked_address_whatever_dns_says_next(
    receiver: Receiver,
) -> None:
    """DNS rebinding: a second lookup answering elsewhere must not move the connection."""
    answers = iter(["127.0.0.1", "127.0.0.2", "127.0.0.3"])
    calls: list[str] = []

    def rebinding(host: str, port: int) -> Sequence[str]:
        calls.append(host)
        return [next(answers)]

    url = f"http://hooks.example:{receiver.port}/hooks?x=1"
    destination = check(url, allow_private=True, resolver=rebinding)
    reply = transport.post(destination, b"{}", {"content-type": "application/json"}, 5)
    assert reply.status == 200 and reply.snippet == "ok"
    assert calls == ["hooks.example"]  # one lookup, the checked one; the HTTP client did none
    [request] = receiver.received  # reached the server on 127.0.0.1 only
    assert request.path == "/hooks?x=1"
    assert request.headers["host"] == f"hooks.example:{receiver.port}"


def test_https_keeps_the_host_name_for_sni_and_certificate_checks() -> None:
    destination = check(
        "https://hooks.example/h", allow_private=False, resolver=fixed("93.184.216.34")
    )
    assert transport.pinned_url(destination) == "https://93.184.216.34:443/h"
    assert transport.host_header(destination) == "hooks.example"
    adapter = transport.PinnedAdapter(destination.host)
    request = requests.Request("POST", transport.pinned_url(destination)).prepare()
    _, pool_kwargs = adapter.build_connection_pool_key_attributes(request, True)
    assert pool_kwargs["server_hostname"] == "hooks.example"
    assert pool_kwargs["assert_hostname"] == "hooks.example"
