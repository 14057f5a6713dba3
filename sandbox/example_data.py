"""The example partnership: invented organisations, people, constellations and practices.

One source for both platforms: the wiki side writes ``{{Constellation}}`` and
``{{Practice}}`` pages from ``template_fields()``, the forum side is seeded from the same
records by ``sandbox.example.seed_forum``. Every name, address and story is invented;
email addresses use the reserved ``.example`` domain.

Dates are days before the seed's ``now``, never calendar dates, so the example tells the
same story on any day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class Organisation:
    group: str  # the forum group name (Discourse: ≤ 20 characters, no spaces)
    name: str
    kind: str
    domain: str


@dataclass(frozen=True)
class Person:
    username: str
    name: str
    organisation: str  # Organisation.group
    newcomer: bool = False  # joined in the last weeks; trust level 0 on the forum
    bot: bool = False

    @property
    def email(self) -> str:
        return f"{self.username.replace('_', '.')}@{ORGANISATION_DOMAINS[self.organisation]}"

    @property
    def wiki_username(self) -> str:
        """The wiki account is the person's name ("Maren Okafor"), as people sign up there;
        link suggestions pair it with the forum's "maren_okafor"."""
        return self.name


@dataclass(frozen=True)
class Term:
    """A lead partner's term, in days before the seed's ``now`` (negative: after it)."""

    lead_partner: str  # Organisation.group
    since: int  # took the lead this many days before now
    until: int  # the term ends this many days before now (negative: still to come)


@dataclass(frozen=True)
class Constellation:
    name: str
    goal: str  # value created outside the partnership
    terms: tuple[Term, ...]  # oldest first; the last is the current lead's
    partners: tuple[str, ...]  # Organisation.group, every lead included
    stewards: tuple[str, ...]  # usernames
    status: str  # forming | active | dormant | sunset
    beat: str  # weekly | fortnightly | monthly
    forum_category: str
    topics: tuple[str, ...]  # what its conversations are about (for seeding)
    # Days since a person last edited its wiki page: the example leaves one active
    # charter untouched on purpose, so the stale-charter reminder has something to say.
    charter_untouched_days: int
    # Days without a single post up to now: the example starves one active constellation
    # on purpose, so its health alert shows (and resolves once people post again).
    quiet_days: int = 0

    @property
    def lead_partner(self) -> str:
        return self.terms[-1].lead_partner

    def started(self, now: datetime) -> date:
        """The day its first lead took over: the day its page was made."""
        return (now - timedelta(days=self.terms[0].since)).date()

    def term_end(self, now: datetime) -> date:
        return (now - timedelta(days=self.terms[-1].until)).date()

    def template_fields(self, now: datetime) -> dict[str, str]:
        """The ``{{Constellation}}`` template's fields as of ``now``, organisations by
        full name."""
        return {
            "goal": self.goal,
            "lead_partner": organisation_name(self.lead_partner),
            "partners": ", ".join(organisation_name(group) for group in self.partners),
            "stewards": ", ".join(self.stewards),
            "status": self.status,
            "started": self.started(now).isoformat(),
            "term_end": self.term_end(now).isoformat(),
            "beat": self.beat,
            "forum_category": self.forum_category,
        }


@dataclass(frozen=True)
class Practice:
    name: str
    tag: str  # the forum tag (Discourse: ≤ 20 characters)
    summary: str
    originating_organisation: str  # Organisation.group
    adopted_by: tuple[str, ...]  # Organisation.group
    related_constellations: tuple[str, ...]  # Constellation.name

    def template_fields(self) -> dict[str, str]:
        """The ``{{Practice}}`` template's fields, organisations by full name."""
        return {
            "summary": self.summary,
            "originating_organisation": organisation_name(self.originating_organisation),
            "adopted_by": ", ".join(organisation_name(group) for group in self.adopted_by),
            "related_constellations": ", ".join(self.related_constellations),
            # Explicit, so the page keeps the forum tag seeded for it.
            "tag": self.tag,
        }


@dataclass(frozen=True)
class Partnership:
    name: str
    issue: str
    parent_category: str
    practice_tag_group: str
    organisations: tuple[Organisation, ...]
    people: tuple[Person, ...]
    constellations: tuple[Constellation, ...]
    practices: tuple[Practice, ...]

    def members_of(self, group: str) -> list[Person]:
        return [person for person in self.people if person.organisation == group]

    def bot_usernames(self) -> list[str]:
        return [person.username for person in self.people if person.bot]


ORGANISATIONS = (
    Organisation("water-trust", "Riverlands Water Trust", "charity", "riverlandswater.example"),
    Organisation(
        "northbank-energy", "Northbank Community Energy", "co-operative", "northbank.example"
    ),
    Organisation("alder-council", "Alder Valley Council", "local authority", "aldervalley.example"),
    Organisation(
        "heathfield-growers", "Heathfield Growers Co-op", "co-operative", "heathfield.example"
    ),
    Organisation(
        "lowmoor-libraries", "Lowmoor Library Network", "public service", "lowmoor.example"
    ),
)
ORGANISATION_DOMAINS = {org.group: org.domain for org in ORGANISATIONS}


def organisation_name(group: str) -> str:
    return next(org.name for org in ORGANISATIONS if org.group == group)


PEOPLE = (
    Person("maren_okafor", "Maren Okafor", "water-trust"),
    Person("tobias_lindqvist", "Tobias Lindqvist", "water-trust"),
    Person("priya_raman", "Priya Raman", "water-trust"),
    Person("jonah_whitfield", "Jonah Whitfield", "water-trust"),
    Person("flood_sensor_bot", "River Gauge Bot", "water-trust", bot=True),
    Person("elif_arslan", "Elif Arslan", "northbank-energy"),
    Person("callum_breck", "Callum Breck", "northbank-energy"),
    Person("nadia_sorensen", "Nadia Sorensen", "northbank-energy"),
    Person("owen_tremayne", "Owen Tremayne", "northbank-energy"),
    Person("rosa_quintero", "Rosa Quintero", "northbank-energy", newcomer=True),
    Person("hamid_sadeghi", "Hamid Sadeghi", "alder-council"),
    Person("grace_mbeki", "Grace Mbeki", "alder-council"),
    Person("lukas_brenner", "Lukas Brenner", "alder-council"),
    Person("aoife_gallagher", "Aoife Gallagher", "alder-council"),
    Person("femi_adeyemi", "Femi Adeyemi", "alder-council", newcomer=True),
    Person("ines_carvalho", "Ines Carvalho", "heathfield-growers"),
    Person("bram_devries", "Bram de Vries", "heathfield-growers"),
    Person("sunita_kapoor", "Sunita Kapoor", "heathfield-growers"),
    Person("dougie_mccrae", "Dougie McCrae", "heathfield-growers"),
    Person("lena_hofmann", "Lena Hofmann", "heathfield-growers", newcomer=True),
    Person("theo_marchetti", "Theo Marchetti", "lowmoor-libraries"),
    Person("yasmin_haddad", "Yasmin Haddad", "lowmoor-libraries"),
    Person("martha_oyelaran", "Martha Oyelaran", "lowmoor-libraries"),
    Person("kit_penhallow", "Kit Penhallow", "lowmoor-libraries"),
    Person("ada_nwosu", "Ada Nwosu", "lowmoor-libraries"),
    Person("sam_ellery", "Sam Ellery", "lowmoor-libraries", newcomer=True),
)

CONSTELLATIONS = (
    Constellation(
        name="Flood Wardens Network",
        goal="A trained volunteer flood warden on every riverside street in the valley",
        terms=(
            Term("alder-council", since=520, until=345),
            Term("lowmoor-libraries", since=345, until=170),
            Term("water-trust", since=170, until=-95),
        ),
        partners=("water-trust", "alder-council", "lowmoor-libraries"),
        stewards=("maren_okafor", "hamid_sadeghi"),
        status="active",
        beat="weekly",
        forum_category="Flood Wardens",
        topics=("warden training", "street flood plans", "sandbag stores", "river levels"),
        charter_untouched_days=96,  # busy on the forum, its charter stale
    ),
    Constellation(
        name="Cool Spaces",
        goal="Libraries open as safe cool refuges for older residents during heatwaves",
        terms=(
            Term("northbank-energy", since=470, until=330),
            Term("alder-council", since=330, until=195),
            # Run past its end on purpose: nobody has rotated the lead yet.
            Term("lowmoor-libraries", since=195, until=67),
        ),
        partners=("lowmoor-libraries", "northbank-energy", "alder-council"),
        stewards=("theo_marchetti", "elif_arslan"),
        status="active",
        beat="fortnightly",
        forum_category="Cool Spaces",
        topics=("heat buddy calls", "opening hours", "fans and shading", "visitor feedback"),
        charter_untouched_days=9,
        quiet_days=21,
    ),
    Constellation(
        name="Soil and Water Farming",
        goal="Farms upstream that hold more rain in their soil and send less silt downstream",
        terms=(
            Term("water-trust", since=320, until=150),
            Term("heathfield-growers", since=150, until=-390),
        ),
        partners=("heathfield-growers", "water-trust"),
        stewards=("ines_carvalho", "priya_raman"),
        status="forming",
        beat="monthly",
        forum_category="Soil and Water",
        topics=("cover crops", "rain gardens", "field drains", "silt monitoring"),
        charter_untouched_days=26,
    ),
    Constellation(
        name="Community Retrofit Circle",
        goal="Damp, draughty homes made warmer and drier by neighbours trained together",
        terms=(
            Term("alder-council", since=540, until=430),
            Term("heathfield-growers", since=430, until=330),
            Term("northbank-energy", since=330, until=250),
        ),
        partners=("northbank-energy", "alder-council", "heathfield-growers"),
        stewards=("callum_breck",),
        status="dormant",
        beat="monthly",
        forum_category="Retrofit Circle",
        topics=("draught-proofing", "damp surveys", "tool library", "grant applications"),
        charter_untouched_days=205,  # paused since
    ),
)

PRACTICES = (
    Practice(
        "Street Flood Plan",
        "street-flood-plan",
        "A one-page plan each street writes together: who checks on whom, where sandbags are, "
        "which drains to clear first.",
        "water-trust",
        ("alder-council", "lowmoor-libraries"),
        ("Flood Wardens Network",),
    ),
    Practice(
        "Heat Buddy Calls",
        "heat-buddy-calls",
        "Volunteers phone older neighbours on heatwave days with three short questions and a "
        "clear way to ask for a visit.",
        "lowmoor-libraries",
        ("northbank-energy", "alder-council"),
        ("Cool Spaces",),
    ),
    Practice(
        "Rain Garden Build Day",
        "rain-garden-day",
        "A one-day community build of a planted hollow that soaks up roof and road run-off.",
        "water-trust",
        ("heathfield-growers",),
        ("Soil and Water Farming", "Flood Wardens Network"),
    ),
    Practice(
        "Cover Crop Trial Log",
        "cover-crop-log",
        "A shared monthly log of cover crop plots, soil tests and what the rain did.",
        "heathfield-growers",
        ("water-trust",),
        ("Soil and Water Farming",),
    ),
    Practice(
        "Draught-Proofing Workshop",
        "draught-proofing",
        "A two-hour hands-on session where neighbours fit seals and brushes to a real home.",
        "northbank-energy",
        ("heathfield-growers", "lowmoor-libraries"),
        ("Community Retrofit Circle",),
    ),
    Practice(
        "Warm Welcome Checklist",
        "warm-welcome",
        "What a refuge space checks before opening its doors: water, seating, a named host, "
        "accessible toilets.",
        "lowmoor-libraries",
        ("alder-council",),
        ("Cool Spaces", "Community Retrofit Circle"),
    ),
)

EXAMPLE = Partnership(
    name="Riverlands Climate Adaptation Partnership",
    issue="Living with floods and heat in the Alder valley",
    parent_category="Riverlands Partnership",
    practice_tag_group="practices",
    organisations=ORGANISATIONS,
    people=PEOPLE,
    constellations=CONSTELLATIONS,
    practices=PRACTICES,
)
