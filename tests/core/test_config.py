"""Configuration layering, validation messages and masking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.config import MASK, load_config, masked, secret_values
from core.errors import ConfigError

REQUIRED_ENV = {
    "CONSTELLATE_SERVICE_SECRET_KEY": "k" * 40,
    "CONSTELLATE_WIKI_URL": "http://wiki.example.org",
    "CONSTELLATE_WIKI_USERNAME": "Bot@constellate",
    "CONSTELLATE_WIKI_PASSWORD": "bot-password-1234",
}


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "constellate.toml"
    path.write_text(text)
    return path


def test_defaults_then_file_then_environment(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        '[wiki]\ntimeout = 12\nmaxlag = 3\nscript_path = "/w/"\n[service]\nlog_level = "DEBUG"\n',
    )
    env = {**REQUIRED_ENV, "CONSTELLATE_WIKI_MAXLAG": "7"}
    settings = load_config(path, environ=env)
    assert settings["wiki"]["max_retries"] == 5  # default
    assert settings["wiki"]["timeout"] == 12  # file over default
    assert settings["wiki"]["maxlag"] == 7  # environment over file
    assert settings["service"]["log_level"] == "DEBUG"


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[wiki]\ntimeout = 9\n")
    settings = load_config(environ={**REQUIRED_ENV, "CONSTELLATE_CONFIG": str(path)})
    assert settings["wiki"]["timeout"] == 9


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "service.secret_key: missing; expected a string of at least 32 characters"),
        (
            {"CONSTELLATE_WIKI_TIMEOUT": "-1"},
            "wiki.timeout: -1.0 is not valid; expected a number > 0",
        ),
        ({"CONSTELLATE_WIKI_MAXLAG": "soon"}, "CONSTELLATE_WIKI_MAXLAG: 'soon' is not an integer"),
        (
            {"CONSTELLATE_HEALTH_EDGE_ANSWER_HOURS": "0"},
            "health.edge_answer_hours: 0 is not valid; expected a",
        ),
        (
            {"CONSTELLATE_SERVICE_LOG_LEVEL": "LOUD"},
            "service.log_level: 'LOUD' is not valid; expected one of DEBUG",
        ),
        ({"CONSTELLATE_WIKI_URL": "wiki.example.org"}, "wiki.url: 'wiki.example.org' is not valid"),
        (
            {"CONSTELLATE_WIKI_SHOE_SIZE": "4"},
            "CONSTELLATE_WIKI_SHOE_SIZE: not a Constellate setting",
        ),
        (
            {"CONSTELLATE_STORE_URL": "mysql://u:hunter22@db/x"},
            "store.url: 'mysql://u:********@db/x'",
        ),
        (
            {"CONSTELLATE_WIKI_FEED": "udp://127.0.0.1"},
            "wiki.feed: 'udp://127.0.0.1' is not valid; expected a string (where this service"
            " hears the wiki's recent-changes feed",
        ),
        (
            {"CONSTELLATE_WIKI_FEED": "redis://:hunter22@127.0.0.1:6379"},  # no channel
            "wiki.feed: 'redis://:********@127.0.0.1:6379' is not valid",
        ),
        (
            {"CONSTELLATE_WIKI_FEED": "udp://127.0.0.1:99999"},
            "wiki.feed: 'udp://127.0.0.1:99999' names no valid port (0 to 65535)",
        ),
    ],
)
def test_invalid_value_names_the_key(env: dict[str, str], message: str) -> None:
    base = REQUIRED_ENV if env else {}
    with pytest.raises(ConfigError) as caught:
        load_config(environ={**base, **env})
    text = str(caught.value)
    assert text.startswith(message)
    assert "\n" not in text
    assert "hunter22" not in text


@pytest.mark.parametrize(
    "feed", ["", "udp://127.0.0.1:9390", "redis://:secret@queue.internal:6379/constellate-rc"]
)
def test_the_wiki_feed_is_off_a_udp_address_or_a_redis_channel(feed: str) -> None:
    assert (
        load_config(environ={**REQUIRED_ENV, "CONSTELLATE_WIKI_FEED": feed})["wiki"]["feed"] == feed
    )


def test_unknown_key_in_file_is_refused(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[wiki]\ntimout = 3\n")
    with pytest.raises(ConfigError, match="wiki: Additional properties are not allowed"):
        load_config(path, environ=REQUIRED_ENV)


def test_broken_or_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"constellate.toml: not valid TOML"):
        load_config(write_toml(tmp_path, "[wiki\n"), environ=REQUIRED_ENV)
    with pytest.raises(ConfigError, match=r"nowhere.toml: not found"):
        load_config(tmp_path / "nowhere.toml", environ=REQUIRED_ENV)


def test_masked_hides_secrets_and_url_passwords() -> None:
    env = {
        **REQUIRED_ENV,
        "CONSTELLATE_STORE_URL": "postgresql+psycopg://app:pg-secret-9@db.internal/constellate",
        "CONSTELLATE_FORUM_API_KEY": "forum-key-abcdef",
    }
    settings = load_config(environ=env)
    shown: dict[str, Any] = masked(settings)
    assert shown["service"]["secret_key"] == MASK
    assert shown["wiki"]["password"] == MASK
    assert shown["forum"]["api_key"] == MASK
    assert shown["store"]["url"] == f"postgresql+psycopg://app:{MASK}@db.internal/constellate"
    assert shown["wiki"]["username"] == "Bot@constellate"
    assert settings["wiki"]["password"] == "bot-password-1234"  # the original is untouched
    assert {"pg-secret-9", "forum-key-abcdef", "bot-password-1234"} <= secret_values(settings)


def test_secrets_inside_lists_are_masked_and_lists_come_from_json_variables() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    subscriptions = (
        f'[{{"url": "https://hooks.example.org/in", "secret": "{secret}", "events": ["forum.*"]}}]'
    )
    settings = load_config(
        environ={**REQUIRED_ENV, "CONSTELLATE_OUTGOING_SUBSCRIPTIONS": subscriptions}
    )
    assert settings["outgoing"]["subscriptions"][0]["secret"] == secret
    shown = masked(settings)["outgoing"]["subscriptions"][0]
    assert shown == {"url": "https://hooks.example.org/in", "secret": MASK, "events": ["forum.*"]}
    assert secret in secret_values(settings)
    with pytest.raises(ConfigError, match="CONSTELLATE_OUTGOING_SUBSCRIPTIONS: not valid JSON"):
        load_config(environ={**REQUIRED_ENV, "CONSTELLATE_OUTGOING_SUBSCRIPTIONS": "[{"})
    impossible = subscriptions.replace(secret, "whsec_" + "A" * 33)
    with pytest.raises(ConfigError, match=r"^outgoing.subscriptions.0.secret: .* valid whsec_"):
        load_config(environ={**REQUIRED_ENV, "CONSTELLATE_OUTGOING_SUBSCRIPTIONS": impossible})
    with pytest.raises(ConfigError, match=r"^outgoing.subscriptions.0.secret: \*\*\*\*\*\*\*\* is"):
        load_config(
            environ={
                **REQUIRED_ENV,
                "CONSTELLATE_OUTGOING_SUBSCRIPTIONS": subscriptions.replace(secret, "plain"),
            }
        )
