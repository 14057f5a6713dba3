"""The example partnership on the wiki: a page per partner organisation, per
constellation and per shared practice.

Pages are created only when missing, so a person's later edits are never
overwritten. A constellation page is created with an earlier lead partner and
then handed to its current one, so its history holds a real leadership rotation.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.mediawiki import WikiClient
from sandbox.example_data import (
    EXAMPLE,
    Constellation,
    Organisation,
    Partnership,
    Practice,
    organisation_name,
)

SUMMARY = "Constellate example partnership"


@dataclass(frozen=True)
class WikiSeedReport:
    constellations_created: int
    practices_created: int
    partners_created: int = 0


def seed_wiki(client: WikiClient, data: Partnership = EXAMPLE) -> WikiSeedReport:
    titles = [o.name for o in data.organisations]
    titles += [c.name for c in data.constellations] + [p.name for p in data.practices]
    existing = {title for title, page in client.read_pages(titles).items() if page.exists}
    made_partners = 0
    for organisation in data.organisations:
        if organisation.name not in existing:
            page = partner_page(organisation)
            client.edit(organisation.name, page, summary=SUMMARY, mode="create")
            made_partners += 1
    made_constellations = 0
    for constellation in data.constellations:
        if constellation.name in existing:
            continue
        earlier = previous_lead(constellation)
        if earlier:
            first = constellation_page(constellation, data, lead=earlier)
            client.edit(constellation.name, first, summary=SUMMARY, mode="create")
            base = client.read_pages([constellation.name])[constellation.name]
            client.edit(
                constellation.name,
                constellation_page(constellation, data),
                summary=f"Lead partner rotates to {organisation_name(constellation.lead_partner)}",
                base=base,
            )
        else:
            page = constellation_page(constellation, data)
            client.edit(constellation.name, page, summary=SUMMARY, mode="create")
        made_constellations += 1
    made_practices = 0
    for practice in data.practices:
        if practice.name not in existing:
            client.edit(practice.name, practice_page(practice), summary=SUMMARY, mode="create")
            made_practices += 1
    return WikiSeedReport(made_constellations, made_practices, made_partners)


def previous_lead(constellation: Constellation) -> str | None:
    """The partner that led before the current lead (the next one in the list)."""
    others = [p for p in constellation.partners if p != constellation.lead_partner]
    return others[0] if others else None


def constellation_page(c: Constellation, data: Partnership, *, lead: str | None = None) -> str:
    fields = c.template_fields()
    if lead:
        fields["lead_partner"] = organisation_name(lead)
    related = [p.name for p in data.practices if c.name in p.related_constellations]
    lines = [_template("Constellation", fields), ""]
    lines.append(f"'''{c.name}''' is a constellation of the {data.name}.")
    if related:
        lines += ["", "== Practices it uses ==", *(f"* [[{name}]]" for name in related)]
    return "\n".join(lines) + "\n"


def partner_page(o: Organisation) -> str:
    fields = {"name": o.name, "forum_group": o.group, "website": f"https://{o.domain}"}
    bold = "'''"  # wikitext for bold
    intro = f"{bold}{o.name}{bold} is a {o.kind} in the partnership."
    return f"{_template('Partner', fields)}\n\n{intro}\n"


def practice_page(p: Practice) -> str:
    return f"{_template('Practice', p.template_fields())}\n\n{p.summary}\n"


def _template(name: str, fields: dict[str, str]) -> str:
    return "\n".join([f"{{{{{name}", *(f"| {k} = {v}" for k, v in fields.items()), "}}"])
