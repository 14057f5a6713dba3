"""Standard Webhooks signing: the spec's known-answer vector and secrets."""

from __future__ import annotations

import base64
import re

from tests.webhooks.outgoing_support import spec_signature
from webhooks.outgoing.signing import headers, new_secret, sign

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
PAYLOAD = '{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_known_answer_vector() -> None:
    assert sign(SECRET, MSG_ID, TIMESTAMP, PAYLOAD) == EXPECTED
    assert spec_signature(SECRET, MSG_ID, str(TIMESTAMP), PAYLOAD.encode()) == EXPECTED


def test_headers_carry_id_timestamp_and_signature() -> None:
    sent = headers(SECRET, MSG_ID, TIMESTAMP, PAYLOAD)
    assert sent["webhook-id"] == MSG_ID
    assert sent["webhook-timestamp"] == str(TIMESTAMP)
    assert sent["webhook-signature"] == EXPECTED


def test_new_secrets_are_whsec_base64_of_enough_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first != second
    for secret in (first, second):
        assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{32,}={0,2}", secret)  # the config schema's rule
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
