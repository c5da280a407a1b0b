"""`planwatch keyring`: the ingest key registry (register, rotate, revoke, list).

Two ways to reach it:
- **the admin API** (production): `--url https://ingest.example.org` (or
  `PLANWATCH_INGEST_URL`) with a bearer token holding `keys:admin` in the file named by
  `PLANWATCH_TOKEN_FILE` (or in `PLANWATCH_TOKEN`). Every change is audit-logged by ingest
  with the token's subject and applied at once on the replica that answered; the others
  pick it up at their next key refresh (`INGEST_KEYS_REFRESH_S`, 30 s by default).
- **`--direct-mongo`** (local development only): writes the `agency_keys` collection
  directly (`MONGODB_DATABASE`, `INGEST_KEYS_COLLECTION`) as the key administrator
  (`INGEST_KEY_ADMIN_MONGODB_URI[_FILE]`, else `MONGODB_URI[_FILE]`), without audit; the
  production NetworkPolicies deny this path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from pydantic import ValidationError

from planwatch.cli_options import FormatOption, OutputFormat
from planwatch.http_refusal import refusal_message
from planwatch.http_token import TokenError, auth_headers
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
    help="The ingest key registry: register, rotate, revoke and list agency public keys "
    "(through ingest's admin API, or --direct-mongo for local development).",
    no_args_is_help=True,
)

T = TypeVar("T")
ADMIN_PATH = "/v1/admin/keys"

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="PLANWATCH_INGEST_URL",
        metavar="<url>",
        help="Ingest's base URL: the admin API (token from PLANWATCH_TOKEN_FILE).",
    ),
]
DirectOption = Annotated[
    bool,
    typer.Option(
        "--direct-mongo",
        help="Local development only: write MongoDB directly (no API, no audit log).",
    ),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _mode(url: str | None, direct: bool) -> str | None:
    """The admin API's base URL, or None for direct MongoDB."""
    if url and direct:
        raise typer.BadParameter("give --url or --direct-mongo, not both")
    if not url and not direct:
        raise typer.BadParameter(
            "give --url (ingest's admin API; token in PLANWATCH_TOKEN_FILE) or --direct-mongo "
            "(local development)"
        )
    return url.rstrip("/") if url else None


def _mongo(action: Callable[[MongoKeyRepository], Awaitable[T]]) -> T:
    settings = IngestSettings()

    async def main() -> T:
        client = make_client(settings.key_admin_mongo())
        try:
            collection = database(client, settings.mongo)[settings.keys_collection]
            return await action(MongoKeyRepository(collection))
        finally:
            await client.close()

    try:
        return asyncio.run(main())
    except KeyRegistryError as exc:
        raise _fail(str(exc)) from None


def _api(method: str, base: str, path: str, body: Any = None) -> Any:
    try:
        headers = auth_headers()
    except TokenError as exc:
        raise _fail(str(exc)) from None
    if not headers:
        raise _fail("no token: set PLANWATCH_TOKEN_FILE (a token with scope keys:admin)")
    try:
        response = httpx.request(method, f"{base}{path}", json=body, headers=headers, timeout=15.0)
    except httpx.HTTPError as exc:
        raise _fail(f"cannot reach ingest at {base}: {exc}") from None
    if response.status_code >= 400:
        raise _fail(refusal_message("ingest", response))
    return response.json()


def _echo_key(entry: dict[str, Any] | AgencyKey) -> None:
    key = entry if isinstance(entry, AgencyKey) else AgencyKey.model_validate(entry)
    typer.echo(key.model_dump_json())


def _key_line(key: AgencyKey) -> str:
    status = key.status.value + (f" {key.revoked.isoformat()}" if key.revoked else "")
    return f"{key.agency}  {key.key_id}  {status}  created {key.created.isoformat()}"


def _keys_given(
    agency: str | None, key_id: str | None, public_key: str | None, entry: Path | None
) -> list[AgencyKey]:
    if entry is not None:
        if agency or key_id or public_key:
            raise typer.BadParameter("give --entry or --agency/--key-id/--public-key, not both")
        try:
            return load_keys_file(entry)
        except KeyRegistryError as exc:
            raise typer.BadParameter(str(exc), param_hint="--entry") from None
    if not (agency and key_id and public_key):
        raise typer.BadParameter("--agency, --key-id and --public-key are all required")
    try:
        return [
            AgencyKey(
                agency=agency,
                key_id=key_id,
                public_key=public_key,
                created=datetime.now(UTC).replace(microsecond=0),
            )
        ]
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from None


AgencyOption = Annotated[str | None, typer.Option("--agency", help="The agency id.")]
KeyIdOption = Annotated[str | None, typer.Option("--key-id", help="The key id.")]
PublicKeyOption = Annotated[
    str | None,
    typer.Option("--public-key", help="Ed25519 public key, unpadded base64url (32 bytes)."),
]
EntryOption = Annotated[
    Path | None,
    typer.Option(
        "--entry", help="Registry entries instead (e.g. the .pub.json of `keys generate`)."
    ),
]


@keyring_app.command("register")
def register_key(
    *,
    agency: AgencyOption = None,
    key_id: KeyIdOption = None,
    public_key: PublicKeyOption = None,
    entry: EntryOption = None,
    url: UrlOption = None,
    direct_mongo: DirectOption = False,
) -> None:
    """Register a public key (several per agency may be active: rotation)."""
    base = _mode(url, direct_mongo)
    keys = _keys_given(agency, key_id, public_key, entry)
    if base is not None:
        body = {"keys": [k.model_dump(mode="json") for k in keys]}
        for stored in _api("POST", base, ADMIN_PATH, body)["keys"]:
            _echo_key(stored)
        return

    async def action(repository: MongoKeyRepository) -> list[AgencyKey]:
        return [await register(repository, key) for key in keys]

    for key in _mongo(action):
        _echo_key(key)


@keyring_app.command("rotate")
def rotate_key(
    *,
    agency: Annotated[str, typer.Option("--agency", help="The agency id.")],
    revoke_ids: Annotated[
        list[str], typer.Option("--revoke", help="A key id to revoke once the new one is in.")
    ],
    new_key_id: KeyIdOption = None,
    public_key: PublicKeyOption = None,
    entry: EntryOption = None,
    url: UrlOption = None,
    direct_mongo: DirectOption = False,
) -> None:
    """Rotate: register the new key, then revoke the old ones (`--revoke`, repeatable)."""
    base = _mode(url, direct_mongo)
    keys = _keys_given(None if entry else agency, new_key_id, public_key, entry)
    if len(keys) != 1 or keys[0].agency != agency:
        raise typer.BadParameter(f"give exactly one new key of {agency!r}")
    if base is not None:
        body = {"key": keys[0].model_dump(mode="json"), "revoke": revoke_ids}
        answer = _api("POST", base, f"{ADMIN_PATH}/{agency}/rotate", body)
        for stored in [answer["registered"], *answer["revoked"]]:
            _echo_key(stored)
        return

    async def action(repository: MongoKeyRepository) -> list[AgencyKey]:
        at = datetime.now(UTC).replace(microsecond=0)
        new = await register(repository, keys[0])
        return [new, *[await revoke(repository, agency, old, at) for old in revoke_ids]]

    for key in _mongo(action):
        _echo_key(key)


@keyring_app.command("revoke")
def revoke_key(
    agency: Annotated[str, typer.Option("--agency", help="The agency id.")],
    key_id: Annotated[str, typer.Option("--key-id", help="The key id.")],
    url: UrlOption = None,
    direct_mongo: DirectOption = False,
) -> None:
    """Revoke a key: events signed with it are refused from the next key refresh on."""
    base = _mode(url, direct_mongo)
    if base is not None:
        _echo_key(_api("POST", base, f"{ADMIN_PATH}/{agency}/{key_id}/revoke"))
        return

    async def action(repository: MongoKeyRepository) -> AgencyKey:
        return await revoke(repository, agency, key_id, datetime.now(UTC).replace(microsecond=0))

    _echo_key(_mongo(action))


@keyring_app.command("list")
def list_keys(
    url: UrlOption = None,
    direct_mongo: DirectOption = False,
    output: FormatOption = OutputFormat.JSON,
) -> None:
    """Every registered key: one JSON line each, or a line of text each (--format text)."""
    base = _mode(url, direct_mongo)
    if base is not None:
        answer = _api("GET", base, ADMIN_PATH)
        keys = [AgencyKey.model_validate(k) for k in answer["keys"]]
        bad = [str(b) for b in answer["invalid"]]
    else:

        async def action(repository: MongoKeyRepository) -> KeyListing:
            return await repository.all()

        keys, bad = _mongo(action)
    for key in sorted(keys, key=lambda k: (k.agency, k.key_id)):
        if output is OutputFormat.JSON:
            _echo_key(key)
        else:
            typer.echo(_key_line(key))
    for reason in bad:
        typer.echo(f"invalid entry (ingest leaves it out): {reason}", err=True)
