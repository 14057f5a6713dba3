"""Logging in and out of the dashboard in a real browser, through the forum's own login
page (DiscourseConnect against the sandbox), as a moderator and as a plain member."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from dashboards.models import DashboardSession
from tests.browser.conftest import MEMBER, MODERATOR, BrowserLog, Camera, Site, log_in


def sessions_of(site: Site, username: str) -> int:
    with site.store.session() as session:
        rows = session.scalars(
            select(DashboardSession).where(DashboardSession.username == username)
        ).all()
        return len(rows)


def test_a_moderator_logs_in_through_the_forum_and_lands_on_the_overview(
    page: Page, site: Site, camera: Camera
) -> None:
    before = sessions_of(site, MODERATOR)
    page.goto("/dashboard/")
    expect(page).to_have_url(f"{site.url}/dashboard/login?next=/dashboard/")
    camera.shoot(page, "login")
    page.get_by_role("link", name="Log in with the forum").click()

    # The forum's own login page, reached by following the dashboard's redirect.
    expect(page.get_by_role("heading", name="Forum sandbox login")).to_be_visible()
    assert page.url.startswith(f"{site.settings['forum']['url']}/login?return_path=")
    camera.shoot(page, "forum-login")
    page.get_by_label("User").select_option(MODERATOR)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(f"{site.url}/dashboard/")
    expect(page.get_by_role("heading", name="Constellations", exact=True)).to_be_visible()
    expect(page.locator("form.logout")).to_contain_text(MODERATOR)
    camera.shoot(page, "overview")
    assert sessions_of(site, MODERATOR) == before + 1


def test_a_plain_member_is_refused_and_cannot_open_the_sync_page(
    page: Page, site: Site, camera: Camera, browser_log: BrowserLog
) -> None:
    browser_log.expect_error("status of 403")  # the refusal page's own answer
    log_in(page, MEMBER, start="/dashboard/sync")

    expect(page.get_by_role("heading", name="Login refused")).to_be_visible()
    expect(page.get_by_text(f"The forum account {MEMBER} is not an admin")).to_be_visible()
    assert page.url.startswith(f"{site.url}/dashboard/login/callback?")
    camera.shoot(page, "refused")
    assert sessions_of(site, MEMBER) == 0

    answer = page.goto("/dashboard/sync")
    assert answer is not None and answer.status == 200  # the login page, not the sync page
    expect(page).to_have_url(f"{site.url}/dashboard/login?next=/dashboard/sync")
    expect(page.get_by_role("heading", name="Sync")).to_have_count(0)
    expect(page.locator("form.logout")).to_have_count(0)
    camera.shoot(page, "sync-refused")
    assert page.request.get("/api/v1/sync").status == 401  # with the browser's cookies
    assert len([e for e in browser_log.errors if "status of 403" in e]) == 1


def test_logging_out_through_the_button_ends_the_session(
    moderator: Page, site: Site, camera: Camera
) -> None:
    page = moderator
    before = sessions_of(site, MODERATOR)
    page.get_by_role("button", name="Log out").click()

    expect(page).to_have_url(f"{site.url}/dashboard/login?logged_out=1")
    expect(page.get_by_role("status")).to_have_text("You are logged out.")
    camera.shoot(page, "logged-out")
    assert sessions_of(site, MODERATOR) == before - 1

    page.goto("/dashboard/people")
    expect(page).to_have_url(re.compile(r"/dashboard/login\?next=/dashboard/people$"))
    expect(page.get_by_role("link", name="Log in with the forum")).to_be_visible()
    expect(page.locator("form.logout")).to_have_count(0)
    camera.shoot(page, "next-visit")
