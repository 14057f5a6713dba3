"""Contract tests: every endpoint the sandbox serves that openapi.json describes answers with a
body valid against that operation's response schema, and the key sets of topic, post,
category, latest and user responses include every key of the recorded real responses.

Both documents are read from ``../shared/discourse`` relative to the project root.

Schema fixes (``RECORDED_FIXES``): the spec disagrees with real Discourse in a few places.
Each fix is narrow (one property at one place in one operation's schema) and is backed by a
recorded real payload or by the same serializer's schema elsewhere in the spec; no schema is
loosened as a whole (additionalProperties stays as the spec has it).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator
from werkzeug.exceptions import HTTPException

from sandbox.forum.app import create_forum_app
from sandbox.forum.state import Forum
from tests.conftest import SessionForum
from tests.sandbox.forum import openapi_spec

SHARED = openapi_spec.SHARED
SPEC = openapi_spec.SPEC
PAYLOADS = SHARED / "payloads"

INTEGER_OR_NULL = {"type": ["integer", "null"]}
# The spec's actions_summary items for a post (getPost), reused where the spec omits count.
ACTION_SUMMARY_EXTRA = {
    "count": {"type": "integer"},
    "acted": {"type": "boolean"},
    "can_undo": {"type": "boolean"},
}
SOLVED_POST_KEYS = {
    "accepted_answer": {"type": "boolean"},
    "can_accept_answer": {"type": "boolean"},
    "can_unaccept_answer": {"type": "boolean"},
}
# Keys recorded in payloads/sourcecred_latest_page0.json items but missing from the
# category topic list's item schema (same TopicListItemSerializer).
TOPIC_ITEM_EXTRA = {
    "tags": {"type": "array"},
    "tags_descriptions": {"type": "object"},
    "has_accepted_answer": {"type": "boolean"},
}
NULLABLE_TOPIC_USER_FLAGS = {
    "bookmarked": {"type": ["boolean", "null"]},
    "liked": {"type": ["boolean", "null"]},
}
POSTER_EXTRA = {"flair_group_id": INTEGER_OR_NULL}
# (operation, path of keys to the object schema, property -> schema to add or replace).
RECORDED_FIXES: list[tuple[str, tuple[str, ...], dict[str, Any]]] = [
    # reply_to_post_number: the spec types it ["string","null"]; real payloads carry an integer.
    *(
        (op, where, {"reply_to_post_number": INTEGER_OR_NULL})
        for op, where in [
            ("createTopicPostPM", ()),
            ("getPost", ()),
            ("updatePost", ("post",)),
            ("listPosts", ("latest_posts", "items")),
            ("getTopic", ("post_stream", "posts", "items")),
            ("getSpecificPostsFromTopic", ("post_stream", "posts", "items")),
            ("performPostAction", ()),
        ]
    ),
    *(
        (op, (*where, "actions_summary", "items"), ACTION_SUMMARY_EXTRA)
        for op, where in [
            ("createTopicPostPM", ()),
            ("updatePost", ("post",)),
            ("listPosts", ("latest_posts", "items")),
            ("getTopic", ("post_stream", "posts", "items")),
        ]
    ),
    # discourse-solved keys, recorded on every post of payloads/sourcecred_t_26.json; the
    # plugin adds them to PostSerializer, which /posts.json renders too.
    ("getTopic", ("post_stream", "posts", "items"), SOLVED_POST_KEYS),
    ("listPosts", ("latest_posts", "items"), SOLVED_POST_KEYS),
    # UserActionSerializer: post_id, hidden and post_type are the posts' integer and
    # boolean columns (UserAction.stream selects p.id, p.hidden, p.post_type); the spec
    # types them as strings.
    (
        "listUserActions",
        ("user_actions", "items"),
        {
            "post_id": INTEGER_OR_NULL,
            "hidden": {"type": ["boolean", "null"]},
            "post_type": INTEGER_OR_NULL,
        },
    ),
    # Recorded in sourcecred_t_26.json; the plugin adds accepted_answer to solved topics.
    ("getTopic", (), {"tags_disable_ads": {"type": "boolean"}, "accepted_answer": {}}),
    ("getTopic", ("details", "participants", "items"), POSTER_EXTRA),
    ("listCategoryTopics", ("topic_list", "topics", "items"), TOPIC_ITEM_EXTRA),
    # discourse-solved's key, on the suggested topics of the real sourcecred t11 answer.
    ("getTopic", ("suggested_topics", "items"), {"has_accepted_answer": {"type": "boolean"}}),
    ("listCategoryTopics", ("topic_list", "topics", "items", "posters", "items"), POSTER_EXTRA),
    # Recorded user (sourcecred_users_dl-proto.json): featured_topic null, plugin and bio keys.
    (
        "getUser",
        ("user",),
        {
            "featured_topic": {"type": ["object", "null"]},
            "accepted_answers": {"type": "integer"},
            "bio_excerpt": {"type": ["string", "null"]},
            "bio_cooked": {"type": ["string", "null"]},
            "email": {"type": ["string", "null"]},
        },
    ),
    # The recorded /latest.json items (sourcecred_latest_page0.json) carry null for these.
    (
        "listLatestTopics",
        ("topic_list", "topics", "items"),
        {"image_url": {"type": ["string", "null"]}, **NULLABLE_TOPIC_USER_FLAGS},
    ),
    ("getTag", ("topic_list", "topics", "items"), NULLABLE_TOPIC_USER_FLAGS),
    # sourcecred_latest_page0.json side-loads users with these keys (same serializer).
    (
        "listCategoryTopics",
        ("users", "items"),
        {
            "flair_name": {"type": ["string", "null"]},
            "trust_level": {"type": "integer"},
            "admin": {"type": "boolean"},
            "moderator": {"type": "boolean"},
        },
    ),
    # The recorded /users/{username}.json side-loads these next to user and user_badges.
    (
        "getUser",
        (),
        {k: {"type": "array"} for k in ("badges", "badge_types", "users", "topics")},
    ),
    # The recorded search response (apidocs_search_query_response.json) has topics.
    ("search", (), {"topics": {"type": "array"}}),
]
# grant_trust_level: the spec types it ["string","null"]; Discourse stores an integer level.
RECORDED_FIXES += [
    (op, where, {"grant_trust_level": INTEGER_OR_NULL})
    for op, where in [
        ("listGroups", ("groups", "items")),
        ("getGroup", ("group",)),
        ("getGroupById", ("group",)),
        ("createGroup", ("basic_group",)),
        ("getUser", ("user", "groups", "items")),
        ("adminGetUser", ("groups", "items")),
    ]
]
# /u/by-external/{id}.json renders the same user page as /u/{username}.json.
RECORDED_FIXES += [("getUserExternalId", w, p) for op, w, p in RECORDED_FIXES if op == "getUser"]
# Recorded responses whose key sets we must include, and where to find the keys.
RECORDED_KEYSETS = {
    "topic": ("sourcecred_t_26.json", ()),
    "post": ("sourcecred_t_26.json", ("post_stream", "posts", 0)),
    "category": ("sourcecred_categories.json", ("category_list", "categories", 0)),
    # The second topic: the first is pinned, and only pinned topics carry an excerpt.
    "latest": ("sourcecred_latest_page0.json", ("topic_list", "topics", 1)),
    "user": ("sourcecred_users_dl-proto.json", ("user",)),
    "user_page": ("sourcecred_users_dl-proto.json", ()),
    "latest_page": ("sourcecred_latest_page0.json", ()),
}


OPERATIONS = openapi_spec.OPERATIONS
_resolve = openapi_spec.resolve


ACTED = (
    "PostSerializer#actions_summary sets can_act only when the viewer may act; an action the "
    "viewer took has acted/can_undo instead, and the real sourcecred_t_26.json entries of an "
    "anonymous viewer carry only id and count"
)
# Keys the spec's example happened to carry but Discourse sends only under a condition the
# contract's forum does not meet (operation, where, key, why).
CONDITIONAL_KEYS: list[tuple[str, tuple[str, ...], str, str]] = [
    (
        "listCategoryTopics",
        ("topic_list", "topics", "items"),
        "excerpt",
        "TopicListItemSerializer#include_excerpt?: pinned topics only; the real /latest.json "
        "(sourcecred_latest_page0.json) has it on its one pinned topic alone",
    ),
    *(
        (op, (*where, "actions_summary", "items"), "can_act", ACTED)
        for op, where in [
            ("listPosts", ("latest_posts", "items")),
            ("updatePost", ("post",)),
            ("getTopic", ("post_stream", "posts", "items")),
            ("createTopicPostPM", ()),
            ("getPost", ()),
            ("performPostAction", ()),
        ]
    ),
    *(
        (
            "performPostAction",
            (),
            key,
            "include_reviewable_id? and the reviewable counts: reviewers (staff) only; the "
            "contract likes as a member",
        )
        for key in ("reviewable_id", "reviewable_score_count", "reviewable_score_pending_count")
    ),
    (
        "getTopic",
        ("post_stream", "posts", "items"),
        "link_counts",
        "include_link_counts?: only posts with links have them (the posts of the real "
        "sourcecred_t_26.json have no links and no link_counts)",
    ),
]


def _target(schema: dict[str, Any], where: tuple[str, ...]) -> dict[str, Any]:
    target = schema
    for key in where:
        target = target[key] if key == "items" else target["properties"][key]
    if target.get("type") in ("array", ["array", "null"]) and "items" in target:
        target = target["items"]
    return target


def response_schema(operation_id: str, status: int) -> dict[str, Any]:
    _method, _path, op = OPERATIONS[operation_id]
    response = _resolve(op["responses"][str(status)])
    schema: dict[str, Any] = copy.deepcopy(response["content"]["application/json"]["schema"])
    for fix_op, where, properties in RECORDED_FIXES:
        if fix_op == operation_id:
            _target(schema, where).setdefault("properties", {}).update(properties)
    for fix_op, where, key, _why in CONDITIONAL_KEYS:
        if fix_op == operation_id:
            target = _target(schema, where)
            target["required"] = [k for k in target.get("required", []) if k != key]
    return schema


def assert_valid(operation_id: str, response: requests.Response) -> Any:
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    validator = Draft202012Validator(response_schema(operation_id, response.status_code))
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{operation_id}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]
    )
    return body


def recorded_keys(name: str) -> set[str]:
    file_name, where = RECORDED_KEYSETS[name]
    node: Any = json.loads((PAYLOADS / file_name).read_text(encoding="utf-8"))
    for key in where:
        node = node[key]
    return set(node)


class Api:
    """Raw HTTP as the system admin, so status codes and headers are visible."""

    def __init__(self, forum: SessionForum) -> None:
        self.base = forum.url
        self.headers = {"Api-Key": forum.api_key, "Api-Username": "system"}

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(
            method,
            self.base + path,
            headers=self.headers,
            timeout=10,
            allow_redirects=False,
            **kwargs,
        )


@pytest.fixture(scope="module")
def world(forum: SessionForum) -> Iterator[dict[str, Any]]:
    """A small forum of our own: a member, a category, a tagged topic with replies, a like,
    an accepted answer, a group, a badge grant and a tag group."""
    api = Api(forum)
    member = forum.name("m")
    api(
        "POST",
        "/users.json",
        data={
            "username": member,
            "email": f"{member}@example.org",
            "password": "correct-horse-battery",
            "name": "Mem Ber",
            "active": "true",
            "approved": "true",
        },
    )
    category = api(
        "POST", "/categories.json", data={"name": forum.name("Cat "), "color": "AB9364"}
    ).json()["category"]
    tag = forum.name("tag")
    first = api(
        "POST",
        "/posts.json",
        data={
            "title": f"Contract topic {forum.name()}",
            "raw": "The first post of the contract topic.",
            "category": category["id"],
            "tags[]": [tag],
        },
    ).json()
    # A second topic, so the first has suggested topics: the schema requires the key, and
    # Discourse (as the sandbox) leaves it out when it has none to suggest.
    api(
        "POST",
        "/posts.json",
        data={
            "title": f"Another contract topic {forum.name()}",
            "raw": "The first post of another topic.",
            "category": category["id"],
        },
    )
    reply = forum.client(member).create_post(
        "A reply from the member, long enough.", topic_id=first["topic_id"]
    )
    api("POST", "/post_actions.json", data={"id": reply["id"], "post_action_type_id": 2})
    api("POST", "/solution/accept.json", data={"id": reply["id"]})
    group = forum.name("g")
    group_id = api(
        "POST", "/admin/groups.json", json={"group": {"name": group, "grant_trust_level": 1}}
    ).json()["basic_group"]["id"]
    badge = api(
        "POST", "/admin/badges.json", data={"name": forum.name("Badge "), "badge_type_id": 3}
    ).json()["badge"]
    api("POST", "/user_badges.json", data={"username": member, "badge_id": badge["id"]})
    tag_group = api(
        "POST", "/tag_groups.json", data={"name": forum.name("tg"), "tag_names[]": [tag]}
    ).json()
    # DiscourseConnect records an external id on the user; set it as the SSO flow would.
    external_id = forum.name("sso")
    with forum.forum.lock:
        user = forum.forum.user_by_username(member)
        assert user is not None
        user["external_id"] = external_id
    yield {
        "external_id": external_id,
        "api": api,
        "member": member,
        "category": category,
        "tag": tag,
        "first": first,
        "reply": reply,
        "group": group,
        "group_id": group_id,
        "badge": badge,
        "tag_group": tag_group["tag_group"],
    }


# operationId -> how to call it against the world (method and path come from the spec).
CASES: dict[str, Any] = {
    "listLatestTopics": lambda w: ("/latest.json", {}),
    "listCategories": lambda w: ("/categories.json", {"params": {"include_subcategories": "true"}}),
    "createCategory": lambda w: (
        "/categories.json",
        {"data": {"name": f"C {w['tag']}x", "color": "0088CC"}},
    ),
    "updateCategory": lambda w: (
        f"/categories/{w['category']['id']}.json",
        {"data": {"description": "Updated"}},
    ),
    "getCategory": lambda w: (f"/c/{w['category']['id']}/show.json", {}),
    "listCategoryTopics": lambda w: (f"/c/{w['category']['slug']}/{w['category']['id']}.json", {}),
    "listPosts": lambda w: ("/posts.json", {}),
    "createTopicPostPM": lambda w: (
        "/posts.json",
        {"data": {"topic_id": w["first"]["topic_id"], "raw": f"Another reply {w['tag']} here."}},
    ),
    "getPost": lambda w: (f"/posts/{w['reply']['id']}.json", {}),
    "updatePost": lambda w: (
        f"/posts/{w['reply']['id']}.json",
        {"data": {"post[raw]": "An edited reply, long enough."}},
    ),
    "getTopic": lambda w: (f"/t/{w['first']['topic_id']}.json", {}),
    "getSpecificPostsFromTopic": lambda w: (
        f"/t/{w['first']['topic_id']}/posts.json",
        {"params": {"post_ids[]": [w["reply"]["id"]]}},
    ),
    "updateTopic": lambda w: (
        f"/t/-/{w['first']['topic_id']}.json",
        {"data": {"title": f"Renamed contract topic {w['tag']}"}},
    ),
    "updateTopicStatus": lambda w: (
        f"/t/{w['first']['topic_id']}/status.json",
        {"data": {"status": "pinned", "enabled": "false"}},
    ),
    "performPostAction": lambda w: (
        "/post_actions.json",
        {
            "data": {"id": w["first"]["id"], "post_action_type_id": 2},
            "headers": {"Api-Username": w["member"]},
        },
    ),
    "listTags": lambda w: ("/tags.json", {}),
    "getTag": lambda w: (f"/tag/{w['tag']}.json", {}),
    "listTagGroups": lambda w: ("/tag_groups.json", {}),
    "createTagGroup": lambda w: (
        "/tag_groups.json",
        {"data": {"name": f"tg2{w['tag']}", "tag_names[]": [w["tag"]]}},
    ),
    "getTagGroup": lambda w: (f"/tag_groups/{w['tag_group']['id']}.json", {}),
    "updateTagGroup": lambda w: (
        f"/tag_groups/{w['tag_group']['id']}.json",
        {"data": {"one_per_topic": "true"}},
    ),
    "search": lambda w: ("/search.json", {"params": {"q": f"contract tags:{w['tag']}"}}),
    "getSite": lambda w: ("/site.json", {}),
    "createUser": lambda w: (
        "/users.json",
        {
            "data": {
                "username": f"u{w['tag'][3:13]}",
                "email": f"u{w['tag']}@example.org",
                "password": "correct-horse-battery",
            }
        },
    ),
    "getUser": lambda w: (f"/u/{w['member']}.json", {}),
    "listUsersPublic": lambda w: (
        "/directory_items.json",
        {"params": {"period": "all", "order": "likes_given"}},
    ),
    "listUserActions": lambda w: (
        "/user_actions.json",
        {"params": {"username": w["member"], "filter": "1,2", "offset": 0}},
    ),
    "adminGetUser": lambda w: (f"/admin/users/{w['reply']['user_id']}.json", {}),
    "adminListUsersFlag": lambda w: (
        "/admin/users/list/active.json",
        {"params": {"show_emails": "true"}},
    ),
    "createGroup": lambda w: (
        "/admin/groups.json",
        {"json": {"group": {"name": f"g2{w['tag'][3:]}"}}},
    ),
    "listGroups": lambda w: ("/groups.json", {}),
    "getGroup": lambda w: (f"/groups/{w['group']}.json", {}),
    "getGroupById": lambda w: (f"/groups/by-id/{w['group_id']}.json", {}),
    "updateGroup": lambda w: (
        f"/groups/{w['group_id']}.json",
        {"json": {"group": {"full_name": "A renamed partner"}}},
    ),
    "listGroupMembers": lambda w: (f"/groups/{w['group']}/members.json", {}),
    "addGroupMembers": lambda w: (
        f"/groups/{w['group_id']}/members.json",
        {"data": {"usernames": w["member"]}},
    ),
    "removeGroupMembers": lambda w: (
        f"/groups/{w['group_id']}/members.json",
        {"data": {"usernames": w["member"]}},
    ),
    "deleteGroup": lambda w: (f"/admin/groups/{w['group_id']}.json", {}),
    "adminListBadges": lambda w: ("/admin/badges.json", {}),
    "createBadge": lambda w: (
        "/admin/badges.json",
        {"data": {"name": f"B2 {w['tag']}", "badge_type_id": 2}},
    ),
    "getUserExternalId": lambda w: (f"/u/by-external/{w['external_id']}.json", {}),
    "activateUser": lambda w: (f"/admin/users/{w['reply']['user_id']}/activate.json", {}),
    "listUserBadges": lambda w: (f"/user-badges/{w['member']}.json", {}),
    "updateUser": lambda w: (f"/u/{w['member']}.json", {"json": {"name": "Contract Member"}}),
}
# Spec operations the sandbox answers without a JSON body (Rails' `render body: nil`).
EMPTY_BODY = {"deletePost", "removeTopic"}
ORDER = list(CASES)


@pytest.mark.parametrize("operation_id", ORDER)
def test_response_matches_the_documented_schema(world: dict[str, Any], operation_id: str) -> None:
    method, _spec_path, _op = OPERATIONS[operation_id]
    path, kwargs = CASES[operation_id](world)
    headers = {**world["api"].headers, **kwargs.pop("headers", {})}
    response = requests.request(
        method,
        world["api"].base + path,
        headers=headers,
        timeout=10,
        allow_redirects=False,
        **kwargs,
    )
    assert response.status_code == 200, response.text
    assert_valid(operation_id, response)


def test_topic_by_external_id_is_the_documented_redirect(forum: SessionForum) -> None:
    api = Api(forum)
    external = forum.name("ext-")
    created = api(
        "POST",
        "/posts.json",
        data={
            "title": f"External topic {external}",
            "raw": "A topic with an external id.",
            "external_id": external,
        },
    ).json()
    response = api("GET", f"/t/external_id/{external.upper()}.json")
    assert response.status_code in {
        int(code) for code in OPERATIONS["getTopicByExternalId"][2]["responses"]
    }
    assert response.headers["Location"].endswith(
        f"/t/{created['topic_slug']}/{created['topic_id']}.json"
    )


def test_delete_endpoints_answer_200_without_a_body(forum: SessionForum) -> None:
    api = Api(forum)
    topic = api(
        "POST",
        "/posts.json",
        data={"title": f"Topic to delete {forum.name()}", "raw": "This topic will be deleted."},
    ).json()
    reply = api(
        "POST",
        "/posts.json",
        data={"topic_id": topic["topic_id"], "raw": "This reply will be deleted."},
    ).json()
    assert api("DELETE", f"/posts/{reply['id']}.json").status_code == 200
    assert api("DELETE", f"/t/{topic['topic_id']}.json").status_code == 200
    assert set(EMPTY_BODY) <= set(OPERATIONS)


def _sample_path(spec_path: str) -> str:
    """A concrete URL for a spec path: numbers for ids, words for names."""
    path = spec_path
    for name in ("id", "topic_id", "post_id", "user_id"):
        path = path.replace("{" + name + "}", "7")
    return re.sub(r"\{[^}]+\}", "sample", path)


def test_every_documented_operation_the_sandbox_serves_is_exercised() -> None:
    """Ask the sandbox's own URL map which spec operations it routes; each must be tested."""
    adapter = create_forum_app(Forum("http://sandbox.test"), api_key="k").url_map.bind(
        "sandbox.test"
    )
    served = set()
    for operation_id, (method, spec_path, _op) in OPERATIONS.items():
        try:
            endpoint, _args = adapter.match(_sample_path(spec_path), method=method)
        except HTTPException:
            continue
        if endpoint != "static":
            served.add(operation_id)
    tested = set(CASES) | EMPTY_BODY | {"getTopicByExternalId"}
    assert served - tested == set()
    assert len(served) >= 40


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("topic", "/t/{topic}.json"),
        ("post", "/t/{topic}.json#post"),
        ("category", "/categories.json"),
        ("latest", "/latest.json"),
        ("latest_page", "/latest.json#page"),
        ("user", "/u/{member}.json"),
        ("user_page", "/u/{member}.json#page"),
    ],
)
def test_key_sets_include_the_recorded_real_responses(
    world: dict[str, Any], name: str, path: str
) -> None:
    url, _, _part = path.format(topic=world["first"]["topic_id"], member=world["member"]).partition(
        "#"
    )
    body = world["api"]("GET", url).json()
    node = {
        "topic": lambda: body,
        "post": lambda: body["post_stream"]["posts"][0],
        "category": lambda: body["category_list"]["categories"][0],
        "latest": lambda: body["topic_list"]["topics"][0],
        "latest_page": lambda: body,
        "user": lambda: body["user"],
        "user_page": lambda: body,
    }[name]()
    missing_keys = recorded_keys(name) - set(node)
    assert not missing_keys, f"{name} lacks recorded keys {sorted(missing_keys)}"
