"""Registering the demo agencies' public keys where ingest looks for them.

Two ways: a keys file for `INGEST_KEYS_FILE` (read when ingest starts; what `planwatch demo`
does), or the MongoDB collection `agency_keys` through ingest's own key registry module (a
running ingest picks new keys up at its next snapshot refresh, `INGEST_KEYS_REFRESH_S`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from planwatch.simulate.agencies import DemoKey
from services.ingest.keyring import AGENCY_KEYS, KeyRegistryError, MongoKeyRepository, register
from shared.runtime.mongo import database, make_client
from shared.runtime.settings import MongoSettings

#: Ingest's default snapshot refresh interval (services/ingest/config.py `keys_refresh_s`).
INGEST_KEYS_REFRESH_S: Final = 30.0
#: The demo keys' private halves derive from a public seed: they may only ever be registered in
#: a database whose name says it is a demo (the demo's own databases all start with this).
DEMO_DATABASE_PREFIX: Final = "planwatch_demo"


class KeyRegistrationError(RuntimeError):
    """The demo keys could not be registered (MongoDB unreachable, or an id taken by another
    public key: the registry never reuses a key id)."""


async def register_in_mongo(
    keys: Mapping[str, DemoKey], settings: MongoSettings, collection: str = AGENCY_KEYS
) -> int:
    """Upsert every demo key's registry entry; returns how many were not registered before.
    Refuses, before connecting, a database whose name does not start with
    `DEMO_DATABASE_PREFIX`: anyone can sign as any agency with these keys."""
    if not settings.database.startswith(DEMO_DATABASE_PREFIX):
        raise KeyRegistrationError(
            f"refusing to register the demo keys in database {settings.database!r}: their "
            "private halves derive from a public seed, so anyone could sign as any agency. "
            f"Use a demo database (a name starting with {DEMO_DATABASE_PREFIX!r}, e.g. "
            f"MONGODB_DATABASE={DEMO_DATABASE_PREFIX}) or --no-register-keys."
        )
    client = make_client(settings)
    try:
        repository = MongoKeyRepository(database(client, settings)[collection])
        added = 0
        for key in keys.values():
            entry = key.registry_entry()
            known = await repository.get(entry.agency, entry.key_id)
            await register(repository, entry)
            added += known is None
        return added
    except KeyRegistryError as exc:
        raise KeyRegistrationError(str(exc)) from exc
    except Exception as exc:
        raise KeyRegistrationError(f"cannot register keys in MongoDB: {exc!r}") from exc
    finally:
        await client.close()
