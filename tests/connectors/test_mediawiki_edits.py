"""Editing the real wiki safely: conflicts, modes, null edits, tokens, rights and limits."""

from __future__ import annotations

import pytest
import requests

from connectors.mediawiki import WikiClient, WikiPage
from core.errors import EditConflict, NotFound, PermissionDenied, RateLimited
from tests.conftest import SessionWiki


def watch_requests(client: WikiClient) -> list[requests.PreparedRequest]:
    """Every request ``client`` sends from now on."""
    sent: list[requests.PreparedRequest] = []
    client.session.hooks["response"].append(lambda response, **_: sent.append(response.request))
    return sent


def test_a_stale_base_is_an_edit_conflict_and_apply_redoes_its_change(wiki: SessionWiki) -> None:
    bot, human = wiki.bot(), wiki.human()
    title = wiki.title("Conflict")
    bot.edit(title, "status: forming\nowner: nobody", summary="start", mode="create")
    stale = bot.read_pages([title])[title]
    human.edit(title, "status: active\nowner: nobody", summary="human changes the status")

    with pytest.raises(EditConflict) as caught:
        bot.edit(title, "status: dormant\nowner: nobody", summary="bot", base=stale)
    assert caught.value.code == "editconflict"

    seen: list[str] = []

    def set_owner(page: WikiPage) -> str:
        seen.append(page.text)
        return page.text.replace("owner: nobody", "owner: bot")

    human_first = human.read_pages([title])[title]
    sunset = human.edit(title, "status: sunset\nowner: nobody", summary="again", base=human_first)
    result = bot.apply(title, set_owner, summary="set the owner")
    assert result is not None and not result.nochange
    assert seen == ["status: sunset\nowner: nobody"]
    assert result.base_revid == sunset.revid  # made on the human's revision, read afresh
    assert bot.read_pages([title])[title].text == "status: sunset\nowner: bot"
    # Applying the same change again finds nothing to do and writes nothing.
    assert bot.apply(title, set_owner, summary="set the owner") is None


def test_apply_rereads_after_a_conflict_and_gives_up_after_its_attempts(
    wiki: SessionWiki,
) -> None:
    bot, human = wiki.bot(), wiki.human()
    title = wiki.title("Busy")
    bot.edit(title, "count: 0", summary="start", mode="create")
    calls: list[str] = []

    def racing(page: WikiPage) -> str:
        # A person saves the same line between our read and our write, every time.
        calls.append(page.text)
        human.edit(title, f"count: {len(calls)} by human", summary="race")
        return "count: bot"

    with pytest.raises(EditConflict):
        bot.apply(title, racing, summary="lose the race", attempts=3)
    assert calls == ["count: 0", "count: 1 by human", "count: 2 by human"]

    def human_once(page: WikiPage) -> str:
        if not calls[3:]:
            calls.append(page.text)
            human.edit(title, "count: human won", summary="race once")
        return page.text + " and bot"

    assert bot.apply(title, human_once, summary="win the second time") is not None
    assert bot.read_pages([title])[title].text == "count: human won and bot"


def test_apply_creates_a_missing_page_and_leaves_alone_what_the_transform_declines(
    wiki: SessionWiki,
) -> None:
    bot = wiki.bot()
    title = wiki.title("Fresh")
    created = bot.apply(title, lambda page: None if page.exists else "new page", summary="make")
    assert created is not None and created.base_revid is None  # a new page
    assert bot.read_pages([title])[title].text == "new page"
    assert bot.apply(title, lambda page: None, summary="nothing") is None


def test_update_never_creates_and_create_never_overwrites(wiki: SessionWiki) -> None:
    bot = wiki.bot()
    title = wiki.title("Modes")
    with pytest.raises(NotFound) as missing:
        bot.edit(title, "text", summary="update a missing page")
    assert missing.value.code == "missingtitle"
    assert bot.read_pages([title])[title].exists is False
    bot.edit(title, "first", summary="create", mode="create")
    with pytest.raises(EditConflict) as exists:
        bot.edit(title, "second", summary="create again", mode="create")
    assert exists.value.code == "articleexists"
    assert bot.read_pages([title])[title].text == "first"


def test_saving_the_same_text_is_a_successful_null_edit(wiki: SessionWiki) -> None:
    bot = wiki.bot()
    title = wiki.title("Same")
    first = bot.edit(title, "unchanged", summary="create", mode="create")
    page = bot.read_pages([title])[title]
    again = bot.edit(title, "unchanged", summary="again", base=page)
    assert again.nochange is True
    assert again.revid == first.revid == page.revid
    assert [rev.revid for rev in bot.revisions(title)] == [first.revid]


def test_a_stale_token_is_refreshed_once(wiki: SessionWiki) -> None:
    bot = wiki.bot()
    title = wiki.title("Token")
    bot.edit(title, "one", summary="create", mode="create")  # caches a csrf token
    bot._site.tokens["csrf"] = "0123456789abcdef+\\"  # a token the wiki never issued
    sent = watch_requests(bot)
    result = bot.edit(title, "two", summary="with a stale token")
    assert not result.nochange
    token_fetches = [r for r in sent if r.url and "meta=tokens" in r.url]
    edits = [r for r in sent if r.method == "POST"]
    assert len(token_fetches) == 1
    assert len(edits) == 2  # refused with badtoken, then saved
    assert bot.read_pages([title])[title].text == "two"


def test_a_lost_session_logs_in_again(wiki: SessionWiki) -> None:
    bot = wiki.bot()
    title = wiki.title("Session")
    bot.edit(title, "one", summary="create", mode="create")
    bot.session.cookies.clear()  # as when the wiki expires the session
    sent = watch_requests(bot)
    bot.edit(title, "two", summary="after the session was lost")
    assert len([r for r in sent if "action=login" in str(r.body)]) == 1
    history = list(bot.revisions(title))
    assert [rev.user for rev in history] == ["ConstellateBot", "ConstellateBot"]


def test_edits_say_who_they_expect_to_be(wiki: SessionWiki) -> None:
    bot = wiki.bot()
    sent = watch_requests(bot)
    bot.edit(wiki.title("Asserted"), "text", summary="asserted", mode="create")
    body = str([r.body for r in sent if r.method == "POST"][-1])
    for field in ("assert=bot", "assertuser=ConstellateBot", "maxlag=5", "bot=1", "createonly=1"):
        assert field in body


def test_a_person_cannot_pass_for_a_bot(wiki: SessionWiki) -> None:
    human = wiki.human(bot=True)
    title = wiki.title("Not a bot")
    with pytest.raises(PermissionDenied) as caught:
        human.edit(title, "text", summary="pretending", mode="create")
    assert caught.value.code == "assertbotfailed"
    assert wiki.human().edit(title, "text", summary="as myself", mode="create").revid


def test_a_protected_page_is_refused_to_the_bot(wiki: SessionWiki) -> None:
    bot = wiki.bot()
    title = wiki.title("Protected")
    bot.edit(title, "before protection", summary="create", mode="create")
    admin = wiki.sandbox.admin_username
    wiki.sandbox.run_maintenance("protect.php", "--user", admin, "--reason", "test", title)
    page = bot.read_pages([title])[title]
    with pytest.raises(PermissionDenied) as caught:
        bot.edit(title, "after protection", summary="try", base=page)
    assert caught.value.code == "protectedpage"
    assert bot.read_pages([title])[title].text == "before protection"


def test_a_newbie_editing_fast_is_rate_limited_for_as_long_as_the_wiki_says(
    wiki: SessionWiki,
) -> None:
    newbie = wiki.newbie()
    title = wiki.title("Newbie")
    newbie.edit(title, "first", summary="first", mode="create")
    with pytest.raises(RateLimited) as caught:
        newbie.edit(title, "second", summary="too soon")
    assert caught.value.code == "ratelimited"
    assert caught.value.retry_after == 60.0  # one edit per 60 s for newbies
    assert newbie.read_pages([title])[title].text == "first"


def test_a_save_within_the_same_second_as_the_base_is_still_a_conflict(
    wiki: SessionWiki,
) -> None:
    bot, human = wiki.bot(), wiki.human()
    for _ in range(5):  # edits take milliseconds; the same second comes quickly
        title = wiki.title("Same second")
        bot.edit(title, "line: base", summary="start", mode="create")
        base = bot.read_pages([title])[title]
        theirs = human.edit(title, "line: human", summary="human")
        if theirs.timestamp == base.timestamp:
            break
    assert theirs.timestamp == base.timestamp
    with pytest.raises(EditConflict):
        bot.edit(title, "line: bot", summary="bot", base=base)
    assert bot.read_pages([title])[title].text == "line: human"


def test_a_second_writer_on_the_same_account_is_not_overwritten(wiki: SessionWiki) -> None:
    first, second = wiki.bot(), wiki.bot()
    title = wiki.title("Two workers")
    first.edit(title, "value: 0", summary="start", mode="create")
    base = first.read_pages([title])[title]
    second.edit(title, "value: 2", summary="the other worker")
    with pytest.raises(EditConflict):
        first.edit(title, "value: 1", summary="stale worker", base=base)
    assert first.read_pages([title])[title].text == "value: 2"
