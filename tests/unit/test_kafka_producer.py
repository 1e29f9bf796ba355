"""The plain producer (librdkafka): acks=all, idempotence, the Java client's partitioner, the
cluster's TLS/SASL settings, and a flush that never counts a record the broker did not take."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from welfare_watch import kafka, names, security
from welfare_watch.errors import ConfigError
from welfare_watch.settings import Environment

NOWHERE = "127.0.0.1:1"  # nothing listens: every record fails once its delivery timeout passes


def test_every_record_waits_for_all_replicas_and_is_sent_once() -> None:
    config = kafka.producer_config("kafka-1:9092,kafka-2:9092", {})
    assert config["bootstrap.servers"] == "kafka-1:9092,kafka-2:9092"
    assert config["acks"] == "all"
    assert config["enable.idempotence"] is True
    assert config["delivery.timeout.ms"] == 120_000  # retried until then, not a number of times
    assert "retries" not in config
    # A person's messages reach the partition the worker computes (murmur2, as the Java
    # client and kafka-python): librdkafka's own default would scatter them.
    assert config["partitioner"] == "murmur2_random"


def _env(**values: Any) -> Environment:
    return Environment(**values)


def test_sasl_over_tls_is_given_in_librdkafkas_words(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    env = _env(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="ww",
        kafka_sasl_password=SecretStr("s3cret"),
        kafka_ca_file=ca,
    )
    config = kafka.producer_config("k:9093", security.kafka_options(env))
    assert {k: v for k, v in config.items() if k.startswith(("security", "sasl", "ssl"))} == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "ww",
        "sasl.password": "s3cret",
        "ssl.ca.location": str(ca),
    }
    assert config["acks"] == "all"  # the settings add to the promise, never replace it


def test_tls_without_a_ca_file_trusts_the_systems_cas() -> None:
    options = security.kafka_options(_env(kafka_security_protocol="SSL"))
    assert kafka.rdkafka_security(options) == {
        "security.protocol": "SSL",
        "ssl.ca.location": "probe",
    }


def test_a_plain_cluster_needs_no_security_settings() -> None:
    assert kafka.rdkafka_security(security.kafka_options(_env())) == {}


def test_a_security_setting_librdkafka_has_no_word_for_stops_the_start() -> None:
    with pytest.raises(ConfigError, match="ssl_certfile"):
        kafka.rdkafka_security({"ssl_certfile": "/etc/client.pem"})


def _unreachable(timeout_ms: int) -> kafka.Producer:
    return kafka.Producer({**kafka.producer_config(NOWHERE, {}), "delivery.timeout.ms": timeout_ms})


def test_flush_raises_when_the_broker_did_not_take_a_record() -> None:
    """A file report or an HTTP reply is given after flush(): it must not count lost records."""
    producer = _unreachable(timeout_ms=300)
    producer.send(names.FACTS, b"1", b"210105195203140118")
    producer.send(names.FACTS, b"2", partition=0)
    with pytest.raises(kafka.NotDelivered, match="did not acknowledge 2 record"):
        producer.flush()
    producer.flush()  # reported once: a later delivery starts clean
    producer.close(timeout=0)


def test_waiting_on_a_send_raises_like_a_failed_future() -> None:
    producer = _unreachable(timeout_ms=300)
    sent = producer.send(names.AUDIT, b"entry", b"cli")
    with pytest.raises(kafka.NotDelivered):
        sent.get(timeout=10)
    producer.close(timeout=0)


def test_flush_gives_up_after_its_timeout() -> None:
    producer = _unreachable(timeout_ms=60_000)
    producer.send(names.FACTS, b"1", b"k")
    started = time.monotonic()
    with pytest.raises(kafka.NotDelivered, match=r"1 record.*within 0\.2 s"):
        producer.flush(timeout=0.2)
    assert time.monotonic() - started < 5
    producer.close(timeout=0)


def test_a_record_kafka_could_never_take_is_refused_at_once() -> None:
    producer = _unreachable(timeout_ms=300)
    too_large = b"x" * (2 * 1024 * 1024)  # over message.max.bytes (1 MB)
    with pytest.raises(kafka.NotDelivered, match="MSG_SIZE_TOO_LARGE"):
        producer.send(names.FACTS, too_large)
    producer.close(timeout=0)
