"""The scoring service's settings: environment variables prefixed `SCORING_` (nested with `__`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared import topics
from shared.runtime.settings import HttpSettings, ServiceSettings


class ScoringSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="SCORING_", env_nested_delimiter="__", extra="ignore"
    )

    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8002))
    group_id: str = "planwatch-scoring"
    input_topic: str = topics.ACCEPTED
