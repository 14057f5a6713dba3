"""Cross-organisation replies and reciprocity per organisation, worked out by hand."""

from __future__ import annotations

from community.health.conversation import Adoption, People, Post
from community.health.metrics import cross_organisation, reciprocity
from tests.community.health.conversations import Conversation, at, people, window

MONTH = window(30, 30)  # [day 0, day 30)
WHO = people(
    organisations={"alice": "acme", "bob": "acme", "carol": "harbour", "erin": "north"},
    linked={"alice-wiki": "alice"},
)  # dave has no organisation


def conversation(who: People = WHO) -> list[Post]:
    talk = Conversation()
    first = talk.topic("alice", at(1, 0))
    talk.reply(first, "bob", at(1, 1))  # 2: acme to acme, not crossing
    talk.reply(first, "carol", at(1, 2))  # 3: harbour to acme
    talk.reply(first, "dave", at(1, 3))  # 4: dave has no organisation
    talk.reply(first, "alice", at(1, 4), to=3)  # 5: acme to harbour
    talk.reply(first, "alice-wiki", at(1, 5))  # 6: alice to herself: left out
    talk.reply(first, "erin", at(1, 6), to=4)  # 7: to dave, who has no organisation
    second = talk.topic("carol", at(2, 0))
    talk.reply(second, "erin", at(2, 1))  # north to harbour
    talk.reply(second, "gaugebot", at(2, 2))  # a bot
    talk.reply(second, "erin", at(2, 3), to=3)  # to the bot's post: no target
    talk.reply(second, "alice", at(30, 0))  # at the window's end: not seen
    return talk.posts(who)


def test_cross_organisation_rate_by_hand() -> None:
    # Counted: bob->alice, carol->alice, alice->carol, erin->carol = 4; crossing: 3.
    assert cross_organisation(conversation(), MONTH) == {
        "replies": 4,
        "cross": 3,
        "rate": 3 / 4,
    }


def test_people_without_organisation_never_make_a_reply_cross() -> None:
    assert cross_organisation(conversation(people()), MONTH) == {
        "replies": 0,
        "cross": 0,
        "rate": None,
    }


def test_reciprocity_counts_replies_and_adoptions_per_organisation() -> None:
    adoptions = [
        Adoption(adopter="north", owner="acme", at=at(5)),
        Adoption(adopter="acme", owner="acme", at=at(6)),  # its own practice
        Adoption(adopter="harbour", owner=None, at=at(7)),  # owner unknown
        Adoption(adopter="delta", owner="acme", at=at(-1)),  # before the window
        Adoption(adopter="delta", owner="acme", at=at(30)),  # at the window's end
        Adoption(adopter="east", owner="west", at=at(8)),
    ]
    figures = reciprocity(conversation(), MONTH, adoptions)
    # Crossing replies: carol->alice (harbour gave, acme received), alice->carol
    # (acme gave, harbour received), erin->carol (north gave, harbour received).
    assert figures == {
        "acme": {
            "replies_given": 1,
            "replies_received": 1,
            "adopted_from_others": 0,
            "adopted_by_others": 1,
        },
        "east": {
            "replies_given": 0,
            "replies_received": 0,
            "adopted_from_others": 1,
            "adopted_by_others": 0,
        },
        "harbour": {
            "replies_given": 1,
            "replies_received": 2,
            "adopted_from_others": 0,
            "adopted_by_others": 0,
        },
        "north": {
            "replies_given": 1,
            "replies_received": 0,
            "adopted_from_others": 1,
            "adopted_by_others": 0,
        },
        "west": {
            "replies_given": 0,
            "replies_received": 0,
            "adopted_from_others": 0,
            "adopted_by_others": 1,
        },
    }


def test_reciprocity_is_empty_without_crossing_replies_or_adoptions() -> None:
    assert reciprocity(conversation(people()), MONTH, []) == {}
