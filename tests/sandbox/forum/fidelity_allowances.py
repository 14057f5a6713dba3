"""Every difference between the sandbox and a real Discourse recording that is not a bug,
with its reason. Paths are ``fnmatch`` patterns over ``shapes`` paths.
"""

from __future__ import annotations

from typing import Any

from tests.sandbox.forum.openapi_spec import schema_at
from tests.sandbox.forum.recordings import Delivery, answer
from tests.sandbox.forum.shapes import Difference, Shape, learn

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
    # xuxiaowei-com-cn/discourse-webhooks logs User-Agent and four X-Discourse-* headers by
    # its own field names; it reads the signature but does not log it.
    "172.25.25.203": "subset",
    "xuxiaowei.io": "subset",
}
HEADERS_NOT_RECORDED = {
    "accept": "Accept: */* is in the header hash of every emit_web_hook_event.rb read "
    "(2017-2024); the koishi log behind its proxy does not show it",
}

# ---- recorded names the sandbox does not send ----------------------------------------------

# Recorded so the receiver's deliberate ignore is tested on real bytes (KNOWN_UNREAD in
# webhooks/incoming/discourse_events.py). Constellate reads nothing of them, and the sandbox
# does not keep the state they report, so it has no action that would send them.
NOT_SENT = {
    "user_promoted": "the sandbox's PUT /admin/users/{id}/trust_level does not run "
    "Discourse's Promotion, which fires it",
    "notification_created": "the sandbox keeps no notifications",
    "reviewable_created": "the sandbox keeps no review queue (flags hide posts directly)",
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
    "user_voted": "discourse-topic-voting (topic)",
    "vote_count": "discourse-topic-voting (topic)",
    # Chat is bundled with core but a plugin all the same; the sandbox has no chat.
    "can_chat_user": "chat (UserSerializer addition)",
    "user_option.chat_*": "chat (UserOptionSerializer addition)",
    "user_option.ignore_channel_wide_mention": "chat",
    "user_option.only_chat_push_notifications": "chat",
    "user_option.show_thread_title_prompts": "chat",
    "category.create_as_post_voting_default": "discourse-post-voting (category)",
    "category.only_post_voting_in_this_category": "discourse-post-voting (category)",
    "category.sort_topics_by_event_start_date": "discourse-calendar events (category)",
    "category.disable_topic_resorting": "discourse-calendar events (category)",
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
# The user and category recordings are from Discourse 2025.12 (the same recorder's site
# sent these shapes again under 2026.9, which the sandbox follows where they differ).
NEWER_2026 = (
    "sent by Discourse 2026.9 (xuxiaowei.io, recorded by xuxiaowei-com-cn/discourse-webhooks "
    "@ {commit}, {path}), not yet by the 2025.12 recording"
)
GONE_2026 = NEWER_2026.replace("sent by", "no longer sent by").replace(
    "not yet by", "still sent in"
)
USER_2026 = {"commit": "0bf897c1", "path": "data/user/user_approved/2026.9.0-latest-body.json"}
CATEGORY_2026 = {
    "commit": "5151d8f5",
    "path": "data/category/category_destroyed/2026.9.0-latest-body.json",
}
NEWER_USER_KEYS = {
    f"user.user_option.{key}": NEWER_2026.format(**USER_2026)
    for key in (
        "push_notification_level",
        "enable_upcoming_change_available_notifications",
        "automatically_translate",
        "understood_languages",
        "show_original_content",
        "send_shortcut",
    )
}
NEWER_CATEGORY_KEYS = {
    f"category.{key}": NEWER_2026.format(**CATEGORY_2026)
    for key in (
        "topic_title_placeholder",
        "topic_posting_review_group_ids",
        "reply_posting_review_group_ids",
    )
}
GONE_USER_KEYS = {"user.user_option.enable_defer": GONE_2026.format(**USER_2026)}
GONE_CATEGORY_KEYS = {"category.category_setting": GONE_2026.format(**CATEGORY_2026)}
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
QUEUED = {"topic.pending_posts": QUEUED_POSTS, "topic.queued_posts_count": QUEUED_POSTS}
SITE_SETTINGS: dict[str, Allowed] = {
    "topic__topic_created__gov.uniswap.org": {
        "missing": QUEUED,
        "extra": {"topic.tags": "gov.uniswap.org has tagging off (include_tags?); it is on here"},
    },
    "topic__topic_closed_status_updated__xuxiaowei.io": {"missing": QUEUED},
}


def for_delivery(rec: Delivery) -> Allowed:
    """Everything that may differ from ``rec``, by kind of difference."""
    missing = {f"*{key}": reason for key, reason in PLUGIN_KEYS.items()}
    missing["*.tags_descriptions.*"] = TAG_DESCRIPTION_KEYS
    missing |= GONE_USER_KEYS | GONE_CATEGORY_KEYS
    extra = dict(NEWER_WEBHOOK_KEYS) | {"*.tags_descriptions.*": TAG_DESCRIPTION_KEYS}
    extra |= NEWER_USER_KEYS | NEWER_CATEGORY_KEYS
    extra |= RECORDER_EDITS.get(rec.name, {})
    site = SITE_SETTINGS.get(rec.name, {})
    return {
        "missing": missing | site.get("missing", {}),
        "extra": extra | site.get("extra", {}),
        "type": {"*.tags[]": TAG_OBJECTS},
    }


# ---- API answers ---------------------------------------------------------------------------

OPENAPI = "current openapi.json (rswag specs of current core) requires it in {op}"
# Keys the sandbox sends as current core does that the real sourcecred-test answers
# (Discourse 2.8, Dec 2021, anonymous) lack: each is required by the current spec.
NEWER_API_KEYS: dict[str, str] = {
    **{
        f"category_list.categories[].{key}": OPENAPI.format(op="listCategories")
        for key in (
            "style_type",
            "emoji",
            "icon",
            "topic_title_placeholder",
            "subcategory_count",
            "uploaded_logo_dark",
            "uploaded_background_dark",
        )
    },
    "post_stream.posts[].can_see_hidden_post": OPENAPI.format(op="listPosts")
    + "; WebHookPostSerializer has to exclude it, so PostSerializer sends it",
    "suggested_topics[].excerpt": OPENAPI.format(op="getTopic"),
    "details.participants[].flair_group_id": OPENAPI.format(op="getTopic"),
    "details.participants[].moderator": OPENAPI.format(op="getTopic"),
}
SOLVED = "discourse-solved, which the sandbox runs (as the real sourcecred-test site does)"
SANDBOX_PLUGIN_KEYS = {
    f"*{key}": SOLVED
    for key in ("accepted_answer", "can_accept_answer", "can_unaccept_answer", "accepted_answers")
}
# An official example of an old version may lack what a real answer of the same call has:
# the answer recorded on sourcecred-test (Discourse 2.8) is the evidence then.
REAL_PEERS = {
    "GET_u_{username}.json__apidocs.json": "GET_u_{username}.json__sourcecred-test_dl-proto.json"
}
GRAVATAR = (
    "sent only for a user with a gravatar upload (the recorded system user has one); "
    "sandbox users have no avatars"
)
CONDITIONAL_API_KEYS: dict[str, str] = {
    "user.gravatar_avatar_template": GRAVATAR,
    "user.gravatar_avatar_upload_id": GRAVATAR,
}
# The official examples of old versions (discourse_api_docs 2016-2020, the discourse_api
# gem's fixtures 2015-2020) and the operation that documents the same call today.
OFFICIAL_OPERATIONS: dict[str, tuple[str, str]] = {
    "GET_admin_badges.json__apidocs.json": ("adminListBadges", ""),
    "GET_admin_users_list_{flag}.json__discourse_api-gem.json": ("adminListUsersFlag", ""),
    "GET_admin_users_{id}.json__apidocs.json": ("adminGetUser", ""),
    "GET_admin_users_{id}.json__discourse_api-gem.json": ("adminGetUser", ""),
    "GET_groups.json__apidocs-2016.json": ("listGroups", "groups"),
    "GET_groups_{name}_members.json__apidocs.json": ("listGroupMembers", ""),
    "GET_posts.json__before__discourse_api-gem.json": ("listPosts", ""),
    "GET_posts.json__discourse_api-gem.json": ("listPosts", ""),
    "GET_posts_{id}.json__apidocs.json": ("getPost", ""),
    "GET_u_{username}.json__apidocs.json": ("getUser", ""),
    "GET_user-badges_{username}.json__discourse_api-gem.json": ("listUserBadges", ""),
    "POST_admin_groups.json__apidocs.json": ("createGroup", ""),
    "POST_posts.json__apidocs.json": ("createTopicPostPM", ""),
    "POST_posts.json__discourse_api-gem.json": ("createTopicPostPM", ""),
    "POST_users.json__apidocs.json": ("createUser", ""),
    "PUT_categories_{id}.json__apidocs.json": ("updateCategory", ""),
    "PUT_posts_{id}.json__apidocs.json": ("updatePost", ""),
    "PUT_t_-_{id}.json__apidocs.json": ("updateTopic", ""),
}


def comparable(name: str, recorded: Any, mine: Any) -> tuple[Any, Any]:
    """The parts of a recorded answer and the sandbox's answer that correspond: the 2016
    /groups.json was a bare array of groups, today's answer holds them under ``groups``."""
    if name == "GET_groups.json__apidocs-2016.json":
        return recorded, mine["groups"]
    return recorded, mine


def for_answer(name: str, found: list[Difference]) -> Allowed:
    """What may differ from the recorded answer ``name``. For an official example of an old
    version, a difference is also accepted where the current spec agrees with the sandbox:
    a key it documents that the example lacks, a key it no longer documents, a type it
    gives."""
    allowed: Allowed = {
        "missing": {f"*{key}": reason for key, reason in PLUGIN_KEYS.items()}
        | CONDITIONAL_API_KEYS,
        "extra": NEWER_API_KEYS | SANDBOX_PLUGIN_KEYS,
        "type": {},
    }
    if name in REAL_PEERS:
        peer = learn(answer(REAL_PEERS[name]))
        for difference in found:
            if difference.kind == "extra" and not lacks(peer, difference.path):
                allowed["extra"][_escape(difference.path)] = f"in {REAL_PEERS[name]}"
    if name in OFFICIAL_OPERATIONS:
        operation, prefix = OFFICIAL_OPERATIONS[name]
        for difference in found:
            reason = _current_spec_agrees(operation, prefix, difference)
            if reason:
                allowed[difference.kind][_escape(difference.path)] = reason
    return allowed


def _current_spec_agrees(operation: str, prefix: str, difference: Difference) -> str | None:
    path = ".".join(p for p in (prefix, difference.path.removeprefix("<root>")) if p)
    schema = schema_at(operation, path)
    if difference.kind == "extra" and schema is not None:
        return f"added since the example: current openapi.json documents it ({operation})"
    if difference.kind == "missing" and schema is None:
        return f"gone since the example: current openapi.json lacks it ({operation})"
    if difference.kind == "type" and schema is not None:
        mine = difference.detail.split(",")[0]
        documented = schema.get("type")
        types = [str(t) for t in (documented if isinstance(documented, list) else [documented])]
        names = {"integer": "int", "number": "float", "string": "str", "boolean": "bool"}
        if mine in {names.get(t, t) for t in types} or (mine == "int" and "number" in types):
            return f"current openapi.json types it {documented} ({operation})"
    return None


def lacks(shape: Shape, path: str) -> bool:
    """True when ``shape`` has no key at ``path``."""
    node: Shape | None = shape
    for part in [p for p in path.replace("[]", ".[]").split(".") if p]:
        if node is None:
            return True
        node = node.items if part == "[]" else node.keys.get(part)
    return node is None


def _escape(path: str) -> str:
    """A literal path as an fnmatch pattern (``[]`` would be a character class)."""
    return path.replace("[", "[[]")
