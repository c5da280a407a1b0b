"""The scoring service's settings: environment variables prefixed `SCORING_` (nested with `__`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared import topics
from shared.runtime.settings import HttpSettings, ServiceSettings


class ScoringSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="SCORING_", env_nested_delimiter="__", extra="ignore"
    )

    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8002))
    management_port: int = Field(9002, ge=0, le=65535)
    group_id: str = "planwatch-scoring"
    input_topic: str = topics.ACCEPTED
    clock_topic: str = topics.CLOCK
    sync_topic: str = topics.SCORING_CLOCK  # the replicas' shared clock (internal)
    scores_topic: str = topics.SCORES
    alerts_topic: str = topics.ALERTS
    dlt_topic: str = topics.SCORING_DLT
    # Collections are `<prefix>targets`, `<prefix>points`, ... in MONGODB_DATABASE.
    collection_prefix: str = Field("scoring_", pattern=r"^[A-Za-z0-9_]{1,40}$")
    # Base of the links in alerts (generatorURL): where this service's read API is reached.
    public_url: str = "http://127.0.0.1:8002"
    # notify's API as this service reaches it (e.g. http://planwatch-notify:8003): the
    # dashboard shows its alerts' acknowledgements and relays "acknowledge" there with the
    # caller's token (services/scoring/dashboard/acks.py). Unset: no acknowledgements shown.
    notify_url: str | None = None
    # Built-in scheduler: publish a clock tick every this many seconds (0: off; the k8s CronJob
    # running `planwatch tick` is the default).
    tick_interval_s: float = Field(0.0, ge=0)
    # Plan roll-ups (every stored target document of a plan read back, the plan document
    # written) run at most once per this many seconds, off the batches' path, and always trail
    # the last batch by at most about this much (0: at the end of every batch, as replay does).
    rollup_interval_s: float = Field(1.0, ge=0)
    # A clock tick more than this ahead of this service's wall clock is refused (dead-lettered
    # as `tick_in_future`, counted, alerted on), never applied.
    max_tick_skew_s: float = Field(300.0, gt=0)
    # The platform clock's public keys (JSON list of unpadded base64url Ed25519 keys, two while
    # one is rotated): a tick signed by none of them is dead-lettered (`unsigned`, `unknown_key`,
    # `bad_signature`), never applied. Required but in PLANWATCH_AUTH_MODE=dev (the local demo).
    clock_public_keys: list[str] = Field(default_factory=list, max_length=8)
    # A catalog folder other than the shipped plans (tests, a second city).
    catalog_dir: Path | None = None
    # A problem still open (or acknowledged) this long after it was raised, on the service
    # clock, escalates: `problem_overdue` (SCORING_PROBLEM_ESCALATE_AFTER: ISO 8601 `P14D`, or
    # seconds).
    problem_escalate_after: timedelta = Field(timedelta(days=14), gt=timedelta(0))
