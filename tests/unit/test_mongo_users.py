"""deploy/mongodb/users.yaml against the code: every collection a service's code uses is granted
to that service's MongoDB user, and nothing else is (least privilege both ways); the key
registry is written only by the key administrator; the checked-in mongosh script is the
generator's output. (FerretDB v1 does not enforce users: this is what can be tested locally.)"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path
from typing import Any

import pytest

from planwatch.mongo_users import (
    DATA_ACTIONS,
    REPO,
    SCRIPT_FILE,
    UsersSpec,
    load_users,
    render_script,
)
from planwatch.stored_reports import REPORTS_COLLECTION
from services.ingest.config import IngestSettings
from services.notify import mongo_store as notify_store
from services.scoring.config import ScoringSettings
from services.scoring.store import MongoScoringStore
from shared.runtime.settings import MongoSettings

SPEC = load_users()


class _RecordingDb:
    """Stands in for an AsyncDatabase: records the collection names asked for."""

    name = "planwatch"

    def __init__(self) -> None:
        self.names: set[str] = set()

    def __getitem__(self, name: str) -> Any:
        self.names.add(name)
        return object()


def _subscripts(path: Path, base: str) -> list[ast.expr]:
    """The index expressions of every `<base>[...]` in a file (`base` a name or `self.x`)."""
    found: list[ast.expr] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == base:
            found.append(node.slice)
    return found


def _settings_field(expr: ast.expr) -> str:
    assert isinstance(expr, ast.Attribute) and ast.unparse(expr.value) == "settings", ast.unparse(
        expr
    )
    return expr.attr


def ingest_collections() -> dict[str, set[str]]:
    """ingest's app: `db[...]` is the data path's login, `admin_db[...]` the key administrator's."""
    app = REPO / "services/ingest/app.py"
    settings = IngestSettings()
    used: dict[str, set[str]] = {}
    for base, user in (("db", "planwatch-ingest"), ("admin_db", "planwatch-keyadmin")):
        fields = {_settings_field(e) for e in _subscripts(app, base)}
        used[user] = {str(getattr(settings, f)) for f in fields}
    return used


def scoring_collections() -> set[str]:
    db = _RecordingDb()
    MongoScoringStore(db, ScoringSettings().collection_prefix)  # type: ignore[arg-type]
    return db.names


def notify_collections() -> set[str]:
    """Every `self.db[NAME]` of notify's store, plus the collection constants it passes to its
    helpers (`self.db[collection]`)."""
    source = Path(notify_store.__file__)
    constants = {
        name: value
        for name, value in vars(notify_store).items()
        if name.isupper() and isinstance(value, str) and value.startswith("notify_")
    }
    used: set[str] = set(constants.values())
    for expr in _subscripts(source, "self.db"):
        if isinstance(expr, ast.Name) and expr.id in constants:
            used.add(constants[expr.id])
        else:
            assert isinstance(expr, ast.Name) and expr.id == "collection", ast.unparse(expr)
    return used


def _granted(spec: UsersSpec, user: str) -> set[str]:
    return {p.collection for p in spec.user(user).privileges}


def test_the_script_is_the_generators_output() -> None:
    assert SCRIPT_FILE.read_text(encoding="utf-8") == render_script(SPEC), (
        "deploy/mongodb/create-users.js is out of step: run `planwatch mongo-users render`"
    )


def test_the_script_is_valid_javascript(tmp_path: Path) -> None:
    node = subprocess.run(["which", "node"], capture_output=True, text=True, check=False)
    if node.returncode != 0:
        pytest.skip("node is not installed")
    result = subprocess.run(
        ["node", "--check", str(SCRIPT_FILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_script_holds_no_password() -> None:
    script = SCRIPT_FILE.read_text(encoding="utf-8")
    assert "pwd: pwd" in script  # the only password: read from a file or variable at run time
    for user in SPEC.users:
        assert user.password_file_env in script


def test_one_user_per_service_and_the_key_administrator() -> None:
    assert {u.user for u in SPEC.users} == {
        "planwatch-ingest",
        "planwatch-keyadmin",
        "planwatch-scoring",
        "planwatch-notify",
        "planwatch-report",
    }
    assert SPEC.database == MongoSettings().database
    for user in SPEC.users:
        for privilege in user.privileges:
            assert set(privilege.actions) <= DATA_ACTIONS  # no DDL, no user or admin actions


@pytest.mark.parametrize("user", ["planwatch-ingest", "planwatch-keyadmin"])
def test_ingest_uses_exactly_what_its_logins_are_granted(user: str) -> None:
    assert ingest_collections()[user] == _granted(SPEC, user)


def test_scoring_uses_exactly_what_its_user_is_granted() -> None:
    assert scoring_collections() == _granted(SPEC, "planwatch-scoring")


def test_notify_uses_exactly_what_its_user_is_granted() -> None:
    assert notify_collections() == _granted(SPEC, "planwatch-notify")


def test_the_report_only_reads_the_stored_reports() -> None:
    """`planwatch report --from-mongodb` (the monthly CronJob) reads what ingest stored."""
    assert IngestSettings().reports_collection == REPORTS_COLLECTION
    report = SPEC.user("planwatch-report")
    assert {p.collection: set(p.actions) for p in report.privileges} == {
        REPORTS_COLLECTION: {"find"}
    }
    for user in SPEC.users:
        if user.user not in ("planwatch-ingest", "planwatch-report"):
            assert not user.grants(REPORTS_COLLECTION), f"{user.user} may touch the reports"


def test_only_the_key_administrator_writes_the_key_registry() -> None:
    settings = IngestSettings()
    keys, audit = settings.keys_collection, settings.audit_collection
    for user in SPEC.users:
        writes = user.grants(keys) - {"find"}
        if user.user == "planwatch-keyadmin":
            assert writes == {"insert", "update"}  # MongoKeyRepository.put: an upsert
            assert user.grants(audit) == {"find", "insert"}  # append-only audit
        else:
            assert writes == set(), f"{user.user} may write {keys}"
            assert not user.grants(audit), f"{user.user} may touch {audit}"
    ingest = SPEC.user("planwatch-ingest")
    assert ingest.grants(keys) == {"find"}
    assert ingest.grants(settings.reports_collection) == {"find", "insert"}  # never rewrites


def test_services_never_share_a_collection() -> None:
    owners: dict[str, str] = {}
    # The key registry, read by ingest and written by the key administrator; the stored
    # reports, written by ingest and read by the monthly report.
    shared = {IngestSettings().keys_collection, IngestSettings().reports_collection}
    for user in SPEC.users:
        for privilege in user.privileges:
            if privilege.collection in shared:
                continue
            assert owners.setdefault(privilege.collection, user.user) == user.user, (
                privilege.collection
            )


def test_a_collection_added_to_the_code_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify_store, "EXTRA", "notify_extra", raising=False)
    assert notify_collections() != _granted(SPEC, "planwatch-notify")


def test_unknown_actions_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "users.yaml"
    bad.write_text(
        "database: planwatch\nusers:\n  - user: x\n    description: x\n"
        "    password_file_env: A\n    password_env: B\n"
        "    privileges:\n      - {collection: c, actions: [find, dropDatabase]}\n"
    )
    with pytest.raises(ValueError, match="dropDatabase"):
        load_users(bad)
