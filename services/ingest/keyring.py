"""The agency key registry: public keys by (agency, key id), several active at once, revocable.

Sources: a YAML/JSON file named by `INGEST_KEYS_FILE` (loaded at start) and the MongoDB
collection `agency_keys` (`_id` = "agency:key_id"), which the file's entries are merged into
and which `planwatch keyring register/revoke` write. Ingest validates against an in-memory
snapshot of the collection, refreshed periodically, so a revocation takes effect without a
restart (after at most one refresh interval).

Merge rules (`merge_key`): a key id never changes its public key (a different key under a
known id is a configuration error), and revocation is sticky: a file that still lists a key
as active does not bring a revoked key back.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final, NamedTuple, Protocol

import yaml
from pydantic import ValidationError
from pymongo.asynchronous.collection import AsyncCollection

from services.ingest.validation import KeySnapshot
from shared.contract.keys import AgencyKey, KeyStatus
from shared.runtime.kafka import is_transient
from shared.runtime.logging import get_logger
from shared.runtime.mongo import Document, replace_upsert

AGENCY_KEYS: Final = "agency_keys"

log = get_logger("planwatch.ingest.keys")


class KeyRegistryError(ValueError):
    """A key file or registry entry is unusable; the message names the entry."""


def key_doc_id(agency: str, key_id: str) -> str:
    return f"{agency}:{key_id}"


def merge_key(existing: AgencyKey | None, incoming: AgencyKey) -> AgencyKey:
    """The entry to keep when `incoming` meets what the registry holds."""
    if existing is None:
        return incoming
    if existing.public_key != incoming.public_key:
        raise KeyRegistryError(
            f"key {incoming.key_id!r} of {incoming.agency!r} is registered with another public "
            "key; a key id is never reused (register the new key under a new id)"
        )
    if existing.status is KeyStatus.REVOKED:
        return existing
    if incoming.status is KeyStatus.REVOKED:
        return existing.model_copy(
            update={"status": KeyStatus.REVOKED, "revoked": incoming.revoked}
        )
    return existing


def parse_keys(text: str, origin: str = "<keys>") -> list[AgencyKey]:
    """Keys from YAML or JSON: a list of entries, `{keys: [...]}`, or JSON lines (one entry
    per line, as `planwatch keys generate` prints them)."""
    try:
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError:
        try:
            document = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise KeyRegistryError(f"{origin}: neither YAML, JSON nor JSON lines: {exc}") from None
    if document is None:
        return []
    if isinstance(document, dict) and "keys" in document:
        document = document["keys"]
    elif isinstance(document, dict):
        document = [document]
    if not isinstance(document, list):
        raise KeyRegistryError(f"{origin}: expected a list of key entries")
    keys: list[AgencyKey] = []
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(document):
        try:
            key = AgencyKey.model_validate(entry)
        except ValidationError as exc:
            raise KeyRegistryError(f"{origin}: entry {index}: {exc}") from None
        if (key.agency, key.key_id) in seen:
            raise KeyRegistryError(f"{origin}: entry {index}: {key.agency}:{key.key_id} twice")
        seen.add((key.agency, key.key_id))
        keys.append(key)
    return keys


def load_keys_file(path: Path) -> list[AgencyKey]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyRegistryError(f"{path}: cannot read: {exc}") from None
    return parse_keys(text, str(path))


class KeyListing(NamedTuple):
    """The registry's entries: the valid keys, and why each invalid entry was left out."""

    keys: list[AgencyKey]
    bad: list[str]


class KeyRepository(Protocol):
    async def all(self) -> KeyListing: ...
    async def get(self, agency: str, key_id: str) -> AgencyKey | None: ...
    async def put(self, key: AgencyKey) -> None:
        """Store the entry as given (callers merge first)."""
        ...


class MongoKeyRepository:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    @staticmethod
    def _key(doc: Mapping[str, Any]) -> AgencyKey:
        fields = {k: v for k, v in doc.items() if k != "_id"}
        try:
            return AgencyKey.model_validate(fields)
        except ValidationError as exc:
            raise KeyRegistryError(f"agency_keys {doc.get('_id')!r}: {exc}") from None

    async def all(self) -> KeyListing:
        """Every entry; a malformed one is left out and named, never failing the rest (one bad
        document must not freeze the snapshot, and with it every revocation after it)."""
        listing = KeyListing([], [])
        async for doc in self._collection.find({}):
            try:
                listing.keys.append(self._key(doc))
            except KeyRegistryError as exc:
                listing.bad.append(str(exc)[:500])
        return listing

    async def get(self, agency: str, key_id: str) -> AgencyKey | None:
        doc = await self._collection.find_one({"_id": key_doc_id(agency, key_id)})
        return None if doc is None else self._key(doc)

    async def put(self, key: AgencyKey) -> None:
        doc = key.model_dump(mode="json")
        await replace_upsert(self._collection, key_doc_id(key.agency, key.key_id), doc)


class InMemoryKeyRepository:
    def __init__(self, keys: Iterable[AgencyKey] = ()) -> None:
        self.keys: dict[tuple[str, str], AgencyKey] = {(k.agency, k.key_id): k for k in keys}

    async def all(self) -> KeyListing:
        return KeyListing(list(self.keys.values()), [])

    async def get(self, agency: str, key_id: str) -> AgencyKey | None:
        return self.keys.get((agency, key_id))

    async def put(self, key: AgencyKey) -> None:
        self.keys[(key.agency, key.key_id)] = key


async def register(repository: KeyRepository, key: AgencyKey) -> AgencyKey:
    """Add a key (or confirm a known one); returns the entry the registry now holds."""
    merged = merge_key(await repository.get(key.agency, key.key_id), key)
    await repository.put(merged)
    return merged


async def revoke(repository: KeyRepository, agency: str, key_id: str, at: datetime) -> AgencyKey:
    """Revoke a key from `at` on (a revoked key stays revoked, with its first revocation time)."""
    existing = await repository.get(agency, key_id)
    if existing is None:
        raise KeyRegistryError(f"agency {agency!r} has no key {key_id!r}")
    if existing.status is KeyStatus.REVOKED:
        return existing
    revoked = existing.revoke(at)
    await repository.put(revoked)
    return revoked


def snapshot(keys: Sequence[AgencyKey]) -> dict[tuple[str, str], AgencyKey]:
    return {(k.agency, k.key_id): k for k in keys}


class KeyRegistry:
    """Holds the snapshot validation uses; `load` seeds the repository from configured keys."""

    def __init__(
        self,
        repository: KeyRepository,
        configured: Sequence[AgencyKey] = (),
        *,
        on_snapshot: Callable[[KeySnapshot], None] = lambda snapshot: None,
        on_failure: Callable[[BaseException], None] = lambda exc: None,
        on_invalid: Callable[[int], None] = lambda count: None,
        writer: KeyRepository | None = None,
    ) -> None:
        self._repository = repository
        # Where `load` merges the configured keys: a login allowed to write the registry,
        # when `repository` (the snapshots' reader) is not (deploy/mongodb/users.yaml).
        self._writer = writer or repository
        self._configured = tuple(configured)
        self._snapshot: KeySnapshot = {}
        self._on_snapshot = on_snapshot
        self._on_failure = on_failure
        self._on_invalid = on_invalid

    @property
    def snapshot(self) -> KeySnapshot:
        return self._snapshot

    async def load(self) -> None:
        for key in self._configured:
            await register(self._writer, key)
        await self.refresh()

    async def refresh(self) -> None:
        """A new snapshot of every valid entry; each invalid one is logged and counted."""
        keys, bad = await self._repository.all()
        for reason in bad:
            log.error("agency key entry skipped: invalid", error=reason)
        self._on_invalid(len(bad))
        self._snapshot = snapshot(keys)
        self._on_snapshot(self._snapshot)
        log.debug("key snapshot refreshed", keys=len(keys), invalid=len(bad))

    async def run_refresher(self, interval_s: float) -> None:
        """Refresh every `interval_s` until cancelled; a failed refresh keeps the last one."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.refresh()
            except Exception as exc:
                self._on_failure(exc)
                level = "warning" if is_transient(exc) else "error"
                getattr(log, level)("key snapshot refresh failed", error=repr(exc))
