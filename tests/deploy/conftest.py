"""Fixtures for the deployment checks: promtool/prometheus (installed on demand), kustomize."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.paths import INFRA_BIN, INSTALL_PROMTOOL

# The integration test starts the real services against the session's Kafka and FerretDB.
from tests.integration.conftest import infra, infra_settings, kafka_bootstrap, mongodb_uri

__all__ = ["infra", "infra_settings", "kafka_bootstrap", "mongodb_uri"]


def _ensure_prometheus_binaries() -> Path:
    if not ((INFRA_BIN / "promtool").is_file() and (INFRA_BIN / "prometheus").is_file()):
        result = subprocess.run(
            ["bash", str(INSTALL_PROMTOOL)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"{INSTALL_PROMTOOL} failed:\n{result.stdout}\n{result.stderr}")
    return INFRA_BIN


@pytest.fixture(scope="session")
def promtool() -> Path:
    """The promtool binary (Debian's, unpacked into .infra/bin by deploy/tools/)."""
    return _ensure_prometheus_binaries() / "promtool"


@pytest.fixture(scope="session")
def prometheus_binary() -> Path:
    """The prometheus server binary, beside promtool."""
    return _ensure_prometheus_binaries() / "prometheus"


@pytest.fixture(scope="session")
def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail("kubectl (v1.32) is needed for `kubectl kustomize`; it is not on PATH")
    return path
