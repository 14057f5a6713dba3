"""Every dashboard page in a real browser on the seeded example: each renders with no
console error (so the Content-Security-Policy blocks nothing it needs), shows its charts,
and is saved as a screenshot; and a forum topic whose title is markup reaches a page as
text, with no dialog and no script run."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from community.practices.models import PracticeSuggestion
from sandbox.example import EXAMPLE
from tests.browser.conftest import BrowserLog, Camera, Site
from webhooks.incoming.forum_poll import poll_forum

HOSTILE_TITLE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def visit(page: Page, camera: Camera, path: str, heading: str, name: str) -> None:
    answer = page.goto(path)
    assert answer is not None and answer.status == 200, (path, answer and answer.status)
    expect(page.locator("h1")).to_contain_text(heading)
    camera.shoot(page, name)


def test_every_page_renders_without_errors(moderator: Page, site: Site, camera: Camera) -> None:
    page = moderator
    visit(page, camera, "/dashboard/", "Constellations", "overview")
    rows = page.locator("table.constellations tbody tr")
    expect(rows).to_have_count(len(EXAMPLE.constellations))
    expect(page.locator("table.constellations td.pulse svg")).to_have_count(
        len(EXAMPLE.constellations)
    )
    first = EXAMPLE.constellations[0].name
    listed = page.locator("table.constellations").get_by_role("link", name=first, exact=True)
    constellation = listed.get_attribute("href")
    assert constellation is not None

    visit(page, camera, constellation, first, "constellation")
    assert page.locator("#time-heading ~ .charts svg").count() >= 2  # weeks of history
    expect(page.locator("table.leadership tbody tr")).not_to_have_count(0)

    visit(page, camera, "/dashboard/practices", "Shared practices", "practices")
    expect(page.locator("figure.adoption svg")).to_have_count(1)
    expect(page.locator("table.registry tbody tr")).to_have_count(len(EXAMPLE.practices))

    visit(page, camera, "/dashboard/people", "People and credit", "people")
    leader = page.locator("table.leaderboard tbody tr a").first
    name, person = leader.inner_text(), leader.get_attribute("href")
    assert person is not None

    visit(page, camera, person, name, "person")
    expect(page.locator("table.score tbody tr")).not_to_have_count(0)

    visit(page, camera, "/dashboard/automations", "Automations", "automations")
    for show in ("incoming", "refused", "outgoing"):
        visit(page, camera, f"/dashboard/webhooks?show={show}", "Webhooks", f"webhooks-{show}")
    visit(page, camera, "/dashboard/sync", "Sync", "sync")

    # The navigation reaches the same pages.
    for label, heading in (("Overview", "Constellations"), ("Sync", "Sync")):
        page.get_by_role("navigation", name="Dashboard").get_by_role("link", name=label).click()
        expect(page.locator("h1")).to_contain_text(heading)


def test_a_topic_title_made_of_markup_shows_as_text(
    moderator: Page, site: Site, camera: Camera, browser_log: BrowserLog
) -> None:
    """The topic goes the normal way: posted on the forum, read by the forum poll, handled
    by the worker, which suggests it as a practice candidate (keywords, replies from two
    other organisations, a like)."""
    page = moderator
    category = next(c for c in site.forum.categories() if c.name == "Cool Spaces")
    started = site.forum.acting_as("theo_marchetti").create_topic(
        HOSTILE_TITLE,
        "How we ran the cool room: a checklist for opening a library as a cool space.",
        category_id=category.id,
        external_id="browser-hostile-title",
    )
    topic_id = started.topic_id
    first = site.forum.acting_as("elif_arslan").reply(topic_id, "We used this checklist too.")
    site.forum.acting_as("grace_mbeki").reply(topic_id, "The council will copy the approach.")
    site.forum.acting_as("grace_mbeki").like(first.id)
    assert poll_forum(site.store, site.settings).recorded >= 3
    assert site.work() == []
    with site.store.session() as session:
        suggestion = session.scalars(
            select(PracticeSuggestion).where(PracticeSuggestion.topic_id == topic_id)
        ).one()
        assert suggestion.title == HOSTILE_TITLE
        suggestion_id = suggestion.id

    page.goto("/dashboard/practices")
    row = page.locator(f"#suggestion-{suggestion_id}")
    expect(row.get_by_role("link", name=HOSTILE_TITLE, exact=True)).to_be_visible()
    camera.shoot(page, "practices")
    assert page.locator("main script").count() == 0
    assert page.locator("img[src='x']").count() == 0
    assert browser_log.dialogs == []
    assert page.evaluate("() => document.querySelectorAll('[onerror]').length") == 0
