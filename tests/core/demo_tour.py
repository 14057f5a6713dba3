"""The demo's printed tour walked in headless Chromium, as a newcomer would: each stop
opened from the address the demo printed, and what it should show asserted (issue 23)."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from urllib.parse import urljoin

from playwright.sync_api import Browser, Page

from sandbox.example_data import EXAMPLE

TIMEOUT_MS = 20_000
# The leaderboard's columns of wiki and of forum credit (ledger kinds, as headed).
WIKI_KINDS = ("wiki text", "page created")
FORUM_KINDS = ("forum reply", "accepted solution", "like received")


def tour_stops(output: list[str]) -> list[str]:
    """The addresses of the tour the demo printed, in order."""
    start = next(i for i, line in enumerate(output) if line.startswith("Take the tour"))
    found = []
    for line in output[start + 1 :]:
        match = re.match(r"\s+\d+\. (\S+)$", line)
        if match:
            found.append(match.group(1))
        elif not line.startswith("     "):
            break
    return found


def walk_the_tour(browser: Browser, output: list[str], service_url: str) -> None:
    stops = tour_stops(output)
    assert 5 <= len(stops) <= 7, stops
    wiki_page, category, overview, constellation, people, practices, automations = stops
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        see_the_wiki_section(page, wiki_page)
        see_the_forum_category(page, category)
        log_in(page, service_url)
        leads_months_apart = see_the_overview_and_each_constellation(page, overview)
        assert leads_months_apart, "no constellation shows two leads months apart"
        page.goto(constellation)  # the tour's own constellation page answers
        assert page.locator("h1").inner_text().startswith(EXAMPLE.constellations[0].name)
        see_the_leaderboard(page, people)
        page.goto(practices)
        for practice in EXAMPLE.practices:
            assert page.get_by_text(practice.name, exact=True).count() >= 1, practice.name
        dry_run_an_event(page, automations)
    finally:
        context.close()


def see_the_wiki_section(page: Page, url: str) -> None:
    """The constellation's wiki page: Constellate's section lists discussions, the people
    who took part (by organisation, no bot), credited contributors and health figures."""
    page.goto(url)
    text = page.locator("#mw-content-text").inner_text()
    section = text[text.rindex("On the forum") :]  # the heading, not the contents box
    assert "No discussions yet" not in section and "No one yet" not in section
    assert "No credited contributors yet" not in section
    participants = section[section.index("Active participants") : section.index("Credit")]
    names = re.findall(r"^(\w+) \(", participants, flags=re.MULTILINE)
    assert len(names) >= 3, participants
    assert not set(names) & set(EXAMPLE.bot_usernames()), names
    credited = section[section.index("Credit") : section.index("Health")]
    assert len(re.findall(r"^.+\(", credited, flags=re.MULTILINE)) >= 3, credited
    health = section[section.index("Health") :]
    assert "topics started" in health and "Over the last" in health, health


def see_the_forum_category(page: Page, url: str) -> None:
    """The forum's answer for the category lists the constellation's topics."""
    answer = page.goto(url)
    assert answer is not None and answer.ok
    body = json.loads(page.locator("body").inner_text())
    assert len(body["topic_list"]["topics"]) >= 10


def log_in(page: Page, service_url: str) -> None:
    page.goto(f"{service_url}/dashboard/")
    page.get_by_role("link", name="Log in with the forum").click()
    page.get_by_label("User").select_option("moderator")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{service_url}/dashboard/")


def see_the_overview_and_each_constellation(page: Page, url: str) -> int:
    """Every constellation is on the overview; two or more have a two-way ratio above
    0 %. Returns how many show a leadership timeline with two leads months apart."""
    page.goto(url)
    links = {
        c.name: page.get_by_role("link", name=c.name, exact=True).first.get_attribute("href")
        for c in EXAMPLE.constellations
    }
    two_way, rotated = 0, 0
    for name, href in links.items():
        assert href, name
        page.goto(urljoin(url, href))
        ratio = page.locator(".figures .card", has_text="Two-way ratio").locator("dd").inner_text()
        two_way += ratio.strip().removesuffix("%").isdigit() and int(ratio.strip()[:-1]) > 0
        rotated += _leads_months_apart(page)
    assert two_way >= 2, f"a two-way ratio above 0 in {two_way} constellations"
    return rotated


def _leads_months_apart(page: Page) -> bool:
    """The leadership table holds two different leads whose terms began 60+ days apart."""
    began: dict[str, date] = {}
    for row in page.locator("table.leadership tbody tr").all():
        when, lead = (cell.inner_text() for cell in row.locator("td").all()[:2])
        lead = lead.split(" (")[0]
        day = date.fromisoformat(re.findall(r"\d{4}-\d{2}-\d{2}", when)[0])
        began[lead] = min(day, began.get(lead, day))
    days = sorted(began.values())
    return len(days) >= 2 and days[-1] - days[0] >= timedelta(days=60)


def see_the_leaderboard(page: Page, url: str) -> None:
    """At least ten people ranked with credit from both the wiki and the forum."""
    page.goto(url)
    table = page.locator("table.leaderboard")
    kinds = [h.inner_text() for h in table.locator("thead th").all()]
    wiki = [kinds.index(k) for k in WIKI_KINDS if k in kinds]
    forum = [kinds.index(k) for k in FORUM_KINDS if k in kinds]
    assert wiki and forum, kinds
    both = 0
    for row in table.locator("tbody tr").all():
        cells = [c.inner_text().strip() for c in row.locator("td").all()]
        has = [re.fullmatch(r"[\d.]+", cells[i]) is not None for i in (*wiki, *forum)]
        both += any(has[: len(wiki)]) and any(has[len(wiki) :])
    assert both >= 10, f"{both} people with both wiki and forum credit"


def dry_run_an_event(page: Page, url: str) -> None:
    """The automations page dry-runs a recent event: what each rule would do."""
    page.goto(url)
    options = page.locator("#dry-event option").all()
    chosen = next(o.get_attribute("value") for o in options if o.get_attribute("value"))
    assert chosen
    page.locator("#dry-event").select_option(chosen)
    page.get_by_role("button", name="Dry-run this event").click()
    assert page.locator("h1").inner_text() == "Dry run"
    assert page.locator("section.dry-event").count() == 1
