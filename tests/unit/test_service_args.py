"""The service commands answer `--help` and `--version` without starting (`planwatch-notify
--help` used to start the service), refuse any other argument, and `planwatch --version`; a
command missing an optional dependency names the extra to install."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from planwatch.cli import _register, app
from planwatch.demo.receivers import MissingExtraError, SmtpSink
from shared.runtime.service_args import planwatch_version


def run(service: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"services.{service}.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("service", "variable"),
    [
        ("ingest", "INGEST_KEYS_FILE"),
        ("scoring", "SCORING_CLOCK_PUBLIC_KEYS"),
        ("notify", "NOTIFY_ROUTING_FILE"),
    ],
)
def test_help_and_version_answer_without_starting(service: str, variable: str) -> None:
    helped = run(service, "--help")
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith(f"usage: planwatch-{service} [--help | --version]")
    assert variable in helped.stdout and f"{service.upper()}_HTTP__PORT" in helped.stdout
    assert "KAFKA_*" in helped.stdout
    assert helped.stderr == ""  # nothing started, nothing logged
    versioned = run(service, "--version")
    assert versioned.stdout.strip() == f"planwatch-{service} {planwatch_version()}"
    refused = run(service, "--port", "8000")
    assert refused.returncode == 2 and "environment variables" in refused.stderr


def test_planwatch_version() -> None:
    _register()
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"planwatch {planwatch_version()}"


def test_the_demo_names_its_extra_when_aiosmtpd_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    # `pip install .` then `planwatch demo` died with ModuleNotFoundError: aiosmtpd.
    monkeypatch.setitem(sys.modules, "aiosmtpd.controller", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'planwatch\[demo\]'"):
        SmtpSink()


@pytest.mark.parametrize(
    ("service", "env", "sentences"),
    [
        (
            "scoring",
            {"SCORING_HTTP__PORT": "70000", "SCORING_MAX_TICK_SKEW_S": "-1"},
            [
                "SCORING_HTTP__PORT: Input should be less than or equal to 65535 (given: '70000')",
                "SCORING_MAX_TICK_SKEW_S: Input should be greater than 0 (given: '-1')",
            ],
        ),
        (
            "scoring",
            {"SCORING_CLOCK_PUBLIC_KEYS": "[oops"},
            ["SCORING_CLOCK_PUBLIC_KEYS: not valid JSON"],
        ),
        (
            "notify",
            {"MONGODB_SERVER_SELECTION_TIMEOUT_MS": "5"},
            ["MONGODB_SERVER_SELECTION_TIMEOUT_MS: Input should be greater than or equal to 100"],
        ),
    ],
)
def test_a_bad_setting_is_a_sentence_naming_its_variable(
    service: str, env: dict[str, str], sentences: list[str]
) -> None:
    refused = subprocess.run(
        [sys.executable, "-m", f"services.{service}.main"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"planwatch-{service}: the configuration is refused:")
    assert "Traceback" not in refused.stderr
    for sentence in sentences:
        assert f"  {sentence}" in refused.stderr, refused.stderr
