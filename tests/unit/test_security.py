"""Kafka TLS/SASL and Redis AUTH/TLS settings, as each client library takes them."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from welfare_watch.errors import ConfigError
from welfare_watch.security import (
    aiokafka_options,
    check,
    faust_credentials,
    kafka_options,
    redis_options,
)
from welfare_watch.settings import Environment


def _env(**values: Any) -> Environment:
    return Environment(redis_url="redis://127.0.0.1:6379/0", **values)


def test_a_plain_cluster_adds_nothing() -> None:
    env = _env()
    check(env)
    assert kafka_options(env) == {}
    assert aiokafka_options(env) == {}
    assert faust_credentials(env) is None
    assert redis_options(env) == {}


def test_sasl_over_tls_reaches_every_kafka_client(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")  # check() wants the file to exist; the context is not built here
    env = _env(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="ww",
        kafka_sasl_password=SecretStr("s3cret"),
        kafka_ca_file=ca,
    )
    check(env)
    assert kafka_options(env) == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "ww",
        "sasl_plain_password": "s3cret",
        "ssl_cafile": str(ca),
    }


def test_sasl_without_tls_uses_no_ssl_context() -> None:
    env = _env(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username="ww",
        kafka_sasl_password=SecretStr("s3cret"),
    )
    options = aiokafka_options(env)
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert "ssl_context" not in options
    credentials = faust_credentials(env)
    assert credentials.username == "ww"
    assert credentials.ssl_context is None


def test_tls_verifies_against_the_system_cas_without_a_ca_file() -> None:
    env = _env(kafka_security_protocol="SSL")
    context = aiokafka_options(env)["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "WW_KAFKA_SASL_USERNAME"),
        ({"kafka_sasl_username": "ww"}, "WW_KAFKA_SECURITY_PROTOCOL"),
        ({"kafka_ca_file": Path("/nonexistent")}, "WW_KAFKA_CA_FILE"),
        ({"redis_ca_file": Path("/nonexistent")}, "WW_REDIS_CA_FILE"),
        ({"redis_username": "ww"}, "WW_REDIS_PASSWORD"),
    ],
)
def test_settings_that_cannot_work_stop_at_start_naming_the_key(
    values: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        check(_env(**values))


def test_redis_auth_and_the_ca_for_a_tls_url(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    env = Environment(
        redis_url="rediss://redis.example:6380/0",
        redis_username="ww",
        redis_password=SecretStr("s3cret"),
        redis_ca_file=ca,
    )
    check(env)
    assert redis_options(env) == {
        "password": "s3cret",
        "username": "ww",
        "ssl_ca_certs": str(ca),
    }
