"""Builds the kustomize overlays offline (`kubectl kustomize`, the kustomize of `kubectl apply -k`,
with its defaults: no `--load-restrictor`, as Argo CD builds them) and reads the resources."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.paths import K8S_DIR

Resource = dict[str, Any]


class KustomizeError(RuntimeError):
    """`kubectl kustomize` failed on a folder."""


def kustomize(folder: Path) -> list[Resource]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise KustomizeError("kubectl is not on PATH (needed for `kubectl kustomize`)")
    result = subprocess.run(
        [kubectl, "kustomize", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise KustomizeError(f"kubectl kustomize {folder} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@functools.cache
def overlay(name: str) -> tuple[Resource, ...]:
    return tuple(kustomize(K8S_DIR / "overlays" / name))


def of_kind(resources: tuple[Resource, ...], kind: str) -> list[Resource]:
    return [r for r in resources if r["kind"] == kind]


def named(resources: tuple[Resource, ...], kind: str, name: str) -> Resource:
    for resource in of_kind(resources, kind):
        if resource["metadata"]["name"] == name:
            return resource
    raise KeyError(f"no {kind} {name}")


def pod_spec(workload: Resource) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    result: dict[str, Any] = spec["template"]["spec"]
    return result
