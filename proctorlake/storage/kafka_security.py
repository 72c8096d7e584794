"""How every Kafka client of the product authenticates and encrypts, from settings.

The local broker listens on loopback without security, so the default (``PLAINTEXT``) adds
nothing. A shared or managed cluster is reached over SASL (SCRAM-SHA-512/256 or PLAIN) and/or
TLS by setting ``PROCTORLAKE_KAFKA_SECURITY_PROTOCOL`` and its companions; every producer,
consumer and admin client takes its options from :func:`client_options`, so no client can
be built that forgets them. A half-configured setting fails here, at start, with the name of
the missing variable, instead of as a vague connection error later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from kafka.errors import KafkaError

from proctorlake.core.settings import PREFIX, Settings

PROTOCOLS = frozenset({"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"})
SASL_MECHANISMS = frozenset({"SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"})


class KafkaSecurityConfigError(ValueError):
    """The Kafka security settings are incomplete or contradictory; the message says which."""


class KafkaAuthenticationError(ConnectionError):
    """The Kafka cluster refused this client's SASL credentials."""


class _AuthFailures(logging.Handler):
    """kafka-python retries a refused login until its bootstrap times out and then reports
    only "Unable to bootstrap"; what happened to each attempt is in its log, collected here.

    Under load a client often reads no answer to its last SCRAM message before the broker
    closes the connection ("socket disconnected", every attempt in a run beside six busy
    loops, while the broker logged each refused login): those attempts are kept apart as
    logins cut short."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.refusals: list[str] = []
        self.cut_short: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "SaslAuthenticationFailed" in message:
            self.refusals.append(message)
        elif message.startswith("Bootstrap connection to") and "socket disconnected" in message:
            self.cut_short.append(message)


@contextmanager
def refusals_explained(settings: Settings) -> Iterator[None]:
    """Turn a client's failure to connect into :class:`KafkaAuthenticationError` when the
    cluster refused its SASL login, naming the user and the settings to check."""
    if not settings.kafka_security_protocol.startswith("SASL_"):
        yield
        return
    failures = _AuthFailures()
    logger = logging.getLogger("kafka")
    logger.addHandler(failures)
    try:
        yield
    except KafkaError as exc:
        login = f"{settings.kafka_sasl_mechanism} login of user {settings.kafka_sasl_username!r}"
        check = f"check {PREFIX}KAFKA_SASL_USERNAME and {PREFIX}KAFKA_SASL_PASSWORD"
        if failures.refusals:
            raise KafkaAuthenticationError(
                f"the Kafka cluster at {settings.kafka_bootstrap} refused the {login}; {check} "
                f"(broker said: {failures.refusals[-1]})"
            ) from exc
        if failures.cut_short:
            raise KafkaAuthenticationError(
                f"the Kafka cluster at {settings.kafka_bootstrap} closed the connection during "
                f"the {login} on each of {len(failures.cut_short)} attempts, before answering "
                f"it; that is how a refused login looks to a busy client, so {check}"
            ) from exc
        raise
    finally:
        logger.removeHandler(failures)


def connection_options(settings: Settings) -> dict[str, object]:
    """Every client's keyword arguments: :func:`client_options` and how long it tries to
    reach the cluster when it starts."""
    timeout_ms = round(settings.kafka_bootstrap_timeout_s * 1000)
    return client_options(settings) | {"bootstrap_timeout_ms": timeout_ms}


def client_options(settings: Settings) -> dict[str, object]:
    """kafka-python keyword arguments for ``settings``' security protocol ({} for PLAINTEXT)."""
    protocol = settings.kafka_security_protocol
    if protocol not in PROTOCOLS:
        raise KafkaSecurityConfigError(
            f"{PREFIX}KAFKA_SECURITY_PROTOCOL={protocol!r}: expected one of {sorted(PROTOCOLS)}"
        )
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, object] = {"security_protocol": protocol}
    if protocol.startswith("SASL_"):
        options |= _sasl_options(settings)
    if protocol.endswith("SSL"):
        options |= _ssl_options(settings)
    return options


def _sasl_options(settings: Settings) -> dict[str, object]:
    mechanism = settings.kafka_sasl_mechanism
    if mechanism not in SASL_MECHANISMS:
        raise KafkaSecurityConfigError(
            f"{PREFIX}KAFKA_SASL_MECHANISM={mechanism!r}: expected one of "
            f"{sorted(SASL_MECHANISMS)} with {settings.kafka_security_protocol}"
        )
    missing = [
        f"{PREFIX}KAFKA_SASL_{name}"
        for name, value in (
            ("USERNAME", settings.kafka_sasl_username),
            ("PASSWORD", settings.kafka_sasl_password),
        )
        if not value
    ]
    if missing:
        raise KafkaSecurityConfigError(f"{mechanism} needs {' and '.join(missing)}")
    return {
        "sasl_mechanism": mechanism,
        "sasl_plain_username": settings.kafka_sasl_username,
        "sasl_plain_password": settings.kafka_sasl_password,
    }


def _ssl_options(settings: Settings) -> dict[str, object]:
    """TLS: the CA file verifies the brokers (else the system's CAs); a certificate and key
    give mutual TLS and must come together."""
    if (settings.kafka_ssl_certfile is None) != (settings.kafka_ssl_keyfile is None):
        raise KafkaSecurityConfigError(
            f"{PREFIX}KAFKA_SSL_CERTFILE and {PREFIX}KAFKA_SSL_KEYFILE go together"
        )
    files = {
        "ssl_cafile": settings.kafka_ssl_cafile,
        "ssl_certfile": settings.kafka_ssl_certfile,
        "ssl_keyfile": settings.kafka_ssl_keyfile,
    }
    return {name: str(path) for name, path in files.items() if path is not None}
