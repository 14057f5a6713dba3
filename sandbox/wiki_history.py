"""The example partnership's wiki history: a deterministic plan of revisions by its people
over the eighteen months before ``now`` (pure, no I/O), and the MediaWiki XML export that
``importDump.php`` reads it from.

Each page is started by one person and grows over months: partners say what they bring,
constellations gather why their goal matters, meeting notes, how to join and lessons
learned, practices how they work and who adopted them. Others add, rewrite and tidy, so
the text that survives is a different share for each person. A constellation's lead
rotates on the days its terms say (the lead partner and the term's end change, and the
page says who led), and a person last edits it ``charter_untouched_days`` before ``now``.
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sandbox.example_conversations import DETAILS, PLACES
from sandbox.example_data import (
    Constellation,
    Organisation,
    Partnership,
    Person,
    Practice,
    Term,
    organisation_name,
)

SEED = 20250608
PARTNERS_DAYS = 548  # the partnership's wiki starts about eighteen months before now
ACTIVE_AFTER_DAYS = 35  # a new constellation's first meeting makes it active
CONTRIBUTIONS = {"partner": 2, "constellation": 8, "practice": 3}  # besides each story's own
REWRITE_SHARE = 0.3  # of contributions, those that rewrite someone else's paragraph
EXPORT_NS = "http://www.mediawiki.org/xml/export-0.11/"
XML_NS = "http://www.w3.org/XML/1998/namespace"

WRITING = {
    "Why it matters": (
        "We chose this goal because {topic} kept coming up in every partner's own work, "
        "and none of us could change it alone.",
        "Success looks like this: people around {place} who have never heard of the "
        "partnership notice the difference.",
        "Each partner brings what it already has; {org} brings people who know {topic}.",
        "We measure progress by what changes on the ground, not by the number of meetings.",
    ),
    "Meetings": (
        "Notes from {date}: {n} people from the partners met at {place}. We agreed to start "
        "with {topic} and to report back on the forum.",
        "Notes from {date}: a short online check-in. {first} showed the first results on "
        "{topic}; next we ask {org} for help.",
        "Notes from {date}: we walked along {place} together and listed what to do about "
        "{topic} before the next season.",
    ),
    "How to join": (
        "Anyone from a partner organisation can join: come to a {beat} meeting or say hello "
        'in the forum category "{category}".',
        "New members are paired with someone who has done it before. Ask {first} or a "
        "steward for the date of the next meeting.",
        'We meet {beat}, usually at {place}; the forum category "{category}" has the dates '
        "and the notes.",
    ),
    "Lessons learned": (
        "On {topic}: {detail}.",
        "What surprised us about {topic}: {detail}.",
    ),
    "How it works": (
        "Start small: one street, one evening, one named person who keeps the list.",
        "Write it down on a single page and pin it where people already look.",
        "Agree who calls whom before the day, and a way to ask for help after it.",
        "Bring what is needed to {place} the day before, and check it again in the morning.",
    ),
    "What we learned": (
        "At {org} we first tried it at {place}: {detail}.",
        "We ran it three times last season; {detail}.",
    ),
    "Where it is used": (
        "{adopter} has used it since {month}; {detail}.",
        "{adopter} adopted it after a trial at {place}: {detail}.",
    ),
    "What we bring": (
        "We bring {assets}.",
        "Ask us for help with {topic}; {detail}.",
    ),
    "Who to ask": ("* [[User:{user}|{user}]]: {topic}",),
}
ASSETS = {
    "charity": "volunteers who know their streets and a river warden scheme",
    "co-operative": "members who build, grow and fix things, and a small fund for tools",
    "local authority": "rooms, insurance, engineers and the council's emergency plans",
    "public service": "buildings open six days a week in every part of the valley",
}
COMMENTS = {
    "Why it matters": "Why the goal matters",
    "Meetings": "Notes from the last meeting",
    "How to join": "How to join",
    "Lessons learned": "A lesson learned",
    "How it works": "One more step",
    "What we learned": "What we learned",
    "What we bring": "What we bring",
    "Who to ask": "Who to ask",
}
REWRITES = ("Clearer wording", "Rewrote an outdated paragraph", "Shorter and up to date")
TIDY = "Notes from the last meeting; older notes are on the forum"
PAUSE = "we agreed to pause until more people have time; the forum stays open."
KEPT_MEETINGS = 3  # meeting notes a page keeps; older ones are tidied away
SECTIONS = {
    # kind: (every section in page order, those people add to, those they rewrite)
    "constellation": (
        ("", "Why it matters", "Leadership", "Meetings", "How to join", "Lessons learned",
         "Practices it uses"),
        ("Why it matters", "Meetings", "How to join", "Lessons learned"),
        ("Why it matters", "How to join", "Lessons learned"),
    ),
    "practice": (
        ("", "How it works", "Where it is used", "What we learned"),
        ("How it works", "What we learned"),
        ("How it works", "What we learned"),
    ),
    "partner": (
        ("", "What we bring", "Who to ask"),
        ("What we bring", "Who to ask"),
        ("What we bring",),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class PlannedRevision:
    user: str  # the wiki username
    at: datetime
    comment: str
    text: str


@dataclass(frozen=True)
class PlannedPage:
    title: str
    kind: str  # partner | constellation | practice
    revisions: tuple[PlannedRevision, ...]  # oldest first

    @property
    def text(self) -> str:
        return self.revisions[-1].text


def plan_history(data: Partnership, now: datetime, seed: int = SEED) -> list[PlannedPage]:
    """Every page with its revisions; the same for the same data and seed, at the same
    distances from ``now`` on any day."""
    writer = _Writer(data, now, random.Random(seed))  # noqa: S311 (invented data, not secrets)
    pages = [writer.partner(o, PARTNERS_DAYS - 3 * i) for i, o in enumerate(data.organisations)]
    pages += [writer.constellation(c) for c in data.constellations]
    pages += [writer.practice(p) for p in data.practices]
    return pages


def export_xml(pages: Iterable[PlannedPage]) -> str:
    """The pages as a MediaWiki XML export (schema 0.11), escaped by the XML writer."""
    attributes = {"xmlns": EXPORT_NS, "version": "0.11", f"{{{XML_NS}}}lang": "en"}
    root = ET.Element("mediawiki", attributes)
    for page in pages:
        node = ET.SubElement(root, "page")
        ET.SubElement(node, "title").text = page.title
        ET.SubElement(node, "ns").text = "0"
        for revision in page.revisions:
            entry = ET.SubElement(node, "revision")
            stamp = revision.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            ET.SubElement(entry, "timestamp").text = stamp
            ET.SubElement(ET.SubElement(entry, "contributor"), "username").text = revision.user
            ET.SubElement(entry, "comment").text = revision.comment
            ET.SubElement(entry, "model").text = "wikitext"
            ET.SubElement(entry, "format").text = "text/x-wiki"
            text = ET.SubElement(entry, "text", {f"{{{XML_NS}}}space": "preserve"})
            text.text = revision.text
    return ET.tostring(root, encoding="unicode")


def template(name: str, fields: dict[str, str]) -> str:
    return "\n".join([f"{{{{{name}", *(f"| {k} = {v}" for k, v in fields.items()), "}}"])


@dataclass
class _Paragraph:
    author: str  # Person.username
    text: str


class _Page:
    """A page being written: its template's fields, its sections, its revisions so far,
    who may edit it and the words that fill its sections (``{…}`` names)."""

    def __init__(
        self, title: str, kind: str, fields: dict[str, str], pool: list[Person], **words: str
    ) -> None:
        self.title, self.kind, self.fields, self.pool, self.words = title, kind, fields, pool, words
        order, self.addable, self.rewritable = SECTIONS[kind]
        self.sections: dict[str, list[_Paragraph]] = {name: [] for name in order}
        self.revisions: list[PlannedRevision] = []

    def add(self, section: str, author: Person, text: str) -> None:
        self.sections[section].append(_Paragraph(author.username, text))

    def save(self, author: Person, at: datetime, comment: str) -> None:
        self.revisions.append(PlannedRevision(author.wiki_username, at, comment, self.text()))

    def text(self) -> str:
        parts = [template(self.kind.capitalize(), self.fields)]
        for heading, paragraphs in self.sections.items():
            if not paragraphs:
                continue
            texts = [p.text for p in paragraphs]
            # A list stays one list; paragraphs stand apart.
            body = "\n".join(texts) if texts[0].startswith("*") else "\n\n".join(texts)
            parts.append(f"== {heading} ==\n{body}" if heading else body)
        return "\n\n".join(parts) + "\n"


# One step of a page's story, on a day (days before now): it changes the page and says
# who did it and why.
Step = Callable[[int], tuple[Person, str]]


class _Writer:
    def __init__(self, data: Partnership, now: datetime, rng: random.Random) -> None:
        self.data = data
        self.now = now.replace(second=0, microsecond=0)
        self.rng = rng
        self.people = {person.username: person for person in data.people}

    # -- building blocks -----------------------------------------------------------------

    def editors(self, groups: Collection[str]) -> list[Person]:
        """The people of these organisations who write on the wiki (not bots, not the
        newcomers of the last weeks)."""
        return [
            p for p in self.data.people if p.organisation in groups and not p.bot and not p.newcomer
        ]

    def lead_person(self, group: str, stewards: Iterable[str] = ()) -> Person:
        """A steward from the organisation when it has one, else one of its people."""
        own = [self.people[name] for name in stewards if self.people[name].organisation == group]
        return own[0] if own else self.rng.choice(self.editors({group}))

    def day(self, days_ago: int) -> date:
        return (self.now - timedelta(days=days_ago)).date()

    def moment(self, days_ago: int) -> datetime:
        """A time ``days_ago`` back, in working hours."""
        day = self.now - timedelta(days=days_ago)
        return day.replace(hour=self.rng.randint(8, 19), minute=self.rng.randint(0, 59))

    def more(self, page: _Page, section: str, author: Person, days_ago: int, **known: str) -> str:
        """A new paragraph for the page's section, in the author's words."""
        when = self.day(days_ago)
        values = {
            "place": self.rng.choice(PLACES),
            "org": self.rng.choice(self.data.organisations).name,
            "detail": self.rng.choice(DETAILS),
            "n": str(self.rng.randint(5, 24)),
            "date": f"{when.day} {when:%B %Y}",
            "month": f"{when:%B %Y}",
            "first": self.rng.choice(page.pool).name.split()[0],
            "user": author.wiki_username,
            "topic": self.rng.choice(page.words["topics"].split("|")),
            **page.words,
            **known,
        }
        return self.rng.choice(WRITING[section]).format(**values)

    def contribute(self, page: _Page, days_ago: int) -> tuple[Person, str]:
        """Someone adds a paragraph, or rewrites one that someone else wrote."""
        author = self.rng.choice(page.pool)
        theirs = [
            (section, index)
            for section in page.rewritable
            for index, paragraph in enumerate(page.sections[section])
            if paragraph.author != author.username
        ]
        if theirs and self.rng.random() < REWRITE_SHARE:
            section, index = self.rng.choice(theirs)
            text = self.more(page, section, author, days_ago)
            page.sections[section][index] = _Paragraph(author.username, text)
            return author, self.rng.choice(REWRITES)
        section = self.rng.choice(page.addable)
        page.add(section, author, self.more(page, section, author, days_ago))
        if section == "Meetings" and len(page.sections[section]) > KEPT_MEETINGS:
            del page.sections[section][0]
            return author, TIDY
        return author, COMMENTS[section]

    def write(self, page: _Page, steps: dict[int, Step], first: int, last: int) -> PlannedPage:
        """The story's steps, and its kind's number of contributions on free days between
        its first and last day (days before now), saved oldest first, one revision each."""
        free = [day for day in range(last + 1, first) if day not in steps]
        for day in self.rng.sample(free, min(CONTRIBUTIONS[page.kind], len(free))):
            steps[day] = lambda day: self.contribute(page, day)
        for day in sorted(steps, reverse=True):
            author, comment = steps[day](day)
            page.save(author, self.moment(day), comment)
        return PlannedPage(page.title, page.kind, tuple(page.revisions))

    # -- kinds of page -------------------------------------------------------------------

    def partner(self, organisation: Organisation, created: int) -> PlannedPage:
        fields = {
            "name": organisation.name,
            "forum_group": organisation.group,
            "website": f"https://{organisation.domain}",
        }
        topics = {c.topics[0] for c in self.data.constellations if organisation.group in c.partners}
        pool = self.editors({organisation.group})
        page = _Page(
            organisation.name,
            "partner",
            fields,
            pool,
            assets=ASSETS[organisation.kind],
            topics="|".join(sorted(topics)),
        )

        def start(_day: int) -> tuple[Person, str]:
            author = self.rng.choice(pool)
            bold = "'''"  # wikitext for bold
            page.add(
                "",
                author,
                f"{bold}{organisation.name}{bold} is a {organisation.kind} in the partnership.",
            )
            return author, f"Page for {organisation.name}"

        return self.write(page, {created: start}, created, self.rng.randint(60, 300))

    def constellation(self, c: Constellation) -> PlannedPage:
        first = c.terms[0]
        fields = c.template_fields(self.now) | {
            "lead_partner": organisation_name(first.lead_partner),
            "status": "forming",
            "term_end": self.day(first.until).isoformat(),
        }
        pool = self.editors(c.partners)
        page = _Page(
            c.name,
            "constellation",
            fields,
            pool,
            topics="|".join(c.topics),
            beat=c.beat,
            category=c.forum_category,
        )

        def start(day: int) -> tuple[Person, str]:
            author = self.lead_person(first.lead_partner, c.stewards)
            intro = f"'''{c.name}''' is a constellation of the {self.data.name}."
            page.add("", author, intro)
            page.add("Why it matters", author, self.more(page, "Why it matters", author, day))
            page.add("Leadership", author, self.term_line(first))
            return author, f"New constellation: {c.name}"

        def rotate(term: Term) -> Step:
            def step(_day: int) -> tuple[Person, str]:
                author = self.lead_person(term.lead_partner, c.stewards)
                lead = organisation_name(term.lead_partner)
                end = self.day(term.until).isoformat()
                page.fields.update(lead_partner=lead, term_end=end)
                page.add("Leadership", author, self.term_line(term))
                return author, f"Lead partner rotates to {lead} (term to {end})"

            return step

        def activate(day: int) -> tuple[Person, str]:
            author = self.lead_person(first.lead_partner, c.stewards)
            page.fields["status"] = "active"
            page.add("Meetings", author, self.more(page, "Meetings", author, day))
            return author, "First meeting held: the constellation is active"

        def practices(_day: int) -> tuple[Person, str]:
            author = self.rng.choice(pool)
            related = [p.name for p in self.data.practices if c.name in p.related_constellations]
            for name in related:
                page.add("Practices it uses", author, f"* [[{name}]]")
            return author, "Links to the practices we use"

        def pause(day: int) -> tuple[Person, str]:
            author = self.lead_person(c.lead_partner, c.stewards)
            page.fields["status"] = c.status
            page.add("Meetings", author, f"Notes from {self.day(day):%B %Y}: {PAUSE}")
            return author, f"Status: {c.status}"

        last = c.charter_untouched_days
        steps: dict[int, Step] = {first.since: start}
        steps |= {term.since: rotate(term) for term in c.terms[1:]}
        if c.status != "forming":
            steps[first.since - ACTIVE_AFTER_DAYS] = activate
        steps[first.since - ACTIVE_AFTER_DAYS - 20] = practices
        if c.status in ("dormant", "sunset"):
            steps[last] = pause
        else:
            steps[last] = lambda day: self.contribute(page, day)
        return self.write(page, steps, first.since, last)

    def term_line(self, term: Term) -> str:
        since, until = self.day(term.since), self.day(term.until)
        lead = organisation_name(term.lead_partner)
        return f"* {since:%B %Y}: {lead} takes the lead, for a term to {until.isoformat()}."

    def practice(self, practice: Practice) -> PlannedPage:
        related = [c for c in self.data.constellations if c.name in practice.related_constellations]
        # Written up once its first constellation had been at it for a while.
        created = min(c.terms[0].since for c in related) - self.rng.randint(20, 60)
        fields = practice.template_fields() | {"adopted_by": ""}
        pool = self.editors({practice.originating_organisation, *practice.adopted_by})
        topics = sorted({topic for c in related for topic in c.topics})
        page = _Page(practice.name, "practice", fields, pool, topics="|".join(topics))

        def start(day: int) -> tuple[Person, str]:
            author = self.rng.choice(self.editors({practice.originating_organisation}))
            page.add("", author, practice.summary)
            page.add("How it works", author, self.more(page, "How it works", author, day))
            return author, f"New practice: {practice.name}"

        def adopt(adopters: tuple[str, ...]) -> Step:
            """The last of ``adopters`` adds itself (the field lists them in order)."""

            def step(day: int) -> tuple[Person, str]:
                adopter = organisation_name(adopters[-1])
                author = self.rng.choice(self.editors({adopters[-1]}))
                page.fields["adopted_by"] = ", ".join(organisation_name(g) for g in adopters)
                used = self.more(page, "Where it is used", author, day, adopter=adopter)
                page.add("Where it is used", author, used)
                return author, f"{adopter} uses it too"

            return step

        last = self.rng.randint(5, 150)
        days = self.rng.sample(range(last + 1, created), len(practice.adopted_by))
        steps: dict[int, Step] = {created: start, last: lambda day: self.contribute(page, day)}
        for count, day in enumerate(sorted(days, reverse=True), start=1):
            steps[day] = adopt(practice.adopted_by[:count])
        return self.write(page, steps, created, last)
