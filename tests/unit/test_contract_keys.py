"""Key text forms, the registry entry model, and `planwatch keys generate`."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from planwatch.keys_cli import keys_app
from shared.contract.keys import (
    AgencyKey,
    KeyStatus,
    b64url_encode,
    default_key_id,
    private_key_from_pem,
    private_key_pem,
    public_key_from_text,
    public_key_text,
)
from tests.unit.contract_fixtures import PUBLIC_KEY_HEX, private_key


def test_public_key_text_round_trip() -> None:
    text = public_key_text(private_key())
    assert "=" not in text and len(text) == 43
    assert public_key_from_text(text).public_bytes_raw().hex() == PUBLIC_KEY_HEX


@pytest.mark.parametrize("bad", ["", "AAAA", b64url_encode(bytes(33)), "11qY+YKx", "a=="])
def test_bad_public_key_text(bad: str) -> None:
    with pytest.raises(ValueError):
        public_key_from_text(bad)


def test_private_key_pem_round_trip() -> None:
    pem = private_key_pem(private_key())
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public_key_text(private_key_from_pem(pem)) == public_key_text(private_key())


def test_agency_key_model() -> None:
    created = datetime(2022, 1, 1, tzinfo=UTC)
    entry = AgencyKey(
        agency="qy.gov-data",
        key_id=default_key_id(private_key()),
        public_key=public_key_text(private_key()),
        created=created,
    )
    assert entry.is_active and entry.key_id.startswith("k") and len(entry.key_id) == 17
    assert entry.verifier().public_bytes_raw().hex() == PUBLIC_KEY_HEX
    revoked = entry.revoke(datetime(2022, 6, 1, tzinfo=UTC))
    assert revoked.status is KeyStatus.REVOKED and not revoked.is_active
    assert AgencyKey.model_validate_json(revoked.model_dump_json()) == revoked
    with pytest.raises(ValueError):
        AgencyKey(agency="a", key_id="k", public_key="AAAA", created=created)
    with pytest.raises(ValueError):
        AgencyKey(agency="a", key_id="k", public_key=entry.public_key, created=datetime(2022, 1, 1))


def _root() -> typer.Typer:
    """keys_app mounted as `planwatch keys` mounts it (a lone command would collapse)."""
    root = typer.Typer()
    root.add_typer(keys_app, name="keys")
    return root


GENERATE = ["keys", "generate", "--agency", "qy.miit"]


def test_cli_generate(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        _root(),
        ["keys", "generate", "--agency", "qy.miit", "--key-id", "2022a", "--out", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    key_path = tmp_path / "qy.miit.2022a.key.pem"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    entry = AgencyKey.model_validate_json(result.stdout.strip().splitlines()[-1])
    assert entry.agency == "qy.miit" and entry.key_id == "2022a"
    private = private_key_from_pem(key_path.read_bytes())
    assert public_key_text(private) == entry.public_key
    pub_file = json.loads((tmp_path / "qy.miit.2022a.pub.json").read_text())
    assert AgencyKey.model_validate(pub_file) == entry
    again = runner.invoke(
        _root(),
        [*GENERATE, "--key-id", "2022a", "--out", str(tmp_path), "--lang", "en"],
    )
    assert again.exit_code == 1
    assert "not overwriting" in again.stderr


def test_cli_refuses_bad_ids(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _root(), ["keys", "generate", "--agency", "qy miit", "--out", str(tmp_path), "--lang", "en"]
    )
    assert result.exit_code == 2
    assert "is not an agency id" in result.output
    assert list(tmp_path.iterdir()) == []
