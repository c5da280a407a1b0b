"""`planwatch keyring`: the ingest key registry in MongoDB (register, revoke, list).

Writes the `agency_keys` collection the ingest service validates against; a running ingest
picks changes up at its next key refresh (`INGEST_KEYS_REFRESH_S`, 30 s by default).
Servers and names come from the environment, as for the service (`MONGODB_URI`,
`MONGODB_DATABASE`, `INGEST_KEYS_COLLECTION`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError

from services.ingest.config import IngestSettings
from services.ingest.keyring import (
    KeyListing,
    KeyRegistryError,
    MongoKeyRepository,
    load_keys_file,
    register,
    revoke,
)
from shared.contract.keys import AgencyKey
from shared.runtime.mongo import database, make_client

keyring_app = typer.Typer(
    help="The ingest key registry in MongoDB: register, revoke and list agency public keys.",
    no_args_is_help=True,
)

T = TypeVar("T")


def _run(action: Callable[[MongoKeyRepository], Awaitable[T]]) -> T:
    settings = IngestSettings()

    async def main() -> T:
        client = make_client(settings.mongo)
        try:
            collection = database(client, settings.mongo)[settings.keys_collection]
            return await action(MongoKeyRepository(collection))
        finally:
            await client.close()

    try:
        return asyncio.run(main())
    except KeyRegistryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@keyring_app.command("register")
def register_key(
    agency: Annotated[str | None, typer.Option("--agency", help="The agency id.")] = None,
    key_id: Annotated[str | None, typer.Option("--key-id", help="The key id.")] = None,
    public_key: Annotated[
        str | None,
        typer.Option("--public-key", help="Ed25519 public key, unpadded base64url (32 bytes)."),
    ] = None,
    entry: Annotated[
        Path | None,
        typer.Option(
            "--entry", help="Registry entries instead (e.g. the .pub.json of `keys generate`)."
        ),
    ] = None,
) -> None:
    """Register a public key (several per agency may be active: rotation)."""
    if entry is not None:
        if agency or key_id or public_key:
            raise typer.BadParameter("give --entry or --agency/--key-id/--public-key, not both")
        try:
            keys = load_keys_file(entry)
        except KeyRegistryError as exc:
            raise typer.BadParameter(str(exc), param_hint="--entry") from None
    else:
        if not (agency and key_id and public_key):
            raise typer.BadParameter("--agency, --key-id and --public-key are all required")
        try:
            keys = [
                AgencyKey(
                    agency=agency,
                    key_id=key_id,
                    public_key=public_key,
                    created=datetime.now(UTC).replace(microsecond=0),
                )
            ]
        except ValidationError as exc:
            raise typer.BadParameter(str(exc)) from None

    async def action(repository: MongoKeyRepository) -> list[AgencyKey]:
        return [await register(repository, key) for key in keys]

    for stored in _run(action):
        typer.echo(stored.model_dump_json())


@keyring_app.command("revoke")
def revoke_key(
    agency: Annotated[str, typer.Option("--agency", help="The agency id.")],
    key_id: Annotated[str, typer.Option("--key-id", help="The key id.")],
) -> None:
    """Revoke a key: events signed with it are refused from the next key refresh on."""

    async def action(repository: MongoKeyRepository) -> AgencyKey:
        return await revoke(repository, agency, key_id, datetime.now(UTC).replace(microsecond=0))

    typer.echo(_run(action).model_dump_json())


@keyring_app.command("list")
def list_keys() -> None:
    """Every registered key, one JSON line each."""

    async def action(repository: MongoKeyRepository) -> KeyListing:
        return await repository.all()

    listing = _run(action)
    for key in sorted(listing.keys, key=lambda k: (k.agency, k.key_id)):
        typer.echo(key.model_dump_json())
    for reason in listing.bad:
        typer.echo(f"invalid entry (ingest leaves it out): {reason}", err=True)
