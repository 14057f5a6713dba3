"""The local demo: a real MediaWiki, the forum sandbox and the service, configured for
each other and seeded with the example partnership; and the moderator dashboard, with
the forum as its DiscourseConnect login and a moderator account to log in as.

The wiki pushes its changes to the service through MediaWiki's recent-changes feed (JSON
over UDP to the listener of the service's worker), so a save reaches the forum within a
second or so; the wiki poll stays the safety net.

Once the service is ready, headless Chromium logs in through the forum as a person would
and keeps a screenshot of the overview, so the first run shows the dashboard working.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from community.backfill.run import run_backfill
from community.backfill.sections import refresh_every_section
from community.constellations.models import PageTopicLink
from community.constellations.sync import sync_constellations
from community.credits.people import SAME_USERNAME, link, suggest_links
from community.health.runs import recompute_and_alert
from community.partners.affiliation import refresh_affiliations
from community.partners.registry import sync_partners
from community.practices.registry import sync_practices
from connectors.discourse import ForumClient
from connectors.mediawiki import WikiClient
from core import clock, migrate
from core.config import CONFIG_PATH_VAR, load_config
from core.store import Store
from sandbox.browser import launch_chromium
from sandbox.example import EXAMPLE, write_credit_rules
from sandbox.forum.creation import add_user
from sandbox.forum.server import ForumServer
from sandbox.forum.state import Forum
from sandbox.seeding import seed_configured
from sandbox.wiki import WikiSandbox, WikiServer, ensure_packages, install
from service.server_options import GUNICORN_OPTIONS

READY_WAIT_SECONDS = 60
WEB_PROCESSES = 2
# The first start's duties (badges, alerts, nudges) may wait out the forum's minute in
# some threads; the others take what people do meanwhile.
WORKER_THREADS = 4
MODERATOR = "moderator"  # the forum account a person (or the browser) logs in as
BROWSER_TIMEOUT_MS = 20_000


def run_demo(directory: Path, wiki_port: int, forum_port: int, service_port: int) -> None:
    """Start everything, show where it is, and stop it all on Ctrl-C or SIGTERM."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        _start_all(directory, wiki_port, forum_port, service_port)
    except KeyboardInterrupt:
        click.echo("Constellate demo stopped.")


def _interrupt(_signum: int, _frame: Any) -> None:
    # SIGTERM takes the same way out as Ctrl-C, so every `with` and `finally` cleans up.
    raise KeyboardInterrupt


def _start_all(directory: Path, wiki_port: int, forum_port: int, service_port: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    ensure_packages()
    sandbox = install(directory / "wiki")
    forum_server = ForumServer(
        state_file=directory / "forum.json",
        port=forum_port,
        api_key=kept_secret(directory / "forum_api_key", 32),
    )  # at Discourse's default limit: 60 admin API requests a minute
    # The wiki pushes each change to the service's listener (its recent-changes feed);
    # the poll stays the safety net.
    feed = f"udp://127.0.0.1:{free_udp_port()}"
    with WikiServer(sandbox, port=wiki_port, feed=feed) as wiki, forum_server as forum:
        forum_config = {
            "url": forum.url,
            "api_username": forum.api_username,
            "api_key": forum.api_key,
            "webhook_secret": kept_secret(directory / "forum_webhook_secret", 24),
            "connect_secret": kept_secret(directory / "forum_connect_secret", 24),
        }
        service_url = f"http://127.0.0.1:{service_port}"
        assert forum.forum is not None  # started
        open_dashboard_login(forum.forum, forum_config["connect_secret"], service_url)
        config_path = write_config(
            directory, {**sandbox.wiki_config(wiki.url), "feed": feed}, forum_config, service_port
        )
        settings = load_config(config_path)
        migrate.upgrade(settings["store"]["url"])
        seed_once(directory / "seeded", settings, forum.forum, sandbox)
        sync_once(settings)
        hook_forum_to_service(
            ForumClient(settings["forum"]), forum_config["webhook_secret"], service_url
        )
        processes = start_service(config_path, service_port, directory)
        try:
            readiness = wait_until_ready(service_url, processes)
            shown = show_dashboard(service_url, directory / "dashboard.png")
            click.echo(f"wiki:      {wiki.url}/  (accounts: {sandbox.dir / 'sandbox.json'})")
            click.echo(f"forum:     {forum.url}/latest.json  (API key: {config_path})")
            click.echo(
                f"service:   {service_url}/readyz  (gunicorn, {WEB_PROCESSES} web processes, "
                f"pid {processes[0].pid}; worker process `constellate worker`, "
                f"pid {processes[1].pid})"
            )
            click.echo(f"dashboard: {service_url}/dashboard/  ({shown})")
            click.echo(f"config:    {config_path}")
            click.echo(f"readiness: {json.dumps(readiness)}")
            for line in tour_lines(settings, wiki.url, service_url):
                click.echo(line)
            click.echo("Constellate demo is running; press Ctrl-C to stop.")
            wait_for_any(processes)
        finally:
            stop(processes)


def free_udp_port() -> int:
    """A loopback UDP port that was free a moment ago (the feed listener's)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kept_secret(path: Path, size: int) -> str:
    """A random secret made once and kept in ``path``, so restarts reuse it."""
    if not path.exists():
        path.write_text(secrets.token_hex(size))
        path.chmod(0o600)
    return path.read_text().strip()


def hook_forum_to_service(forum: ForumClient, secret: str, service_url: str) -> None:
    """The forum's webhook for every event, signed, to the service (made once). Through
    the forum client, so its requests wait their turn in the forum's 60 a minute."""
    target = f"{service_url}/webhooks/discourse"
    if target not in forum.web_hook_urls():
        forum.create_web_hook(target, secret)


def open_dashboard_login(forum: Forum, connect_secret: str, service_url: str) -> None:
    """The forum vouches for the service's logins (DiscourseConnect provider, with the
    secret for the service's host), and has a moderator to log in as. Written into the
    sandbox's state, as an admin would set it up: the forum's 60 API requests a minute
    are left to the service."""
    host = service_url.split("://", 1)[1].split(":", 1)[0]
    with forum.lock:
        forum.site_settings.update(
            enable_discourse_connect_provider=True,
            discourse_connect_provider_secrets=f"{host}|{connect_secret}",
        )
        user = forum.user_by_username(MODERATOR) or add_user(
            forum,
            MODERATOR,
            name="Demo Moderator",
            email=f"{MODERATOR}@example.net",
            active=True,
            approved=True,
        )
        user["moderator"] = True
    forum.save()


def show_dashboard(service_url: str, screenshot: Path) -> str:
    """Log into the dashboard through the forum in headless Chromium and keep a
    screenshot of the overview; says how to log in, and where the picture is or why
    there is none (the demo runs on without it: the dashboard is there for a person)."""
    how = f"log in through the forum as {MODERATOR}"
    try:
        take_dashboard_screenshot(service_url, screenshot)
    except Exception as exc:  # any browser failure costs only the picture
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        return f"{how}; no screenshot: {reason}"
    return f"{how}; a logged-in screenshot: {screenshot}"


def take_dashboard_screenshot(service_url: str, screenshot: Path) -> None:
    # Playwright is a development dependency: imported here so the demo starts without it.
    from playwright.sync_api import sync_playwright

    screenshot.unlink(missing_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(BROWSER_TIMEOUT_MS)
            answer = page.goto(f"{service_url}/dashboard/")  # its login page, redirected
            if answer is None or answer.status != 200:
                status = answer.status if answer is not None else "nothing"
                raise RuntimeError(f"{service_url}/dashboard/ answered {status}")
            page.get_by_role("link", name="Log in with the forum").click()
            page.get_by_label("User").select_option(MODERATOR)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{service_url}/dashboard/")
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()


def seed_once(marker: Path, settings: dict[str, Any], forum: Forum, wiki: WikiSandbox) -> None:
    """The example partnership, written on the first start only: into the forum sandbox's
    state directly (through its API it would take a thousand of the forum's 60 requests a
    minute) and its wiki history imported into the sandbox wiki."""
    if marker.exists():
        return
    click.echo("Seeding the example partnership into the forum and the wiki...")
    for line in seed_configured(settings, wiki=wiki, now=clock.now(), forum_state=forum):
        click.echo(f"  {line}")
    marker.write_text("seeded\n")


def sync_once(settings: dict[str, Any]) -> None:
    """Bring every partner, constellation and practice page to the forum (and back), read
    the forum's people, their organisations and the partnership's history, and write every
    page's section from it; a restart changes nothing."""
    click.echo(
        "Syncing the service with the wiki and the forum (the forum allows 60 requests a "
        "minute; the first start needs more, so it waits)..."
    )
    store = Store(settings["store"]["url"])
    try:
        click.echo(f"  {sync_partners(store, settings, full=True).headline()}")
        click.echo(f"  {sync_constellations(store, settings, full=True).headline()}")
        click.echo(f"  {sync_practices(store, settings, full=True).headline()}")
        forum, wiki = ForumClient(settings["forum"]), WikiClient(settings["wiki"])
        with store.session() as session:
            linked = link_example_people(session, wiki, forum)
            refresh_affiliations(session, forum)
        click.echo(f"  people: {linked} wiki accounts linked to their forum accounts")
        # The history, credited as the live path would have (a restart finds it done).
        history = run_backfill(store.session, settings, wiki=wiki, forum=forum)
        click.echo(f"  {history.headline()}")
        health = recompute_and_alert(store, settings, forum=forum)
        click.echo(f"  health: {health.scopes} scopes measured, {health.open} alert(s) open")
        with store.session() as session:
            written = refresh_every_section(session, settings, wiki, forum)
        click.echo(f"  sections: {written} wiki pages show what the history brought")
    finally:
        store.dispose()


def link_example_people(session: Session, wiki: WikiClient, forum: ForumClient) -> int:
    """The example's wiki and forum accounts that share a name are one person: the demo's
    moderator knows them and approves those suggestions (a real partnership's moderator
    decides each on the dashboard's People page). Returns how many were linked."""
    suggestions = suggest_links(session, wiki, forum)  # reads the forum's people first
    same_name = [s for s in suggestions if SAME_USERNAME in s.reasons]
    for suggestion in same_name:
        link(session, suggestion.id, MODERATOR)
    return len(same_name)


def tour_lines(settings: dict[str, Any], wiki_url: str, service_url: str) -> list[str]:
    """Where to look first, each with what it shows."""
    store = Store(settings["store"]["url"])
    try:
        with store.session() as session:
            links = {
                link.wiki_title: link
                for link in session.scalars(select(PageTopicLink)).all()
                if link.archived_at is None
            }
    finally:
        store.dispose()
    flood = links[EXAMPLE.constellations[0].name]
    forum_url = str(settings["forum"]["url"]).rstrip("/")
    page = flood.wiki_title.replace(" ", "_")
    board = f"{service_url}/dashboard"
    stops = [
        (f"{wiki_url}/index.php?title={page}",
         "a constellation's wiki page: its charter, the history of who wrote it, and "
         "Constellate's section (discussions, participants, credit, health)"),
        (f"{forum_url}/c/{flood.forum_category_id}.json",
         f"its forum category; the charter topic is /t/{flood.forum_topic_id}.json (the "
         "forum sandbox answers as Discourse's API does)"),
        (f"{board}/",
         "the overview: every constellation's health, open alerts and lead partner"),
        (f"{board}/constellations/{flood.wiki_page_id}",
         "one constellation: figures over time, two-way conversation, who led and when"),
        (f"{board}/people",
         "people ranked by credit from both the wiki and the forum, and link suggestions"),
        (f"{board}/practices",
         "shared practices: who adopted them, where they are used, candidates to promote"),
        (f"{board}/automations",
         "automation rules, with a dry run of what one would do today"),
    ]  # fmt: skip
    lines = ["Take the tour (log in to the dashboard through the forum as moderator):"]
    for number, (url, shows) in enumerate(stops, start=1):
        lines += [f"  {number}. {url}", f"     {shows}"]
    return lines


def write_config(
    directory: Path, wiki: dict[str, Any], forum: dict[str, Any], service_port: int
) -> Path:
    """The demo's TOML configuration; its secrets are kept across restarts."""
    path = directory / "constellate.toml"
    service = {
        "base_url": f"http://127.0.0.1:{service_port}",
        "secret_key": kept_secret(directory / "secret_key", 32),
    }
    store = {"url": f"sqlite:///{(directory / 'constellate.db').resolve()}"}
    sections = {
        "service": service,
        "store": store,
        "wiki": wiki,
        "forum": forum,
        "constellations": {"parent_category": EXAMPLE.parent_category},
        "credits": {"rules_file": str(write_credit_rules(directory / "credit_rules.json"))},
        "health": {"moderators_category": "Staff", "message_lead_group": True},
        "worker": {"embedded": False},  # the worker is a process of its own
        "dashboard": {"secure_cookies": False},  # a local http:// address
    }
    lines: list[str] = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in values.items())
        lines.append("")
    path.write_text("\n".join(lines))
    path.chmod(0o600)
    return path


def start_service(config_path: Path, port: int, directory: Path) -> list[subprocess.Popen[bytes]]:
    """The service as production runs it: gunicorn for the web (the worker apart,
    ``worker.embedded = false``) and one `constellate worker` process."""
    env = {**os.environ, CONFIG_PATH_VAR: str(config_path)}
    metrics = directory / "metrics"  # gunicorn's processes add up their counts here
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir()
    bin_dir = Path(sys.executable).parent
    web = [
        str(bin_dir / "gunicorn"),
        f"--workers={WEB_PROCESSES}",
        *GUNICORN_OPTIONS,
        f"--bind=127.0.0.1:{port}",
        "--no-control-socket",  # nothing here steers it; Ctrl-C and SIGTERM stop it
        "service.wsgi:app",
    ]
    worker = [str(bin_dir / "constellate"), "worker", f"--threads={WORKER_THREADS}"]
    return [
        subprocess.Popen(web, env={**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}),
        subprocess.Popen(worker, env=env),
    ]


def wait_until_ready(base_url: str, processes: list[subprocess.Popen[bytes]]) -> dict[str, Any]:
    deadline = time.monotonic() + READY_WAIT_SECONDS
    last: Any = None
    while time.monotonic() < deadline:
        _check_running(processes)
        try:
            response = requests.get(f"{base_url}/readyz", timeout=10)
        except requests.RequestException as exc:
            last = str(exc)
        else:
            body: dict[str, Any] = response.json()
            if response.ok:
                return body
            last = body
        time.sleep(0.3)
    raise click.ClickException(f"the service did not become ready: {last}")


def wait_for_any(processes: list[subprocess.Popen[bytes]]) -> None:
    """Until one of the service's processes stops (then the demo stops, saying which)."""
    while True:
        _check_running(processes)
        time.sleep(0.5)


def _check_running(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is not None:
            name = Path(str(process.args[0])).name  # type: ignore[index]
            raise click.ClickException(f"{name} stopped with exit code {process.returncode}")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each (gunicorn and the worker finish what they hold), then wait."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
