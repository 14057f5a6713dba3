"""A deterministic plan of the example partnership's forum conversations (no I/O).

Timing follows what partnerships look like: topics over the last ~90 days in working
hours, replies minutes to days apart, opening posters coming back after an answer,
regular check-ins at each constellation's beat answered from the edge or not at all (none
lately for a dormant one, only recent ones for a forming one), a few unanswered questions,
newcomers' first posts (some answered, some not), a bot posting gauge readings
nobody answers, cross-organisation replies, likes and accepted solutions.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from community.constellations.charter import BEAT_DAYS
from sandbox.example_data import Constellation, Partnership, Person

SEED = 20260301
HISTORY_DAYS = 88
DISCUSSIONS_PER_CONSTELLATION = 11
PLACES = (
    "Mill Lane", "Ferry Row", "Wharf Street", "Kiln Close", "Osier Walk", "Tanners Yard",
    "Coldharbour Road", "Weir Cottages", "Eel Pie Terrace", "Brook Meadow", "the Lower Green",
)  # fmt: skip
SUBJECT_PRACTICE = {
    "street flood plans": "Street Flood Plan",
    "heat buddy calls": "Heat Buddy Calls",
    "rain gardens": "Rain Garden Build Day",
    "cover crops": "Cover Crop Trial Log",
    "draught-proofing": "Draught-Proofing Workshop",
    "opening hours": "Warm Welcome Checklist",
}
QUESTION_TITLES = (
    "How are others handling {subject} around {place}?",
    "Question about {subject} for {place}",
    "Has anyone tried a new approach to {subject} near {place}?",
)
UPDATE_TITLES = (
    "Update on {subject} at {place}",
    "Notes from our {subject} session at {place}",
    "Proposal: pool our {subject} work with {org}",
)
OPENINGS = (
    "We have been looking at {subject} around {place} since {month}.",
    "Following last week's meeting I promised to write up where we are with {subject}.",
    "A resident on {place} asked us about {subject} and I realised we never agreed an answer.",
)
MIDDLES = (
    "So far {n} households have been involved and two more streets have asked to join.",
    "The hardest part has been finding a time that suits both the day staff and volunteers.",
    "We borrowed the approach from {org}, which saved us a lot of trial and error.",
    "Costs are small, about {n} pounds so far, mostly for printing and refreshments.",
)
CLOSINGS_QUESTION = (
    "What would you do differently? Any pitfalls we should know about?",
    "Could someone who has done this before share what worked?",
)
CLOSINGS_UPDATE = (
    "Happy to walk anyone through it at the next meet-up.",
    "Comments welcome before we share it more widely.",
)
REPLIES = (
    "Thanks {first}, this is really useful. At {org} we found that {detail}.",
    "We ran into the same thing on {place}. In the end {detail}.",
    "I can bring this to our team meeting on {weekday} and report back here.",
    "+1 to this. One thing to watch: {detail}.",
    "Good question. Our experience at {org} was that {detail}.",
    "I have a contact who did exactly this last winter; I will ask if they can join the thread.",
    "Could we put this on the agenda for the next check-in, {first}?",
)
DETAILS = (
    "a named person per street matters more than the written plan",
    "people respond far better to a phone call than to a leaflet",
    "we needed to book the hall at least three weeks ahead",
    "the council's insurance already covers volunteers doing this",
    "it took two rounds before neighbours trusted the sign-up sheet",
    "short written checklists beat long guidance every time",
    "pairing a newcomer with an old hand kept them coming back",
    "the first session should be outdoors if the weather allows",
)
FOLLOW_UPS = (
    "Let me know if a call would be easier.",
    "I will put the notes in the shared folder tonight.",
    "Our volunteers would be glad to help on a weekend.",
    "It might be worth asking the other partners too.",
    "We still have spare leaflets from the spring if useful.",
    "Happy to pair up with someone on this.",
    "Sorry for the slow reply, it has been a busy fortnight.",
    "No rush on this, after the half-term break is fine.",
)
# The opening poster coming back after an answer: what makes a conversation two-way.
RETURNS = (
    "Thanks {first}, that helps. We will try it on {place} and report back.",
    "That is what I was missing, {first}. Could you share the checklist you used?",
    "Good point about {detail}; we had not thought of that.",
    "Update: we tried this last week and it worked. Thanks all.",
    "Thanks, {first}. One follow-up: how did you find volunteers for it?",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


@dataclass(frozen=True)
class PlannedReply:
    author: str
    raw: str
    created_at: datetime
    reply_to_post_number: int | None = None


@dataclass(frozen=True)
class PlannedTopic:
    external_id: str  # ≤ 50 characters of [\w-]
    constellation: str
    author: str
    title: str
    raw: str
    created_at: datetime
    tags: tuple[str, ...] = ()
    replies: tuple[PlannedReply, ...] = ()
    likes: tuple[tuple[int, str], ...] = ()  # (post index: 0 = first post, liker)
    solution: int | None = None  # index into replies of the accepted answer
    kind: str = "discussion"  # discussion | check-in | newcomer | bot


def plan_conversations(data: Partnership, now: datetime, seed: int = SEED) -> list[PlannedTopic]:
    """Every topic to seed, sorted by creation time; the same for the same data and seed."""
    writer = _Writer(data, now, random.Random(seed))  # noqa: S311 (invented data, not secrets)
    topics: list[PlannedTopic] = []
    for constellation in data.constellations:
        topics.extend(writer.discussions(constellation))
        topics.extend(writer.check_ins(constellation))
    topics.extend(writer.newcomers())
    topics.extend(writer.gauge_readings())
    return sorted(topics, key=lambda topic: topic.created_at)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:20]


class _Writer:
    def __init__(self, data: Partnership, now: datetime, rng: random.Random) -> None:
        self.data = data
        self.now = now.replace(second=0, microsecond=0)
        self.rng = rng
        self.used_raw: set[tuple[str, str]] = set()
        self.used_titles: set[str] = set()
        self.people = {person.username: person for person in data.people}
        self.practice_tags = {practice.name: practice.tag for practice in data.practices}

    # -- building blocks -----------------------------------------------------------------

    def members(self, constellation: Constellation) -> list[Person]:
        return [
            person
            for person in self.data.people
            if person.organisation in constellation.partners and not person.bot
        ]

    def regulars(self) -> list[Person]:
        return [p for p in self.data.people if not p.bot and not p.newcomer]

    def moment(self, days_ago: float) -> datetime:
        """A time ``days_ago`` back, moved into working hours (08:00–20:59)."""
        day = self.now - timedelta(days=days_ago)
        return day.replace(hour=self.rng.randint(8, 20), minute=self.rng.randint(0, 59))

    def fill(self, template: str, **known: str) -> str:
        values = {
            "place": self.rng.choice(PLACES),
            "org": self.rng.choice(self.data.organisations).name,
            "n": str(self.rng.randint(3, 40)),
            "detail": self.rng.choice(DETAILS),
            "weekday": self.rng.choice(WEEKDAYS),
            "month": self.rng.choice(("January", "February", "March", "the autumn")),
            **known,
        }
        return template.format(**values)

    def unique(self, author: str, raw: str) -> str:
        # Discourse refuses the same text from the same (non-staff) user within
        # unique_posts_mins, and seeding posts everything within seconds.
        while (author, raw) in self.used_raw:
            raw += f" (Also: {self.rng.choice(DETAILS)}.)"
        self.used_raw.add((author, raw))
        return raw

    def title(self, templates: tuple[str, ...], subject: str, category: str) -> str:
        # Discourse refuses a title already used (allow_duplicate_topic_titles is off).
        while True:
            title = self.fill(self.rng.choice(templates), subject=subject)
            title = f"{title[0].upper()}{title[1:]} ({category})"
            if title not in self.used_titles:
                self.used_titles.add(title)
                return title

    def until(self, constellation: Constellation) -> datetime:
        """When the constellation's last post may be (a quiet one stopped earlier)."""
        return self.now - timedelta(days=constellation.quiet_days)

    def replies(
        self,
        start: datetime,
        author: str,
        pool: list[Person],
        count: int,
        cross: float,
        until: datetime,
        returning: float = 0.0,
    ) -> list[PlannedReply]:
        """Up to ``count`` replies after ``start``; after another person's reply the
        opening poster comes back with the chance ``returning``."""
        replies: list[PlannedReply] = []
        moment = start
        for number in range(count):
            gap = self.rng.choices(
                (
                    self.rng.uniform(8, 180),
                    self.rng.uniform(180, 1200),
                    self.rng.uniform(1440, 5760),
                ),
                weights=(50, 35, 15),
            )[0]
            moment += timedelta(minutes=round(gap))
            if moment > until - timedelta(minutes=10):
                break
            previous = self.people[replies[-1].author] if replies else self.people[author]
            first = previous.name.split()[0]
            if previous.username != author and self.rng.random() < returning:
                replier = self.people[author]
                raw = self.fill(self.rng.choice(RETURNS), first=first)
            else:
                people = self.regulars() if self.rng.random() < cross else pool
                replier = self.rng.choice([p for p in people if p.username != author])
                raw = self.fill(self.rng.choice(REPLIES), first=first)
                if self.rng.random() < 0.6:
                    raw += " " + self.rng.choice(FOLLOW_UPS)
            to_number = number + 1 if number and self.rng.random() < 0.4 else None
            replies.append(
                PlannedReply(
                    replier.username, self.unique(replier.username, raw), moment, to_number
                )
            )
        return replies

    def likes(self, authors: list[str]) -> tuple[tuple[int, str], ...]:
        likes = []
        for index, author in enumerate(authors):
            if self.rng.random() < 0.2:
                likers = [p.username for p in self.regulars() if p.username != author]
                for liker in self.rng.sample(likers, self.rng.randint(1, 3)):
                    likes.append((index, liker))
        return tuple(likes)

    # -- kinds of topic ------------------------------------------------------------------

    def discussions(self, constellation: Constellation) -> list[PlannedTopic]:
        pool = self.members(constellation)
        first_day = min(HISTORY_DAYS, (self.now.date() - constellation.started(self.now)).days)
        topics = []
        for number in range(DISCUSSIONS_PER_CONSTELLATION):
            subject = constellation.topics[number % len(constellation.topics)]
            question = self.rng.random() < 0.55
            author = self.rng.choice(pool)
            titles = QUESTION_TITLES if question else UPDATE_TITLES
            title = self.title(titles, subject, constellation.forum_category)
            closing = CLOSINGS_QUESTION if question else CLOSINGS_UPDATE
            parts = [
                self.fill(self.rng.choice(OPENINGS), subject=subject),
                self.fill(self.rng.choice(MIDDLES)),
            ]
            practice = SUBJECT_PRACTICE.get(subject)
            tags: tuple[str, ...] = ()
            if practice and self.rng.random() < 0.7:
                parts.append(f'There is more on the wiki page "{practice}".')
                tags = (self.practice_tags[practice],)
            parts.append(self.rng.choice(closing))
            quiet = constellation.quiet_days
            created = self.moment(self.rng.uniform(1 + quiet, max(first_day, 2 + quiet)))
            unanswered = self.rng.random() < 0.15
            count = 0 if unanswered else self.rng.randint(1, 9)
            replies = self.replies(
                created, author.username, pool, count, 0.2, self.until(constellation), 0.4
            )
            solution = None
            if question and replies and self.rng.random() < 0.45:
                solution = self.rng.randrange(len(replies))
            topics.append(
                PlannedTopic(
                    external_id=f"riverlands-{_slug(constellation.name)}-{number:02d}",
                    constellation=constellation.name,
                    author=author.username,
                    title=title,
                    raw=self.unique(author.username, " ".join(parts[:-1]) + "\n\n" + parts[-1]),
                    created_at=created,
                    tags=tags,
                    replies=tuple(replies),
                    likes=self.likes([author.username] + [r.author for r in replies]),
                    solution=solution,
                )
            )
        return topics

    def check_ins(self, constellation: Constellation) -> list[PlannedTopic]:
        """Regular check-ins at the beat; a dormant constellation stopped ~6 weeks ago."""
        step = BEAT_DAYS[constellation.beat]
        stop = 45 if constellation.status == "dormant" else 1 + constellation.quiet_days
        start = min(HISTORY_DAYS, (self.now.date() - constellation.started(self.now)).days)
        pool = self.members(constellation)
        topics: list[PlannedTopic] = []
        days_ago = start - self.rng.uniform(1, step)
        while days_ago > stop:
            created = self.moment(days_ago)
            steward = self.rng.choice(constellation.stewards)
            date_text = created.strftime("%d %B %Y").lstrip("0")
            raw = self.unique(
                steward,
                f"Our {constellation.beat} check-in for {constellation.name}, {date_text}. "
                f"Goal reminder: {constellation.goal}. Please reply with what moved, "
                "what is stuck, and what you need from another partner.",
            )
            # Answered from the edge (the pool is the partners' people), or not at all.
            count = 0 if self.rng.random() < 0.2 else self.rng.randint(1, 5)
            edge = [person for person in pool if person.username not in constellation.stewards]
            replies = self.replies(
                created, steward, edge, count, 0.1, self.until(constellation), 0.25
            )
            topics.append(
                PlannedTopic(
                    external_id=f"riverlands-{_slug(constellation.name)}-ci-{len(topics):02d}",
                    constellation=constellation.name,
                    author=steward,
                    title=f"{constellation.name} check-in, {date_text}",
                    raw=raw,
                    created_at=created,
                    replies=tuple(replies),
                    likes=self.likes([steward] + [r.author for r in replies]),
                    kind="check-in",
                )
            )
            days_ago -= step
        return topics

    def newcomers(self) -> list[PlannedTopic]:
        """Each newcomer's first post; every other one gets no answer."""
        topics = []
        newcomers = [p for p in self.data.people if p.newcomer]
        for index, person in enumerate(newcomers):
            constellation = next(
                c for c in self.data.constellations if person.organisation in c.partners
            )
            quiet = constellation.quiet_days
            created = self.moment(self.rng.uniform(2 + quiet, 20 + quiet))
            first = person.name.split()[0]
            raw = self.unique(
                person.username,
                f"Hello everyone, I am {first} and I recently joined "
                f"{_org_name(self.data, person.organisation)}. "
                f"I would love to help with {constellation.name}. Where is a good place to start?",
            )
            answered = index % 2 == 0
            stewards = [self.people[name] for name in constellation.stewards]
            replies = (
                self.replies(
                    created, person.username, stewards, 3, 0.0, self.until(constellation), 0.6
                )
                if answered
                else []
            )
            topics.append(
                PlannedTopic(
                    external_id=f"riverlands-hello-{_slug(person.username)}",
                    constellation=constellation.name,
                    author=person.username,
                    title=f"Hello from {first}, new to {constellation.name}",
                    raw=raw,
                    created_at=created,
                    replies=tuple(replies),
                    kind="newcomer",
                )
            )
        return topics

    def gauge_readings(self) -> list[PlannedTopic]:
        """The bot's weekly river gauge readings: posted, rarely read, never answered."""
        bots = [p for p in self.data.people if p.bot]
        if not bots:
            return []
        wardens = self.data.constellations[0]
        topics = []
        for week in range(8):
            created = self.moment(3 + week * 7)
            level = round(self.rng.uniform(0.6, 2.4), 2)
            topics.append(
                PlannedTopic(
                    external_id=f"riverlands-gauge-{week:02d}",
                    constellation=wardens.name,
                    author=bots[0].username,
                    title=f"River gauge reading at Alder Bridge, {created:%Y-%m-%d}",
                    raw=self.unique(
                        bots[0].username,
                        f"Automated reading: river level {level} m at Alder Bridge at "
                        f"{created:%H:%M}. Warning threshold is 2.10 m.",
                    ),
                    created_at=created,
                    kind="bot",
                )
            )
        return topics


def _org_name(data: Partnership, group: str) -> str:
    return next(org.name for org in data.organisations if org.group == group)
