"""A small partnership written into a migrated store with the domain's own functions, and
its health computed by the real health run on three days, for the Overview tests.

Flood Wardens (page 101, category 11, weekly beat), as of ``NOW``:

- topic 1 by alice (Riverlands Water Trust) 10 days ago; bob (City Lab) replies after
  2 h, alice comes back after 3 h;
- topic 2 by carol (no organisation) 5 days ago: never answered;
- topic 3 by bob 3 days ago; the gauge bot answers after 1 h (not counted), alice after
  5 h with her second forum account (linked to her, so still one person);
- a deleted reply by dave 2 days ago (not counted), and erin's topic 40 days ago.

So over the 30 days to ``NOW``: 3 topics, first replies after 2 h and 5 h (median 2 h),
1 of 3 unanswered within 48 h, 1 of 2 answered topics two-way, 3 participants, 6 posts.

Cool Spaces (page 102, category 12) has no posts, so the "quiet" alert is raised on it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from community.activity import upsert_post
from community.constellations.charter import Charter, charter_record
from community.constellations.leadership import LeadershipChange
from community.constellations.models import PageTopicLink, record_issue, resolve_issues
from community.constellations.sync_runs import scope_of, start_run
from community.credits.models import Person
from community.credits.people import ensure_account
from community.health.runs import recompute_everything
from community.partners.models import Partner
from core.config import Settings
from core.store import Store

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
FLOOD, COOL = 101, 102
FLOOD_CATEGORY, COOL_CATEGORY = 11, 12
RIVERLANDS = "Riverlands Water Trust"
HOSTILE_GOAL = "Keep <b>feet</b> dry & <script>alert('goal')</script>"
FORUM_TEXT = "Charter\n\n<script>alert('forum')</script> edited by hand"


def add_constellation(
    session: Session,
    page_id: int,
    category_id: int,
    title: str,
    *,
    lead: str,
    partners: tuple[str, ...],
    beat: str = "weekly",
    status: str = "active",
    goal: str = "A goal outside the partnership",
    forum_text: str | None = None,
) -> None:
    """A constellation as the sync leaves it: its link with the charter last synced."""
    charter = Charter(
        title=title,
        goal=goal,
        lead_partner=lead,
        partners=partners,
        stewards=("alice",),
        status=status,
        started=None,
        term_end=None,
        beat=beat,
        forum_category=title,
    )
    session.add(
        PageTopicLink(
            wiki_page_id=page_id,
            wiki_title=title,
            external_id=f"wiki-{page_id}",
            forum_category_id=category_id,
            forum_topic_id=page_id * 10,
            forum_post_id=page_id * 100,
            synced_text=forum_text or f"Charter of {title}",
            category_name=title,
            charter_status=status,
            charter=charter_record(charter),
        )
    )
    session.flush()


def post(
    session: Session,
    post_id: int,
    topic_id: int,
    number: int,
    username: str,
    at: datetime,
    *,
    category_id: int = FLOOD_CATEGORY,
    deleted: bool = False,
) -> None:
    """A forum post as the activity handlers record it."""
    upsert_post(
        session,
        {
            "post_id": post_id,
            "topic_id": topic_id,
            "category_id": category_id,
            "username": username,
            "post_number": number,
            "reply_to_post_number": None,
            "created_at": at,
            "updated_at": at,
            "deleted": deleted,
            "post_type": 1,
            "hidden": False,
            "private": False,
        },
    )


def add_people(session: Session) -> None:
    session.add_all(
        [
            Partner(group_name="water-trust", name=RIVERLANDS),
            Partner(group_name="city-lab", name="City Lab"),
        ]
    )
    organisations = {"alice": "water-trust", "bob": "City Lab", "erin": "city-lab"}
    for name in ("alice", "bob", "carol", "dave", "erin", "gaugebot"):
        account = ensure_account(session, "forum", name)
        person = session.get(Person, account.person_id)
        assert person is not None
        person.organisation = organisations.get(name)
        account.is_bot = name == "gaugebot"
    alice = ensure_account(session, "forum", "alice")
    second = ensure_account(session, "forum", "alice_field")
    second.person_id = alice.person_id  # a moderator linked her second account
    session.flush()


def add_posts(session: Session) -> None:
    t1, t2, t3 = NOW - 10 * DAY, NOW - 5 * DAY, NOW - 3 * DAY
    post(session, 1, 1, 1, "alice", t1)
    post(session, 2, 1, 2, "bob", t1 + 2 * HOUR)
    post(session, 3, 1, 3, "alice", t1 + 3 * HOUR)
    post(session, 4, 2, 1, "carol", t2)
    post(session, 5, 3, 1, "bob", t3)
    post(session, 6, 3, 2, "gaugebot", t3 + HOUR)
    post(session, 7, 3, 3, "alice_field", t3 + 5 * HOUR)
    post(session, 8, 3, 4, "dave", NOW - 2 * DAY, deleted=True)
    post(session, 9, 4, 1, "erin", NOW - 40 * DAY)


def add_leadership(session: Session) -> None:
    """City Lab led first, then Riverlands; later Tree Guild joined under the same lead."""
    first = ["Riverlands Water Trust", "City Lab"]
    session.add_all(
        [
            LeadershipChange(
                wiki_page_id=FLOOD,
                revid=11,
                timestamp=NOW - 200 * DAY,
                user="Alice",
                lead_partner="City Lab",
                partners=first,
                previous_lead=None,
                previous_partners=None,
            ),
            LeadershipChange(
                wiki_page_id=FLOOD,
                revid=15,
                timestamp=NOW - 100 * DAY,
                user="Bob",
                lead_partner=RIVERLANDS,
                partners=first,
                previous_lead="City Lab",
                previous_partners=first,
            ),
            LeadershipChange(
                wiki_page_id=FLOOD,
                revid=19,
                timestamp=NOW - 50 * DAY,
                user="Alice",
                lead_partner=RIVERLANDS,
                partners=[*first, "Tree Guild"],
                previous_lead=RIVERLANDS,
                previous_partners=first,
            ),
        ]
    )


def add_issues(session: Session) -> None:
    record_issue(
        session,
        kind="conflict",
        wiki_title="Flood Wardens",
        field="charter_post",
        detail="the charter post was edited on the forum and the edit collides with the wiki's",
        wiki_page_id=FLOOD,
        forum_post_id=FLOOD * 100,
    )
    record_issue(
        session,
        kind="conflict",
        wiki_title="Flood Wardens",
        field="forum_category",
        detail="forum category 'Flood Wardens': it already belongs to another constellation",
        wiki_page_id=FLOOD,
    )
    record_issue(session, kind="malformed", wiki_title="Flood Wardens", detail="fixed since")
    resolve_issues(session, kind="malformed", wiki_title="Flood Wardens")
    record_issue(
        session, kind="error", wiki_title="Cool Spaces", detail="not ours", wiki_page_id=COOL
    )


def add_runs(store: Store) -> None:
    """Sync runs, oldest first: a full reconcile; one of Flood Wardens that failed (its
    last); one of Cool Spaces alone; one of Flood Wardens still running."""
    start_run(store, trigger="schedule", scope=scope_of(None, True)).finish({})
    mine = start_run(store, trigger="dashboard", scope=scope_of(["Flood Wardens"], False))
    mine.finish({}, error="the forum did not answer")
    start_run(store, trigger="command", scope=scope_of(["Cool Spaces"], False)).finish({})
    start_run(store, trigger="event", scope=scope_of(["Flood Wardens"], False))


def build(store: Store, settings: Settings, **flood: Any) -> None:
    """The partnership, and health computed two days ago, yesterday and at ``NOW``."""
    with store.session() as session:
        add_people(session)
        add_constellation(
            session,
            FLOOD,
            FLOOD_CATEGORY,
            "Flood Wardens",
            lead=RIVERLANDS,
            partners=(RIVERLANDS, "City Lab", "Tree Guild"),
            goal=HOSTILE_GOAL,
            forum_text=FORUM_TEXT,
            **flood,
        )
        add_constellation(
            session,
            COOL,
            COOL_CATEGORY,
            "Cool Spaces",
            lead="City Lab",
            partners=("City Lab",),
            beat="monthly",
        )
        add_posts(session)
        add_leadership(session)
        add_issues(session)
    add_runs(store)
    for when in (NOW - 2 * DAY, NOW - DAY, NOW):
        with store.session() as session:
            recompute_everything(session, settings, now=when)
