"""The ingest service's settings: environment variables prefixed `INGEST_` (nested with `__`)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared import topics
from shared.contract.codec import DEFAULT_MAX_BATCH_BYTES
from shared.contract.parsing import DEFAULT_MAX_BYTES
from shared.runtime.settings import HttpSettings, MongoSettings, ServiceSettings, read_secret_file


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="INGEST_", env_nested_delimiter="__", extra="ignore"
    )

    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8001))
    management_port: int = Field(9001, ge=0, le=65535)
    group_id: str = "planwatch-ingest"
    input_topic: str = topics.PROGRESS
    accepted_topic: str = topics.ACCEPTED
    dead_letter_topic: str = topics.PROGRESS_DLT
    # Agency public keys to register at start (YAML/JSON; see docs/ingest.md). Optional.
    keys_file: Path | None = None
    # How often the key snapshot is re-read from MongoDB (a revocation takes this long at most).
    keys_refresh_s: float = Field(30.0, gt=0)
    # The catalog folder (default: the shipped plans).
    catalog_dir: Path | None = None
    max_event_bytes: int = Field(DEFAULT_MAX_BYTES, ge=1024, le=900 * 1024)
    max_batch_bytes: int = Field(DEFAULT_MAX_BATCH_BYTES, ge=1024, le=16 * 1024 * 1024)
    # The HTTP door's per-agency rate limit (token bucket): events per second and burst.
    http_rate_per_agency: float = Field(50.0, gt=0)
    http_burst_per_agency: float = Field(500.0, ge=1)
    # How far an event's `time` may be ahead of the intake clock.
    clock_skew_s: float = Field(300.0, ge=0)
    # Verify signatures in a worker process (on a spare core) rather than in the event loop.
    verify_worker: bool = True
    reports_collection: str = "reports"
    keys_collection: str = "agency_keys"
    audit_collection: str = "key_audit"  # who registered, rotated, revoked which key, when
    # The key registry's writer (deploy/mongodb/users.yaml: `planwatch-keyadmin`), used by the
    # admin API and the keys file's merge at start; the data path's login (MONGODB_URI, user
    # `planwatch-ingest`) may only read `agency_keys`. Same server, database and TLS as
    # MONGODB_*; unset: the data path's login does both (local development, FerretDB).
    key_admin_mongodb_uri: SecretStr | None = None
    key_admin_mongodb_uri_file: Path | None = None

    @model_validator(mode="after")
    def _key_admin_uri(self) -> Self:
        if self.key_admin_mongodb_uri_file is not None:
            if "key_admin_mongodb_uri" in self.model_fields_set:
                raise ValueError(
                    "give INGEST_KEY_ADMIN_MONGODB_URI or INGEST_KEY_ADMIN_MONGODB_URI_FILE, "
                    "not both"
                )
            self.__dict__["key_admin_mongodb_uri"] = read_secret_file(
                self.key_admin_mongodb_uri_file, "INGEST_KEY_ADMIN_MONGODB_URI_FILE"
            )
        return self

    def key_admin_mongo(self) -> MongoSettings:
        """The settings of the key registry's writer (the data path's when none is given)."""
        if self.key_admin_mongodb_uri is None:
            return self.mongo
        return self.mongo.with_uri(self.key_admin_mongodb_uri)
