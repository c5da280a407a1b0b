"""`planwatch routing check FILE...` (as `amtool check-config`): exit 0 for valid files, 1 with
every problem as `file:line: reason`; `--secrets` also resolves the secret references, as
notify does at start (`unresolved_secrets`)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from planwatch.routing_cli import routing_app
from services.notify.domain.config import load_routing
from services.notify.secrets import unresolved_secrets

ROOT = Path(__file__).resolve().parents[2]
VALID = """route:
  receiver: ops
receivers:
  - name: ops
    webhook_configs:
      - url_ref: env:HOOK_URL
        secret: file:/nonexistent/planwatch-test-secret
    email_configs: [{to: [ops@qy.example], from: planwatch@qy.example}]
"""


def test_valid_files_pass_with_a_summary(tmp_path: Path) -> None:
    mine = tmp_path / "routing.yaml"
    mine.write_text(VALID, encoding="utf-8")
    shipped = ROOT / "services" / "notify" / "routing.yaml"
    result = CliRunner().invoke(routing_app, ["check", str(mine), str(shipped)])
    assert result.exit_code == 0, result.output
    assert f"{mine}: SUCCESS (1 routes, 1 receivers (2 integrations), 0 inhibit rules)" in (
        result.output
    )
    assert f"{shipped}: SUCCESS" in result.output


def test_problems_are_listed_with_their_lines_and_the_exit_is_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "route:\n  receiver: ops\n  group_wait: 5 minutes\nreceivers:\n  - name: ops\n"
        "    webhook_configs: [{url: 'http://h.example', max_alerts: 0x10}]\n"
        "    email_configs:\n      - {to: [x@], from: a@b.example}\n",
        encoding="utf-8",
    )
    good = tmp_path / "good.yaml"
    good.write_text(VALID, encoding="utf-8")
    result = CliRunner().invoke(routing_app, ["check", str(bad), str(good)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"{bad}:3: route.group_wait: bad duration '5 minutes'" in "\n".join(lines)
    assert any(
        line.startswith(f"{bad}:6: ops.webhook_configs[].max_alerts must be a decimal")
        for line in lines
    )
    assert f"{bad}:8: ops.email_configs[].to: 'x@' is not an e-mail address" in lines
    assert f"{bad}: FAILED (3 problems)" in lines and f"{good}: SUCCESS" in result.output[0:]


def test_an_unreadable_file_is_a_failure_at_line_0(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    result = CliRunner().invoke(routing_app, ["check", str(missing)])
    assert result.exit_code == 1 and f"{missing}:0: cannot read" in result.output


def test_secrets_option_resolves_every_reference(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(VALID, encoding="utf-8")
    result = CliRunner(env={"HOOK_URL": ""}).invoke(routing_app, ["check", "--secrets", str(path)])
    assert result.exit_code == 1
    assert f"{path}:6: ops/webhook/0: url_ref: secret env:HOOK_URL: the environment" in (
        result.output
    )
    assert f"{path}:6: ops/webhook/0: secret: secret file:/nonexistent/planwatch-test-secret" in (
        result.output
    )


def test_unresolved_secrets_is_empty_when_every_reference_resolves(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("whsec_" + "A" * 32 + "\n", encoding="utf-8")
    config = load_routing(VALID.replace("/nonexistent/planwatch-test-secret", str(secret)))
    assert unresolved_secrets(config, {"HOOK_URL": "https://hooks.example/x"}) == []
    [issue] = unresolved_secrets(config, {"HOOK_URL": "  "})
    assert issue.line == 6 and "env:HOOK_URL" in issue.message
