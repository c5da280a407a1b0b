"""`planwatch mongo-users`: planwatch's MongoDB users and roles from their one source of truth,
`deploy/mongodb/users.yaml` (one user per service, collection-level custom roles).

- `render` writes `deploy/mongodb/create-users.js`, the mongosh script that creates or updates
  the roles and users (docker-compose: /docker-entrypoint-initdb.d; Kubernetes: the Job
  `planwatch-mongodb-users`); `--check` fails if the checked-in script is out of step.
- `dev-secrets` makes the files docker-compose reads its secrets from (random passwords and
  each service's connection string), in a git-ignored folder; existing files are kept.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import quote_plus

import typer
import yaml

from planwatch.cli_options import either, hidden_alias
from shared.contract.keys import generate_private_key, private_key_pem

REPO: Final = Path(__file__).resolve().parent.parent
USERS_FILE: Final = REPO / "deploy" / "mongodb" / "users.yaml"
SCRIPT_FILE: Final = REPO / "deploy" / "mongodb" / "create-users.js"
# The only actions a service role may hold: reads and document writes, no DDL or admin.
DATA_ACTIONS: Final = frozenset({"find", "insert", "update", "remove"})

mongo_users_app = typer.Typer(
    help="planwatch's MongoDB users and roles (deploy/mongodb/users.yaml).",
    no_args_is_help=True,
)


@dataclass(frozen=True, slots=True)
class Privilege:
    collection: str
    actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MongoUser:
    user: str
    description: str
    password_file_env: str
    password_env: str
    privileges: tuple[Privilege, ...]

    def grants(self, collection: str) -> frozenset[str]:
        return frozenset(
            action for p in self.privileges if p.collection == collection for action in p.actions
        )


@dataclass(frozen=True, slots=True)
class UsersSpec:
    database: str
    users: tuple[MongoUser, ...]

    def user(self, name: str) -> MongoUser:
        for user in self.users:
            if user.user == name:
                return user
        raise KeyError(name)


def load_users(path: Path = USERS_FILE) -> UsersSpec:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    users: list[MongoUser] = []
    for entry in document["users"]:
        privileges = tuple(
            Privilege(str(p["collection"]), tuple(str(a) for a in p["actions"]))
            for p in entry["privileges"]
        )
        for privilege in privileges:
            unknown = set(privilege.actions) - DATA_ACTIONS
            if unknown:
                raise ValueError(f"{entry['user']}: actions {sorted(unknown)} are not allowed")
        users.append(
            MongoUser(
                user=str(entry["user"]),
                description=" ".join(str(entry["description"]).split()),
                password_file_env=str(entry["password_file_env"]),
                password_env=str(entry["password_env"]),
                privileges=privileges,
            )
        )
    names = [u.user for u in users]
    if len(set(names)) != len(names):
        raise ValueError("a user is listed twice")
    return UsersSpec(database=str(document["database"]), users=tuple(users))


_SCRIPT_BODY: Final = """
// Run with mongosh as a user allowed to manage roles and users: in docker-compose, mongo's
// /docker-entrypoint-initdb.d runs it as the root user at the first start; elsewhere set
// PLANWATCH_MONGO_ADMIN_URI_FILE (or PLANWATCH_MONGO_ADMIN_URI) and run
//   mongosh --nodb --quiet --file deploy/mongodb/create-users.js
// Idempotent: existing roles get these privileges, existing users these roles and passwords
// (so it also rotates the passwords). The database: PLANWATCH_MONGODB_DATABASE, else SPEC's.
// Every password comes from the file named by its *_FILE variable, else from its variable:
// never from this script. A user without one is an error (nothing is half done silently).
const fs = require("fs");

function secret(fileVar, envVar) {
  const file = process.env[fileVar];
  if (file) {
    const value = fs.readFileSync(file, "utf8").trim();
    if (!value) throw new Error(fileVar + ": " + file + " is empty");
    return value;
  }
  const value = (process.env[envVar] || "").trim();
  return value || null;
}

const adminUri = secret("PLANWATCH_MONGO_ADMIN_URI_FILE", "PLANWATCH_MONGO_ADMIN_URI");
const root = adminUri ? connect(adminUri) : db;
const target = root.getSiblingDB(process.env.PLANWATCH_MONGODB_DATABASE || SPEC.database);

const missing = SPEC.users.filter((u) => !secret(u.passwordFileEnv, u.passwordEnv));
if (missing.length) {
  throw new Error(
    "no password for " + missing.map((u) => u.user + " (" + u.passwordFileEnv + ")").join(", ")
  );
}

for (const u of SPEC.users) {
  const privileges = u.privileges.map((p) => ({
    resource: { db: target.getName(), collection: p.collection },
    actions: p.actions,
  }));
  if (target.getRole(u.user)) {
    target.updateRole(u.user, { privileges: privileges, roles: [] });
  } else {
    target.createRole({ role: u.user, privileges: privileges, roles: [] });
  }
  const roles = [{ role: u.user, db: target.getName() }];
  const pwd = secret(u.passwordFileEnv, u.passwordEnv);
  if (target.getUser(u.user)) {
    target.updateUser(u.user, { pwd: pwd, roles: roles });
  } else {
    target.createUser({ user: u.user, pwd: pwd, roles: roles });
  }
  print("planwatch: user " + u.user + " with role " + u.user + " on " + target.getName());
}
"""


def render_script(spec: UsersSpec) -> str:
    data = {
        "database": spec.database,
        "users": [
            {
                "user": u.user,
                "description": u.description,
                "passwordFileEnv": u.password_file_env,
                "passwordEnv": u.password_env,
                "privileges": [
                    {"collection": p.collection, "actions": list(p.actions)} for p in u.privileges
                ],
            }
            for u in spec.users
        ],
    }
    header = (
        "// GENERATED by `planwatch mongo-users render` from deploy/mongodb/users.yaml:"
        " do not edit.\n"
        "// planwatch's MongoDB roles (collection-level privileges) and one user per service.\n"
    )
    return f"{header}const SPEC = {json.dumps(data, indent=2, ensure_ascii=False)};\n{_SCRIPT_BODY}"


def _short(user: str) -> str:
    return user.removeprefix("planwatch-")


def dev_secret_files(spec: UsersSpec) -> list[str]:
    """The files `dev-secrets` writes (docker-compose's `secrets:` read them)."""
    names = ["mongo-root-password", "grafana-admin-password", "clock-key"]
    for user in spec.users:
        names += [f"mongo-{_short(user.user)}-password", f"mongo-{_short(user.user)}-uri"]
    return names


def write_dev_secrets(spec: UsersSpec, folder: Path, host: str) -> list[Path]:
    """Random passwords, connection strings and the clock's key for docker-compose; existing
    files are kept (delete one, re-run, and re-run create-users.js to rotate). Returns the
    files written."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    written: list[Path] = []

    def put(name: str, value: str) -> str:
        path = folder / name
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        # Readable in the containers (uid 10001, mongo's 999): the folder (0700) guards it.
        path.write_text(value + "\n", encoding="utf-8")
        path.chmod(0o644)
        written.append(path)
        return value

    put("mongo-root-password", secrets.token_urlsafe(24))
    put("grafana-admin-password", secrets.token_urlsafe(24))
    # The platform clock's private key: compose's scoring signs its ticks with it.
    put("clock-key", private_key_pem(generate_private_key()).decode("ascii").strip())
    for user in spec.users:
        short = _short(user.user)
        password = put(f"mongo-{short}-password", secrets.token_urlsafe(24))
        uri = (
            f"mongodb://{quote_plus(user.user)}:{quote_plus(password)}@{host}/{spec.database}"
            f"?authSource={spec.database}"
        )
        put(f"mongo-{short}-uri", uri)
    return written


@mongo_users_app.command("render")
def render(
    check: Annotated[
        bool, typer.Option("--check", help="Fail if the checked-in script is out of step.")
    ] = False,
) -> None:
    """Write deploy/mongodb/create-users.js from deploy/mongodb/users.yaml."""
    script = render_script(load_users())
    if check:
        if SCRIPT_FILE.read_text(encoding="utf-8") != script:
            typer.echo(
                f"{SCRIPT_FILE} is out of step: run `planwatch mongo-users render`", err=True
            )
            raise typer.Exit(1)
        return
    SCRIPT_FILE.write_text(script, encoding="utf-8")
    typer.echo(f"wrote {SCRIPT_FILE}")


@mongo_users_app.command("dev-secrets")
def dev_secrets(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where docker-compose reads its secrets; default: .secrets."),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="MongoDB as the services reach it.")] = (
        "mongo:27017"
    ),
    old_dir: Annotated[Path | None, hidden_alias("--dir", "--out")] = None,
) -> None:
    """Random passwords and connection strings for docker-compose (kept if present)."""
    folder = either(out, old_dir) or REPO / ".secrets"
    for path in write_dev_secrets(load_users(), folder, host):
        typer.echo(f"wrote {path}")
