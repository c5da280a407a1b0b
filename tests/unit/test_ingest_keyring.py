"""The agency key registry: file formats, merge rules, rotation, revocation via refresh."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from services.ingest.keyring import (
    InMemoryKeyRepository,
    KeyRegistry,
    KeyRegistryError,
    MongoKeyRepository,
    load_keys_file,
    merge_key,
    parse_keys,
    register,
    revoke,
)
from shared.contract.keys import KeyStatus
from tests.unit.ingest_support import agency_key

AT = datetime(2022, 5, 1, tzinfo=UTC)


def test_yaml_list_keys_mapping_and_json_lines(tmp_path: Path) -> None:
    k1, k2 = agency_key("qy.gov-data", "k1"), agency_key("qy.miit", "k1")
    entries = [k.model_dump(mode="json") for k in (k1, k2)]
    as_yaml = tmp_path / "keys.yaml"
    as_yaml.write_text("keys:\n" + "".join(f"  - {json.dumps(e)}\n" for e in entries))
    as_json = tmp_path / "keys.json"
    as_json.write_text(json.dumps(entries))
    as_lines = tmp_path / "keys.jsonl"
    as_lines.write_text("".join(json.dumps(e) + "\n" for e in entries))
    for path in (as_yaml, as_json, as_lines):
        assert load_keys_file(path) == [k1, k2], path


def test_a_bad_entry_is_named() -> None:
    with pytest.raises(KeyRegistryError, match="entry 0"):
        parse_keys('[{"agency": "qy.miit", "key_id": "k1", "public_key": "nope"}]')
    entry = agency_key("qy.miit").model_dump_json()
    with pytest.raises(KeyRegistryError, match="twice"):
        parse_keys(f"[{entry}, {entry}]")
    with pytest.raises(KeyRegistryError, match="cannot read"):
        load_keys_file(Path("/nonexistent/keys.yaml"))


def test_merge_rules() -> None:
    key = agency_key("qy.miit")
    revoked = key.revoke(AT)
    assert merge_key(None, key) == key
    assert merge_key(revoked, key) == revoked  # revocation is sticky
    assert merge_key(key, revoked).status is KeyStatus.REVOKED
    other = agency_key("qy.health").model_copy(update={"agency": "qy.miit"})
    with pytest.raises(KeyRegistryError, match="another public key"):
        merge_key(key, other)


async def test_register_and_revoke() -> None:
    repository = InMemoryKeyRepository()
    await register(repository, agency_key("qy.miit", "k1"))
    await register(repository, agency_key("qy.miit", "k2"))  # rotation: both active
    assert {k.key_id for k in (await repository.all()).keys if k.is_active} == {"k1", "k2"}
    revoked = await revoke(repository, "qy.miit", "k1", AT)
    assert revoked.status is KeyStatus.REVOKED and revoked.revoked == AT
    again = await revoke(repository, "qy.miit", "k1", datetime(2023, 1, 1, tzinfo=UTC))
    assert again.revoked == AT  # the first revocation time stays
    with pytest.raises(KeyRegistryError, match="no key"):
        await revoke(repository, "qy.miit", "k9", AT)


async def test_a_revocation_in_the_repository_reaches_the_snapshot_on_refresh() -> None:
    repository = InMemoryKeyRepository()
    seen: list[int] = []
    registry = KeyRegistry(
        repository, [agency_key("qy.miit")], on_snapshot=lambda snap: seen.append(len(snap))
    )
    await registry.load()
    assert registry.snapshot[("qy.miit", "k1")].is_active
    await revoke(repository, "qy.miit", "k1", AT)
    assert registry.snapshot[("qy.miit", "k1")].is_active  # until the next refresh
    await registry.refresh()
    assert not registry.snapshot[("qy.miit", "k1")].is_active
    assert seen == [1, 1]


async def test_the_file_does_not_bring_back_a_revoked_key() -> None:
    repository = InMemoryKeyRepository([agency_key("qy.miit").revoke(AT)])
    registry = KeyRegistry(repository, [agency_key("qy.miit")])
    await registry.load()
    assert registry.snapshot[("qy.miit", "k1")].status is KeyStatus.REVOKED


class _FakeCollection:
    """The two calls MongoKeyRepository makes, over documents in memory."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs

    async def _each(self) -> AsyncIterator[dict[str, Any]]:
        for doc in list(self.docs):
            yield doc

    def find(self, query: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        return self._each()

    async def replace_one(self, query: dict[str, Any], doc: dict[str, Any], upsert: bool) -> None:
        self.docs = [d for d in self.docs if d["_id"] != query["_id"]] + [
            {"_id": query["_id"], **doc}
        ]

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        return next((d for d in self.docs if d["_id"] == query["_id"]), None)


async def test_one_malformed_entry_is_skipped_and_revocations_still_apply() -> None:
    # Before: one bad document failed the whole refresh and the old snapshot stayed in use
    # for good, so revocations silently stopped reaching ingest.
    good = agency_key("qy.miit", "k1")
    docs = [
        {"_id": "qy.miit:k1", **good.model_dump(mode="json")},
        {"_id": "qy.health:bad", "agency": "qy.health", "key_id": 5},  # malformed
    ]
    collection = _FakeCollection(docs)
    repository = MongoKeyRepository(cast(Any, collection))
    invalid: list[int] = []
    registry = KeyRegistry(repository, on_invalid=invalid.append)
    await registry.refresh()
    assert registry.snapshot[("qy.miit", "k1")].is_active and invalid == [1]
    await revoke(repository, "qy.miit", "k1", AT)
    await registry.refresh()
    assert not registry.snapshot[("qy.miit", "k1")].is_active  # the revocation reached it
    assert invalid == [1, 1]
    listing = await repository.all()
    assert [k.key_id for k in listing.keys] == ["k1"] and "qy.health:bad" in listing.bad[0]
