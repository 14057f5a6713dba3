"""Properties of our Standard Webhooks signatures, checked with the reference verifier.

The reference ``Webhook.verify`` reads the real clock (±5 minutes), so the timestamps
here are made from the real clock at the moment of signing, never a fixed date. A
timestamp is rounded towards the verifier's window when it must be accepted and away
from it when it must be refused, so a second ticking over between the two calls cannot
change the outcome.
"""

from __future__ import annotations

import base64
import json
import math
import time
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.properties.support import PURE
from tests.webhooks.outgoing_support import spec_signature
from webhooks.outgoing.signing import headers, new_secret, sign

TOLERANCE = 300  # the reference verifier's window, in seconds either side of now

KEYS = st.binary(min_size=24, max_size=64)
SECRETS = KEYS.map(lambda key: "whsec_" + base64.b64encode(key).decode("ascii"))
# The spec's only rule for ids: no full stop. HTTP header values are text without
# line breaks; the reference verifier also needs a non-empty id.
IDS = st.text(
    st.characters(exclude_characters=".\r\n", exclude_categories=["Cs"]), min_size=1, max_size=40
)
# Payloads are JSON objects; their shape does not matter to a signature, only the text.
JSON_VALUES = st.fixed_dictionaries(
    {"event": st.text(max_size=60)}, optional={"id": st.integers(), "ok": st.booleans()}
)
INSIDE = st.integers(-(TOLERANCE - 1), TOLERANCE - 1)
OUTSIDE = st.integers(TOLERANCE + 1, 10**7).flatmap(lambda n: st.sampled_from([n, -n]))


def body_of(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def accepted_timestamp(offset: int) -> int:
    """Now + ``offset``, rounded towards now (inside the window a moment later too)."""
    now = time.time()
    return math.floor(now) + offset if offset >= 0 else math.ceil(now) + offset


def refused_timestamp(offset: int) -> int:
    """Now + ``offset``, rounded away from now (still outside the window a moment later)."""
    now = time.time()
    return math.ceil(now) + offset if offset >= 0 else math.floor(now) + offset


def verify(secret: str, body: bytes | str, sent: dict[str, str]) -> Any:
    return Webhook(secret).verify(body, sent)


@PURE
@given(
    key=KEYS,
    msg_id=IDS,
    timestamp=st.integers(0, 2**33),
    body=st.text(st.characters(exclude_categories=["Cs"]), max_size=300),
)
def test_sign_matches_the_spec_computed_independently(
    key: bytes, msg_id: str, timestamp: int, body: str
) -> None:
    secret = "whsec_" + base64.b64encode(key).decode("ascii")
    expected = spec_signature(secret, msg_id, str(timestamp), body.encode())
    assert sign(secret, msg_id, timestamp, body) == expected
    # The secret without its prefix is the same key.
    assert sign(secret.removeprefix("whsec_"), msg_id, timestamp, body) == expected


@PURE
@given(secret=SECRETS, msg_id=IDS, value=JSON_VALUES, offset=INSIDE)
def test_the_reference_verifier_accepts_what_we_sign(
    secret: str, msg_id: str, value: Any, offset: int
) -> None:
    body = body_of(value)
    sent = headers(secret, msg_id, accepted_timestamp(offset), body)
    assert verify(secret, body.encode("utf-8"), sent) == value  # the bytes we send
    assert verify(secret, body, sent) == value


@PURE
@given(secret=SECRETS, msg_id=IDS, other=IDS, value=JSON_VALUES, offset=INSIDE)
def test_another_id_is_refused(
    secret: str, msg_id: str, other: str, value: Any, offset: int
) -> None:
    assume(other != msg_id)
    body = body_of(value)
    sent = headers(secret, msg_id, accepted_timestamp(offset), body)
    with pytest.raises(WebhookVerificationError):
        verify(secret, body, {**sent, "webhook-id": other})


@PURE
@given(
    secret=SECRETS,
    msg_id=IDS,
    value=JSON_VALUES,
    offset=st.integers(-200, 200),
    shift=st.integers(-99, 99).filter(bool),
)
def test_another_timestamp_is_refused(
    secret: str, msg_id: str, value: Any, offset: int, shift: int
) -> None:
    body = body_of(value)
    timestamp = accepted_timestamp(offset)
    sent = headers(secret, msg_id, timestamp, body)
    with pytest.raises(WebhookVerificationError):
        verify(secret, body, {**sent, "webhook-timestamp": str(timestamp + shift)})


@PURE
@given(secret=SECRETS, msg_id=IDS, value=JSON_VALUES, offset=INSIDE, data=st.data())
def test_a_body_changed_in_one_character_is_refused(
    secret: str, msg_id: str, value: Any, offset: int, data: st.DataObject
) -> None:
    body = body_of(value)
    sent = headers(secret, msg_id, accepted_timestamp(offset), body)
    at = data.draw(st.integers(0, len(body)), label="at")
    new = data.draw(st.characters(exclude_categories=["Cs"]), label="new")
    if at < len(body) and new != body[at]:
        changed = body[:at] + new + body[at + 1 :]
    else:
        changed = body[:at] + new + body[at:]
    with pytest.raises(WebhookVerificationError):
        verify(secret, changed.encode("utf-8"), sent)


@PURE
@given(
    secret=SECRETS,
    msg_id=IDS,
    value=JSON_VALUES,
    offset=INSIDE,
    at=st.integers(0, 31),
    flip=st.integers(1, 255),
)
def test_a_signature_changed_in_one_byte_is_refused(
    secret: str, msg_id: str, value: Any, offset: int, at: int, flip: int
) -> None:
    body = body_of(value)
    sent = headers(secret, msg_id, accepted_timestamp(offset), body)
    version, encoded = sent["webhook-signature"].split(",")
    digest = bytearray(base64.b64decode(encoded))
    digest[at] ^= flip
    changed = f"{version},{base64.b64encode(bytes(digest)).decode('ascii')}"
    with pytest.raises(WebhookVerificationError):
        verify(secret, body, {**sent, "webhook-signature": changed})
    # The same signature under another version name is not a v1 signature.
    with pytest.raises(WebhookVerificationError):
        verify(secret, body, {**sent, "webhook-signature": "v2," + encoded})


@PURE
@given(key=KEYS, other_key=KEYS, msg_id=IDS, value=JSON_VALUES, offset=INSIDE)
def test_another_secret_is_refused(
    key: bytes, other_key: bytes, msg_id: str, value: Any, offset: int
) -> None:
    # HMAC pads keys with zero bytes: keys that differ only in trailing NULs are one key.
    assume(key.rstrip(b"\0") != other_key.rstrip(b"\0"))
    secret, other = (f"whsec_{base64.b64encode(k).decode('ascii')}" for k in (key, other_key))
    body = body_of(value)
    sent = headers(secret, msg_id, accepted_timestamp(offset), body)
    with pytest.raises(WebhookVerificationError):
        verify(other, body, sent)


@PURE
@given(secret=SECRETS, msg_id=IDS, value=JSON_VALUES, offset=OUTSIDE)
def test_a_timestamp_outside_the_tolerance_is_refused(
    secret: str, msg_id: str, value: Any, offset: int
) -> None:
    body = body_of(value)
    sent = headers(secret, msg_id, refused_timestamp(offset), body)
    with pytest.raises(WebhookVerificationError, match=r"too (old|new)"):
        verify(secret, body, sent)


@pytest.mark.parametrize("offset", [-(TOLERANCE - 1), TOLERANCE - 1])
def test_a_second_inside_the_tolerance_is_accepted(offset: int) -> None:
    secret, body = new_secret(), '{"edge":true}'
    sent = headers(secret, "msg_edge", accepted_timestamp(offset), body)
    assert verify(secret, body, sent) == {"edge": True}


@pytest.mark.parametrize("offset", [-(TOLERANCE + 1), TOLERANCE + 1])
def test_a_second_outside_the_tolerance_is_refused(offset: int) -> None:
    secret, body = new_secret(), '{"edge":true}'
    sent = headers(secret, "msg_edge", refused_timestamp(offset), body)
    with pytest.raises(WebhookVerificationError, match=r"too (old|new)"):
        verify(secret, body, sent)


def test_new_secrets_are_distinct_keys_the_verifier_takes() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) >= 24
        sent = headers(secret, "msg_1", accepted_timestamp(0), "{}")
        assert verify(secret, "{}", sent) == {}
