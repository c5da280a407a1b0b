"""The command line speaks one vocabulary (docs/cli.md): every command of the Typer app is
walked, and the old spellings still work as hidden aliases."""

from __future__ import annotations

import enum
import functools
import json
import re
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from planwatch import (
    asyncapi,
    cli,
    mongo_users,
    publish_cli,
    replay_cli,
    silence_cli,
    simulate_cli,
)
from planwatch.simulate.feed import FeedProgress

# Old spellings, each replaced by the vocabulary's word (hidden aliases may keep them).
RETIRED = {
    "--json": "--format json",
    "--db": "--database",
    "--source-db": "--source-database",
    "--catalog-dir": "--catalog",
    "--ingest-url": "--url",
    "--output": "--out",
    "--dir": "--out",
}


@functools.cache
def _app() -> typer.Typer:
    """The root app with every command module registered (once: registering appends)."""
    cli._register()
    return cli.app


def _commands() -> Iterator[tuple[str, Any]]:
    root = typer.main.get_command(_app())

    def walk(command: Any, path: str) -> Iterator[tuple[str, Any]]:
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, f"{path} {name}")

    yield from walk(root, "planwatch")


def _visible(command: Any, kind: str) -> list[Any]:
    return [
        param
        for param in command.params
        if param.param_type_name == kind and not getattr(param, "hidden", False)
    ]


def test_every_command_has_help_ending_with_a_period() -> None:
    missing = [
        path
        for path, command in _commands()
        if not (command.help or "").strip().endswith((".", ".)"))
    ]
    assert missing == []


def test_every_visible_option_and_argument_says_what_it_is() -> None:
    problems = []
    for path, command in _commands():
        for param in _visible(command, "option") + _visible(command, "argument"):
            text = (param.help or "").strip()
            if not text.endswith("."):
                problems.append(f"{path} {param.opts}: help {text!r} (ends with a period)")
            if "(default" in text:
                problems.append(f"{path} {param.opts}: '; default: X.', not '(default: X)'")
    assert problems == []


def test_metavars_are_typer_s_style() -> None:
    """Typer shows `<str>`, `<path>`, `<a|b>`; a metavar of our own looks alike."""
    odd = [
        f"{path} {param.opts}: {param.metavar!r}"
        for path, command in _commands()
        for param in _visible(command, "option") + _visible(command, "argument")
        if param.metavar is not None and not re.fullmatch(r"<[^<>\s]+>", param.metavar)
    ]
    assert odd == []


def test_no_visible_option_uses_a_retired_spelling() -> None:
    found = [
        f"{path} {name} (say {RETIRED[name]})"
        for path, command in _commands()
        for param in _visible(command, "option")
        for name in [*param.opts, *param.secondary_opts]
        if name in RETIRED
    ]
    assert found == []


def _choices(param: Any) -> set[str]:
    """The values of the option's enum (typer keeps the annotation on its own objects)."""
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
            return {str(member.value) for member in candidate}
    return set()


def test_format_and_lang_are_choices() -> None:
    """`--format` picks between text (or table) and json; `--lang` between zh and en."""
    for path, command in _commands():
        for param in _visible(command, "option"):
            choices = _choices(param)
            if "--format" in param.opts:
                assert "json" in choices and choices & {"text", "table"}, path
            if "--lang" in param.opts:
                assert choices == {"zh", "en"}, path


# --- the old spellings still work ------------------------------------------------------------


def test_replay_and_state_digest_take_the_old_database_and_catalog_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}

    async def fake_replay(**kwargs: Any) -> None:
        seen.update(kwargs)

    async def fake_digest(db: str, prefix: str, show: bool) -> None:
        seen["digest_db"] = db

    monkeypatch.setattr(replay_cli, "_replay", fake_replay)
    monkeypatch.setattr(replay_cli, "_digest", fake_digest)
    runner = CliRunner()
    old = ["--db", "rebuilt", "--source-db", "live", "--catalog-dir", str(tmp_path)]
    new = ["--database", "rebuilt", "--source-database", "live", "--catalog", str(tmp_path)]
    for args in (old, new):
        seen.clear()
        result = runner.invoke(replay_cli.replay_app, args)
        assert result.exit_code == 0, result.output
        assert (seen["db"], seen["source_db"], seen["catalog_dir"]) == ("rebuilt", "live", tmp_path)
    for args in (["--db", "d1"], ["--database", "d1"]):
        result = runner.invoke(_app(), ["state", "digest", *args])
        assert result.exit_code == 0, result.output
        assert seen["digest_db"] == "d1"


def test_simulate_takes_url_and_the_old_ingest_url(monkeypatch: pytest.MonkeyPatch) -> None:
    urls: list[str] = []

    class FakeHttp:
        def __init__(self, base_url: str, ticks: object) -> None:
            urls.append(base_url)

    async def fake_send(
        scenario: object, make_transport: Any, speed: float, quiet: bool
    ) -> FeedProgress:
        make_transport()
        return FeedProgress(total=0)

    monkeypatch.setattr(simulate_cli, "HttpTransport", FakeHttp)
    monkeypatch.setattr(simulate_cli, "KafkaTransport", lambda *a, **k: None)
    monkeypatch.setattr(simulate_cli, "_send", fake_send)
    monkeypatch.delenv("PLANWATCH_CLOCK_KEY_FILE", raising=False)
    common = ["--via", "http", "--no-register-keys", "--quiet", "--until", "2021-08-31"]
    for option in ("--url", "--ingest-url"):
        result = CliRunner().invoke(simulate_cli.simulate_app, [*common, option, "http://i:1"])
        assert result.exit_code == 0, result.output
    assert urls == ["http://i:1", "http://i:1"]


def test_silence_list_formats_and_the_old_json_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    silence = {
        "id": "s1",
        "status": {"state": "active"},
        "startsAt": "2022-01-01T00:00:00Z",
        "endsAt": "2022-01-02T00:00:00Z",
        "matchers": [{"name": "agency", "value": "qy.miit", "isRegex": False, "isEqual": True}],
        "createdBy": "ops",
        "comment": "maintenance",
    }
    monkeypatch.setattr(silence_cli, "_call", lambda *args, **kwargs: [silence])
    runner = CliRunner()
    text = runner.invoke(silence_cli.silence_app, ["list"])
    assert text.exit_code == 0 and text.stdout.startswith("s1  active")
    for args in (["--format", "json"], ["--json"]):
        result = runner.invoke(silence_cli.silence_app, ["list", *args])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == [silence]


def test_asyncapi_writes_to_out_or_the_old_positional_path(tmp_path: Path) -> None:
    runner = CliRunner()
    for args in (["--out", str(tmp_path / "a.yaml")], [str(tmp_path / "b.yaml")]):
        result = runner.invoke(asyncapi.asyncapi_app, args)
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a.yaml").read_text("utf-8") == asyncapi.render()
    assert (tmp_path / "b.yaml").read_text("utf-8") == asyncapi.render()


def test_dev_secrets_writes_to_out_or_the_old_dir(tmp_path: Path) -> None:
    runner = CliRunner()
    for option, folder in (("--out", tmp_path / "new"), ("--dir", tmp_path / "old")):
        result = runner.invoke(mongo_users.mongo_users_app, ["dev-secrets", option, str(folder)])
        assert result.exit_code == 0, result.output
        assert any(folder.iterdir())


def test_publish_takes_ingest_s_base_url_or_its_endpoint() -> None:
    assert publish_cli.events_url("http://i:1") == "http://i:1/v1/events"
    assert publish_cli.events_url("https://x.org/ingest/") == "https://x.org/ingest/v1/events"
    assert publish_cli.events_url("http://i:1/v1/events") == "http://i:1/v1/events"
