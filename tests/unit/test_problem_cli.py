"""`planwatch problem raise|ack|comment|resolve|close` build and sign one event each (sending is
`publish`'s, replaced here by a recorder; tests/integration/test_problems_flow.py sends)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from planwatch import problem_cli
from shared.contract.codec import data_bytes
from shared.contract.events import EventType, ProblemRaised
from shared.contract.keys import private_key_pem
from shared.contract.signing import verify
from tests.unit.ingest_support import private_key


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    calls: list[tuple[Any, dict[str, Any]]] = []

    def record(signed: Any, **options: Any) -> None:
        calls.append((signed, options))

    monkeypatch.setattr(problem_cli, "send_one", record)
    return calls


def key_file(tmp_path: Path, agency: str) -> str:
    path = tmp_path / f"{agency}.pem"
    path.write_bytes(private_key_pem(private_key(agency)))
    return str(path)


def test_raise_signs_a_problem_with_a_new_id(
    sent: list[tuple[Any, dict[str, Any]]], tmp_path: Path
) -> None:
    args = ["raise", "--agency", "qy.gov-data", "--key-id", "k1"]
    args += ["--key-file", key_file(tmp_path, "qy.gov-data"), "--target", "gov.mobile-services"]
    args += ["--summary", "stalled", "--needs", "a decision", "--from", "qy.miit"]
    args += ["--from", "carriers", "--time", "2022-04-06T09:30:00+08:00", "--lang", "en"]
    result = CliRunner().invoke(problem_cli.problem_app, args)
    assert result.exit_code == 0, result.output
    [(signed, options)] = sent
    assert isinstance(signed, ProblemRaised)
    assert signed.data.problem_id.startswith("20220406-")
    assert signed.data.from_agencies == ["qy.miit", "carriers"]
    assert verify(signed.envelope, data_bytes(signed), private_key("qy.gov-data").public_key())
    assert options["extra"] == {
        "problem_id": signed.data.problem_id,
        "type": EventType.PROBLEM_RAISED.value,
    }


@pytest.mark.parametrize(
    ("command", "event_type"),
    [
        ("ack", EventType.PROBLEM_ACKNOWLEDGED),
        ("comment", EventType.PROBLEM_COMMENTED),
        ("resolve", EventType.PROBLEM_RESOLVED),
        ("close", EventType.PROBLEM_CLOSED),
    ],
)
def test_each_step_names_its_problem(
    command: str,
    event_type: EventType,
    sent: list[tuple[Any, dict[str, Any]]],
    tmp_path: Path,
) -> None:
    args = [command, "--agency", "qy.miit", "--key-id", "k1", "--key-file"]
    args += [key_file(tmp_path, "qy.miit"), "--target", "2.2.1", "--problem", "p-1"]
    args += ["--note", "seen", "--lang", "en"]
    result = CliRunner().invoke(problem_cli.problem_app, args)
    assert result.exit_code == 0, result.output
    [(signed, _)] = sent
    assert signed.envelope.type is event_type and signed.envelope.subject == "2.2.1"
    assert (signed.data.problem_id, signed.data.note) == ("p-1", "seen")


def test_a_comment_without_its_note_is_refused(
    sent: list[tuple[Any, dict[str, Any]]], tmp_path: Path
) -> None:
    args = ["comment", "--agency", "qy.miit", "--key-id", "k1", "--key-file"]
    args += [key_file(tmp_path, "qy.miit"), "--target", "2.2.1", "--problem", "p-1"]
    result = CliRunner().invoke(problem_cli.problem_app, [*args, "--lang", "en"])
    assert result.exit_code == 2 and sent == []
    assert "note" in result.output
