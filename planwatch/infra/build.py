"""Builds the server artefacts from tools/: the Kafka broker jars (Maven) and FerretDB (Go).

Each step is skipped when its output already exists, so repeated calls are cheap.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from planwatch.infra.errors import BuildError, ToolMissingError
from planwatch.infra.settings import REPO_ROOT

Reporter = Callable[[str], None]

KAFKA_POM = REPO_ROOT / "tools" / "kafka" / "pom.xml"
KAFKA_LIBS = REPO_ROOT / "tools" / "kafka" / "target" / "kafka-libs"
# Written after a successful `mvn package`, so a half-copied folder is never taken as done.
_KAFKA_STAMP = KAFKA_LIBS.parent / ".kafka-libs.ok"
FERRETDB_DIR = REPO_ROOT / "tools" / "ferretdb"
FERRETDB_BIN = FERRETDB_DIR / "bin" / "ferretdb-sqlite"
FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
FERRETDB_VERSION = "v1.24.2"
# Our fixes to FerretDB, applied to a copy of its module before building (see each file).
FERRETDB_PATCHES = FERRETDB_DIR / "patches"
_FERRETDB_BUILD = FERRETDB_DIR / "build"
# Fingerprint of the sources the binary was built from: a changed patch rebuilds it.
_FERRETDB_STAMP = FERRETDB_BIN.with_name(FERRETDB_BIN.name + ".source")


def _quiet(_: str) -> None:
    return None


def require_tool(name: str) -> str:
    """Absolute path of program `name`, or ToolMissingError."""
    if name == "java" and (home := os.environ.get("JAVA_HOME")):
        candidate = Path(home) / "bin" / "java"
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ToolMissingError(f"`{name}` is not installed or not on PATH")
    return found


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None, what: str) -> str:
    """Run a build step; its standard output, or BuildError with the tail of its output."""
    result = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        raise BuildError(f"{what} failed (exit {result.returncode}): {' '.join(argv)}\n{tail}")
    return result.stdout


def kafka_libs_ready() -> bool:
    return _KAFKA_STAMP.is_file() and any(KAFKA_LIBS.glob("kafka_2.13-*.jar"))


def ensure_kafka_libs(report: Reporter = _quiet) -> Path:
    """Copies the Kafka broker jars into tools/kafka/target/kafka-libs unless already there."""
    if kafka_libs_ready():
        report(f"kafka jars: cached in {KAFKA_LIBS}")
        return KAFKA_LIBS
    mvn = require_tool("mvn")
    report("kafka jars: resolving with Maven (first run downloads ~60 MB) ...")
    _run([mvn, "-B", "-q", "-f", str(KAFKA_POM), "package"], REPO_ROOT, None, "mvn package")
    if not any(KAFKA_LIBS.glob("kafka_2.13-*.jar")):
        raise BuildError(f"mvn package succeeded but {KAFKA_LIBS} holds no kafka_2.13 jar")
    _KAFKA_STAMP.write_text("ok\n", encoding="utf-8")
    report(f"kafka jars: ready in {KAFKA_LIBS}")
    return KAFKA_LIBS


def _ferretdb_sources() -> str:
    digest = hashlib.sha256()
    inputs = [FERRETDB_DIR / name for name in ("go.mod", "go.sum", "main.go")]
    for path in inputs + sorted(FERRETDB_PATCHES.glob("*.patch")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def ferretdb_ready() -> bool:
    return (
        FERRETDB_BIN.is_file()
        and os.access(FERRETDB_BIN, os.X_OK)
        and _FERRETDB_STAMP.is_file()
        and _FERRETDB_STAMP.read_text(encoding="utf-8").strip() == _ferretdb_sources()
    )


def _patched_ferretdb(go: str, env: dict[str, str]) -> Path:
    """A fresh copy of FerretDB's module with our patches applied; returns a go.mod for
    `go build -modfile` that points the module at it (tools/ferretdb/go.mod stays as is)."""
    argv = [go, "mod", "download", "-json", f"{FERRETDB_MODULE}@{FERRETDB_VERSION}"]
    module = Path(json.loads(_run(argv, FERRETDB_DIR, env, "go mod download"))["Dir"])
    shutil.rmtree(_FERRETDB_BUILD, ignore_errors=True)
    if _FERRETDB_BUILD.exists():
        raise BuildError(f"could not remove the previous build tree {_FERRETDB_BUILD}")
    source = _FERRETDB_BUILD / "FerretDB"
    shutil.copytree(module, source)
    for path in [source, *source.rglob("*")]:  # the module cache is read-only
        path.chmod(path.stat().st_mode | 0o200)
    patch = require_tool("patch")
    for diff in sorted(FERRETDB_PATCHES.glob("*.patch")):
        argv = [patch, "-p1", "--batch", "--forward", "-d", str(source), "-i", str(diff)]
        _run(argv, FERRETDB_DIR, env, f"patch {diff.name}")
    modfile = _FERRETDB_BUILD / "go.mod"
    original = (FERRETDB_DIR / "go.mod").read_text(encoding="utf-8")
    modfile.write_text(f"{original}\nreplace {FERRETDB_MODULE} => {source}\n", encoding="utf-8")
    shutil.copyfile(FERRETDB_DIR / "go.sum", modfile.with_suffix(".sum"))
    return modfile


def ensure_ferretdb_binary(report: Reporter = _quiet) -> Path:
    """Builds tools/ferretdb/bin/ferretdb-sqlite (FerretDB with tools/ferretdb/patches) unless
    it exists and was built from the current sources."""
    if ferretdb_ready():
        report(f"ferretdb: cached binary {FERRETDB_BIN}")
        return FERRETDB_BIN
    go = require_tool("go")
    report("ferretdb: go build (first run downloads modules and compiles, 1-3 min) ...")
    env = dict(os.environ, GOFLAGS="-mod=mod", GOTOOLCHAIN="local", CGO_ENABLED="0")
    modfile = _patched_ferretdb(go, env)
    partial = FERRETDB_BIN.with_name(FERRETDB_BIN.name + ".partial")
    argv = [go, "build", f"-modfile={modfile}", "-trimpath", "-buildvcs=false", "-o", str(partial)]
    _run([*argv, "."], FERRETDB_DIR, env, "go build")
    partial.replace(FERRETDB_BIN)  # atomic: a running old binary is unaffected
    _FERRETDB_STAMP.write_text(_ferretdb_sources() + "\n", encoding="utf-8")
    patches = len(list(FERRETDB_PATCHES.glob("*.patch")))
    report(f"ferretdb: built {FERRETDB_BIN} with {patches} patch(es) from {FERRETDB_PATCHES}")
    return FERRETDB_BIN


def ensure_built(report: Reporter = _quiet) -> None:
    """Both artefacts, each skipped when present."""
    ensure_kafka_libs(report)
    ensure_ferretdb_binary(report)
