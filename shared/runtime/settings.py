"""Configuration from environment variables (pydantic-settings), shared by the three services.

`KAFKA_BOOTSTRAP_SERVERS` and `MONGODB_URI` name the servers for every service and for the tests;
each service adds its own prefixed settings (e.g. `INGEST_HTTP__PORT`) in its `config.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.runtime.auth import AuthSettings

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


def read_secret_file(path: Path, what: str) -> SecretStr:
    """A secret kept in a file (a Kubernetes or compose secret), without its trailing newline.
    Errors name the file, never its content."""
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"{what}: cannot read {path}: {exc.strerror or exc}") from None
    if not value:
        raise ValueError(f"{what}: {path} is empty")
    return SecretStr(value)


class KafkaSettings(BaseSettings):
    """How every Kafka client of the project connects: the services, their admin checks and the
    CLIs. `shared.runtime.kafka_security.client_options` turns it into aiokafka's options.

    A password comes from `KAFKA_SASL_PASSWORD` or, better, from the file named by
    `KAFKA_SASL_PASSWORD_FILE` (a mounted Secret); it is a SecretStr, so it is never printed.
    """

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "planwatch"
    # PLAINTEXT (the default) is for a loopback development broker only.
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    sasl_username: str = ""
    sasl_password: SecretStr = SecretStr("")
    sasl_password_file: Path | None = None
    # TLS (SSL, SASL_SSL): the CA that signed the brokers' certificates (None: the system's
    # trust store), an optional client certificate and key (mutual TLS), and the key's password.
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_key_password: SecretStr = SecretStr("")
    ssl_key_password_file: Path | None = None
    # The broker's certificate must name the host the client connects to. Keep it on.
    ssl_check_hostname: bool = True
    max_batch_records: int = Field(500, ge=1, le=10_000)
    batch_timeout_ms: int = Field(50, ge=1, le=5_000)  # FastStream's 200 ms default adds latency
    publish_timeout_s: float = Field(15.0, gt=0)  # aiokafka sends can hang while Kafka is down
    # A member silent this long loses its partitions to the others (Kafka's default is 45 s;
    # aiokafka's 10 s). Heartbeats go every third of it.
    session_timeout_ms: int = Field(10_000, ge=1_000, le=300_000)

    @model_validator(mode="after")
    def _secrets_and_consistency(self) -> Self:
        if self.sasl_password_file is not None:
            self.sasl_password = read_secret_file(
                self.sasl_password_file, "KAFKA_SASL_PASSWORD_FILE"
            )
        if self.ssl_key_password_file is not None:
            self.ssl_key_password = read_secret_file(
                self.ssl_key_password_file, "KAFKA_SSL_KEY_PASSWORD_FILE"
            )
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and not (self.sasl_username and self.sasl_password.get_secret_value()):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs KAFKA_SASL_USERNAME and"
                " KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE"
            )
        if not sasl and self.sasl_username:
            raise ValueError(
                f"KAFKA_SASL_USERNAME is set but KAFKA_SECURITY_PROTOCOL={self.security_protocol}"
                " does not authenticate with SASL: set it to SASL_SSL"
            )
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together")
        return self

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")


class MongoSettings(BaseSettings):
    """`MONGODB_URI` (or `MONGODB_URI_FILE`: the file holding it), `MONGODB_DATABASE`, and TLS:
    `MONGODB_TLS=true` with `MONGODB_TLS_CA_FILE` (the server's CA; else the system's) and
    `MONGODB_TLS_CERTIFICATE_KEY_FILE` (a client certificate and key in one PEM, for x.509 or
    mutual TLS). Hostname verification is always on."""

    model_config = SettingsConfigDict(env_prefix="MONGODB_", extra="ignore")

    uri: SecretStr = SecretStr("mongodb://127.0.0.1:27017/")
    uri_file: Path | None = None
    database: str = "planwatch"
    # Fail fast and let the service retry with backoff, rather than block 30 s in the driver.
    server_selection_timeout_ms: int = Field(3_000, ge=100)
    # A command that gets no answer fails (and is retried) instead of holding its batch forever.
    socket_timeout_ms: int = Field(60_000, ge=1_000)
    tls: bool = False
    tls_ca_file: Path | None = None
    tls_certificate_key_file: Path | None = None

    @model_validator(mode="after")
    def _resolve(self) -> Self:
        if self.uri_file is not None:
            if "uri" in self.model_fields_set:
                raise ValueError("give MONGODB_URI or MONGODB_URI_FILE, not both")
            # Not by assignment, which would mark `uri` as given (and a re-validation fail).
            self.__dict__["uri"] = read_secret_file(self.uri_file, "MONGODB_URI_FILE")
        if not self.tls and (self.tls_ca_file or self.tls_certificate_key_file):
            raise ValueError("MONGODB_TLS_CA_FILE / _CERTIFICATE_KEY_FILE need MONGODB_TLS=true")
        for path in (self.tls_ca_file, self.tls_certificate_key_file):
            if path is not None and not path.is_file():
                raise ValueError(f"MongoDB TLS: {path} is not a file")
        return self

    def with_uri(self, uri: SecretStr) -> MongoSettings:
        """The same server, database and TLS with another login (e.g. the key administrator)."""
        return self.model_copy(update={"uri": uri, "uri_file": None})

    def client_kwargs(self) -> dict[str, Any]:
        """PyMongo's options besides the URI (TLS options given here win over the URI's)."""
        kwargs: dict[str, Any] = {
            "serverSelectionTimeoutMS": self.server_selection_timeout_ms,
            "connectTimeoutMS": self.server_selection_timeout_ms,
            "socketTimeoutMS": self.socket_timeout_ms,
            "tz_aware": True,
            "appname": "planwatch",
        }
        if self.tls:
            kwargs["tls"] = True
            if self.tls_ca_file is not None:
                kwargs["tlsCAFile"] = str(self.tls_ca_file)
            if self.tls_certificate_key_file is not None:
                kwargs["tlsCertificateKeyFile"] = str(self.tls_certificate_key_file)
        return kwargs


class HttpSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)


class RetrySettings(BaseSettings):
    """Backoff for transient failures (MongoDB or Kafka unavailable)."""

    model_config = SettingsConfigDict(extra="ignore")

    initial_s: float = Field(0.2, gt=0)
    max_s: float = Field(10.0, gt=0)
    # After this long without success the batch is rewound (not committed) and fetched again,
    # so the consumer stays well inside Kafka's max.poll.interval.
    give_up_after_s: float = Field(120.0, gt=0)


class ServiceSettings(BaseSettings):
    """The settings every service has; each service subclasses it with its own env prefix."""

    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    mongo: MongoSettings = Field(default_factory=MongoSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    # `/livez`, `/readyz`, `/metrics` (unauthenticated: NetworkPolicies admit only the kubelet
    # and Prometheus) listen here, apart from the authenticated routes (`<PREFIX>_MANAGEMENT_PORT`;
    # host: `<PREFIX>_MANAGEMENT_HOST`, empty = the main port's host).
    management_port: int = Field(9000, ge=0, le=65535)
    management_host: str = ""
    auth: AuthSettings = Field(default_factory=AuthSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    log_level: str = "INFO"
    graceful_timeout_s: float = Field(20.0, gt=0)

    def management_http(self) -> HttpSettings:
        return HttpSettings(host=self.management_host or self.http.host, port=self.management_port)
