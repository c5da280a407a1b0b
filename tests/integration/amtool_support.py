"""`amtool`, Alertmanager's command line, built from the Go module proxy for the tests that
point it at notify, and Alertmanager's own OpenAPI document (from the same module) to check
notify's answers against.

The binary is cached in tools/amtool/bin/ (ignored by git, like FerretDB's build), one per
version: built once, on first use (~1 min). Without a Go toolchain the tests are skipped, and
say why."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, Final

import pytest
import yaml
from jsonschema import Draft4Validator  # type: ignore[import-untyped]

ROOT: Final = Path(__file__).resolve().parents[2]
MODULE: Final = "github.com/prometheus/alertmanager"
VERSION: Final = "v0.35.0"
CACHE: Final = ROOT / "tools" / "amtool" / "bin"


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        pytest.skip("no Go toolchain (`go`) on PATH: amtool is built from the Go module proxy")
    return go


def _go_env() -> dict[str, str]:
    return {**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}


@cache
def amtool_binary() -> Path:
    """tools/amtool/bin/amtool-<version>, built with `go install` unless already there."""
    binary = CACHE / f"amtool-{VERSION}"
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    go = _go()
    staging = CACHE / f".build-{os.getpid()}"
    staging.mkdir(parents=True, exist_ok=True)
    built = subprocess.run(
        [go, "install", "-trimpath", f"{MODULE}/cmd/amtool@{VERSION}"],
        env={**_go_env(), "GOBIN": str(staging)},
        cwd=CACHE,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert built.returncode == 0, f"go install amtool@{VERSION} failed:\n{built.stderr[-4000:]}"
    (staging / "amtool").replace(binary)  # atomic: a concurrent build writes the same file
    shutil.rmtree(staging, ignore_errors=True)
    return binary


@cache
def openapi_definitions() -> dict[str, Any]:
    """The `definitions` of Alertmanager's api/v2/openapi.yaml at VERSION (the module the
    binary was built from, in Go's module cache)."""
    listed = subprocess.run(
        [_go(), "mod", "download", "-json", f"{MODULE}@{VERSION}"],
        env=_go_env(),
        cwd=CACHE,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    spec = Path(json.loads(listed.stdout)["Dir"]) / "api" / "v2" / "openapi.yaml"
    definitions: dict[str, Any] = yaml.safe_load(spec.read_text(encoding="utf-8"))["definitions"]
    return definitions


def check_shape(document: Any, definition: str) -> None:
    """Fails with every violation when `document` is not an instance of the spec's
    `definition` (required fields, types, enums; Swagger 2.0 schemas are JSON Schema draft 4)."""
    schema = {"definitions": openapi_definitions(), "$ref": f"#/definitions/{definition}"}
    errors = [e.message for e in Draft4Validator(schema).iter_errors(document)]
    assert not errors, f"not a {definition}: {errors[:10]}"


class Amtool:
    """Runs amtool against one Alertmanager URL, with an HTTP config file (the bearer token)."""

    def __init__(self, url: str, http_config: Path | None) -> None:
        self.url = url
        self.http_config = http_config

    def run(self, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        argv: Sequence[str] = [str(amtool_binary()), f"--alertmanager.url={self.url}"]
        if self.http_config is not None:
            argv = [*argv, f"--http.config.file={self.http_config}"]
        return subprocess.run(
            [*argv, *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            env={**os.environ, "HOME": str(self.http_config.parent if self.http_config else ROOT)},
        )

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, f"amtool {' '.join(args)}: {done.stderr}{done.stdout}"
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok("--output=json", *args))


def http_config(path: Path, token: str) -> Path:
    """A Prometheus HTTP client config (amtool's --http.config.file) sending `token`."""
    path.write_text(
        yaml.safe_dump({"authorization": {"type": "Bearer", "credentials": token}}),
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path
