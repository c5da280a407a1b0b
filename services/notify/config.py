"""The notify service's settings: environment variables prefixed `NOTIFY_` (nested with `__`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared import topics
from shared.runtime.settings import HttpSettings, ServiceSettings


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="NOTIFY_", env_nested_delimiter="__", extra="ignore"
    )

    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8003))
    group_id: str = "planwatch-notify"
    input_topic: str = topics.ALERTS
