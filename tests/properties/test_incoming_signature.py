"""Properties of the check of Discourse's ``X-Discourse-Event-Signature`` (``sha256=<hex>``,
HMAC-SHA256 of the raw body), also used for the wiki's push hook."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import assume, example, given
from hypothesis import strategies as st

from tests.properties.support import PURE
from webhooks.incoming.discourse import signature_ok

SECRETS = st.text(min_size=1, max_size=80)
BODIES = st.binary(max_size=2048)
# Any text at all, lone surrogates included: a header is whatever the sender wrote.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=200)


def header_for(secret: str, raw: bytes) -> str:
    """The header as Discourse computes it (OpenSSL::HMAC.hexdigest over the body)."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def test_discourse_known_answer() -> None:
    secret, raw = "my_lovely_secret_for_web_hook", b'{"ping":"OK"}'
    wanted = "sha256=162f107f6b5022353274eb1a7197885cfd35744d8d08e5bcea025d309386b7d6"
    assert header_for(secret, raw) == wanted
    assert signature_ok(secret, raw, wanted)


@PURE
@given(secret=SECRETS, raw=BODIES)
def test_the_signature_of_the_body_is_accepted(secret: str, raw: bytes) -> None:
    assert signature_ok(secret, raw, header_for(secret, raw)) is True


@PURE
@given(secret=SECRETS, raw=BODIES, data=st.data())
def test_a_body_changed_in_one_byte_is_refused(
    secret: str, raw: bytes, data: st.DataObject
) -> None:
    header = header_for(secret, raw)
    if raw:
        at = data.draw(st.integers(0, len(raw) - 1), label="at")
        flip = data.draw(st.integers(1, 255), label="flip")
        changed = raw[:at] + bytes([raw[at] ^ flip]) + raw[at + 1 :]
    else:
        changed = data.draw(st.binary(min_size=1, max_size=1), label="added")
    assert signature_ok(secret, changed, header) is False


@PURE
@given(secret=SECRETS, raw=BODIES, data=st.data())
def test_a_signature_changed_in_one_place_is_refused(
    secret: str, raw: bytes, data: st.DataObject
) -> None:
    header = header_for(secret, raw)
    digits = header.removeprefix("sha256=")
    at = data.draw(st.integers(0, len(digits)), label="at")
    new = data.draw(st.characters(exclude_categories=()), label="new")
    how = data.draw(st.sampled_from(["replace", "insert", "delete"]), label="how")
    if how == "replace" and at < len(digits):
        assume(new != digits[at])
        digits = digits[:at] + new + digits[at + 1 :]
    elif how == "delete" and at < len(digits):
        digits = digits[:at] + digits[at + 1 :]
    else:
        digits = digits[:at] + new + digits[at:]
    assert signature_ok(secret, raw, "sha256=" + digits) is False


@PURE
@given(secret=SECRETS, other=SECRETS, raw=BODIES)
def test_a_signature_made_with_another_secret_is_refused(
    secret: str, other: str, raw: bytes
) -> None:
    # HMAC pads short keys with zero bytes, so keys that differ only in trailing NULs are
    # the same key; that is HMAC, not us.
    assume(secret.encode().rstrip(b"\0") != other.encode().rstrip(b"\0"))
    assert signature_ok(secret, raw, header_for(other, raw)) is False


@PURE
@given(raw=BODIES, header=st.one_of(st.none(), ANY_TEXT))
def test_no_secret_refuses_everything(raw: bytes, header: str | None) -> None:
    assert signature_ok("", raw, header) is False
    assert signature_ok("", raw, header_for("", raw)) is False


@PURE
@given(secret=SECRETS, raw=BODIES, prefix=st.sampled_from(["", "SHA256=", "sha1=", "sha256:"]))
def test_a_signature_without_its_sha256_prefix_is_refused(
    secret: str, raw: bytes, prefix: str
) -> None:
    digits = header_for(secret, raw).removeprefix("sha256=")
    assert signature_ok(secret, raw, prefix + digits) is False
    assert signature_ok(secret, raw, " sha256=" + digits) is False


@PURE
@given(
    secret=SECRETS,
    raw=BODIES,
    header=st.one_of(st.none(), ANY_TEXT, ANY_TEXT.map("sha256=".__add__)),
)
@example(secret="s", raw=b"", header="sha256=\udcff\u00e9")
@example(secret="s", raw=b"", header="sha256=" + "é" * 64)
def test_any_header_text_gives_a_bool_true_only_for_the_signature(
    secret: str, raw: bytes, header: str | None
) -> None:
    result = signature_ok(secret, raw, header)
    assert isinstance(result, bool)
    assert result == (header == header_for(secret, raw))
