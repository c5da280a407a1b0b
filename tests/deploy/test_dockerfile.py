"""The Dockerfile and .dockerignore, checked without a Docker engine: stages, base image,
non-root user, no bytecode writes, and that everything it copies exists and survives
.dockerignore (a small implementation of Docker's pattern rules)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field

from tests.deploy.paths import DOCKERFILE, DOCKERIGNORE, REPO


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse_dockerfile(text: str) -> list[Stage]:
    """Instructions per stage (line continuations joined, comments dropped, ARGs substituted
    with their defaults); a stage built FROM an earlier one has that one's image and
    instructions first, as Docker builds it."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    logical = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    for line in logical.splitlines():
        if not line.strip():
            continue
        keyword, _, rest = line.strip().partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "ARG" and not stages:
            key, _, default = rest.partition("=")
            args[key] = default
            continue
        if keyword == "FROM":
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest.split()[0])
            name = rest.split()[2] if " AS " in rest.upper() else str(len(stages))
            parent = next((st for st in stages if st.name == base), None)
            if parent is not None:  # FROM an earlier stage: its image and what it did
                stages.append(Stage(parent.base, name, list(parent.instructions)))
            else:
                stages.append(Stage(base=base, name=name))
            continue
        stages[-1].instructions.append((keyword, rest))
    return stages


def dockerignore_excludes(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches decides; `!` re-includes; `**` spans dirs;
    a pattern matching a directory matches everything under it."""
    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        pattern = pattern.strip("/")
        regex = re.escape(pattern).replace(r"\*\*", "\0").replace(r"\*", "[^/]*")
        regex = regex.replace(r"\?", "[^/]").replace("\0/", "(.*/)?").replace("\0", ".*")
        if re.fullmatch(f"{regex}(/.*)?", path):
            excluded = not negate
    return excluded


def _ignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


STAGES = parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


def test_multi_stage_on_slim_python_311() -> None:
    assert len(STAGES) >= 2
    for stage in STAGES:
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", stage.base), stage.base
    builder = STAGES[0]
    assert any(k == "RUN" and "pip wheel" in v for k, v in builder.instructions)


def test_runtime_is_non_root_and_writes_no_bytecode() -> None:
    runtime = STAGES[-1]
    users = [v for k, v in runtime.instructions if k == "USER"]
    assert users, "the runtime stage must set USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, "USER must be a numeric non-root uid"
    env = " ".join(v for k, v in runtime.instructions if k == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "HOME=/tmp" in env  # the only writable place on a read-only root filesystem
    # The runtime installs only the wheels built in the builder stage, from no index.
    installs = [v for k, v in runtime.instructions if k == "RUN" and "pip install" in v]
    assert installs and all("--no-index" in v for v in installs)


def test_no_fixed_entrypoint_the_command_picks_the_process() -> None:
    runtime = STAGES[-1]
    assert not [v for k, v in runtime.instructions if k == "ENTRYPOINT"]


def test_copied_files_exist_and_are_not_ignored() -> None:
    patterns = _ignore_patterns()
    copied: list[str] = []
    for stage in STAGES:
        for keyword, value in stage.instructions:
            if keyword != "COPY" or "--from" in value:
                continue
            *sources, _destination = value.split()
            copied.extend(sources)
    assert copied
    for source in copied:
        assert (REPO / source).exists(), f"COPY {source}: no such file in the repo"
        assert not dockerignore_excludes(source, patterns), f"{source} is in .dockerignore"


def test_dockerignore_keeps_local_state_out() -> None:
    patterns = _ignore_patterns()
    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        ".infra/bin/promtool",
        "tests/unit/x.py",
        "tools/kafka/target/kafka-libs/a.jar",
        "shared/__pycache__/x.pyc",
        "services/notify/__pycache__/app.cpython-311.pyc",
    ):
        assert dockerignore_excludes(path, patterns), f"{path} would be sent to the build"
    assert not dockerignore_excludes("shared/catalog/plans/qingyuan.yaml", patterns)


def test_the_copied_packages_are_the_wheel_packages() -> None:
    """The image installs the wheel, so every package the wheel holds must be copied in."""
    with (REPO / "pyproject.toml").open("rb") as handle:
        packages = tomllib.load(handle)["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    sources = {
        token
        for stage in STAGES
        for keyword, value in stage.instructions
        if keyword == "COPY" and "--from" not in value
        for token in value.split()[:-1]
    }
    assert set(packages) | {"pyproject.toml", "README.md"} <= sources
