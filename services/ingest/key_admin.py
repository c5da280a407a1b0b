"""The key registry's administration API (scope `keys:admin`), which `planwatch keyring` calls:

- `GET  /v1/admin/keys` → `{"keys": [...], "invalid": [...]}`
- `POST /v1/admin/keys` `{"keys": [entry, ...]}` → the entries the registry now holds (a key
  id is never reused for another public key: 409)
- `POST /v1/admin/keys/{agency}/rotate` `{"key": entry, "revoke": [key id, ...]}` → the new key
  registered, then the listed old keys revoked
- `POST /v1/admin/keys/{agency}/{key_id}/revoke` → the revoked entry (404 if unknown)
- `GET  /v1/admin/audit?limit=N` → the latest audit entries, newest first

Every change is audit-logged (who: the token's subject; when; what) and applied to this
replica's snapshot at once; the others pick it up at their next key refresh.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from services.ingest.keyring import KeyRegistryError, KeyRepository, register, revoke
from shared.contract.keys import AgencyKey
from shared.runtime.audit import AuditEntry, AuditLog
from shared.runtime.auth import KEYS_ADMIN, Principal, require
from shared.runtime.logging import get_logger

ADMIN_PREFIX: Final = "/v1/admin"
log = get_logger("planwatch.ingest.key_admin")

Admin = Annotated[Principal, Depends(require(KEYS_ADMIN))]


class RegisterBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[AgencyKey] = Field(min_length=1, max_length=100)


class RotateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: AgencyKey
    revoke: list[str] = Field(default_factory=list, max_length=100)


class KeyList(BaseModel):
    keys: list[AgencyKey]
    invalid: list[str] = Field(description="Stored entries that do not parse, with why")


class RegisteredKeys(BaseModel):
    keys: list[AgencyKey]


class Rotation(BaseModel):
    registered: AgencyKey
    revoked: list[AgencyKey]


def key_admin_router(
    repository: KeyRepository,
    audit: AuditLog,
    clock: Callable[[], datetime],
    refresh: Callable[[], Awaitable[None]],
) -> APIRouter:
    router = APIRouter(prefix=ADMIN_PREFIX, tags=["key registry"])

    async def applied() -> None:
        try:
            await refresh()
        except Exception as exc:  # the change is stored; the periodic refresh catches up
            log.warning("key snapshot refresh after a change failed", error=repr(exc))

    async def registered(principal: Principal, keys: list[AgencyKey]) -> list[AgencyKey]:
        stored: list[AgencyKey] = []
        for key in keys:
            try:
                entry = await register(repository, key)
            except KeyRegistryError as exc:
                raise HTTPException(409, str(exc)) from None
            await audit.record(
                principal.subject,
                "key.register",
                f"{key.agency}:{key.key_id}",
                {"public_key": key.public_key, "status": entry.status.value},
                clock(),
            )
            stored.append(entry)
        return stored

    async def revoked(principal: Principal, agency: str, key_id: str) -> AgencyKey:
        if await repository.get(agency, key_id) is None:
            raise HTTPException(404, f"agency {agency!r} has no key {key_id!r}")
        try:
            entry = await revoke(repository, agency, key_id, clock().replace(microsecond=0))
        except KeyRegistryError as exc:
            raise HTTPException(404, str(exc)) from None
        await audit.record(principal.subject, "key.revoke", f"{agency}:{key_id}", {}, clock())
        return entry

    @router.get("/keys")
    async def list_keys(_: Admin) -> KeyList:
        listing = await repository.all()
        keys = sorted(listing.keys, key=lambda k: (k.agency, k.key_id))
        return KeyList(keys=keys, invalid=listing.bad)

    @router.post("/keys")
    async def register_keys(body: RegisterBody, principal: Admin) -> RegisteredKeys:
        stored = await registered(principal, body.keys)
        await applied()
        return RegisteredKeys(keys=stored)

    @router.post("/keys/{agency}/rotate")
    async def rotate_key(agency: str, body: RotateBody, principal: Admin) -> Rotation:
        if body.key.agency != agency:
            raise HTTPException(400, f"the new key is of {body.key.agency!r}, not {agency!r}")
        if body.key.key_id in body.revoke:
            raise HTTPException(400, "the new key cannot be revoked in its own rotation")
        for key_id in body.revoke:
            if await repository.get(agency, key_id) is None:
                raise HTTPException(404, f"agency {agency!r} has no key {key_id!r}")
        (new,) = await registered(principal, [body.key])
        old = [await revoked(principal, agency, key_id) for key_id in body.revoke]
        await applied()
        return Rotation(registered=new, revoked=old)

    @router.post("/keys/{agency}/{key_id}/revoke")
    async def revoke_key(agency: str, key_id: str, principal: Admin) -> AgencyKey:
        entry = await revoked(principal, agency, key_id)
        await applied()
        return entry

    @router.get("/audit")
    async def audit_entries(
        _: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[AuditEntry]:
        return [AuditEntry.model_validate(entry) for entry in await audit.entries(limit)]

    return router
