"""Turning a post's markdown (``raw``) into the HTML Discourse stores as ``cooked``.

A small subset of Discourse's markdown-it set-up (PrettyText), written to give the same
HTML for what clients and tests post: paragraphs (every line break is ``<br>``, as
Discourse enables markdown-it's ``breaks``), ``*`` / ``-`` and numbered lists, fenced code,
``**strong**``, ``*em*`` / ``_em_``, inline code, ``[text](url)`` links, bare URLs
(linkify; a URL alone in its paragraph is marked as a onebox link, as the onebox rule does
before the post is processed), ``@mentions`` and the typographer's quotes and apostrophes.
Links off the site get ``rel="noopener nofollow ugc"`` (add_rel_nofollow_to_user_content
is on by default); links to the site itself or a subdomain of it get none.

Not modelled: headings, quotes, tables, images/uploads, emoji, HTML in the raw text, the
typographer's dash/ellipsis/(c) replacements, and loose lists (a blank line ends a list).
The expected HTML of the tests comes from posts recorded on real sites and from Discourse's
own pretty_text spec.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

EXTERNAL_REL = "noopener nofollow ugc"
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)")
BULLET = re.compile(r"^ {0,3}[*+-]\s+(.*)$")
ORDERED = re.compile(r"^ {0,3}(\d{1,9})[.)]\s+(.*)$")
INLINE = re.compile(
    r"(?P<tick>`+)(?P<code>.+?)(?P=tick)"
    r"|\[(?P<label>[^\]]+)\]\((?P<href>[^)\s]+)\)"
    r"|(?P<url>https?://[^\s<>]+)"
    r"|\*\*(?P<strong>\S(?:.*?\S)?)\*\*"
    r"|(?<![\w*])\*(?P<em>[^*\s](?:[^*]*?[^*\s])?)\*(?![\w*])"
    r"|(?<!\w)_(?P<em_>[^_\s](?:[^_]*?[^_\s])?)_(?!\w)"
    r"|(?<![\w@/])@(?P<mention>\w(?:[\w.-]*\w)?)"
)
# Languages that stay plain (no data-code-wrap), as Discourse's code-fence rule does.
PLAIN_LANGS = {"": "auto", "auto": "auto", "text": "plaintext", "plaintext": "plaintext"}


@dataclass(frozen=True)
class Mention:
    """What an ``@name`` refers to: a user, a group, or nothing (a plain span)."""

    kind: str  # user | group
    name: str
    notify: bool = False


MentionLookup = Callable[[str], Mention | None]


def cook(raw: str, *, base_url: str, mention: MentionLookup | None = None) -> str:
    """The cooked HTML of ``raw`` on the forum served at ``base_url``."""
    cooker = _Cooker(urlsplit(base_url).hostname or "", mention or (lambda _name: None))
    return "\n".join(cooker.blocks(raw.replace("\r\n", "\n").split("\n")))


class _Cooker:
    def __init__(self, host: str, mention: MentionLookup) -> None:
        self.host = host.lower()
        self.mention = mention

    # ---- blocks -------------------------------------------------------------------------

    def blocks(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            if not line.strip():
                i += 1
            elif FENCE.match(line):
                i = self._code(lines, i, out)
            elif BULLET.match(line) or ORDERED.match(line):
                i = self._list(lines, i, out)
            else:
                i = self._paragraph(lines, i, out)
        return out

    def _code(self, lines: list[str], start: int, out: list[str]) -> int:
        opening = FENCE.match(lines[start])
        assert opening is not None
        fence, lang = opening.group(1), opening.group(2)
        body: list[str] = []
        i = start + 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        code = "".join(html.escape(line, quote=False) + "\n" for line in body)
        if lang.lower() in PLAIN_LANGS:
            out.append(f'<pre><code class="lang-{PLAIN_LANGS[lang.lower()]}">{code}</code></pre>')
        else:
            wrap = html.escape(lang)
            out.append(
                f'<pre data-code-wrap="{wrap}"><code class="lang-{wrap}">{code}</code></pre>'
            )
        return i + 1

    def _list(self, lines: list[str], start: int, out: list[str]) -> int:
        ordered = ORDERED.match(lines[start])
        marker = ORDERED if ordered else BULLET
        items: list[list[str]] = []
        i = start
        while i < len(lines) and lines[i].strip():
            item = marker.match(lines[i])
            if item:
                items.append([item.group(item.lastindex or 1)])
            elif FENCE.match(lines[i]) or (BULLET if ordered else ORDERED).match(lines[i]):
                break
            else:
                items[-1].append(lines[i].strip())  # a lazy continuation line
            i += 1
        tag = "ol" if ordered else "ul"
        first = int(ordered.group(1)) if ordered else 1
        opening = f'<{tag} start="{first}">' if ordered and first != 1 else f"<{tag}>"
        rendered = [f"<li>{self.lines(item)}</li>" for item in items]
        out.append("\n".join([opening, *rendered, f"</{tag}>"]))
        return i

    def _paragraph(self, lines: list[str], start: int, out: list[str]) -> int:
        body: list[str] = []
        i = start
        while i < len(lines) and lines[i].strip():
            if i > start and (FENCE.match(lines[i]) or BULLET.match(lines[i])):
                break
            body.append(lines[i].strip())
            i += 1
        lone_url = len(body) == 1 and re.fullmatch(r"https?://\S+", body[0])
        text = self._onebox(body[0]) if lone_url else self.lines(body)
        out.append(f"<p>{text}</p>")
        return i

    # ---- inline -------------------------------------------------------------------------

    def lines(self, lines: list[str]) -> str:
        return "<br>\n".join(self.inline(line.strip()) for line in lines)

    def inline(self, text: str) -> str:
        out: list[str] = []
        position = 0
        for match in INLINE.finditer(text):
            out.append(_text(text[position : match.start()]))
            out.append(self._token(match))
            position = match.end()
        out.append(_text(text[position:]))
        return "".join(out)

    def _token(self, match: re.Match[str]) -> str:
        if match.group("tick"):
            return f"<code>{html.escape(match.group('code').strip(), quote=False)}</code>"
        if match.group("href"):
            return self._link(match.group("href"), self.inline(match.group("label")))
        if match.group("url"):
            url, trailing = _trim_url(match.group("url"))
            return self._link(url, html.escape(url, quote=False)) + _text(trailing)
        if match.group("strong"):
            return f"<strong>{self.inline(match.group('strong'))}</strong>"
        if match.group("em") or match.group("em_"):
            return f"<em>{self.inline(match.group('em') or match.group('em_'))}</em>"
        return self._mention(match.group("mention"))

    def _link(self, url: str, label: str, extra: str = "") -> str:
        rel = "" if self._local(url) else f' rel="{EXTERNAL_REL}"'
        return f'<a href="{html.escape(url)}"{extra}{rel}>{label}</a>'

    def _onebox(self, url: str) -> str:
        return self._link(url, html.escape(url, quote=False), ' class="onebox" target="_blank"')

    def _local(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        return not host or host == self.host or host.endswith("." + self.host)

    def _mention(self, name: str) -> str:
        found = self.mention(name)
        if found is None:
            return f'<span class="mention">@{html.escape(name)}</span>'
        if found.kind == "group":
            css = "mention-group notify" if found.notify else "mention-group"
            return f'<a class="{css}" href="/groups/{found.name.lower()}">@{html.escape(name)}</a>'
        return f'<a class="mention" href="/u/{found.name.lower()}">@{html.escape(name)}</a>'


def _trim_url(url: str) -> tuple[str, str]:
    """Linkify leaves trailing punctuation (and an unbalanced ``)``) out of the link."""
    trailing = ""
    while url and (url[-1] in ".,;:!?'\"" or (url[-1] == ")" and url.count("(") < url.count(")"))):
        trailing = url[-1] + trailing
        url = url[:-1]
    return url, trailing


def _text(text: str) -> str:
    """Plain text: escaped like Nokogiri writes text (&, <, >) after the typographer's quotes."""
    text = re.sub(r"(?<=\w)'(?=\w)", "\u2019", text)
    text = re.sub(r"(^|(?<=[\s(\[{]))\"", "\u201c", text)
    text = text.replace('"', "\u201d")
    text = re.sub(r"(^|(?<=[\s(\[{]))'", "\u2018", text)
    text = text.replace("'", "\u2019")
    return html.escape(text, quote=False)
