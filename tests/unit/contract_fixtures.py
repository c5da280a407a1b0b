"""Fixed keys and events for the contract tests (a plain module: no conftest imports)."""

from __future__ import annotations

from datetime import date

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.contract.events import ProgressReported, ProgressRetracted, new_report, new_retraction
from shared.contract.keys import private_key_from_seed

# RFC 8032 section 7.1, TEST 1: a published seed whose public key is known.
SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
PUBLIC_KEY_HEX = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
KEY_ID = "qy.gov-data.2022a"
PLAN = "qingyuan-digital-economy-2021"


def private_key() -> Ed25519PrivateKey:
    return private_key_from_seed(SEED)


def other_key() -> Ed25519PrivateKey:
    return private_key_from_seed(bytes(range(32)))


def report() -> ProgressReported:
    """The worked example of docs/contract.md."""
    return new_report(
        agency="qy.gov-data",
        plan=PLAN,
        target="gov.mobile-services",
        as_of=date(2022, 3, 31),
        time="2022-04-06T09:30:00+08:00",
        value=72.5,
        note="掌上办 Q1",
        event_id="3f1c2a9e-0001",
    )


def milestone_report() -> ProgressReported:
    return new_report(
        agency="qy.miit",
        plan=PLAN,
        target="industry.tencent-cloud",
        as_of=date(2022, 6, 30),
        time="2022-07-02T08:00:00Z",
        stage="construction",
        evidence="https://example.gov.cn/notice/1",
        event_id="m-1",
    )


def retraction() -> ProgressRetracted:
    return new_retraction(
        agency="qy.gov-data",
        plan=PLAN,
        target="gov.mobile-services",
        as_of=date(2022, 3, 31),
        reason="double counted",
        time="2022-04-07T10:00:00+08:00",
        event_id="3f1c2a9e-0002",
    )
