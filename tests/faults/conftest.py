"""Fault proxies in front of the session's wiki and forum, and a service configured to
reach the platforms only through them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from community.partners.models import Partner
from core.config import Settings, load_config
from core.migrate import upgrade
from core.store import Store
from tests.community.constellations.sync_support import PARTNERS
from tests.conftest import SessionForum, SessionWiki
from tests.faults.proxy import FaultProxy, Platform

# About 30 % of proxied calls fail, each kind of fault as often as the others.
WIKI_RATES = dict.fromkeys(
    ("rate_limit", "unavailable", "maxlag", "timeout", "reset", "cut_body"), 0.05
)
FORUM_RATES = dict.fromkeys(("rate_limit", "unavailable", "timeout", "reset", "cut_body"), 0.06)
# Client timeouts well under the proxy's hold, so a held request always times out.
WIKI_TIMEOUT = 1.5  # a wiki edit (parsing, saving) takes a while on a busy machine
FORUM_TIMEOUT = 1.0
HOLD_SECONDS = 4.0
WEBHOOK_SECRET = "fault-injection-webhook-secret"

MakeProxy = Callable[..., FaultProxy]


@pytest.fixture
def make_proxy() -> Iterator[MakeProxy]:
    """Start proxies (``upstream``, ``platform``, ``rates``, ``seed``, …); all stop after."""
    started: list[FaultProxy] = []

    def make(
        upstream: str, platform: Platform, rates: Mapping[str, float], seed: int, **options: Any
    ) -> FaultProxy:
        proxy = FaultProxy(upstream, platform=platform, rates=rates, seed=seed, **options)
        started.append(proxy.start())
        return proxy

    yield make
    for proxy in started:
        proxy.stop()


def partner_groups(store: Store, forum: SessionForum) -> dict[str, int]:
    """The partners the test charters name, registered with forum groups of their own
    (made past the proxies): partner name -> group id."""
    admin = forum.client(forum.api_username)
    made: dict[str, int] = {}
    with store.session() as session:
        for name in PARTNERS.values():
            group = forum.name("fp")
            made[name] = admin.create_group(group, full_name=name)["basic_group"]["id"]
            session.add(Partner(group_name=group, name=name, group_id=made[name]))
    return made


class FaultyService:
    """A migrated SQLite store and settings whose wiki and forum are the proxies."""

    def __init__(
        self,
        wiki: SessionWiki,
        forum: SessionForum,
        tmp_path: Path,
        wiki_proxy: FaultProxy,
        forum_proxy: FaultProxy,
        extra: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        url = f"sqlite:///{tmp_path / 'constellate.db'}"
        upgrade(url)
        self.store = Store(url)
        self.partner_groups = partner_groups(self.store, forum)
        self.wiki_proxy = wiki_proxy
        self.forum_proxy = forum_proxy
        overrides: dict[str, dict[str, Any]] = {
            "service": {"secret_key": "s" * 40},
            "store": {"url": url},
            # mwclient retries 5xx and broken connections itself: a few quick tries.
            "wiki": wiki.config(
                url=wiki_proxy.url, timeout=WIKI_TIMEOUT, max_retries=3, retry_wait=0.2
            ),
            "forum": {
                "url": forum_proxy.url,
                "api_key": forum.api_key,
                "api_username": forum.api_username,
                "timeout": FORUM_TIMEOUT,
                "webhook_secret": WEBHOOK_SECRET,
                # Raised as the session's forum is: these tests inject faults (the
                # proxies' own 429s among them), not Discourse's minute, which
                # tests/service/test_forum_budget_processes.py holds the service to.
                "requests_per_minute": 1_000_000,
                "budget_share": 1,
            },
            "worker": {"embedded": False},
        }
        for section, values in (extra or {}).items():
            overrides.setdefault(section, {}).update(values)
        self.settings: Settings = load_config(environ={}, overrides=overrides)

    def proxies(self) -> tuple[FaultProxy, FaultProxy]:
        return self.wiki_proxy, self.forum_proxy
