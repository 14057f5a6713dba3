"""Single faults at chosen steps, and how the wiki and forum clients come through them:
the fixes the fault injection led to, each pinned by its own case."""

from __future__ import annotations

import time
from typing import Any

import pytest

from connectors.discourse.client import ForumClient
from connectors.mediawiki import WikiClient
from core.errors import RateLimited, Unavailable
from sandbox.wiki import free_port
from tests.conftest import SessionForum, SessionWiki
from tests.faults.conftest import MakeProxy
from tests.faults.proxy import FaultProxy

pytestmark = pytest.mark.timeout(60)
# A bot-password login: site_init, a login token, the login, userinfo as the bot.
LOGIN_REQUESTS = 4


def wiki_through(wiki: SessionWiki, proxy: FaultProxy) -> WikiClient:
    return WikiClient(wiki.config(url=proxy.url, timeout=5, max_retries=2, retry_wait=0))


def faults(proxy: FaultProxy) -> list[str | None]:
    return [record.fault for record in proxy.records]


@pytest.mark.parametrize("fault", ["unavailable", "reset"])
def test_the_first_request_of_a_wiki_login_is_retried(
    wiki: SessionWiki, make_proxy: MakeProxy, fault: str
) -> None:
    proxy = make_proxy(wiki.url, "wiki", {}, seed=1)
    proxy.force(fault)  # mwclient makes its first site_init only once

    page = wiki_through(wiki, proxy).read_pages(["Main Page"])["Main Page"]

    assert page.exists
    assert faults(proxy) == [fault] + [None] * (LOGIN_REQUESTS + 1)


def test_a_wiki_answer_cut_off_is_asked_again(wiki: SessionWiki, make_proxy: MakeProxy) -> None:
    proxy = make_proxy(wiki.url, "wiki", {}, seed=1)
    client = wiki_through(wiki, proxy)
    client.read_pages(["Main Page"])
    proxy.force("cut_body")

    assert client.read_pages(["Main Page"])["Main Page"].exists
    assert faults(proxy)[LOGIN_REQUESTS:] == [None, "cut_body", None]


def test_a_wiki_login_whose_answer_was_lost_still_logs_in(
    wiki: SessionWiki, make_proxy: MakeProxy
) -> None:
    proxy = make_proxy(wiki.url, "wiki", {}, seed=1)
    # The wiki logs the bot in, the answer is cut; the repeated login is refused.
    proxy.force(None, None, "cut_body")
    client = wiki_through(wiki, proxy)

    assert client.read_pages(["Main Page"])["Main Page"].exists
    assert client.username == wiki.bot().username
    logins = [r for r in proxy.records if r.method == "POST"]
    assert [r.fault for r in logins] == ["cut_body", None]


def test_a_wiki_429_keeps_the_client_quiet_for_its_wait(
    wiki: SessionWiki, make_proxy: MakeProxy
) -> None:
    proxy = make_proxy(wiki.url, "wiki", {}, seed=1)
    client = wiki_through(wiki, proxy)
    client.read_pages(["Main Page"])
    proxy.force("rate_limit")
    with pytest.raises(RateLimited) as asked:
        client.read_pages(["Main Page"])
    assert asked.value.retry_after == 1
    sent = len(proxy.records)

    with pytest.raises(RateLimited) as refused:
        client.revisions("Main Page").__next__()  # another call, straight away
    assert refused.value.code == "waiting" and 0 < refused.value.retry_after <= 1
    assert len(proxy.records) == sent  # nothing was sent
    time.sleep(asked.value.retry_after)
    assert client.read_pages(["Main Page"])["Main Page"].exists
    assert [check.hurried for check in proxy.wait_checks()] == [False]


def forum_through(forum: SessionForum, proxy: FaultProxy, sleeps: list[float]) -> ForumClient:
    cfg = {"url": proxy.url, "api_key": forum.api_key, "api_username": "system", "timeout": 2}
    return ForumClient(cfg, sleep=sleeps.append)


@pytest.mark.parametrize("fault", ["unavailable", "reset", "cut_body", "timeout"])
def test_a_forum_read_lost_on_the_way_is_sent_again(
    forum: SessionForum, make_proxy: MakeProxy, fault: str
) -> None:
    proxy = make_proxy(forum.url, "forum", {}, seed=1, hold_seconds=5)
    sleeps: list[float] = []
    proxy.force(fault, fault)

    assert forum_through(forum, proxy, sleeps).ping()["about"]
    assert faults(proxy) == [fault, fault, None]
    assert sleeps == [0.2, 0.4]


def test_a_forum_read_gives_up_after_three_tries(
    forum: SessionForum, make_proxy: MakeProxy
) -> None:
    proxy = make_proxy(forum.url, "forum", {"unavailable": 1.0}, seed=1)
    sleeps: list[float] = []
    with pytest.raises(Unavailable):
        forum_through(forum, proxy, sleeps).ping()
    assert len(proxy.records) == 3 and sleeps == [0.2, 0.4]


def test_a_forum_write_is_never_sent_again(forum: SessionForum, make_proxy: MakeProxy) -> None:
    proxy = make_proxy(forum.url, "forum", {}, seed=1)
    sleeps: list[float] = []
    client = forum_through(forum, proxy, sleeps)
    topic = forum.client().create_post(
        "A topic for a reply that fails once, long enough.",
        title=f"Write once {forum.name()}",
    )
    proxy.force("cut_body")  # the forum makes the reply, its answer is cut

    # Unavailable: the event is tried again later, and a retried reply looks for itself.
    with pytest.raises(Unavailable, match="IncompleteRead"):
        client.reply(int(topic["topic_id"]), "A reply that must be made exactly once here.")

    assert [(r.method, r.fault) for r in proxy.records] == [("POST", "cut_body")]
    assert sleeps == []
    with forum.forum.lock:
        posts = [
            p for p in forum.forum.table("posts").values() if p["topic_id"] == topic["topic_id"]
        ]
    assert len(posts) == 2


def test_a_forum_that_is_down_is_not_asked_again_at_once() -> None:
    sleeps: list[float] = []
    cfg: dict[str, Any] = {
        "url": f"http://127.0.0.1:{free_port()}",
        "api_key": "k",
        "api_username": "system",
        "timeout": 2,
    }
    with pytest.raises(Unavailable):
        ForumClient(cfg, sleep=sleeps.append).ping()
    assert sleeps == []  # refused: no quick repeats, the worker's backoff decides
