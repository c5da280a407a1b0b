"""Standard Webhooks verification with the reference library, as of a given instant.

The reference `Webhook.verify` checks the timestamp against the wall clock (5 minutes either
way), so a test that signs with an injected clock, or verifies long after the send on a busy
machine, fails for reasons that have nothing to do with the signature. This oracle keeps the
reference library's HMAC (`Webhook.sign`) and applies the same tolerance against the instant
the test names: the injected clock's now, or when the receiver got the request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

TOLERANCE_S = 5 * 60  # the reference library's own window


def verify_at(secret: str, body: bytes, headers: Mapping[str, str], now: datetime) -> Any:
    """The parsed body if the request is signed with `secret` and stamped within the window
    around `now`; raises AssertionError naming what is wrong otherwise."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    assert msg_id and stamp and signatures, f"missing Standard Webhooks headers: {headers}"
    sent = datetime.fromtimestamp(int(stamp), UTC)
    drift = abs((now - sent).total_seconds())
    assert drift <= TOLERANCE_S, f"timestamp {sent} is {drift:.0f} s away from {now}"
    expected = Webhook(secret).sign(msg_id, sent, body.decode())
    assert expected in signatures.split(" "), "no matching v1 signature"
    return json.loads(body)
