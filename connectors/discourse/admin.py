"""The forum's administration, as a part of ForumClient: categories, tags, users, groups,
badges and site settings. Needs an admin key (a moderator key gets PermissionDenied).

Creating calls that seeding repeats are made safe to repeat where Discourse is not:
adding members skips current members (Discourse answers 422 for them); granting a badge
twice returns the existing grant (Discourse does so itself).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from connectors.discourse.errors import translated
from connectors.discourse.records import (
    Badge,
    Category,
    Group,
    TagGroup,
    User,
    UserBadge,
    badge_from,
    category_from,
    group_from,
    tag_group_from,
    user_badge_from,
    user_from,
)
from core.errors import NotFound

if TYPE_CHECKING:
    from connectors.discourse.transport import BudgetedDiscourseClient

USERS_PER_PAGE = 100  # /admin/users/list pages


class ForumAdmin:
    _dc: BudgetedDiscourseClient

    # -- categories ----------------------------------------------------------------------

    def categories(self) -> list[Category]:
        """Every category the account can see, subcategories included."""
        with translated():
            listed = self._dc._get("/categories.json", include_subcategories="true")
        found: dict[int, Category] = {}
        for item in listed["category_list"]["categories"]:
            found[int(item["id"])] = category_from(item)
            for sub in item.get("subcategory_list") or ():
                found[int(sub["id"])] = category_from(sub)
        return list(found.values())

    def create_category(
        self,
        name: str,
        *,
        color: str = "0088CC",
        text_color: str = "FFFFFF",
        parent_id: int | None = None,
        description: str | None = None,
    ) -> Category:
        extra: dict[str, Any] = {}
        if parent_id is not None:
            extra["parent_category_id"] = parent_id
        if description:
            extra["description"] = description
        with translated():
            answer = self._dc.create_category(name, color, text_color=text_color, **extra)
        return category_from(answer["category"])

    def update_category(self, category_id: int, **fields: Any) -> Category:
        """Change any of name, color, text_color, parent_category_id, description, …"""
        with translated():
            answer = self._dc.update_category(int(category_id), **fields)
        return category_from(answer["category"])

    def set_category_moderators(
        self, category_id: int, group_ids: Sequence[int]
    ) -> tuple[int, ...] | None:
        """Make exactly these groups the category's moderators (an empty list removes them
        all) and return the group ids the forum then reports. None when its answer has no
        ``moderating_group_ids``: the site setting enable_category_group_moderation is off
        (Discourse's default), and Discourse then drops the ids without a word; turn it on
        with ``site_settings(enable_category_group_moderation=True)``. An id that names no
        group is NotFound (Discourse answers 404 and keeps the groups it had)."""
        ids = [int(group_id) for group_id in group_ids]
        with translated():
            answer = self._dc.update_category(int(category_id), moderating_group_ids=ids)
            reported = answer["category"].get("moderating_group_ids")
        if reported is None:
            return None
        return tuple(int(group_id) for group_id in reported)

    # -- tags ----------------------------------------------------------------------------

    def tags(self) -> dict[str, int]:
        """Every tag's name and how many topics carry it."""
        with translated():
            answer = self._dc._get("/tags.json")
        listed = list(answer.get("tags") or [])
        for group in (answer.get("extras") or {}).get("tag_groups") or ():
            listed.extend(group.get("tags") or ())
        return {str(tag.get("name") or tag["id"]): int(tag.get("count") or 0) for tag in listed}

    def tag_groups(self) -> list[TagGroup]:
        with translated():
            answer = self._dc._get("/tag_groups.json")
        return [tag_group_from(item) for item in answer.get("tag_groups", [])]

    def create_tag_group(
        self, name: str, tag_names: Iterable[str], *, one_per_topic: bool = False
    ) -> TagGroup:
        """A tag group; its tags are created with it when they do not exist yet."""
        with translated():
            answer = self._dc.tag_group(name, list(tag_names), one_per_topic=one_per_topic)
        return tag_group_from(answer)

    def update_tag_group(
        self, tag_group_id: int, *, name: str | None = None, tag_names: Iterable[str] | None = None
    ) -> TagGroup:
        """Rename and/or set the full list of tags of a tag group."""
        fields: dict[str, Any] = {}
        if name is not None:
            fields["name"] = name
        if tag_names is not None:
            fields["tag_names"] = list(tag_names)
        with translated():
            answer = self._dc._put(f"/tag_groups/{int(tag_group_id)}.json", json=True, **fields)
        return tag_group_from(answer["tag_group"])

    def rename_tag(self, old: str, new: str) -> str:
        """Rename a tag on every topic and tag group; returns the name the forum kept
        (it cleans names). InvalidRequest when ``new`` is taken, NotFound for ``old``."""
        with translated():
            answer = self._dc._put(f"/tag/{quote(old, safe='')}.json", json=True, tag={"id": new})
        return str(answer["tag"]["id"])

    def add_tag_synonyms(self, tag: str, names: Iterable[str]) -> dict[str, str]:
        """Make ``names`` synonyms of ``tag`` (created when missing); their topics move to
        ``tag``. Returns the names the forum refused, with its reasons."""
        wanted = list(names)
        if not wanted:
            return {}
        with translated():
            answer = self._dc._post(
                f"/tag/{quote(tag, safe='')}/synonyms.json", **{"synonyms[]": wanted}
            )
        failed = answer.get("failed_tags") or {}
        return {str(name): str(reason) for name, reason in failed.items()}

    def tag_info(self, name: str) -> dict[str, Any] | None:
        """The tag's details (synonyms, tag groups), or None when there is no such tag."""
        try:
            with translated():
                answer = self._dc._get(f"/tag/{quote(name, safe='')}/info.json")
        except NotFound:
            return None
        info: dict[str, Any] = answer["tag_info"]
        return info

    # -- users ---------------------------------------------------------------------------

    def get_user(self, username: str) -> User:
        with translated():
            answer = self._dc._get(f"/u/{username}.json")
        return user_from(answer["user"])

    def admin_user(self, user_id: int) -> User:
        """The full record an admin sees (roles, groups, suspension); NotFound if gone."""
        with translated():
            answer = self._dc._get(f"/admin/users/{user_id}.json")
        return user_from(answer)

    def user_by_external_id(self, external_id: str) -> User | None:
        """The user linked to a DiscourseConnect ``external_id``, or None."""
        try:
            with translated():
                answer = self._dc._get(f"/u/by-external/{external_id}.json")
        except NotFound:
            return None
        return user_from(answer["user"])

    def create_user(
        self,
        username: str,
        name: str,
        email: str,
        *,
        password: str | None = None,
        active: bool = True,
        approved: bool = True,
    ) -> User:
        """A new account; active so no activation mail goes out (admin keys only)."""
        extra = {"active": _flag(active), "approved": _flag(approved)}
        with translated():
            self._dc.create_user(
                name, username, email, password or secrets.token_urlsafe(24), **extra
            )
        return self.get_user(username)

    def list_users(self, flag: str = "active") -> list[User]:
        """Users from the admin list (``active``, ``new``, ``staff``, …), emails included."""
        users: list[User] = []
        page = 1
        while True:
            with translated():
                batch = self._dc.list_users(flag, show_emails="true", page=page)
            users.extend(user_from(item) for item in batch)
            if len(batch) < USERS_PER_PAGE:
                return users
            page += 1

    # -- groups --------------------------------------------------------------------------

    def groups(self) -> list[Group]:
        """Every group. Discourse pages ``/groups.json`` (36 a page from page 0), links the
        next page even from the last, and answers an empty page past the end."""
        found: dict[int, Group] = {}
        page = 0
        while True:
            with translated():
                answer = self._dc._get("/groups.json", page=page)
            batch = [group_from(item) for item in answer.get("groups", [])]
            fresh = [group for group in batch if group.id not in found]
            found.update((group.id, group) for group in fresh)
            total = answer.get("total_rows_groups")
            if not fresh or (isinstance(total, int) and len(found) >= total):
                return list(found.values())  # a page that repeats the last ends it too
            page += 1

    def get_group(self, name: str) -> Group:
        with translated():
            answer = self._dc.group(name)
        return group_from(answer["group"])

    def group_by_id(self, group_id: int) -> Group:
        """The group with this id, whatever it is called now; NotFound when deleted."""
        with translated():
            answer = self._dc._get(f"/groups/by-id/{int(group_id)}.json")
        return group_from(answer["group"])

    def create_group(self, name: str, *, full_name: str | None = None, bio: str = "") -> Group:
        extra: dict[str, Any] = {}
        if full_name:
            extra["full_name"] = full_name
        if bio:
            extra["bio_raw"] = bio
        with translated():
            answer = self._dc.create_group(name, **extra)
        return group_from(answer["basic_group"])

    def group_members(self, name: str) -> list[str]:
        """Usernames of the group's members (owners are members too)."""
        with translated():
            members = self._dc.group_members(name)
        return [str(member["username"]) for member in members]

    def add_group_members(self, group: Group, usernames: Iterable[str]) -> list[str]:
        """Add the users not yet in the group; returns those added."""
        current = {name.lower() for name in self.group_members(group.name)}
        missing = [name for name in usernames if name.lower() not in current]
        if missing:
            with translated():
                self._dc.add_group_members(group.id, missing)
        return missing

    def remove_group_members(self, group: Group, usernames: Iterable[str]) -> None:
        names = ",".join(usernames)
        if names:
            with translated():
                self._dc.delete_group_member(group.id, names)

    # -- badges --------------------------------------------------------------------------

    def badges(self) -> list[Badge]:
        with translated():
            answer = self._dc.badges()
        return [badge_from(item) for item in answer.get("badges", [])]

    def create_badge(
        self,
        name: str,
        *,
        badge_type_id: int = 3,
        description: str = "",
        multiple_grant: bool = False,
    ) -> Badge:
        """A manual badge (no SQL query); type 1 Gold, 2 Silver, 3 Bronze."""
        with translated():
            answer = self._dc._post(
                "/admin/badges.json",
                name=name,
                badge_type_id=badge_type_id,
                description=description,
                multiple_grant=_flag(multiple_grant),
                enabled="true",
            )
        return badge_from(answer["badge"])

    def grant_badge(self, username: str, badge_id: int, *, reason: str | None = None) -> UserBadge:
        """Grant a badge; granting one the user already holds returns that grant."""
        extra = {"reason": reason} if reason else {}
        with translated():
            answer = self._dc.grant_badge_to(username, int(badge_id), **extra)
        return user_badge_from(answer["user_badge"])

    def revoke_badge(self, user_badge_id: int) -> None:
        """Take a granted badge back: Discourse's DELETE /user_badges/{id}.json (the grant's
        id, as grant_badge and user_badges answer it)."""
        with translated():
            self._dc._delete(f"/user_badges/{int(user_badge_id)}.json")

    def user_badges(self, username: str) -> list[UserBadge]:
        with translated():
            answer = self._dc.user_badges(username)
        return [user_badge_from(item) for item in answer.get("user_badges", [])]

    # -- webhooks ------------------------------------------------------------------------

    def web_hook_urls(self) -> list[str]:
        """The payload URLs of the forum's webhooks (the first page: 50, Discourse's)."""
        with translated():
            listed = self._dc._get("/admin/api/web_hooks.json")
        return [str(hook["payload_url"]) for hook in listed.get("web_hooks", [])]

    def create_web_hook(self, payload_url: str, secret: str) -> int:
        """A signed JSON webhook for every event, sent to ``payload_url``; its id."""
        with translated():
            made = self._dc._post(
                "/admin/api/web_hooks.json",
                **{
                    "web_hook[payload_url]": payload_url,
                    "web_hook[secret]": secret,
                    "web_hook[content_type]": "1",  # application/json
                    "web_hook[wildcard_web_hook]": "true",
                    "web_hook[active]": "true",
                },
            )
        return int(made["web_hook"]["id"])

    # -- settings ------------------------------------------------------------------------

    def site_settings(self, **settings: Any) -> None:
        """Set site settings by name (one PUT each, as Discourse's admin UI does)."""
        values = {
            key: _flag(value) if isinstance(value, bool) else value
            for key, value in settings.items()
        }
        with translated():
            self._dc.site_settings(**values)


def _flag(value: bool) -> str:
    return "true" if value else "false"
