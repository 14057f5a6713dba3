"""POST to the address that ssrf.check vetted, never to a fresh DNS answer.

The URL's host is replaced by the checked IP, the original name goes in the
Host header, and for https the name is used for SNI and certificate checks
(urllib3's ``server_hostname`` / ``assert_hostname``). Redirects are never
followed and the response body is read only up to a cap.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from webhooks.outgoing.ssrf import Destination

SNIPPET_BYTES = 1024


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    snippet: str


class PinnedAdapter(HTTPAdapter):
    """Connect to an IP while verifying TLS for the original host name."""

    def __init__(self, hostname: str) -> None:
        super().__init__(max_retries=0)
        self.hostname = hostname

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> Any:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        if host_params["scheme"] != "https":
            return host_params, pool_kwargs
        pinned: dict[str, Any] = {
            **pool_kwargs,
            "server_hostname": self.hostname,
            "assert_hostname": self.hostname,
        }
        return host_params, pinned


def _bracket(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def pinned_url(destination: Destination) -> str:
    parts = urlsplit(destination.url)
    netloc = f"{_bracket(destination.address)}:{destination.port}"
    return urlunsplit((destination.scheme, netloc, parts.path or "/", parts.query, ""))


def host_header(destination: Destination) -> str:
    default = 443 if destination.scheme == "https" else 80
    name = _bracket(destination.host)
    return name if destination.port == default else f"{name}:{destination.port}"


def post(
    destination: Destination, body: bytes, headers: Mapping[str, str], timeout: float
) -> Reply:
    """One POST; raises requests.RequestException when no response arrives."""
    with requests.Session() as session:
        session.trust_env = False  # no proxies from the environment: they would skip the check
        session.mount(f"{destination.scheme}://", PinnedAdapter(destination.host))
        response = session.post(
            pinned_url(destination),
            data=body,
            headers={**headers, "Host": host_header(destination)},
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        )
        try:
            raw = response.raw.read(SNIPPET_BYTES, decode_content=True) or b""
        finally:
            response.close()
    return Reply(
        status=response.status_code,
        headers=response.headers,
        snippet=raw.decode("utf-8", errors="replace"),
    )
