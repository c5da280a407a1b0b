"""`planwatch keys`: agency signing keys (the private key stays with the agency) and the
platform clock's key (it signs clock ticks). Messages in zh or en (`--lang`); the registry
entry and the public key on stdout are data, the same in any language."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from planwatch.cli_options import LangOption, Voice
from shared.contract.events import ID_PATTERN, KEY_ID_PATTERN
from shared.contract.keys import (
    AgencyKey,
    default_key_id,
    generate_private_key,
    private_key_pem,
    public_key_text,
)

keys_app = typer.Typer(
    help="Signing keys (Ed25519): the agencies' and the platform clock's.", no_args_is_help=True
)


def _write_new(path: Path, content: bytes, mode: int) -> None:
    """Create a file with `mode` from the start (no window with wider permissions)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


@keys_app.command("generate")
def generate(
    agency: Annotated[str, typer.Option("--agency", help="The agency id, as in the catalog.")],
    key_id: Annotated[
        str | None, typer.Option("--key-id", help="Key id; default: k + 16 hex of SHA-256(pub).")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Directory for the key files.", file_okay=False)
    ] = Path(),
    lang: LangOption = None,
) -> None:
    """Generate a key pair: writes <agency>.<kid>.key.pem (0600) and <agency>.<kid>.pub.json,
    and prints the registry entry (one JSON line)."""
    voice = Voice.of(lang)
    if not re.fullmatch(ID_PATTERN, agency):
        raise voice.refuse("keys.bad_agency", agency=agency)
    if key_id is not None and not re.fullmatch(KEY_ID_PATTERN, key_id):
        raise voice.refuse("keys.bad_key_id", key_id=key_id)
    private_key = generate_private_key()
    kid = key_id or default_key_id(private_key)
    entry = AgencyKey(
        agency=agency,
        key_id=kid,
        public_key=public_key_text(private_key),
        created=datetime.now(UTC).replace(microsecond=0),
    )
    out.mkdir(parents=True, exist_ok=True)
    key_path = out / f"{agency}.{kid}.key.pem"
    pub_path = out / f"{agency}.{kid}.pub.json"
    line = entry.model_dump_json()
    try:
        _write_new(key_path, private_key_pem(private_key), 0o600)
        _write_new(pub_path, (line + "\n").encode("utf-8"), 0o644)
    except FileExistsError as exc:
        raise voice.fail("keys.exists", path=exc.filename) from None
    voice.note("keys.private_key", path=key_path)
    voice.note("keys.registry_entry", path=pub_path)
    typer.echo(line)


@keys_app.command("clock")
def clock(
    out: Annotated[
        Path, typer.Option("--out", help="Directory for the private key file.", file_okay=False)
    ] = Path(),
    lang: LangOption = None,
) -> None:
    """Generate the platform clock's key pair: writes clock.<kid>.key.pem (0600), for
    PLANWATCH_CLOCK_KEY_FILE of whatever publishes ticks, and prints the public key, for
    scoring's SCORING_CLOCK_PUBLIC_KEYS (a JSON list: keep the old key beside the new one
    while rotating)."""
    voice = Voice.of(lang)
    private_key = generate_private_key()
    kid = default_key_id(private_key)
    out.mkdir(parents=True, exist_ok=True)
    key_path = out / f"clock.{kid}.key.pem"
    try:
        _write_new(key_path, private_key_pem(private_key), 0o600)
    except FileExistsError as exc:
        raise voice.fail("keys.exists", path=exc.filename) from None
    voice.note("keys.clock_key", path=key_path, kid=kid)
    typer.echo(public_key_text(private_key))
