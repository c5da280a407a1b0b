"""The notify service's settings: environment variables prefixed `NOTIFY_` (nested with `__`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.notify.domain.delivery import RetryPolicy
from services.notify.domain.retention import Retention
from shared import topics
from shared.runtime.settings import HttpSettings, ServiceSettings, read_secret_file

DEFAULT_ROUTING_FILE = Path(__file__).with_name("routing.yaml")


class SmtpSettings(BaseModel):
    """The mail relay every e-mail integration uses (`NOTIFY_SMTP__HOST`, ...)."""

    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    starttls: bool = False  # upgrade a plain connection with STARTTLS
    ssl: bool = False  # implicit TLS (port 465)
    username: str = ""
    password: SecretStr = SecretStr("")
    # Or the file holding it (NOTIFY_SMTP__PASSWORD_FILE), read at every login: a rotated
    # Secret is used without a restart.
    password_file: Path | None = None
    # Logging in sends the password: refused over a connection without TLS (neither `ssl` nor
    # `starttls`) unless this is set (Alertmanager's smtp_require_tls=false).
    allow_plaintext_login: bool = False
    timeout_s: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.password_file is not None:
            if self.password.get_secret_value():
                raise ValueError(
                    "give NOTIFY_SMTP__PASSWORD or NOTIFY_SMTP__PASSWORD_FILE, not both"
                )
            read_secret_file(self.password_file, "NOTIFY_SMTP__PASSWORD_FILE")
        if self.username and not self.encrypted and not self.allow_plaintext_login:
            raise ValueError(
                "SMTP login without TLS: set NOTIFY_SMTP__STARTTLS or NOTIFY_SMTP__SSL "
                "(or NOTIFY_SMTP__ALLOW_PLAINTEXT_LOGIN=true, not recommended)"
            )
        return self

    @property
    def encrypted(self) -> bool:
        return self.ssl or self.starttls

    def login_password(self) -> SecretStr:
        if self.password_file is not None:
            return read_secret_file(self.password_file, "NOTIFY_SMTP__PASSWORD_FILE")
        return self.password


class DeliverySettings(BaseModel):
    """Retry budget and timing of deliveries (`NOTIFY_DELIVERY__MAX_ATTEMPTS`, ...)."""

    backoff_base_s: float = Field(5.0, gt=0)
    backoff_cap_s: float = Field(3600.0, gt=0)
    max_attempts: int = Field(10, ge=1)
    max_age_s: float = Field(86400.0, gt=0)
    http_timeout_s: float = Field(10.0, gt=0)
    concurrency: int = Field(32, ge=1, le=1024)  # sends (HTTP, SMTP, Kafka) in flight at once
    # An HTTP proxy every webhook and robot request is tunnelled through with CONNECT
    # (http://host:port), for networks that reach the internet only so; "" connects directly.
    # The SSRF rule checks the destination first either way.
    egress_proxy: str = ""
    egress_proxy_username: str = ""
    egress_proxy_password_file: Path | None = None  # read at every tunnel (rotation applies)
    # What the proxy is asked for: the address notify resolved and checked (the pin holds
    # through the proxy), or the host name, for proxies that allow destinations by name (the
    # proxy resolves it again: the check covers notify's resolution, not the proxy's).
    egress_proxy_connect: Literal["address", "name"] = "address"

    @model_validator(mode="after")
    def _check_proxy(self) -> Self:
        if not self.egress_proxy:
            if self.egress_proxy_username or self.egress_proxy_password_file:
                raise ValueError("proxy credentials without NOTIFY_DELIVERY__EGRESS_PROXY")
            if self.egress_proxy_connect != "address":
                raise ValueError("NOTIFY_DELIVERY__EGRESS_PROXY_CONNECT needs an egress proxy")
            return self
        self.proxy_address()
        if bool(self.egress_proxy_username) != (self.egress_proxy_password_file is not None):
            raise ValueError(
                "give both NOTIFY_DELIVERY__EGRESS_PROXY_USERNAME and "
                "NOTIFY_DELIVERY__EGRESS_PROXY_PASSWORD_FILE, or neither"
            )
        if self.egress_proxy_password_file is not None:
            read_secret_file(
                self.egress_proxy_password_file, "NOTIFY_DELIVERY__EGRESS_PROXY_PASSWORD_FILE"
            )
        return self

    def proxy_address(self) -> tuple[str, int]:
        """The egress proxy's host and port; ValueError unless the setting is http://host:port."""
        what = "NOTIFY_DELIVERY__EGRESS_PROXY"
        parts = urlsplit(self.egress_proxy)
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"{what}: bad port in {self.egress_proxy!r}") from None
        if parts.scheme != "http" or not parts.hostname or port is None:
            raise ValueError(f"{what}: give http://host:port, not {self.egress_proxy!r}")
        if parts.username is not None or parts.password is not None:
            raise ValueError(f"{what}: no credentials in the URL; use _USERNAME and _PASSWORD_FILE")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"{what}: http://host:port only, no path")
        return parts.hostname, port

    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            base=timedelta(seconds=self.backoff_base_s),
            cap=timedelta(seconds=self.backoff_cap_s),
            max_attempts=self.max_attempts,
            max_age=timedelta(seconds=self.max_age_s),
        )


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="NOTIFY_", env_nested_delimiter="__", extra="ignore"
    )

    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8003))
    management_port: int = Field(9003, ge=0, le=65535)
    group_id: str = "planwatch-notify"
    input_topic: str = topics.ALERTS
    # The internal repartition topic: alerts re-keyed by group (its consumer group is
    # `<group_id>.groups`; its partitions decide which replica owns which groups).
    groups_topic: str = topics.NOTIFY_GROUPS
    # Operational records (a receiver disabled) and the dead letters.
    notifications_topic: str = topics.NOTIFICATIONS
    dlt_topic: str = topics.NOTIFICATIONS_DLT
    routing_file: Path = DEFAULT_ROUTING_FILE  # NOTIFY_ROUTING_FILE
    external_url: str = ""  # Alertmanager's externalURL in payloads: where people look
    tick_s: float = Field(1.0, gt=0, le=60)  # how often the flush loop looks for due work
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    # Alertmanager's --data.retention: log entries, and silences once expired that long.
    retention_h: float = Field(120.0, gt=0)
    delivery_log_retention_days: float = Field(30.0, gt=0)  # attempts and refused input

    def retention(self) -> Retention:
        return Retention(
            data=timedelta(hours=self.retention_h),
            delivery_log=timedelta(days=self.delivery_log_retention_days),
        )
