"""The local demo: a real MediaWiki, the forum sandbox and the service, configured for
each other and seeded with the example partnership.

Later capabilities add the dashboard here.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
import requests

from community.activity import record_history
from community.credits.people import refresh_forum_people
from community.health.runs import recompute_and_alert
from community.practices.registry import sync_practices
from community.sync import sync_constellations
from connectors.discourse import ForumClient
from core import migrate
from core.config import CONFIG_PATH_VAR, load_config
from core.store import Store
from sandbox.example import EXAMPLE, write_credit_rules
from sandbox.forum.server import ForumServer
from sandbox.seeding import seed_configured
from sandbox.wiki import WikiServer, ensure_packages, install

READY_WAIT_SECONDS = 60
# Seeding makes about a thousand API calls; Discourse's default of 60 a minute would
# take a quarter of an hour (a real forum raises max_admin_api_reqs_per_minute too).
DEMO_FORUM_RATE_LIMIT = 6000


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
        rate_limit_per_minute=DEMO_FORUM_RATE_LIMIT,
    )
    with WikiServer(sandbox, port=wiki_port) as wiki, forum_server as forum:
        forum_config = {
            "url": forum.url,
            "api_username": forum.api_username,
            "api_key": forum.api_key,
            "webhook_secret": kept_secret(directory / "forum_webhook_secret", 24),
        }
        config_path = write_config(
            directory, sandbox.wiki_config(wiki.url), forum_config, service_port
        )
        settings = load_config(config_path)
        migrate.upgrade(settings["store"]["url"])
        seed_once(directory / "seeded", settings)
        sync_once(settings)
        hook_forum_to_service(forum_config, f"http://127.0.0.1:{service_port}")
        service = start_service(config_path, service_port)
        try:
            readiness = wait_until_ready(f"http://127.0.0.1:{service_port}", service)
            click.echo(f"wiki:      {wiki.url}/  (accounts: {sandbox.dir / 'sandbox.json'})")
            click.echo(f"forum:     {forum.url}/latest.json  (API key: {config_path})")
            click.echo(f"service:   http://127.0.0.1:{service_port}/readyz")
            click.echo(f"config:    {config_path}")
            click.echo(f"readiness: {json.dumps(readiness)}")
            click.echo("Constellate demo is running; press Ctrl-C to stop.")
            service.wait()
            raise click.ClickException(f"the service stopped with exit code {service.returncode}")
        finally:
            stop(service)


def kept_secret(path: Path, size: int) -> str:
    """A random secret made once and kept in ``path``, so restarts reuse it."""
    if not path.exists():
        path.write_text(secrets.token_hex(size))
        path.chmod(0o600)
    return path.read_text().strip()


def hook_forum_to_service(forum: dict[str, Any], service_url: str) -> None:
    """The forum's webhook for every event, signed, to the service (made once)."""
    admin = {"Api-Key": forum["api_key"], "Api-Username": forum["api_username"]}
    target = f"{service_url}/webhooks/discourse"
    hooks = requests.get(f"{forum['url']}/admin/api/web_hooks.json", headers=admin, timeout=10)
    hooks.raise_for_status()
    if any(hook["payload_url"] == target for hook in hooks.json()["web_hooks"]):
        return
    made = requests.post(
        f"{forum['url']}/admin/api/web_hooks.json",
        headers=admin,
        data={
            "web_hook[payload_url]": target,
            "web_hook[secret]": forum["webhook_secret"],
            "web_hook[content_type]": "1",
            "web_hook[wildcard_web_hook]": "true",
            "web_hook[active]": "true",
        },
        timeout=10,
    )
    made.raise_for_status()


def seed_once(marker: Path, settings: dict[str, Any]) -> None:
    """The example partnership, written on the first start only (it takes a while)."""
    if marker.exists():
        return
    click.echo("Seeding the example partnership into the forum and the wiki...")
    for line in seed_configured(settings):
        click.echo(f"  {line}")
    marker.write_text("seeded\n")


def sync_once(settings: dict[str, Any]) -> None:
    """Bring every constellation and practice page to the forum (and back), and read the
    forum's people and their organisations; a restart changes nothing."""
    store = Store(settings["store"]["url"])
    try:
        click.echo(f"  {sync_constellations(store, settings, full=True).headline()}")
        click.echo(f"  {sync_practices(store, settings, full=True).headline()}")
        forum = ForumClient(settings["forum"])
        with store.session() as session:
            people = refresh_forum_people(session, forum)
            posts = record_history(session, forum)
        click.echo(f"  people: {people} forum accounts read; {posts} forum posts of history")
        health = recompute_and_alert(store, settings, forum=forum)
        click.echo(f"  health: {health.scopes} scopes measured, {health.open} alert(s) open")
    finally:
        store.dispose()


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
    }
    lines: list[str] = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in values.items())
        lines.append("")
    path.write_text("\n".join(lines))
    path.chmod(0o600)
    return path


def start_service(config_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, CONFIG_PATH_VAR: str(config_path)}
    command = [sys.executable, "-m", "core.cli", "serve", "--port", str(port)]
    return subprocess.Popen(command, env=env)


def wait_until_ready(base_url: str, service: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + READY_WAIT_SECONDS
    last: Any = None
    while time.monotonic() < deadline:
        if service.poll() is not None:
            raise click.ClickException(f"the service stopped with exit code {service.returncode}")
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


def stop(service: subprocess.Popen[bytes]) -> None:
    if service.poll() is None:
        service.terminate()
        try:
            service.wait(timeout=10)
        except subprocess.TimeoutExpired:
            service.kill()
