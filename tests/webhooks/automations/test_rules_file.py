"""Rules files: parsed and normalised, every problem listed by rule and path, the built-in
rules, and the rules in force for a configuration (re-read when the file changes)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.config import Settings, load_config
from webhooks.automations.rules_file import active_rules, builtin_rules, load, parse
from webhooks.automations.vocabulary import ActionSpec, Rule, RuleProblem, RulesInvalid, Trigger

VALID_YAML = """
rules:
  - name: welcome-tools-questions          # a comment
    description: Point people asking about tools at the practices
    trigger:
      event: forum.post_created
    conditions:
      constellation: ["Flood Wardens Network"]
      tags: [tools, kits]
      text: {matches: "\\\\b(tool|kit)s?\\\\b"}
    actions:
      - reply:
          text: "Thanks @{{author}}! {{related_practices}}"
      - tag: {tags: [tools]}
  - name: weekly_digest
    trigger: {schedule: {cron: "0 9 * * MON"}}
    actions:
      - webhook: {type: automation.digest, data: {at: "{{slot}}", list: ["{{rule}}", 3]}}
  - name: alerts
    trigger: {alert: {}}
    actions:
      - credit: {to: "{{actor}}", weight: 2}
"""


def settings(**automations: Any) -> Settings:
    return load_config(
        environ={},
        overrides={
            "service": {"secret_key": "s" * 40},
            "wiki": {
                "url": "http://127.0.0.1:9",
                "script_path": "/",
                "username": "Bot@constellate",
                "password": "not-a-real-password",
            },
            "forum": {"url": "https://forum.example.org"},
            "automations": automations,
        },
    )


def problems_of(text: str, **kwargs: Any) -> list[RuleProblem]:
    with pytest.raises(RulesInvalid) as caught:
        parse(text, "rules.yaml", **kwargs)
    assert caught.value.source == "rules.yaml"
    return caught.value.problems


def only_problem(text: str, **kwargs: Any) -> RuleProblem:
    (problem,) = problems_of(text, **kwargs)
    return problem


def one_rule(trigger: str, actions: str = "[{tag: {tags: [x]}}]", extra: str = "") -> str:
    return f"rules: [{{name: r, trigger: {trigger}, actions: {actions}{extra}}}]"


def test_a_valid_file_normalised() -> None:
    rules = parse(VALID_YAML, "rules.yaml", time_zone="Europe/London")
    assert rules.source == "rules.yaml"
    assert rules.time_zone == "Europe/London"
    assert [rule.name for rule in rules.rules] == [
        "welcome-tools-questions",
        "weekly_digest",
        "alerts",
    ]
    welcome = rules.rules[0]
    assert welcome == Rule(
        name="welcome-tools-questions",
        trigger=Trigger("event", {"patterns": ["forum.post_created"]}),
        conditions={
            "constellation": ["Flood Wardens Network"],
            "tags": {"any": ["tools", "kits"]},
            "text": {"matches": "\\b(tool|kit)s?\\b"},
        },
        actions=(
            ActionSpec("reply", {"text": "Thanks @{{author}}! {{related_practices}}"}),
            ActionSpec("tag", {"tags": ["tools"]}),
        ),
        description="Point people asking about tools at the practices",
    )
    assert rules.rules[1].trigger == Trigger("schedule", {"cron": "0 9 * * MON"})
    assert rules.rules[2].trigger == Trigger("alert", {"state": "raised", "rules": []})
    assert rules.rules[2].description == ""
    assert rules.named("alerts") is rules.rules[2]
    assert not any(rule.builtin for rule in rules.rules)


def test_the_same_rules_in_json_are_equal() -> None:
    as_json = json.dumps(yaml.safe_load(VALID_YAML), indent="\t")
    assert parse(as_json, "rules.yaml") == parse(VALID_YAML, "rules.yaml")


@pytest.mark.parametrize(
    ("trigger", "normalised"),
    [
        (
            "{event: [wiki.edit, wiki.new]}",
            Trigger("event", {"patterns": ["wiki.edit", "wiki.new"]}),
        ),
        (
            "{alert: {state: any, rules: [quiet]}}",
            Trigger("alert", {"state": "any", "rules": ["quiet"]}),
        ),
        (
            "{practice_adopted: {organisations: [River Trust]}}",
            Trigger("practice_adopted", {"practices": [], "organisations": ["River Trust"]}),
        ),
        (
            "{status_change: {to: [active]}}",
            Trigger("status_change", {"from": [], "to": ["active"]}),
        ),
        ("{beat: {}}", Trigger("beat", {})),
        ("{beat: null}", Trigger("beat", {})),
        ("{unanswered: {hours: 12}}", Trigger("unanswered", {"hours": 12})),
        (
            "{stale_charter: {days: 30, active_days: 7}}",
            Trigger("stale_charter", {"days": 30, "active_days": 7}),
        ),
    ],
)
def test_triggers_normalised(trigger: str, normalised: Trigger) -> None:
    assert parse(one_rule(trigger), "t").rules[0].trigger == normalised


INVALID = """
rules:
  - name: tools
    trigger: {event: [forum.post_created, forum.post_creatd]}
    conditions:
      text: {matches: "(tool"}
      tagz: [x]
    actions:
      - reply: {text: "Hi {{autor}}"}
  - name: Weekly Digest
    trigger: {schedule: {cron: "0 25 * * *"}}
    actions:
      - webhook: {type: digest, data: {}}
      - tag: {tags: [a]}
        untag: {tags: [b]}
  - name: tools
    trigger: {}
    conditions: {trust_level: {min: 9}}
    actions: []
"""


def test_every_problem_of_an_invalid_file_is_listed() -> None:
    found = [(p.rule, p.path, p.message) for p in problems_of(INVALID)]
    assert found == [
        (
            "tools",
            "/rules/0/actions/0/reply/text",
            "{{autor}} is never filled for this trigger; did you mean {{author}}?",
        ),
        (
            "tools",
            "/rules/0/conditions/tagz",
            "unknown condition 'tagz' (did you mean 'tags'?)",
        ),
        (
            "tools",
            "/rules/0/conditions/text/matches",
            "not a valid regular expression: missing ), unterminated subpattern at position 0",
        ),
        (
            "tools",
            "/rules/0/trigger/event/1",
            "'forum.post_creatd' matches no known event kind (did you mean 'forum.post_created'?)",
        ),
        (
            "#1",
            "/rules/1/actions/0/webhook/type",
            "'digest': a webhook type starts with 'automation.', then lowercase letters,"
            " digits, _ . -",
        ),
        (
            "#1",
            "/rules/1/actions/1",
            "exactly one action is needed, one of: tag, untag, reply, create_topic, message,"
            " wiki_section, badge, credit, practice_stub, webhook (given: tag, untag)",
        ),
        (
            "#1",
            "/rules/1/name",
            "'Weekly Digest': a rule name is 1 to 64 lowercase letters, digits, - and _,"
            " not starting with - or _",
        ),
        (
            "#1",
            "/rules/1/trigger/schedule/cron",
            "not a valid cron expression: Bad hour",
        ),
        ("tools", "/rules/2/actions", "must list at least one item"),
        ("tools", "/rules/2/conditions/trust_level/min", "must be at most 4"),
        ("tools", "/rules/2/name", "the name 'tools' is taken by rule #0"),
        (
            "tools",
            "/rules/2/trigger",
            "exactly one trigger is needed, one of: event, schedule, alert, practice_adopted,"
            " status_change, beat, unanswered, stale_charter (given: none)",
        ),
    ]


def test_the_error_lists_every_problem_in_its_message() -> None:
    with pytest.raises(RulesInvalid) as caught:
        parse(INVALID, "rules.yaml")
    text = str(caught.value)
    assert text.startswith("rules.yaml: 12 error(s) in the rules\n")
    assert "  rule #1: /rules/1/trigger/schedule/cron: not a valid cron expression" in text


def test_yaml_syntax_errors_say_where() -> None:
    problem = only_problem("rules:\n  - name: a\n    trigger: {event: [x}\n")
    assert problem.rule == "" and problem.path == ""
    assert problem.message.startswith("YAML syntax: line 3, column ")


def test_a_key_given_twice_is_a_problem() -> None:
    text = "rules:\n  - name: a\n    trigger: {event: wiki.edit}\n    name: b\n    actions: []\n"
    found = [str(p) for p in problems_of(text)]
    assert "file: /: line 4: 'name' is given twice in one mapping" in found
    in_json = '{"rules": [], "rules": []}'
    assert str(only_problem(in_json)) == "file: /: 'rules' is given twice in one mapping"


def test_an_empty_file_and_a_missing_rules_key() -> None:
    assert only_problem("").message == "the file is empty; expected a mapping with 'rules'"
    assert str(only_problem("{}")) == "file: /: missing 'rules'"
    assert [str(p) for p in problems_of("rulez: []")] == [
        "file: /: missing 'rules'",
        "file: /rulez: unknown option 'rulez' (did you mean 'rules'?)",
    ]
    assert only_problem("rules: {}").message == "expected a list, found a mapping"
    assert parse("rules: []", "t").rules == ()


def test_an_unknown_time_zone() -> None:
    problem = only_problem(VALID_YAML, time_zone="Europe/Atlantis")
    assert str(problem) == "file: /: unknown time zone 'Europe/Atlantis' (automations.time_zone)"


def test_cron_expressions_need_five_valid_fields() -> None:
    six = only_problem(one_rule('{schedule: {cron: "0 0 9 * * MON"}}'))
    assert (six.rule, six.path) == ("r", "/rules/0/trigger/schedule/cron")
    assert six.message == "a cron expression has 5 fields (minute hour day month weekday), not 6"
    bad_day = only_problem(one_rule('{schedule: {cron: "0 9 * * FUNDAY"}}'))
    assert bad_day.message.startswith("not a valid cron expression: ")


def test_event_patterns_must_match_a_known_kind() -> None:
    problem = only_problem(one_rule('{event: [wiki.edit, "forum.nothing_*"]}'))
    assert problem.path == "/rules/0/trigger/event/1"
    assert problem.message == "'forum.nothing_*' matches no known event kind"
    for pattern in ("*", "forum.*", "schedule.*", "community.practice_adopted", "health.alert.*"):
        parse(one_rule(f'{{event: "{pattern}"}}'), "t")


def test_templates_are_checked_in_every_template_option() -> None:
    actions = """[
        {reply: {text: "{{ not a name }}", as: "{{nobody}}"}},
        {create_topic: {title: "{{author}", text: x, category: "{{category_x}}",
                        tags: [ok, "{{t}}"]}},
        {message: {to: ["{{lead_group}}", "{{who}}"], title: x, text: y}},
        {wiki_section: {page: "{{p}}", section: s, text: t, summary: "{{s}}"}},
        {badge: {badge: "{{b}}", to: "{{author}}", description: "{{d}}", reason: "{{r}}"}},
        {credit: {to: "{{c}}", weight: 1}},
        {practice_stub: {title: "{{pt}}", summary: "{{ps}}", organisation: "{{po}}"}},
        {webhook: {type: automation.x, data: {a: {b: ["{{deep}}"]}}}},
        {tag: {tags: ["{{xy}}"], topic: "{{tp}}"}},
        {untag: {tags: ["{{ut}}"]}}
    ]"""
    found = {
        (p.path, p.message) for p in problems_of(one_rule("{event: forum.post_created}", actions))
    }
    never = "is never filled for this trigger"
    expected = {
        (
            "/rules/0/actions/0/reply/text",
            "{{not a name}} is not a placeholder (a fact's name, such as {{author}})",
        ),
        ("/rules/0/actions/0/reply/as", f"{{{{nobody}}}} {never}"),
        ("/rules/0/actions/1/create_topic/title", "an unclosed '{{' or a stray '}}'"),
        (
            "/rules/0/actions/1/create_topic/category",
            f"{{{{category_x}}}} {never}; did you mean {{{{category}}}}?",
        ),
        ("/rules/0/actions/1/create_topic/tags/1", f"{{{{t}}}} {never}"),
        ("/rules/0/actions/2/message/to/1", f"{{{{who}}}} {never}"),
        ("/rules/0/actions/3/wiki_section/page", f"{{{{p}}}} {never}"),
        ("/rules/0/actions/3/wiki_section/summary", f"{{{{s}}}} {never}"),
        ("/rules/0/actions/4/badge/badge", f"{{{{b}}}} {never}"),
        ("/rules/0/actions/4/badge/description", f"{{{{d}}}} {never}"),
        ("/rules/0/actions/4/badge/reason", f"{{{{r}}}} {never}"),
        ("/rules/0/actions/5/credit/to", f"{{{{c}}}} {never}"),
        ("/rules/0/actions/6/practice_stub/title", f"{{{{pt}}}} {never}"),
        ("/rules/0/actions/6/practice_stub/summary", f"{{{{ps}}}} {never}"),
        ("/rules/0/actions/6/practice_stub/organisation", f"{{{{po}}}} {never}"),
        ("/rules/0/actions/7/webhook/data/a/b/0", f"{{{{deep}}}} {never}"),
        ("/rules/0/actions/8/tag/tags/0", f"{{{{xy}}}} {never}"),
        ("/rules/0/actions/8/tag/topic", f"{{{{tp}}}} {never}"),
        ("/rules/0/actions/9/untag/tags/0", f"{{{{ut}}}} {never}"),
    }
    assert found == expected


def test_placeholders_follow_what_the_trigger_offers() -> None:
    beat = '[{create_topic: {title: "{{beat_number}}", text: "{{author}}", category: x}}]'
    problem = only_problem(one_rule("{beat: {}}", beat))
    assert problem.path == "/rules/0/actions/0/create_topic/text"
    wiki_or_forum = '[{reply: {text: "{{page_title}} {{topic_title}} {{rule}}"}}]'
    parse(one_rule("{event: [wiki.edit, forum.post_created]}", wiki_or_forum), "t")
    slot = '[{reply: {text: "{{slot}}"}}]'
    assert only_problem(one_rule("{event: wiki.edit}", slot)).message.startswith("{{slot}}")


def test_values_of_the_wrong_type_say_what_is_expected() -> None:
    found = {
        (p.path, p.message)
        for p in problems_of(
            one_rule(
                "{event: 5}",
                "[{reply: {text: [a]}}, {credit: {to: x, weight: 0}}]",
                ", conditions: {constellation: false, tags: {any: [x], al: [y]}, newcomer: 1}",
            )
        )
    }
    assert found == {
        ("/rules/0/trigger/event", "expected text or a list, found a number (5)"),
        ("/rules/0/actions/0/reply/text", "expected text, found a list"),
        ("/rules/0/actions/1/credit/weight", "must be more than 0"),
        (
            "/rules/0/conditions/constellation",
            "expected true (any constellation) or a list of constellation page titles",
        ),
        ("/rules/0/conditions/tags/al", "unknown option 'al' (did you mean 'all'?)"),
        ("/rules/0/conditions/newcomer", "expected true or false, found a number (1)"),
    }


def test_load_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(VALID_YAML, "utf-8")
    assert load(path, time_zone="Europe/Paris") == parse(
        VALID_YAML, str(path), time_zone="Europe/Paris"
    )
    with pytest.raises(RulesInvalid) as caught:
        load(tmp_path / "missing.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "file: /: cannot read (No such file or directory)"
    ]


BUILTINS = ["beat-reminders", "unanswered-nudge", "stale-charter", "newcomer-welcome"]


def test_builtin_rules_follow_the_settings() -> None:
    rules = builtin_rules(settings())
    assert [rule.name for rule in rules] == BUILTINS
    assert all(rule.builtin for rule in rules)
    chosen = builtin_rules(
        settings(
            builtins=["unanswered-nudge", "stale-charter"],
            unanswered_hours=12,
            stale_charter_days=30,
            stale_charter_active_days=5,
        )
    )
    assert [(rule.name, rule.trigger) for rule in chosen] == [
        ("unanswered-nudge", Trigger("unanswered", {"hours": 12})),
        ("stale-charter", Trigger("stale_charter", {"days": 30, "active_days": 5})),
    ]
    assert builtin_rules(settings(builtins=[])) == ()


def test_builtin_rules_are_written_in_the_language() -> None:
    text = (Path(__file__).parents[3] / "webhooks/automations/builtin_rules.yaml").read_text(
        "utf-8"
    )
    rules = parse(text, "builtin_rules.yaml")
    assert [rule.name for rule in rules.rules] == BUILTINS
    by_name = {rule.name: rule for rule in rules.rules}
    assert by_name["newcomer-welcome"].conditions == {
        "first_post_only": True,
        "trust_level": {"max": 1},
    }
    assert by_name["unanswered-nudge"].conditions == {"constellation": True}
    assert (
        by_name["beat-reminders"].actions[0].options["category"] == "{{constellation_category_id}}"
    )
    assert by_name["stale-charter"].actions[0].options["to"] == ["{{last_editors}}"]
    assert "{{related_practices}}" in by_name["newcomer-welcome"].actions[0].options["text"]


def test_active_rules_without_a_file_are_the_builtins() -> None:
    rules = active_rules(settings(time_zone="Europe/London"))
    assert [rule.name for rule in rules.rules] == BUILTINS
    assert rules.time_zone == "Europe/London"
    with pytest.raises(RulesInvalid):
        active_rules(settings(time_zone="Nowhere/Land"))


def test_a_file_rule_replaces_the_builtin_of_its_name(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n"
        "  - name: newcomer-welcome\n"
        "    trigger: {event: forum.post_created}\n"
        "    conditions: {first_post_only: true, constellation: true}\n"
        "    actions: [{reply: {text: 'Hello {{author}}'}}]\n",
        "utf-8",
    )
    rules = active_rules(
        settings(rules_file=str(path), builtins=["newcomer-welcome", "beat-reminders"])
    )
    assert [(rule.name, rule.builtin) for rule in rules.rules] == [
        ("beat-reminders", True),
        ("newcomer-welcome", False),
    ]
    assert rules.named("newcomer-welcome") == rules.rules[1]
    assert rules.source == str(path)


def test_active_rules_reread_an_edited_file_only(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(one_rule("{event: wiki.edit}"), "utf-8")
    configured = settings(rules_file=str(path), builtins=[])
    first = active_rules(configured)
    assert active_rules(configured) is first  # unchanged: not parsed again
    assert [rule.trigger for rule in first.rules] == [Trigger("event", {"patterns": ["wiki.edit"]})]

    stat = path.stat()
    path.write_text(one_rule("{event: wiki.new}"), "utf-8")  # the same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    edited = active_rules(configured)
    assert [rule.trigger for rule in edited.rules] == [Trigger("event", {"patterns": ["wiki.new"]})]
    assert active_rules(configured) is edited

    path.write_text(one_rule("{event: wiki.nothing}"), "utf-8")
    with pytest.raises(RulesInvalid) as caught:
        active_rules(configured)
    assert caught.value.problems[0].path == "/rules/0/trigger/event"
    with pytest.raises(RulesInvalid):  # still invalid, still said
        active_rules(configured)
    path.unlink()
    with pytest.raises(RulesInvalid) as gone:
        active_rules(configured)
    assert gone.value.problems[0].message.startswith("cannot read")
