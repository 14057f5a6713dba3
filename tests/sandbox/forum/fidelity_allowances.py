"""Every difference between the sandbox and a real Discourse recording that is not a bug,
with its reason. Paths are ``fnmatch`` patterns over ``shapes`` paths.
"""

from __future__ import annotations

from tests.sandbox.forum.recordings import Delivery

Allowed = dict[str, dict[str, str]]

# ---- headers -----------------------------------------------------------------------------

# Added by the reverse proxy in front of the koishi receiver (forum.a), not by Discourse.
PROXY_HEADERS = {
    "x-real-ip",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-server",
}
# How much of the header set each recording kept (SOURCES.md): "all", only the
# "x-discourse" ones (Fedora's bridge, govbot), or a "subset" (the spec asserts a few).
HEADERS_KEPT = {
    "forum.a__12": "all",
    "forum.a__13": "all",
    "forum.a__15": "all",
    "forum.a__16": "all",
    "discussion.fedoraproject.org": "x-discourse",
    "ask.fedoraproject.org": "x-discourse",
    "gov.uniswap.org": "x-discourse",
    "forum.weaviate.io": "subset",
    "discourse-spec": "subset",
}
HEADERS_NOT_RECORDED = {
    "accept": "Accept: */* is in the header hash of every emit_web_hook_event.rb read "
    "(2017-2024); the koishi log behind its proxy does not show it",
}

# ---- plugin keys: the sandbox runs only discourse-solved ---------------------------------

PLUGIN_KEYS = {
    "akismet_state": "discourse-akismet (PostSerializer addition)",
    "reactions": "discourse-reactions",
    "reaction_users_count": "discourse-reactions",
    "current_user_reaction": "discourse-reactions",
    "current_user_used_main_reaction": "discourse-reactions",
    "valid_reactions": "discourse-reactions (topic)",
    "user_cakedate": "discourse-cakeday",
    "user_status": "user status is a core feature but only serialized when "
    "enable_user_status is on (off by default) and the user set one",
    "calendar_details": "discourse-calendar",
    "can_vote": "discourse-topic-voting",
    "title_is_group": "discourse-fedora theme/plugin key (not in core's PostSerializer)",
    "discourse_zendesk_plugin_zendesk_id": "discourse-zendesk-plugin",
    "discourse_zendesk_plugin_zendesk_url": "discourse-zendesk-plugin",
    "tags_disable_ads": "discourse-adplugin",
}


# ---- current core keys the older recordings lack -----------------------------------------

WEB_HOOK_POST_SPEC = (
    "sent by current core: spec/serializers/web_hook_post_serializer_spec.rb lists it among "
    "the only keys of WebHookPostSerializer"
)
NEWER_WEBHOOK_KEYS = {
    "*post.posts_count": WEB_HOOK_POST_SPEC + " (recordings are from 2023)",
    "*post.post_url": WEB_HOOK_POST_SPEC + " (recordings are from 2023)",
    "solved.posts_count": WEB_HOOK_POST_SPEC + " (recordings are from 2023)",
    "solved.post_url": WEB_HOOK_POST_SPEC + " (recordings are from 2023)",
    # In the Nov 2023 recording (forum.weaviate.io), not in the Feb 2023 ones.
    "*post.flair_group_id": WEB_HOOK_POST_SPEC + "; first recorded Nov 2023",
    "solved.flair_group_id": WEB_HOOK_POST_SPEC + "; first recorded Nov 2023",
}
TAG_OBJECTS = (
    "tags are {id, name, slug} objects in current core (app/serializers/concerns/"
    "topic_tags_mixin.rb); the 2023 recordings are from versions that sent names"
)
# tags_descriptions is a map from tag name to description: its keys are data, not shape.
TAG_DESCRIPTION_KEYS = "tags_descriptions is keyed by the topic's tag names"

# ---- what a recorder or a site setting changed -------------------------------------------

FEDORA_STRIPPED = (
    "Fedora's discourse2fedmsg removes raw and cooked before publishing "
    "(discourse2fedmsg/views/webhook.py), so its post recordings lack them"
)
RECORDER_EDITS: dict[str, dict[str, str]] = {
    name: {"post.raw": FEDORA_STRIPPED, "post.cooked": FEDORA_STRIPPED}
    for name in (
        "post__post_created__discussion.fedoraproject.org",
        "post__post_edited__ask.fedoraproject.org",
        "post__post_destroyed__ask.fedoraproject.org",
        "post__post_recovered__discussion.fedoraproject.org",
    )
}
QUEUED_POSTS = (
    "TopicViewSerializer sends it only when the topic's posts need approval "
    "(queued_posts_enabled?); the sandbox has no approval queue"
)
SITE_SETTINGS: dict[str, Allowed] = {
    "topic__topic_created__gov.uniswap.org": {
        "missing": {"topic.pending_posts": QUEUED_POSTS, "topic.queued_posts_count": QUEUED_POSTS},
        "extra": {"topic.tags": "gov.uniswap.org has tagging off (include_tags?); it is on here"},
    }
}


def for_delivery(rec: Delivery) -> Allowed:
    """Everything that may differ from ``rec``, by kind of difference."""
    missing = {f"*{key}": reason for key, reason in PLUGIN_KEYS.items()}
    missing["*.tags_descriptions.*"] = TAG_DESCRIPTION_KEYS
    extra = dict(NEWER_WEBHOOK_KEYS) | {"*.tags_descriptions.*": TAG_DESCRIPTION_KEYS}
    extra |= RECORDER_EDITS.get(rec.name, {})
    site = SITE_SETTINGS.get(rec.name, {})
    return {
        "missing": missing | site.get("missing", {}),
        "extra": extra | site.get("extra", {}),
        "type": {"*.tags[]": TAG_OBJECTS},
    }
