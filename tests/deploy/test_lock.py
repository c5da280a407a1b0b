"""The lock files against pyproject.toml, and the running environment against the lock: every
declared dependency is locked at a version its specifier allows, every locked package has its
hashes, the image's lock agrees with the tests' lock, and the tests run on the locked versions.
(`make lock` writes the files; this checks them without the network.)"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from importlib import metadata

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.deploy.paths import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
SUPPORTED = ("3.11", "3.12", "3.13")


@dataclass(frozen=True)
class Locked:
    version: Version
    marker: Marker | None
    hashes: int


def read_lock(name: str) -> dict[str, Locked]:
    """`name==version [; marker]` then its `--hash=` lines (uv's and pip-tools' format)."""
    locked: dict[str, Locked] = {}
    current: str | None = None
    for raw in (REPO / name).read_text(encoding="utf-8").splitlines():
        line = raw.strip().removesuffix("\\").strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash="):
            assert current is not None, raw
            entry = locked[current]
            locked[current] = Locked(entry.version, entry.marker, entry.hashes + 1)
            continue
        requirement, _, marker = line.partition(";")
        package, _, version = requirement.strip().partition("==")
        current = canonicalize_name(package)
        locked[current] = Locked(
            Version(version), Marker(marker.strip()) if marker else None, hashes=0
        )
    return locked


RUNTIME = read_lock("requirements.lock")
DEV = read_lock("requirements-dev.lock")


def environments() -> list[dict[str, str]]:
    return [
        {"python_version": v, "python_full_version": f"{v}.0", "sys_platform": "linux"}
        for v in SUPPORTED
    ]


def declared(*extras: str) -> list[Requirement]:
    wanted = list(PYPROJECT["dependencies"])
    for extra in extras:
        wanted += PYPROJECT["optional-dependencies"][extra]
    return [r for r in map(Requirement, wanted) if canonicalize_name(r.name) != "planwatch"]


@pytest.mark.parametrize(
    ("lock", "extras"), [(RUNTIME, ()), (DEV, ("dev", "demo"))], ids=["runtime", "dev"]
)
def test_every_declared_dependency_is_locked_at_an_allowed_version(
    lock: dict[str, Locked], extras: tuple[str, ...]
) -> None:
    for requirement in declared(*extras):
        for env in environments():
            if requirement.marker is not None and not requirement.marker.evaluate(env):
                continue
            name = canonicalize_name(requirement.name)
            assert name in lock, f"{requirement} is not in the lock: run `make lock`"
            version = lock[name].version
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{name}=={version} is locked but pyproject.toml asks {requirement}: `make lock`"
            )


def test_every_locked_package_has_hashes_and_the_image_runs_what_the_tests_run() -> None:
    for name, entry in {**RUNTIME, **DEV}.items():
        assert entry.hashes > 0, f"{name} has no hash"
    for name, entry in RUNTIME.items():
        assert name in DEV and DEV[name].version == entry.version, name


def test_the_supported_pythons_are_declared() -> None:
    allowed = PYPROJECT["requires-python"]
    for version in SUPPORTED:
        assert Version(f"{version}.0") in Requirement(f"python{allowed}").specifier
        assert f"Programming Language :: Python :: {version}" in PYPROJECT["classifiers"]
    assert Version("3.14.0") not in Requirement(f"python{allowed}").specifier  # untested


def test_the_tests_run_on_the_locked_versions() -> None:
    env = {
        "python_version": f"{sys.version_info.major}.{sys.version_info.minor}",
        "sys_platform": sys.platform,
    }
    stale = []
    for name, entry in DEV.items():
        if entry.marker is not None and not entry.marker.evaluate(env):
            continue
        installed = metadata.version(name)
        if Version(installed) != entry.version:
            stale.append(f"{name} {installed} (locked {entry.version})")
    assert not stale, f"the environment is not the lock's: {stale}; run `make install`"
