"""The constellation sync benchmark keeps working (at a tiny size)."""

from __future__ import annotations

from bench import constellation_sync


def test_the_benchmark_runs_at_five_pages() -> None:
    printed: list[str] = []

    result = constellation_sync.run(5, echo=printed.append)

    assert result.initial.summary.created == 5
    assert result.resync.summary.unchanged == 5
    assert result.resync.wiki.writes() == result.resync.forum.writes() == 0
    assert result.resync_goal == 3 and result.goal_met  # ceil(5/500) + 2, no forum request
    assert result.read_requests == result.minimum_reads == 1
    assert result.pywikibot["pages"] == 5
    assert printed[0].startswith("constellation_sync: 5 pages")
    assert any("ratio ours/pywikibot" in line for line in printed)
    assert any(line.strip().startswith("goal: no-change resync") for line in printed)
