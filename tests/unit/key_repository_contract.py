"""The KeyRepository contract (ingest's agency keys), run against the in-memory fake (unit)
and MongoDB (integration). Subclass `KeyRepositoryContract` and provide a `repository`
fixture holding no keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.ingest.keyring import KeyRegistryError, KeyRepository, register, revoke
from shared.contract.keys import KeyStatus
from tests.unit.ingest_support import agency_key

REVOKED_AT = datetime(2022, 6, 1, 8, 0, tzinfo=UTC)


class KeyRepositoryContract:
    async def test_an_empty_repository_lists_nothing(self, repository: KeyRepository) -> None:
        listing = await repository.all()
        assert listing.keys == [] and listing.bad == []
        assert await repository.get("qy.gov-data", "k1") is None

    async def test_a_key_put_is_read_back_unchanged(self, repository: KeyRepository) -> None:
        key = agency_key("qy.gov-data", "k1")
        await repository.put(key)
        assert await repository.get("qy.gov-data", "k1") == key
        assert (await repository.all()).keys == [key]

    async def test_keys_are_told_apart_by_agency_and_key_id(
        self, repository: KeyRepository
    ) -> None:
        keys = [
            agency_key("qy.gov-data", "k1"),
            agency_key("qy.gov-data", "k2"),
            agency_key("qy.miit", "k1"),
        ]
        for key in keys:
            await repository.put(key)
        listed = sorted((await repository.all()).keys, key=lambda k: (k.agency, k.key_id))
        assert listed == sorted(keys, key=lambda k: (k.agency, k.key_id))
        assert await repository.get("qy.miit", "k1") == keys[2]
        assert await repository.get("qy.miit", "k2") is None

    async def test_register_is_idempotent(self, repository: KeyRepository) -> None:
        key = agency_key("qy.gov-data", "k1")
        assert await register(repository, key) == key
        assert await register(repository, key) == key
        assert len((await repository.all()).keys) == 1

    async def test_a_revocation_replaces_the_entry_and_keeps_its_first_instant(
        self, repository: KeyRepository
    ) -> None:
        await register(repository, agency_key("qy.gov-data", "k1"))
        revoked = await revoke(repository, "qy.gov-data", "k1", REVOKED_AT)
        assert revoked.status is KeyStatus.REVOKED
        later = await revoke(repository, "qy.gov-data", "k1", datetime(2023, 1, 1, tzinfo=UTC))
        assert later == revoked
        stored = await repository.get("qy.gov-data", "k1")
        assert stored == revoked
        assert (await repository.all()).keys == [revoked]

    async def test_revoking_an_unknown_key_is_refused_by_name(
        self, repository: KeyRepository
    ) -> None:
        with pytest.raises(KeyRegistryError, match="no key 'k9'"):
            await revoke(repository, "qy.gov-data", "k9", REVOKED_AT)
