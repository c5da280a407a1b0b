"""The key registry's administration API: register, rotate, revoke, list, each audit-logged
with the token's subject; only with `keys:admin`."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from services.ingest.key_admin import ADMIN_PREFIX, key_admin_router
from services.ingest.keyring import InMemoryKeyRepository
from shared.runtime.audit import InMemoryAuditLog
from shared.runtime.auth import EVENTS_WRITE, KEYS_ADMIN, install
from tests.token_issuer import LocalIssuer
from tests.unit.ingest_support import agency_key

ISSUER = LocalIssuer()
NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ADMIN = ISSUER.headers(KEYS_ADMIN, sub="operator-7")


class Fixture:
    def __init__(self) -> None:
        self.repository = InMemoryKeyRepository([agency_key("qy.gov-data", "k1")])
        self.audit = InMemoryAuditLog()
        self.refreshed = 0
        app = FastAPI()
        install(app, ISSUER.authenticator())

        async def refresh() -> None:
            self.refreshed += 1

        app.include_router(key_admin_router(self.repository, self.audit, lambda: NOW, refresh))
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingest"
        )


def _json(key_id: str, agency: str = "qy.gov-data") -> dict[str, object]:
    return agency_key(agency, key_id).model_dump(mode="json")


async def test_register_list_and_the_audit_entry() -> None:
    f = Fixture()
    async with f.http as http:
        answer = await http.post(
            f"{ADMIN_PREFIX}/keys", json={"keys": [_json("k2")]}, headers=ADMIN
        )
        assert answer.status_code == 200, answer.text
        listed = (await http.get(f"{ADMIN_PREFIX}/keys", headers=ADMIN)).json()
        audit = (await http.get(f"{ADMIN_PREFIX}/audit", headers=ADMIN)).json()
    assert [k["key_id"] for k in listed["keys"]] == ["k1", "k2"]
    assert f.refreshed == 1
    [entry] = audit
    assert entry["actor"] == "operator-7" and entry["action"] == "key.register"
    assert entry["subject"] == "qy.gov-data:k2" and entry["at"] == NOW.isoformat()


async def test_a_key_id_is_never_reused_for_another_key() -> None:
    f = Fixture()
    other = {**_json("k1"), "public_key": agency_key("qy.other", "k9").public_key}
    async with f.http as http:
        answer = await http.post(f"{ADMIN_PREFIX}/keys", json={"keys": [other]}, headers=ADMIN)
    assert answer.status_code == 409
    assert f.audit.items == []


async def test_rotate_registers_the_new_key_and_revokes_the_old() -> None:
    f = Fixture()
    body = {"key": _json("k2"), "revoke": ["k1"]}
    async with f.http as http:
        answer = await http.post(
            f"{ADMIN_PREFIX}/keys/qy.gov-data/rotate", json=body, headers=ADMIN
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["registered"]["key_id"] == "k2"
    assert answer.json()["revoked"][0]["status"] == "revoked"
    assert f.repository.keys[("qy.gov-data", "k1")].revoked == NOW
    assert [e["action"] for e in f.audit.items] == ["key.register", "key.revoke"]


async def test_rotate_refuses_a_key_of_another_agency_and_unknown_old_keys() -> None:
    f = Fixture()
    async with f.http as http:
        wrong = {"key": _json("k2", agency="qy.health"), "revoke": []}
        assert (
            await http.post(f"{ADMIN_PREFIX}/keys/qy.gov-data/rotate", json=wrong, headers=ADMIN)
        ).status_code == 400
        unknown = {"key": _json("k2"), "revoke": ["nope"]}
        assert (
            await http.post(f"{ADMIN_PREFIX}/keys/qy.gov-data/rotate", json=unknown, headers=ADMIN)
        ).status_code == 404
    assert f.audit.items == [] and ("qy.gov-data", "k2") not in f.repository.keys


async def test_revoke_and_unknown_key() -> None:
    f = Fixture()
    async with f.http as http:
        ok = await http.post(f"{ADMIN_PREFIX}/keys/qy.gov-data/k1/revoke", headers=ADMIN)
        missing = await http.post(f"{ADMIN_PREFIX}/keys/qy.gov-data/k7/revoke", headers=ADMIN)
    assert ok.status_code == 200 and ok.json()["status"] == "revoked"
    assert missing.status_code == 404
    assert [(e["actor"], e["action"]) for e in f.audit.items] == [("operator-7", "key.revoke")]


async def test_only_the_admin_scope_may_administer() -> None:
    f = Fixture()
    agency = ISSUER.headers(EVENTS_WRITE, agency="qy.gov-data")
    async with f.http as http:
        assert (await http.get(f"{ADMIN_PREFIX}/keys")).status_code == 401
        assert (await http.get(f"{ADMIN_PREFIX}/keys", headers=agency)).status_code == 403
        revoke = await http.post(f"{ADMIN_PREFIX}/keys/qy.gov-data/k1/revoke", headers=agency)
    assert revoke.status_code == 403
    assert f.repository.keys[("qy.gov-data", "k1")].is_active and f.audit.items == []
