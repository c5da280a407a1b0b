"""Where the local infrastructure lives and which servers the code talks to.

`KAFKA_BOOTSTRAP_SERVERS` / `MONGODB_URI`, when set, name external servers: nothing is started for
them. Otherwise a local Kafka and FerretDB are managed on 127.0.0.1 at the `PLANWATCH_*` ports.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The repository checkout this package runs from (editable install): tools/ and .infra/ live here.
REPO_ROOT = Path(__file__).resolve().parents[2]

LOOPBACK = "127.0.0.1"


class InfraSettings(BaseSettings):
    """Infrastructure settings, read from the environment (names in the field aliases)."""

    model_config = SettingsConfigDict(
        env_prefix="PLANWATCH_",
        extra="ignore",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
    )

    kafka_bootstrap_servers: str | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS")
    )
    mongodb_uri: str | None = Field(default=None, validation_alias=AliasChoices("MONGODB_URI"))

    kafka_port: int = Field(default=9092, ge=1, le=65535)
    kafka_controller_port: int = Field(default=9093, ge=1, le=65535)
    mongo_port: int = Field(default=27017, ge=1, le=65535)
    infra_dir: Path = REPO_ROOT / ".infra"

    kafka_start_timeout_s: float = Field(default=120.0, gt=0)
    mongo_start_timeout_s: float = Field(default=60.0, gt=0)
    #: How long to wait for an external server (env-configured) to answer.
    external_timeout_s: float = Field(default=15.0, gt=0)
    stop_timeout_s: float = Field(default=10.0, gt=0)

    @property
    def state_dir(self) -> Path:
        """Absolute state directory (config files, data, logs, pid files)."""
        return self.infra_dir.expanduser().resolve()

    @property
    def kafka_is_external(self) -> bool:
        return bool(self.kafka_bootstrap_servers)

    @property
    def mongo_is_external(self) -> bool:
        return bool(self.mongodb_uri)

    @property
    def kafka_bootstrap(self) -> str:
        """The bootstrap address clients should use."""
        return self.kafka_bootstrap_servers or f"{LOOPBACK}:{self.kafka_port}"

    @property
    def mongo_uri(self) -> str:
        """The MongoDB URI clients should use."""
        return self.mongodb_uri or f"mongodb://{LOOPBACK}:{self.mongo_port}/"
