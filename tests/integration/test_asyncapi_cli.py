"""The AsyncAPI CLI (`@asyncapi/cli`, pinned in tools/asyncapi/package-lock.json, installed from
the npm registry on first use, ~1 min) validates docs/asyncapi.yaml, the contract's schemas it
references included; a copy with a dangling `$ref` is refused, so the oracle is not blind."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOOL_DIR = ROOT / "tools" / "asyncapi"
CLI = TOOL_DIR / "node_modules" / ".bin" / "asyncapi"
DOCS = ROOT / "docs"


def asyncapi_cli() -> Path:
    if not CLI.exists():
        if shutil.which("npm") is None:
            pytest.skip("no npm on PATH: the AsyncAPI CLI comes from the npm registry")
        installed = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=TOOL_DIR,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert installed.returncode == 0, f"npm ci failed:\n{installed.stderr[-4000:]}"
    return CLI


def validate(document: Path, home: Path) -> subprocess.CompletedProcess[str]:
    # A private HOME keeps the CLI's analytics settings out of the user's.
    env = {**os.environ, "HOME": str(home), "DO_NOT_TRACK": "1"}
    return subprocess.run(
        [str(asyncapi_cli()), "validate", document.name],
        cwd=document.parent,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def test_the_asyncapi_cli_validates_the_generated_document(tmp_path: Path) -> None:
    result = validate(DOCS / "asyncapi.yaml", tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "asyncapi.yaml is valid!" in output, output  # no errors, warnings or notes
    assert "don't have governance issues" in output, output


def test_the_asyncapi_cli_refuses_a_dangling_schema_reference(tmp_path: Path) -> None:
    broken = DOCS / f".broken-{os.getpid()}.yaml"  # beside the schemas its refs name
    text = (DOCS / "asyncapi.yaml").read_text("utf-8")
    assert "org.planwatch.clock.tick.v1.json" in text
    broken.write_text(text.replace("org.planwatch.clock.tick.v1.json", "missing.json"), "utf-8")
    try:
        result = validate(broken, tmp_path)
    finally:
        broken.unlink()
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "missing.json" in output, output
