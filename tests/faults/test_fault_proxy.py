"""The fault proxy itself: what each fault looks like to a client, what is logged, and
that a seed decides the faults. Upstream is the session's real forum sandbox or wiki."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from connectors.discourse.client import ForumClient
from core.errors import RateLimited, Unavailable
from tests.conftest import SessionForum, SessionWiki
from tests.faults.conftest import MakeProxy
from tests.faults.proxy import FaultProxy, check_rates

pytestmark = pytest.mark.timeout(60)
BODY = "A first post long enough for the forum to take it."


def client(forum: SessionForum, proxy: FaultProxy, **cfg: Any) -> ForumClient:
    return ForumClient(
        {"url": proxy.url, "api_key": forum.api_key, "api_username": "system", **cfg}
    )


def headers(forum: SessionForum) -> dict[str, str]:
    return {"Api-Key": forum.api_key, "Api-Username": "system"}


def topics_with(forum: SessionForum, external_id: str) -> list[int]:
    with forum.forum.lock:
        rows = list(forum.forum.table("topics").values())
    return [row["id"] for row in rows if row.get("external_id") == external_id]


@pytest.mark.parametrize(
    ("platform", "rates", "problem"),
    [
        ("forum", {"slow": 0.1}, "rates['slow']: unknown fault"),
        ("forum", {"reset": -0.1}, "rates['reset']: -0.1 is not a probability"),
        ("forum", {"reset": "0.1"}, "rates['reset']: '0.1' is not a probability"),
        ("forum", {"reset": True}, "rates['reset']: True is not a probability"),
        ("wiki", {"reset": 0.6, "timeout": 0.6}, "rates: they add up to 1.200, more than 1"),
        ("forum", {"maxlag": 0.1}, "rates['maxlag']: only the wiki has maxlag answers"),
    ],
)
def test_bad_rates_are_refused_saying_which(platform: Any, rates: Any, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_rates(rates, platform)
    assert str(caught.value).startswith(problem)


def test_a_bad_upstream_or_wait_is_refused() -> None:
    with pytest.raises(ValueError, match=r"upstream 'https://forum\.example\.org'"):
        FaultProxy("https://forum.example.org", platform="forum", rates={}, seed=1)
    with pytest.raises(ValueError, match="wait_seconds 0"):
        FaultProxy("http://127.0.0.1:9", platform="forum", rates={}, seed=1, wait_seconds=0)


def test_without_faults_requests_pass_both_ways_and_redirects_stay_on_the_proxy(
    forum: SessionForum, make_proxy: MakeProxy
) -> None:
    proxy = make_proxy(forum.url, "forum", {}, seed=1)
    through = client(forum, proxy)
    external_id = forum.name("proxy-plain-")

    made = through.create_topic(
        "Created through the proxy", BODY, category_id=None, external_id=external_id
    )
    found = through.topic_by_external_id(external_id)  # a 301 to the topic, followed

    assert made.created and found is not None and found.id == made.topic_id
    assert topics_with(forum, external_id) == [made.topic_id]
    records = proxy.records
    assert all(r.fault is None and r.forwarded for r in records)
    statuses = [(r.method, r.status) for r in records]
    assert ("POST", 200) in statuses and ("GET", 301) in statuses
    # The redirect named the proxy, so the topic itself was fetched through it too.
    assert records[-1].path.startswith("/t/") and records[-1].status == 200
    assert {r.connection for r in records} == {records[0].connection}  # kept alive


def test_a_forum_rate_limit_is_discourses_429_and_its_wait_is_logged(
    forum: SessionForum, make_proxy: MakeProxy
) -> None:
    proxy = make_proxy(forum.url, "forum", {"rate_limit": 1.0}, seed=1)

    answer = requests.get(f"{proxy.url}/about.json", headers=headers(forum), timeout=5)

    assert answer.status_code == 429
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    assert answer.headers["Retry-After"] == "1"
    assert answer.headers["Discourse-Rate-Limit-Error-Code"] == "admin_api_key_rate_limit"
    body = answer.json()
    assert body["error_type"] == "rate_limit" and body["extras"]["wait_seconds"] == 1
    assert "too many times" in body["errors"][0]
    # The product's client waits the second asked, once within its budget, then gives up.
    with pytest.raises(RateLimited) as caught:
        client(forum, proxy, rate_limit_wait_budget=1.5).ping()
    assert caught.value.retry_after == 1
    checks = proxy.wait_checks()
    assert [c.wait for c in checks] == [1.0, 1.0, 1.0]
    assert checks[0].gap is None  # the plain request's connection said nothing more
    assert checks[1].gap is not None and not checks[1].hurried
    assert checks[2].gap is None


def test_a_client_that_does_not_wait_is_caught_hurrying(
    forum: SessionForum, make_proxy: MakeProxy
) -> None:
    proxy = make_proxy(forum.url, "forum", {"rate_limit": 1.0}, seed=1)
    with requests.Session() as session:
        for _ in range(2):
            session.get(f"{proxy.url}/about.json", headers=headers(forum), timeout=5)
    first, second = proxy.wait_checks()
    assert first.hurried and not second.hurried


def test_unavailable_is_a_503_that_never_reaches_the_upstream(
    forum: SessionForum, make_proxy: MakeProxy
) -> None:
    proxy = make_proxy(forum.url, "forum", {"unavailable": 1.0}, seed=1)
    external_id = forum.name("proxy-503-")
    with pytest.raises(Unavailable) as caught:
        client(forum, proxy).create_topic(
            "Never created here", BODY, category_id=None, external_id=external_id
        )
    assert caught.value.code == "503"
    assert topics_with(forum, external_id) == []
    assert {(r.fault, r.status, r.forwarded) for r in proxy.records} == {
        ("unavailable", 503, False)
    }


def test_a_reset_is_a_tcp_rst(forum: SessionForum, make_proxy: MakeProxy) -> None:
    proxy = make_proxy(forum.url, "forum", {"reset": 1.0}, seed=1)
    for _ in range(6):
        with pytest.raises(requests.ConnectionError) as caught:
            requests.get(f"{proxy.url}/about.json", headers=headers(forum), timeout=5)
        assert "ConnectionResetError" in repr(caught.value)  # an RST, not a clean close
    # Sometimes after the forum saw the request, sometimes before.
    assert {r.forwarded for r in proxy.records} == {True, False}
    assert {r.status for r in proxy.records} == {None}


def test_a_timeout_answers_nothing(forum: SessionForum, make_proxy: MakeProxy) -> None:
    proxy = make_proxy(forum.url, "forum", {"timeout": 1.0}, seed=1, hold_seconds=5)
    for _ in range(6):
        with pytest.raises(requests.ReadTimeout):
            requests.get(f"{proxy.url}/about.json", headers=headers(forum), timeout=0.3)
    assert {(r.fault, r.status) for r in proxy.records} == {("timeout", None)}
    assert {r.forwarded for r in proxy.records} == {True, False}


def test_a_cut_body_is_short_of_its_length_after_the_upstream_acted(
    forum: SessionForum, make_proxy: MakeProxy
) -> None:
    proxy = make_proxy(forum.url, "forum", {"cut_body": 1.0}, seed=1)
    external_id = forum.name("proxy-cut-")
    fields = {"title": "Created though its answer was cut", "raw": BODY, "external_id": external_id}

    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        requests.post(f"{proxy.url}/posts.json", data=fields, headers=headers(forum), timeout=5)

    assert len(topics_with(forum, external_id)) == 1  # the forum made it all the same
    [record] = proxy.records
    assert (record.fault, record.forwarded, record.status) == ("cut_body", True, 200)


def test_the_wiki_gets_maxlag_and_both_kinds_of_rate_limit(
    wiki: SessionWiki, make_proxy: MakeProxy
) -> None:
    query = {"action": "query", "meta": "siteinfo", "format": "json"}
    lagging = make_proxy(wiki.url, "wiki", {"maxlag": 1.0}, seed=1)
    answer = requests.get(f"{lagging.url}/api.php", params=query, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["error"]["code"] == "maxlag"
    assert answer.headers["Retry-After"] == "1" and answer.headers["X-Database-Lag"] == "7"
    # Lag is checked on api.php only: other paths pass.
    plain = requests.get(f"{lagging.url}/index.php", allow_redirects=False, timeout=10)
    assert plain.status_code in (200, 301)
    assert [r.fault for r in lagging.records] == ["maxlag", None]

    limited = make_proxy(wiki.url, "wiki", {"rate_limit": 1.0}, seed=1)
    answers = [requests.get(f"{limited.url}/api.php", params=query, timeout=10) for _ in range(8)]
    http = [a for a in answers if a.status_code == 429]
    api = [a for a in answers if a.status_code == 200]
    assert http and api
    assert all(a.headers["Retry-After"] == "1" for a in http)
    assert all(a.json()["error"]["code"] == "ratelimited" for a in api)
    # Only the 429 named a wait; the API error leaves it to the client.
    assert sorted(r.wait is not None for r in limited.records) == sorted(
        a.status_code == 429 for a in answers
    )


def test_a_seed_decides_the_faults_and_the_share_follows_the_rates(
    forum: SessionForum, make_proxy: MakeProxy
) -> None:
    rates = {"unavailable": 0.15, "rate_limit": 0.15}
    runs = []
    for seed in (5, 5, 6):
        proxy = make_proxy(forum.url, "forum", rates, seed=seed)
        with requests.Session() as session:
            for _ in range(150):
                session.get(f"{proxy.url}/about.json", headers=headers(forum), timeout=5)
        runs.append(proxy)
    same, again, other = ([r.fault for r in proxy.records] for proxy in runs)
    assert same == again and same != other
    for proxy in runs:
        assert 0.2 <= proxy.failure_share() <= 0.4
        assert set(proxy.fault_counts()) == set(rates)


def test_calm_turns_the_faults_off_for_a_while(forum: SessionForum, make_proxy: MakeProxy) -> None:
    proxy = make_proxy(forum.url, "forum", {"unavailable": 1.0}, seed=1)
    url = f"{proxy.url}/about.json"
    with proxy.calm():
        assert requests.get(url, headers=headers(forum), timeout=5).status_code == 200
    assert requests.get(url, headers=headers(forum), timeout=5).status_code == 503
    assert [r.fault for r in proxy.records] == [None, "unavailable"]


def test_stopping_ends_idle_connections_and_refuses_new_ones(
    forum: SessionForum, make_proxy: MakeProxy
) -> None:
    proxy = make_proxy(forum.url, "forum", {}, seed=1)
    with requests.Session() as session:
        assert session.get(f"{proxy.url}/about.json", headers=headers(forum), timeout=5).ok
        proxy.stop()  # returns although the session keeps its connection open
        with pytest.raises(requests.ConnectionError):
            session.get(f"{proxy.url}/about.json", headers=headers(forum), timeout=5)
