"""The ingest service's settings: environment variables prefixed `INGEST_` (nested with `__`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared import topics
from shared.runtime.settings import HttpSettings, ServiceSettings


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="INGEST_", env_nested_delimiter="__", extra="ignore"
    )

    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8001))
    group_id: str = "planwatch-ingest"
    input_topic: str = topics.PROGRESS
