"""Infrastructure configuration, without starting anything: settings, rendered Kafka config."""

from __future__ import annotations

from pathlib import Path

import pytest

from planwatch.infra.kafka import (
    _cluster_id,
    bootstrap_addresses,
    new_cluster_id,
    render_server_properties,
)
from planwatch.infra.settings import REPO_ROOT, InfraSettings
from shared.kafka_admin import TopicSpecError, validate_topic_spec

_ENV = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "MONGODB_URI",
    "PLANWATCH_KAFKA_PORT",
    "PLANWATCH_KAFKA_CONTROLLER_PORT",
    "PLANWATCH_MONGO_PORT",
    "PLANWATCH_INFRA_DIR",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_are_local_servers_on_standard_ports(clean_env: pytest.MonkeyPatch) -> None:
    settings = InfraSettings()
    assert (settings.kafka_port, settings.kafka_controller_port, settings.mongo_port) == (
        9092,
        9093,
        27017,
    )
    assert not settings.kafka_is_external and not settings.mongo_is_external
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.mongo_uri == "mongodb://127.0.0.1:27017/"
    assert settings.state_dir == REPO_ROOT / ".infra"


def test_environment_overrides_ports_and_dir(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("PLANWATCH_KAFKA_PORT", "19092")
    clean_env.setenv("PLANWATCH_MONGO_PORT", "27018")
    clean_env.setenv("PLANWATCH_INFRA_DIR", str(tmp_path))
    settings = InfraSettings()
    assert settings.kafka_bootstrap == "127.0.0.1:19092"
    assert settings.mongo_uri == "mongodb://127.0.0.1:27018/"
    assert settings.state_dir == tmp_path.resolve()


def test_external_servers_come_from_the_standard_variables(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    clean_env.setenv("MONGODB_URI", "mongodb://db:27017/")
    settings = InfraSettings()
    assert settings.kafka_is_external and settings.mongo_is_external
    assert settings.kafka_bootstrap == "kafka-1:9092,kafka-2:9092"
    assert settings.mongo_uri == "mongodb://db:27017/"


def test_bad_port_is_rejected(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PLANWATCH_KAFKA_PORT", "70000")
    with pytest.raises(ValueError, match="kafka_port"):
        InfraSettings()


def test_server_properties_bind_loopback_with_fast_test_settings(tmp_path: Path) -> None:
    settings = InfraSettings(kafka_port=19092, kafka_controller_port=19093)
    lines = render_server_properties(settings, tmp_path / "data").splitlines()
    props = dict(line.split("=", 1) for line in lines)
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["log.dirs"] == str(tmp_path / "data")
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["offsets.topic.num.partitions"] == "1"
    assert int(props["log.cleaner.dedupe.buffer.size"]) < 2 * 1024 * 1024


def test_bootstrap_addresses_are_parsed() -> None:
    assert bootstrap_addresses("127.0.0.1:19092, other:1,bare") == [
        ("127.0.0.1", 19092),
        ("other", 1),
        ("bare", 9092),
    ]


@pytest.mark.parametrize(
    "spec",
    [{"with space": 1}, {"": 1}, {".": 1}, {"x" * 250: 1}, {"ok": 0}, {"ok": True}],
)
def test_bad_topic_specs_are_named_errors(spec: dict[str, int]) -> None:
    with pytest.raises(TopicSpecError):
        validate_topic_spec(spec)


def test_good_topic_spec_passes() -> None:
    validate_topic_spec({"planwatch.progress": 6, "a-b_c.d": 1})


def test_a_cluster_id_never_starts_with_a_dash() -> None:
    # 0xF8 is 111110.. in bits: URL-safe base64 writes it as "-", which the storage format
    # command would read as an option (1 fresh infra directory in 64 failed to start).
    draws = iter([bytes([0xF8]) + bytes(15), bytes([0xF8]) + bytes(15), bytes(range(16))])
    cid = new_cluster_id(lambda: next(draws))
    assert cid == "AAECAwQFBgcICQoLDA0ODw"
    assert not any(new_cluster_id().startswith("-") for _ in range(2000))


def test_a_stored_cluster_id_with_a_dash_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "cluster-id").write_text("-AECAwQFBgcICQoLDA0ODw\n", encoding="utf-8")
    cid = _cluster_id(tmp_path)
    assert not cid.startswith("-")
    assert _cluster_id(tmp_path) == cid  # stable from then on
