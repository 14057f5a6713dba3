"""The sandbox cooks markdown into the HTML real Discourse stores.

Expected HTML comes from posts recorded on real sites (raw and cooked side by side in the
same delivery) and from examples in Discourse's own pretty_text spec.
"""

from __future__ import annotations

import pytest

from sandbox.forum.cooking import Mention, MentionLookup, cook
from tests.sandbox.forum.recordings import delivery

# (recording, the site's base URL, users that exist there)
RECORDED = [
    ("post__post_created__forum.a__12", "http://forum.a", set()),
    ("post__post_created__forum.a__13", "http://forum.a", set()),
    ("post__post_created__forum.a__15", "http://forum.a", set()),
    ("post__post_created__forum.weaviate.io", "https://forum.weaviate.io", set()),
    (
        "solved__accepted_solution__ask.fedoraproject.org",
        "https://ask.fedoraproject.org",
        {"eddiejennings"},
    ),
]


def users(names: set[str]) -> MentionLookup:
    return lambda name: Mention("user", name) if name.lower() in names else None


@pytest.mark.parametrize(("name", "base_url", "known"), RECORDED)
def test_recorded_posts_cook_to_the_recorded_html(
    name: str, base_url: str, known: set[str]
) -> None:
    post = delivery(name).payload
    assert cook(post["raw"], base_url=base_url, mention=users(known)) == post["cooked"]


SITE = "http://forum.example"
CASES = [
    ("Hello world", "<p>Hello world</p>"),
    ("one\ntwo\n\nthree", "<p>one<br>\ntwo</p>\n<p>three</p>"),
    ("a **bold** word", "<p>a <strong>bold</strong> word</p>"),
    ("*em* and _em_ but snake_case", "<p><em>em</em> and <em>em</em> but snake_case</p>"),
    ("x < y & z", "<p>x &lt; y &amp; z</p>"),
    ('don\'t "quote"', "<p>don\u2019t \u201cquote\u201d</p>"),
    ("use `a<b>`", "<p>use <code>a&lt;b&gt;</code></p>"),
    # pretty_text_spec: a markdown link off the site
    (
        "[test link](https://www.example.com)",
        '<p><a href="https://www.example.com" rel="noopener nofollow ugc">test link</a></p>',
    ),
    (
        "see https://www.example.com/a_b. Then",
        '<p>see <a href="https://www.example.com/a_b" rel="noopener nofollow ugc">'
        "https://www.example.com/a_b</a>. Then</p>",
    ),
    # A URL alone in its paragraph is a onebox link (the chat/pretty_text specs' example).
    (
        "https://www.example.com",
        '<p><a href="https://www.example.com" class="onebox" target="_blank" '
        'rel="noopener nofollow ugc">https://www.example.com</a></p>',
    ),
    # Links to the site itself or its subdomains get no rel.
    ("[home](http://forum.example/t/1)", '<p><a href="http://forum.example/t/1">home</a></p>'),
    (
        "[blog](https://blog.forum.example/)",
        '<p><a href="https://blog.forum.example/">blog</a></p>',
    ),
    ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
    ("intro\n* one\n* two", "<p>intro</p>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
    ("1. one\n2. two", "<ol>\n<li>one</li>\n<li>two</li>\n</ol>"),
    ("3. three\n4. four", '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>'),
    # pretty_text_spec "code fences"
    (
        "X\n```\n     #\n     x\n```",
        '<p>X</p>\n<pre><code class="lang-auto">     #\n     x\n</code></pre>',
    ),
    (
        "```ruby\nputs 1\n```",
        '<pre data-code-wrap="ruby"><code class="lang-ruby">puts 1\n</code></pre>',
    ),
    ("```text\ncpp\n```", '<pre><code class="lang-plaintext">cpp\n</code></pre>'),
    # pretty_text_spec "Mentions": unknown names are spans; "hi\n@s." keeps the dot outside.
    ("hi\n@s.", '<p>hi<br>\n<span class="mention">@s</span>.</p>'),
    ("@a,@b", '<p><span class="mention">@a</span>,<span class="mention">@b</span></p>'),
]


@pytest.mark.parametrize(("raw", "cooked"), CASES)
def test_markdown_cooks_as_discourse_does(raw: str, cooked: str) -> None:
    assert cook(raw, base_url=SITE) == cooked


def test_mentions_of_users_and_groups_are_links() -> None:
    def lookup(name: str) -> Mention | None:
        return {
            "user": Mention("user", "User"),
            "group": Mention("group", "Group", notify=True),
            "group2": Mention("group", "Group2"),
        }.get(name.lower())

    # pretty_text_spec "handles user and group mentions correctly"
    assert cook("hi\n@user. @GROUP @somemention @group2", base_url=SITE, mention=lookup) == (
        '<p>hi<br>\n<a class="mention" href="/u/user">@user</a>. '
        '<a class="mention-group notify" href="/groups/group">@GROUP</a> '
        '<span class="mention">@somemention</span> '
        '<a class="mention-group" href="/groups/group2">@group2</a></p>'
    )
