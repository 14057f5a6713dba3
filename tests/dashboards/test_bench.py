"""The dashboard benchmark keeps working (at a tiny size): its store holds what every page
reads, every page and API route answers 200 from it, and a second run reuses it."""

from __future__ import annotations

from pathlib import Path

from bench import dashboard
from bench.dashboard_data import HISTORY_DAYS, build
from bench.health_data import Shape
from core.store import get_store

POSTS = 2_000


def test_the_benchmark_renders_every_route_from_its_store(tmp_path: Path) -> None:
    printed: list[str] = []
    shape = Shape.for_posts(POSTS)

    result = dashboard.run(shape, cache=tmp_path, runs=2, warmup=0, echo=printed.append)

    assert not result.built.reused
    assert result.reference.status == {200} and result.reference.path == "/dashboard/login"
    answers = {timing.path: timing.status for timing in result.timings}
    assert answers == {path: {200} for path in answers}
    assert len(answers) == 31 and all(len(t.ms) == 2 for t in result.timings)
    assert "/dashboard/people/None" not in answers  # the ids were found in the store
    counts = result.built.counts
    assert counts["posts"] == POSTS
    assert counts["health_snapshots"] == shape.constellations * 3 * HISTORY_DAYS
    assert all(value > 0 for value in counts.values()), counts
    assert printed[0] == f"dashboard: a store with {POSTS:,} forum posts (cache {tmp_path})"
    assert any(line.strip().startswith("route ") and "p95/budget" in line for line in printed)

    again = build(tmp_path, shape)
    assert again.reused and again.counts == counts


def test_the_pages_read_what_the_benchmark_wrote(tmp_path: Path) -> None:
    built = build(tmp_path, Shape.for_posts(POSTS))
    app = dashboard.make_app(built.url)
    client = app.test_client()
    dashboard.log_in(client)
    try:
        constellations = client.get("/api/v1/constellations").get_json()
        people = client.get("/api/v1/people").get_json()
        outgoing = client.get("/api/v1/webhooks/outgoing").get_json()
        runs = client.get("/api/v1/automations/runs").get_json()
        sync = client.get("/api/v1/sync").get_json()
    finally:
        get_store(app).dispose()
    assert constellations["total"] == 50
    assert all(row["health"] is not None for row in constellations["constellations"])
    assert len(people["people"]) == 50 and people["people"][0]["total"] > 0
    assert len(outgoing["messages"]) == 50
    assert all(m["delivery_attempts"] for m in outgoing["messages"] if m["attempts"])
    assert len(runs["runs"]) == 50 and runs["next_page"] == 2
    assert len(sync["runs"]) == 50 and sync["open_issue_total"] == 60
    assert {c["name"] for c in sync["cursors"] if c["position_at"]} == {
        "wiki.recentchanges",
        "forum.latest_posts",
    }
