"""The wiki connector: reads, recent changes, history and safe edits through mwclient.

Every public method translates library errors at the boundary (see ``errors.py``),
sends ``maxlag`` on job-driven calls, and uses the configured timeout and retries.
Not thread-safe: give each worker thread its own client (MediaWiki asks for
requests in series anyway).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import mwclient
import mwclient.errors as mw
import requests

from connectors.mediawiki.errors import PLATFORM, from_api_error, rate_limit_wait, translate
from connectors.mediawiki.records import (
    EditResult,
    PageHead,
    WikiChange,
    WikiPage,
    WikiRevision,
    change_from,
    edit_result_from,
    format_time,
    make_cursor,
    page_from,
    parse_time,
    read_cursor,
    revision_from,
    stored_form,
)
from connectors.session import PlatformSession
from core import telemetry
from core.errors import ConnectorError, EditConflict, NotFound, RateLimited

EditMode = Literal["update", "create", "any"]
# Titles per query: MediaWiki's limit for `titles`, raised for accounts with apihighlimits.
TITLES_PER_QUERY = 50
TITLES_PER_QUERY_HIGH = 500
RC_PROPS = "title|ids|timestamp|user|comment|flags|loginfo|sizes"
REVISION_PROPS = "ids|timestamp|user|comment|size|sha1"
# A lost session shows up as a failed assertion; log in again once and retry.
SESSION_LOST = {"assertuserfailed", "assertbotfailed", "assertnameduserfailed"}


class _WikiSession(PlatformSession):
    """An answer cut off on the way is a broken connection, which mwclient retries (as it
    does after a reset, for writes too: edits carry baserevid, and a repeat is nochange)."""

    BROKEN_BODY = (
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
    )

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().request(method, url, *args, **kwargs)
        except self.BROKEN_BODY as exc:
            raise requests.ConnectionError(f"the wiki's answer was cut off: {exc}") from exc


class WikiClient:
    """One account on one MediaWiki. No network until the first call."""

    def __init__(self, cfg: Mapping[str, Any], *, bot: bool = True) -> None:
        parts = urlsplit(str(cfg["url"]))
        self._scheme = parts.scheme or "https"
        self._host = parts.netloc
        segments = [parts.path.strip("/"), str(cfg.get("script_path", "/")).strip("/")]
        self._path = "/" + "".join(f"{s}/" for s in segments if s)
        self._username = str(cfg.get("username") or "")
        self._password = str(cfg.get("password") or "")
        self._timeout = float(cfg.get("timeout", 30))
        self._maxlag = int(cfg.get("maxlag", 5))
        self._max_retries = int(cfg.get("max_retries", 5))
        self._retry_wait = float(cfg.get("retry_wait", 5))
        self.bot = bot
        self.request_counts: Counter[int] = Counter()
        self.session = _WikiSession("wiki")
        self.session.headers["User-Agent"] = str(cfg.get("user_agent", "Constellate/0.1"))
        self.session.hooks["response"].append(self._observe)
        self._last_response: requests.Response | None = None
        self._site: Any = None  # mwclient.Site, made on first use
        self._logged_in = False
        self._high_limits = False
        self._quiet_until = 0.0  # time.monotonic() before which the wiki asked for quiet

    # -- connection -------------------------------------------------------------------

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.request_counts[response.status_code] += 1
        self._last_response = response

    def _site_object(self) -> Any:
        if self._site is None:
            self._site = mwclient.Site(
                self._host,
                path=self._path,
                scheme=self._scheme,
                pool=self.session,
                max_retries=self._max_retries,
                retry_timeout=self._retry_wait,
                wait_callback=telemetry.wiki_wait_callback(lambda: self._last_response),
                connection_options={"timeout": self._timeout},
                do_init=False,  # its constructor would otherwise call the wiki
            )
        return self._site

    def _login(self) -> Any:
        site = self._site_object()
        if self._logged_in:
            return site
        self._init_site(site)  # first and retried: inside login() it is tried only once
        if "@" in self._username:  # a bot password: action=login
            self._bot_login(site)
        elif self._username:  # a main account: action=login is deprecated for these
            outcome = site.clientlogin(username=self._username, password=self._password)
            if outcome is not True:
                raise mw.LoginError(site, outcome.get("status"), outcome.get("message"))
            site.site_init()  # userinfo again, now as the account
        self._high_limits = "apihighlimits" in site.rights
        self._logged_in = True
        return site

    def _bot_login(self, site: Any) -> None:
        try:
            site.login(self._username, self._password)
        except mw.LoginError:
            # A login whose answer was lost is sent again, and the wiki refuses a login
            # in a session that is logged in already: if it is, as us, that is success.
            site.site_init()
            account = self._username.split("@")[0].replace("_", " ").strip()
            if site.username != account[:1].upper() + account[1:]:
                raise

    def _init_site(self, site: Any) -> None:
        """mwclient's first site_init makes one try (it is meant for its constructor); here
        it is a job's first request, retried on a broken connection or a 5xx as mwclient
        retries every other call. Once done, login()'s own site_init retries by itself."""
        sleeper = site.sleepers.make()
        while True:
            try:
                site.site_init()
                return
            except requests.HTTPError as exc:
                if exc.response is None or exc.response.status_code < 500:
                    raise
            except (requests.ConnectionError, requests.Timeout):
                pass
            sleeper.sleep()  # MaximumRetriesExceeded after max_retries

    @property
    def username(self) -> str:
        """The account's user name (a bot password's login name without the "@app")."""
        if self._logged_in:
            return str(self._site.username)
        return self._username.split("@")[0]

    @contextmanager
    def _boundary(self, action: str = "edit") -> Iterator[None]:
        """Library exceptions leave as our ConnectorError subclasses, nothing else.

        After an HTTP 429 this client sends nothing until its wait is over: calls fail at
        once instead (a sync would otherwise ask again for its next page straight away).
        """
        self._refuse_while_waiting()
        try:
            yield
        except ConnectorError as exc:
            self._note_wait(exc)
            raise
        except Exception as exc:
            translated = translate(
                exc,
                last_response=self._last_response,
                rate_limit_wait=lambda: self._rate_limit_wait(action),
            )
            if translated is None and isinstance(exc, KeyError | ValueError | TypeError):
                # An answer without the fields it should have (a proxy's page, a changed
                # API, mwclient tripping over a missing header) is the wiki's fault here.
                translated = ConnectorError(
                    f"unexpected answer from the wiki: {type(exc).__name__}: {exc}",
                    platform=PLATFORM,
                    code="unexpected",
                )
            if translated is None:
                raise
            self._note_wait(translated)
            raise translated from exc

    def _note_wait(self, exc: ConnectorError) -> None:
        # An HTTP 429 holds for every request; `ratelimited` is about one action (an
        # edit), and reads may go on.
        if isinstance(exc, RateLimited) and exc.code == "http-429":
            resume = time.monotonic() + exc.retry_after
            self._quiet_until = max(self._quiet_until, resume)

    def _refuse_while_waiting(self) -> None:
        left = self._quiet_until - time.monotonic()
        if left > 0:
            raise RateLimited(
                f"the wiki asked us to wait; {left:.1f} s left",
                retry_after=left,
                platform=PLATFORM,
                code="waiting",
            )

    def _rate_limit_wait(self, action: str) -> float:
        try:
            answer = self._site_object().raw_api(
                "query", "GET", meta="userinfo", uiprop="ratelimits", formatversion=2
            )
            return rate_limit_wait(answer["query"]["userinfo"].get("ratelimits", {}), action)
        except (mw.MwClientError, requests.RequestException, KeyError, TypeError):
            return rate_limit_wait({}, action)

    def _query(self, site: Any, **params: Any) -> Iterator[dict[str, Any]]:
        """Every answer of one query, following continuation."""
        following: dict[str, Any] = {}
        while True:
            answer = site.get("query", formatversion=2, maxlag=self._maxlag, **params, **following)
            yield answer
            if "continue" not in answer:
                return
            following = dict(answer["continue"])

    # -- reads ------------------------------------------------------------------------

    def ping(self) -> dict[str, Any]:
        """The wiki's name and version: one request, no retries, no login (readiness)."""
        with self._boundary():
            site = self._site_object()
            answer = site.raw_api(
                "query", "GET", retry_on_error=False, meta="siteinfo", siprop="general"
            )
            if "error" in answer:
                raise from_api_error(answer["error"].get("code"), answer["error"].get("info", ""))
            general = answer["query"]["general"]
            return {key: general.get(key) for key in ("sitename", "generator", "server")}

    def read_pages(self, titles: Iterable[str]) -> dict[str, WikiPage]:
        """The latest revision of each title, keyed by the title as given.

        One query per batch of titles (50, or 500 with apihighlimits); missing pages
        come back with ``exists=False``.
        """
        wanted = list(dict.fromkeys(titles))
        for title in wanted:
            if "|" in title or not title.strip():  # would split or empty the batch
                raise from_api_error("invalidtitle", f"not a page title: {title!r}")
        pages: dict[str, WikiPage] = {}
        with self._boundary():
            site = self._login()
            size = TITLES_PER_QUERY_HIGH if self._high_limits else TITLES_PER_QUERY
            for start in range(0, len(wanted), size):
                pages.update(self._read_batch(site, wanted[start : start + size]))
        return pages

    def _read_batch(self, site: Any, titles: list[str]) -> dict[str, WikiPage]:
        renamed: dict[str, str] = {}
        entries: dict[str, dict[str, Any]] = {}
        started: datetime | None = None
        for answer in self._query(
            site,
            prop="revisions",
            rvprop="ids|timestamp|content",
            rvslots="main",
            titles="|".join(titles),
            curtimestamp=1,
        ):
            started = started or parse_time(answer["curtimestamp"])
            query = answer.get("query", {})
            for step in ("normalized", "converted"):
                renamed.update({item["from"]: item["to"] for item in query.get(step, [])})
            for entry in query.get("pages", []):
                # Content can arrive over several continued answers; keep what has it.
                known = entries.get(entry["title"])
                if known is None or "revisions" not in known:
                    entries[entry["title"]] = entry
        assert started is not None
        result: dict[str, WikiPage] = {}
        for title in titles:
            final = title
            while final in renamed and renamed[final] != final:
                final = renamed[final]
            result[title] = page_from(entries.get(final, {"title": final}), started)
        return result

    def revisions(
        self,
        title: str,
        *,
        batch: int | None = None,
        with_content: bool = False,
        from_revid: int | None = None,
    ) -> Iterator[WikiRevision]:
        """Every revision of a page, oldest first; NotFound if the page does not exist.

        ``from_revid`` (a revision of this page, included) skips everything older, so a
        caller that keeps the last revision it read downloads only what is new.
        """
        with self._boundary():
            site = self._login()
            props = REVISION_PROPS + ("|content" if with_content else "")
            extra: dict[str, Any] = {"rvslots": "main"} if with_content else {}
            if from_revid is not None:
                extra["rvstartid"] = from_revid
            for answer in self._query(
                site,
                prop="revisions",
                titles=title,
                rvdir="newer",
                rvlimit=batch or "max",
                rvprop=props,
                **extra,
            ):
                for entry in answer.get("query", {}).get("pages", []):
                    if entry.get("missing") or entry.get("invalid"):
                        code = "missingtitle" if entry.get("missing") else "invalidtitle"
                        raise from_api_error(code, f"{title!r} cannot be read")
                    for revision in entry.get("revisions", []):
                        yield revision_from(revision)

    def category_members(
        self, categories: Iterable[str], *, limit: int | None = None
    ) -> Iterator[PageHead]:
        """Main-namespace pages in ``categories`` (each once), with their latest revision."""
        seen: set[int] = set()
        with self._boundary():
            site = self._login()
            for category in categories:
                for answer in self._query(
                    site,
                    generator="categorymembers",
                    gcmtitle=category,
                    gcmnamespace=0,
                    gcmlimit="max",
                    prop="revisions",
                    rvprop="ids|timestamp|user",
                ):
                    for page in answer.get("query", {}).get("pages", []):
                        revisions = page.get("revisions") or []
                        pageid = int(page.get("pageid", 0))
                        if not revisions or not pageid or pageid in seen:
                            continue
                        if limit is not None and len(seen) >= limit:
                            return
                        seen.add(pageid)
                        yield PageHead(
                            title=str(page["title"]),
                            pageid=pageid,
                            revid=int(revisions[0]["revid"]),
                            timestamp=parse_time(revisions[0]["timestamp"]),
                            user=revisions[0].get("user"),
                        )

    def all_users(self) -> dict[str, frozenset[str]]:
        """Every registered user (list=allusers, continued) and the groups each is in."""
        users: dict[str, frozenset[str]] = {}
        with self._boundary():
            site = self._login()
            for answer in self._query(site, list="allusers", aulimit="max", auprop="groups"):
                for user in answer.get("query", {}).get("allusers", []):
                    users[str(user["name"])] = frozenset(user.get("groups") or ())
        return users

    def recent_changes(
        self, cursor: str | None = None, *, batch: int | None = None
    ) -> Iterator[WikiChange]:
        """Recent changes oldest first, strictly after ``cursor`` (all of them if None)."""
        after = read_cursor(cursor) if cursor else None
        params: dict[str, Any] = {
            "list": "recentchanges",
            "rcdir": "newer",
            "rclimit": batch or "max",
            "rcprop": RC_PROPS,
        }
        if after:
            params["rcstart"] = format_time(after[0])  # inclusive: skip what we had below
        with self._boundary():
            site = self._login()
            for answer in self._query(site, **params):
                for entry in answer.get("query", {}).get("recentchanges", []):
                    change = change_from(entry)
                    # Several changes can share a second; rcid orders them within it.
                    if after and (change.timestamp, change.rcid) <= after:
                        continue
                    yield change

    def changes_between(
        self, start: datetime, end: datetime, *, title: str | None = None
    ) -> Iterator[WikiChange]:
        """The recent changes from ``start`` to ``end`` (both included, to the second),
        oldest first; only those of ``title`` when given. What the wiki's feed announced
        is looked up here: the entry as the poll reads it, or nothing."""
        params: dict[str, Any] = {
            "list": "recentchanges",
            "rcdir": "newer",
            "rcstart": format_time(start),
            "rcend": format_time(end),
            "rclimit": "max",
            "rcprop": RC_PROPS,
        }
        if title is not None:
            params["rctitle"] = title
        with self._boundary():
            site = self._login()
            for answer in self._query(site, **params):
                for entry in answer.get("query", {}).get("recentchanges", []):
                    yield change_from(entry)

    def site_identity(self) -> tuple[str, str]:
        """The wiki's server name and wiki id (siteinfo), as its recent-changes feed
        signs each message (``server_name``, ``wiki``)."""
        with self._boundary():
            answer = self._login().get(
                "query", meta="siteinfo", siprop="general", formatversion=2, maxlag=self._maxlag
            )
            general = answer["query"]["general"]
            return str(general["servername"]), str(general["wikiid"])

    def latest_cursor(self) -> str | None:
        """The cursor of the newest change (None on an empty wiki): start from "now"."""
        return self._edge_change("older")

    def oldest_change_timestamp(self) -> datetime | None:
        """When the oldest change the wiki still keeps happened.

        A stored cursor older than this means changes were lost (expired from the
        wiki's recent changes); the caller must catch up another way.
        """
        cursor = self._edge_change("newer")
        return read_cursor(cursor)[0] if cursor else None

    def _edge_change(self, direction: str) -> str | None:
        with self._boundary():
            answer = self._login().get(
                "query",
                list="recentchanges",
                rcdir=direction,
                rclimit=1,
                rcprop="timestamp|ids",
                formatversion=2,
                maxlag=self._maxlag,
            )
            changes = answer.get("query", {}).get("recentchanges", [])
        if not changes:
            return None
        return make_cursor(parse_time(changes[0]["timestamp"]), int(changes[0]["rcid"]))

    def contributors(self, title: str) -> list[str]:
        """The registered, non-bot users the wiki lists as contributors of a page, in the
        wiki's order (prop=contributors; anonymous editors are only counted there, not
        named). NotFound if the page does not exist."""
        names: list[str] = []
        with self._boundary():
            site = self._login()
            for answer in self._query(
                site, prop="contributors", titles=title, pclimit="max", pcexcludegroup="bot"
            ):
                for entry in answer.get("query", {}).get("pages", []):
                    if entry.get("missing") or entry.get("invalid"):
                        code = "missingtitle" if entry.get("missing") else "invalidtitle"
                        raise from_api_error(code, f"{title!r} cannot be read")
                    names += [str(user["name"]) for user in entry.get("contributors", [])]
        return list(dict.fromkeys(names))

    def user_groups(self, usernames: Iterable[str]) -> dict[str, frozenset[str]]:
        """The groups of each named user (list=users), keyed by the name as given;
        unknown users get no groups."""
        wanted = [name for name in dict.fromkeys(usernames) if name and "|" not in name]
        groups: dict[str, frozenset[str]] = {name: frozenset() for name in wanted}
        with self._boundary():
            site = self._login()
            for start in range(0, len(wanted), TITLES_PER_QUERY):
                batch = wanted[start : start + TITLES_PER_QUERY]
                found: dict[str, frozenset[str]] = {}
                for answer in self._query(
                    site, list="users", ususers="|".join(batch), usprop="groups"
                ):
                    for user in answer.get("query", {}).get("users", []):
                        found[str(user.get("name"))] = frozenset(user.get("groups") or ())
                for name in batch:  # the wiki answers with normalised names
                    normal = name.replace("_", " ").strip()
                    normal = normal[:1].upper() + normal[1:]
                    groups[name] = found.get(name, found.get(normal, frozenset()))
        return groups

    # -- writes -----------------------------------------------------------------------

    def move(self, old: str, new: str, reason: str, *, redirect: bool = True) -> None:
        """Rename a page (and its talk page); the old title keeps a redirect unless
        ``redirect`` is False (that needs the suppressredirect right)."""
        params: dict[str, Any] = {
            "from": old,
            "to": new,
            "reason": reason,
            "movetalk": 1,
            "maxlag": self._maxlag,
            "formatversion": 2,
        }
        if not redirect:
            params["noredirect"] = 1
        with self._boundary():
            site = self._login()
            site.post("move", **params, token=site.get_token("csrf"))

    def edit(
        self,
        title: str,
        text: str,
        *,
        summary: str,
        base: WikiPage | None = None,
        mode: EditMode = "update",
    ) -> EditResult:
        """Save ``text`` as ``title``; with ``base`` the wiki detects edit conflicts.

        ``update`` never creates a page (NotFound if it is gone), ``create`` never
        overwrites one (EditConflict if it exists), ``any`` does either.
        """
        if mode not in ("update", "create", "any"):
            raise ValueError(f"mode must be update, create or any, not {mode!r}")
        text = stored_form(text)  # else the wiki refuses the md5 of text it normalised
        params: dict[str, Any] = {
            "title": title,
            "text": text,
            "summary": summary,
            "md5": hashlib.md5(text.encode(), usedforsecurity=False).hexdigest(),
            "maxlag": self._maxlag,
            "formatversion": 2,
        }
        if base is not None:
            # Not basetimestamp: MediaWiki then waives conflicts in which we look like the
            # last editor, judged by whole seconds, so another person's save within the
            # same second as our base would be overwritten. The revision id is exact.
            if base.revid is not None:
                params["baserevid"] = base.revid
            params["starttimestamp"] = format_time(base.start_timestamp)  # catches deletions
        if mode == "update":
            params["nocreate"] = 1
        elif mode == "create":
            params["createonly"] = 1
        with self._boundary("edit"):
            site = self._login()
            try:
                answer = self._post_edit(site, params)
            except mw.APIError as exc:
                if exc.code not in SESSION_LOST:
                    raise
                self._logged_in = False
                site.tokens.clear()  # the cached login and csrf tokens died with the session
                answer = self._post_edit(self._login(), params)
            if answer.get("result") != "Success":
                raise ConnectorError(
                    f"the wiki refused the edit of {title!r}: {answer}",
                    platform=PLATFORM,
                    code="editfailure",
                )
            return edit_result_from(answer, base.revid if base else None)

    def _post_edit(self, site: Any, params: dict[str, Any]) -> dict[str, Any]:
        checks = {"assert": "bot" if self.bot else "user", "assertuser": site.username}
        if self.bot:
            checks["bot"] = 1
        try:
            answer = site.post("edit", **params, **checks, token=site.get_token("csrf"))
        except mw.APIError as exc:
            if exc.code != "badtoken":
                raise
            # The token went stale (a new session): fetch a fresh one, once.
            token = site.get_token("csrf", force=True)
            answer = site.post("edit", **params, **checks, token=token)
        return dict(answer["edit"])

    def apply(
        self,
        title: str,
        transform: Callable[[WikiPage], str | None],
        *,
        summary: str,
        attempts: int = 3,
    ) -> EditResult | None:
        """Read, transform, write with the read as base; on a conflict read and redo.

        ``transform`` gets the page (``exists=False`` and ``text=""`` if missing) and
        returns the new text, or None to leave the page alone. Returns None when there
        was nothing to write; raises the last EditConflict after ``attempts`` tries.
        """
        conflict: EditConflict | None = None
        for _ in range(max(1, attempts)):
            page = self.read_pages([title])[title]
            new_text = transform(page)
            # The wiki drops trailing whitespace on save, so that is no change either.
            if new_text is None or stored_form(new_text).rstrip() == page.text.rstrip():
                return None
            mode: EditMode = "update" if page.exists else "create"
            try:
                return self.edit(title, new_text, summary=summary, base=page, mode=mode)
            except EditConflict as exc:
                conflict = exc
            except NotFound as exc:  # deleted since our read: re-read decides
                conflict = EditConflict(str(exc), platform=PLATFORM, code=exc.code)
        assert conflict is not None
        raise conflict
