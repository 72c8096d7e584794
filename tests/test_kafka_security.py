"""Kafka security settings: SASL/SCRAM on a broker of the test's own, and the client options
every Kafka client takes from the settings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka.errors import KafkaTimeoutError

from proctorlake.core.settings import Settings, load_settings
from proctorlake.core.topics import DETECTIONS
from proctorlake.storage import kafka_io
from proctorlake.storage.broker import start_broker, stop_broker
from proctorlake.storage.kafka_security import (
    KafkaAuthenticationError,
    KafkaSecurityConfigError,
    client_options,
)
from tests.fixtures.broker import broker_env, free_port

# A client that cannot get in gives up after this instead of the default 30 s: the refusal
# tests wait for the whole bootstrap, and each attempt takes about a second.
GIVE_UP_SOON = {"PROCTORLAKE_KAFKA_BOOTSTRAP_TIMEOUT_S": "8"}
SCRAM = {
    "PROCTORLAKE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "PROCTORLAKE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "PROCTORLAKE_KAFKA_SASL_USERNAME": "proctorlake",
    "PROCTORLAKE_KAFKA_SASL_PASSWORD": "right-horse-battery",
}


@pytest.fixture(scope="module")
def scram_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A broker whose only client listener is SASL_PLAINTEXT with SCRAM-SHA-512."""
    home = tmp_path_factory.mktemp("scram-home")
    env = broker_env(home, free_port(), free_port()) | SCRAM
    settings = load_settings(env)
    start_broker(settings)
    try:
        yield env
    finally:
        stop_broker(settings)


def test_default_settings_need_no_kafka_security() -> None:
    settings = load_settings({})
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert client_options(settings) == {}


def test_sasl_settings_become_client_options_and_the_password_stays_out_of_repr() -> None:
    settings = load_settings(SCRAM)
    assert client_options(settings) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "proctorlake",
        "sasl_plain_password": "right-horse-battery",
    }
    assert "right-horse-battery" not in repr(settings)


def test_half_configured_security_names_the_missing_setting(tmp_path: Path) -> None:
    no_password = {k: v for k, v in SCRAM.items() if not k.endswith("PASSWORD")}
    with pytest.raises(KafkaSecurityConfigError, match="PROCTORLAKE_KAFKA_SASL_PASSWORD"):
        client_options(load_settings(no_password))
    tls = {"PROCTORLAKE_KAFKA_SECURITY_PROTOCOL": "SSL", "PROCTORLAKE_KAFKA_SSL_CAFILE": "/ca.pem"}
    assert client_options(load_settings(tls)) == {
        "security_protocol": "SSL",
        "ssl_cafile": "/ca.pem",
    }
    half_mtls = tls | {"PROCTORLAKE_KAFKA_SSL_CERTFILE": str(tmp_path / "client.pem")}
    with pytest.raises(KafkaSecurityConfigError, match="KAFKA_SSL_KEYFILE"):
        client_options(load_settings(half_mtls))


def test_sasl_scram_client_with_the_right_password_produces_and_consumes(
    scram_env: dict[str, str],
) -> None:
    settings: Settings = load_settings(scram_env)
    producer = kafka_io.make_producer(settings)
    try:
        producer.send(DETECTIONS.name, key="scram-session", value=b"authenticated").get(timeout=30)
    finally:
        producer.close()
    consumer = kafka_io.make_group_consumer(settings, "scram-readers", [DETECTIONS])
    try:
        deadline = time.monotonic() + 30
        values: list[bytes] = []
        while b"authenticated" not in values:
            assert time.monotonic() < deadline, "the record never came back"
            values += [r.value for batch in consumer.poll(timeout_ms=200).values() for r in batch]
    finally:
        consumer.close()


def test_sasl_scram_client_with_a_wrong_password_is_refused_clearly(
    scram_env: dict[str, str],
) -> None:
    wrong_password = {"PROCTORLAKE_KAFKA_SASL_PASSWORD": "wrong-password"}
    wrong = load_settings(scram_env | wrong_password | GIVE_UP_SOON)
    with pytest.raises(KafkaAuthenticationError) as refused:
        kafka_io.make_producer(wrong)
    message = str(refused.value)
    # "refused the ... login" when the client read the broker's answer, "closed the connection
    # during the ... login" when a busy client saw only the close that comes with it.
    assert "SCRAM-SHA-512 login of user 'proctorlake'" in message
    assert "PROCTORLAKE_KAFKA_SASL_PASSWORD" in message
    assert "wrong-password" not in message


def test_sasl_scram_broker_refuses_unauthenticated_clients(scram_env: dict[str, str]) -> None:
    plain = {k: v for k, v in scram_env.items() if k not in SCRAM}
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        kafka_io.make_producer(load_settings(plain | GIVE_UP_SOON))
