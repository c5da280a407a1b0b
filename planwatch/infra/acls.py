"""Kafka ACLs from their one source, deploy/kafka-acls.yaml: the Strimzi KafkaUser manifests
rendered from it, and the same ACLs created on a broker through the admin API.

`python -m planwatch.infra.acls render` rewrites the manifests; `... check` exits 1 when the
checked-in ones differ from what the source gives (tests/deploy runs the same comparison).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest
from pydantic import BaseModel, ConfigDict, Field, model_validator

from planwatch.infra.settings import REPO_ROOT
from shared.runtime.kafka_security import client_options
from shared.runtime.settings import KafkaSettings

ACL_SOURCE = REPO_ROOT / "deploy" / "kafka-acls.yaml"
K8S_DIR = REPO_ROOT / "deploy" / "k8s"
DEFAULT_MANIFEST = "base/kafka-users.yaml"
CLUSTER = "planwatch"  # the Strimzi Kafka cluster's name (label strimzi.io/cluster)

Operation = Literal["Read", "Write", "Describe", "DescribeConfigs", "IdempotentWrite"]

# Kafka's protocol codes (org.apache.kafka.common.acl / resource).
_RESOURCE_TYPE = {"topic": 2, "group": 3}
_PATTERN_TYPE = {"literal": 3, "prefix": 4}
_OPERATION = {"Read": 3, "Write": 4, "Describe": 8, "DescribeConfigs": 10, "IdempotentWrite": 12}
_ALLOW = 3


class Acl(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str | None = None
    group: str | None = None
    pattern: Literal["literal", "prefix"] = "literal"
    operations: tuple[Operation, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_resource(self) -> Acl:
        if (self.topic is None) == (self.group is None):
            raise ValueError("an ACL names exactly one of `topic` or `group`")
        return self

    @property
    def resource_type(self) -> Literal["topic", "group"]:
        return "topic" if self.topic is not None else "group"

    @property
    def resource_name(self) -> str:
        return self.topic if self.topic is not None else str(self.group)


class SecretRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    key: str


class Principal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    acls: tuple[Acl, ...]
    agency: str | None = None  # the catalog's agency id, for an agency's user
    manifest: str = DEFAULT_MANIFEST  # where its KafkaUser goes, relative to deploy/k8s
    password_secret: SecretRef | None = None  # a password the operator provides


class AclSource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    principals: dict[str, Principal]


@dataclass(frozen=True, slots=True)
class Binding:
    """One Kafka ACL binding: ALLOW `principal` `operation` on a resource, from any host."""

    principal: str
    resource_type: Literal["topic", "group"]
    resource_name: str
    pattern: Literal["literal", "prefix"]
    operation: Operation


def load(path: Path = ACL_SOURCE) -> AclSource:
    return AclSource.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def bindings(source: AclSource, principals: Iterable[str] | None = None) -> list[Binding]:
    """The ACL bindings of the named principals (all when None)."""
    names = list(source.principals) if principals is None else list(principals)
    unknown = sorted(set(names) - set(source.principals))
    if unknown:
        raise KeyError(f"not in {ACL_SOURCE.name}: {unknown}")
    return [
        Binding(name, acl.resource_type, acl.resource_name, acl.pattern, op)
        for name in names
        for acl in source.principals[name].acls
        for op in acl.operations
    ]


# --- Strimzi KafkaUser manifests --------------------------------------------------------------

HEADER = """\
# GENERATED from deploy/kafka-acls.yaml by `python -m planwatch.infra.acls render`: do not edit.
# Strimzi KafkaUsers (SCRAM-SHA-512). The User Operator writes each generated password into a
# Secret of the user's name, key `password`; a user with `password_secret` gets the operator's.
"""


def kafka_user(name: str, principal: Principal) -> dict[str, Any]:
    labels = {"strimzi.io/cluster": CLUSTER}
    if principal.agency is not None:
        labels["planwatch.io/agency"] = principal.agency
    authentication: dict[str, Any] = {"type": "scram-sha-512"}
    if principal.password_secret is not None:
        ref = principal.password_secret
        authentication["password"] = {
            "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}
        }
    acls = [
        {
            "resource": {
                "type": acl.resource_type,
                "name": acl.resource_name,
                "patternType": acl.pattern,
            },
            "operations": list(acl.operations),
            "host": "*",
        }
        for acl in principal.acls
    ]
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaUser",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "authentication": authentication,
            "authorization": {"type": "simple", "acls": acls},
        },
    }


def render(source: AclSource) -> dict[str, str]:
    """Manifest path (relative to deploy/k8s) -> its text."""
    by_file: dict[str, list[dict[str, Any]]] = {}
    for name, principal in source.principals.items():
        by_file.setdefault(principal.manifest, []).append(kafka_user(name, principal))
    return {
        path: HEADER + yaml.safe_dump_all(users, sort_keys=False, explicit_start=False)
        for path, users in by_file.items()
    }


def stale_manifests(source: AclSource, k8s_dir: Path = K8S_DIR) -> list[str]:
    """The manifests whose checked-in text differs from the rendering."""
    stale = []
    for path, text in render(source).items():
        target = k8s_dir / path
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            stale.append(path)
    return stale


# --- a live broker ----------------------------------------------------------------------------


class AclError(RuntimeError):
    """The broker refused to create an ACL."""


async def create_acls(admin_kafka: KafkaSettings, wanted: Iterable[Binding]) -> int:
    """Creates the bindings (idempotent: Kafka keeps one copy) with a super user's settings;
    returns how many were sent."""
    admin = AIOKafkaAdminClient(**client_options(admin_kafka), client_id="planwatch-acls")
    count = 0
    await admin.start()
    try:
        for b in wanted:
            request = CreateAclsRequest(
                resource_type=_RESOURCE_TYPE[b.resource_type],
                resource_name=b.resource_name,
                resource_pattern_type_filter=_PATTERN_TYPE[b.pattern],
                principal=f"User:{b.principal}",
                host="*",
                operation=_OPERATION[b.operation],
                permission_type=_ALLOW,
            )
            response = await admin._send_request(request)  # (aiokafka has no public CreateAcls)
            for result in response.to_object()["creation_responses"]:
                if result["error_code"] != 0:
                    error = for_code(result["error_code"])
                    raise AclError(f"{b}: {error.__name__}: {result['error_message']}")
            count += 1
    finally:
        await admin.close()
    return count


def _main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    source = load()
    if command == "render":
        for path, text in render(source).items():
            (K8S_DIR / path).write_text(text, encoding="utf-8")
            print(f"wrote deploy/k8s/{path}")
        return 0
    if command == "check":
        stale = stale_manifests(source)
        for path in stale:
            print(
                f"deploy/k8s/{path} is not what deploy/kafka-acls.yaml gives: run"
                " `python -m planwatch.infra.acls render`",
                file=sys.stderr,
            )
        return 1 if stale else 0
    print("usage: python -m planwatch.infra.acls [render|check]", file=sys.stderr)
    return 2


def principals_of(source: AclSource, *, agencies: bool) -> Mapping[str, Principal]:
    return {n: p for n, p in source.principals.items() if (p.agency is not None) == agencies}


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
