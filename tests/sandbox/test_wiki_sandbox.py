"""The sandbox wiki: installed once, accounts and templates in place, served on any port."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

import sandbox.wiki as sandbox_wiki
from sandbox.wiki import SandboxError, WikiServer, ensure_packages, install
from tests.conftest import SessionWiki


def api_get(url: str, **params: Any) -> dict[str, Any]:
    params = {"action": "query", **params, "format": "json", "formatversion": 2}
    answer: dict[str, Any] = requests.get(f"{url}/api.php", params=params, timeout=10).json()
    return answer


def forbid_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the sandbox tries to run any command (installer, apt-get, php)."""

    def refuse(command: list[str], **_kwargs: Any) -> str:
        raise AssertionError(f"ran {command}")

    monkeypatch.setattr(sandbox_wiki, "_run", refuse)


def test_installing_again_returns_the_same_wiki_without_touching_it(
    wiki: SessionWiki, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = wiki.sandbox.settings_file
    before = settings.stat().st_mtime_ns
    forbid_commands(monkeypatch)
    again = install(wiki.sandbox.dir)
    assert again == wiki.sandbox
    assert settings.stat().st_mtime_ns == before


def test_a_wiki_installed_before_the_feed_existed_gets_its_settings_once(
    wiki: SessionWiki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LocalSettings.php", "sandbox.json"):
        (tmp_path / name).write_text((wiki.sandbox.dir / name).read_text())
    settings = tmp_path / "LocalSettings.php"
    before_feed = settings.read_text().split(sandbox_wiki.FEED_MARKER)[0]
    settings.write_text(before_feed)
    forbid_commands(monkeypatch)

    install(tmp_path)
    install(tmp_path)

    text = settings.read_text()
    assert text.startswith(before_feed) and text.count(sandbox_wiki.FEED_MARKER) == 1
    assert "$wgRCFeeds['constellate']" in text and "JSONRCFeedFormatter" in text


def test_the_state_file_records_every_account_and_is_private(wiki: SessionWiki) -> None:
    state = wiki.sandbox.dir / "sandbox.json"
    assert state.stat().st_mode & 0o777 == 0o600
    record = json.loads(state.read_text())
    assert record["bot_username"] == "ConstellateBot@constellate"
    assert len(record["bot_password"]) == 32
    for account in ("admin", "human", "newbie"):
        assert record[f"{account}_username"] and len(record[f"{account}_password"]) >= 20
    assert len({record[f"{a}_password"] for a in ("admin", "bot", "human", "newbie")}) == 4


def test_the_wiki_config_is_the_bot_section_of_the_configuration(wiki: SessionWiki) -> None:
    assert wiki.sandbox.wiki_config("http://127.0.0.1:8080/") == {
        "url": "http://127.0.0.1:8080",
        "script_path": "/",
        "username": "ConstellateBot@constellate",
        "password": wiki.sandbox.bot_password,
        "timeout": 30,
        "maxlag": 5,
        "max_retries": 5,
        "retry_wait": 5,
        "user_agent": "Constellate/0.1 (sandbox)",
    }


def test_accounts_have_the_rights_the_tests_rely_on(wiki: SessionWiki) -> None:
    sandbox = wiki.sandbox
    names = [sandbox.bot_account, sandbox.human_username, sandbox.newbie_username]
    users = api_get(wiki.url, list="users", ususers="|".join(names), usprop="groups|rights")
    by_name = {user["name"]: user for user in users["query"]["users"]}
    bot, human, newbie = (by_name[name] for name in names)
    assert "bot" in bot["groups"] and "noratelimit" in bot["rights"]
    assert "editprotected" not in bot["rights"]
    assert "autoconfirmed" in human["rights"]  # not a newbie: no per-IP newbie limits
    assert "autoconfirmed" not in newbie["rights"] and "bot" not in newbie["groups"]


def test_the_templates_render_and_categorise_their_pages(wiki: SessionWiki) -> None:
    bot = wiki.bot()
    templates = bot.read_pages(["Template:Constellation", "Template:Practice"])
    fields = {
        "Template:Constellation": "goal lead_partner partners stewards status started "
        "term_end beat forum_category",
        "Template:Practice": "summary originating_organisation adopted_by related_constellations",
    }
    for name, expected in fields.items():
        assert all("{{{" + field in templates[name].text for field in expected.split())
    constellation, practice = wiki.title("Food data"), wiki.title("Weekly win")
    bot.edit(
        constellation, "{{Constellation|goal=Share data|status=active}}", summary="t", mode="any"
    )
    bot.edit(practice, "{{Practice|summary=One win a week}}", summary="t", mode="any")
    for category, title in (("Constellations", constellation), ("Practices", practice)):
        # Ask the page for its categories: exact however many pages the category holds.
        answer = api_get(wiki.url, prop="categories", titles=title)
        [page] = answer["query"]["pages"]
        assert f"Category:{category}" in [c["title"] for c in page.get("categories", [])]
    html = api_get(wiki.url, action="parse", page=constellation, prop="text")
    assert "Share data" in html["parse"]["text"] and "active" in html["parse"]["text"]


def test_the_same_folder_serves_on_another_port_at_the_same_time(wiki: SessionWiki) -> None:
    with WikiServer(wiki.sandbox) as other:
        assert other.port != wiki.server.port
        general = api_get(other.url, action="query", meta="siteinfo")["query"]["general"]
        assert general["server"] == other.url  # $wgServer follows the server starter
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{other.url}/api.php", timeout=2)


def test_a_port_in_use_stops_the_start_with_the_server_log(wiki: SessionWiki) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        server = WikiServer(wiki.sandbox, port=taken.getsockname()[1])
        with pytest.raises(SandboxError, match=r"(?s)exited with code .*Address already in use"):
            server.start()
        assert not server.running


def test_serve_prints_where_the_wiki_is_and_stops_cleanly_on_sigterm(wiki: SessionWiki) -> None:
    port = sandbox_wiki.free_port()
    code = f"from sandbox.wiki import serve; serve({str(wiki.sandbox.dir)!r}, {port})"
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(5)]
        assert lines[0].strip() == f"wiki:     http://127.0.0.1:{port}/"
        assert wiki.sandbox.bot_password in "".join(lines)
        assert api_get(f"http://127.0.0.1:{port}", action="query", meta="siteinfo")["query"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/api.php", timeout=2)


def test_a_half_finished_install_is_started_over(tmp_path: Path) -> None:
    (tmp_path / "LocalSettings.php").write_text("<?php // left by an interrupted install\n")
    (tmp_path / "data").mkdir()
    sandbox = install(tmp_path)
    assert (tmp_path / "sandbox.json").is_file()
    assert "Constellate sandbox" in sandbox.settings_file.read_text()
    assert sandbox.run_maintenance("getText.php", "Template:Practice").startswith("<noinclude>")


def test_packages_present_means_nothing_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_commands(monkeypatch)
    ensure_packages()  # everything is installed here, so apt-get must not run


def test_missing_packages_without_root_say_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A machine without the packages cannot be had here; pretend they are missing.
    monkeypatch.setattr(sandbox_wiki, "_packages_present", lambda: False)
    monkeypatch.setattr(sandbox_wiki.os, "geteuid", lambda: 1000)
    with pytest.raises(SandboxError, match=r"apt-get install .*mediawiki php-cli php-sqlite3"):
        ensure_packages()
