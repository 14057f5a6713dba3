"""The wiki connector counts the maxlag waits it sits out (core.telemetry), with mwclient's
own retry sleeps recorded instead of slept."""

from __future__ import annotations

from types import SimpleNamespace

import mwclient.sleep
import pytest

from core import telemetry
from core.errors import Unavailable
from tests.conftest import SessionWiki


def local(name: str, **labels: str) -> float:
    return telemetry.LOCAL.get_sample_value(name, labels) or 0.0


def test_wiki_maxlag_waits_are_counted(wiki: SessionWiki, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(mwclient.sleep, "time", SimpleNamespace(sleep=slept.append))
    waits = local("constellate_rate_limit_waits_total", platform="wiki")
    seconds = local("constellate_rate_limit_wait_seconds_total", platform="wiki")
    # This wiki has no replicas and reports a lag of -1, so maxlag=-2 is always exceeded.
    client = wiki.bot(maxlag=-2, max_retries=3, retry_wait=5)
    with pytest.raises(Unavailable):
        client.read_pages(["Main Page"])
    assert slept == [5, 5, 10]
    assert local("constellate_rate_limit_waits_total", platform="wiki") == waits + 3
    assert local("constellate_rate_limit_wait_seconds_total", platform="wiki") == seconds + 20
