"""The plan catalog's files: the shipped YAML plans and the loader that builds them.

Each `*.yaml` file in the folder holds one plan (format: docs/catalog.md); the pure
`shared.domain.catalog_build` validates it. Errors name the file, the plan and the entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from shared.domain.catalog import Catalog, Plan
from shared.domain.catalog_build import CatalogError, build_plan

__all__ = ["DEFAULT_CATALOG_DIR", "CatalogError", "load_catalog", "load_plan_file"]

DEFAULT_CATALOG_DIR: Path = Path(__file__).resolve().parent / "plans"


def _read_document(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML: {exc}") from exc


def load_plan_file(path: Path) -> Plan:
    """Read and build one plan file."""
    document = _read_document(path)
    try:
        return build_plan(document)
    except CatalogError as exc:
        raise CatalogError(f"{path}: {exc}") from exc


def load_catalog(directory: Path | None = None) -> Catalog:
    """Build every `*.yaml` plan in `directory` (default: the shipped plans), in name order."""
    folder = DEFAULT_CATALOG_DIR if directory is None else directory
    if not folder.is_dir():
        raise CatalogError(f"{folder}: no such catalog folder")
    paths = sorted(folder.glob("*.yaml"))
    if not paths:
        raise CatalogError(f"{folder}: no *.yaml plan files")
    plans: dict[str, Plan] = {}
    files: dict[str, Path] = {}
    for path in paths:
        plan = load_plan_file(path)
        if plan.id in plans:
            raise CatalogError(
                f"{path}: plan {plan.id}: duplicate plan id (also in {files[plan.id].name})"
            )
        plans[plan.id] = plan
        files[plan.id] = path
    return Catalog(plans=plans)
