"""Kafka TLS/SASL and Redis AUTH/TLS from the environment, as options for every client.

The settings are the WW_KAFKA_* and WW_REDIS_* fields of `Environment` (docs/operations.md). Each
kind of client takes them in its own words: kafka-python (the consumers and admin client of
commands and connectors; welfare_watch/kafka.py turns the same options into librdkafka's for
their producers), aiokafka (the worker's side producers and consumers, the web app), Faust
(the worker) and redis-py. Called
without an `Environment`, a function reads this process's one: clients are made in many places
from a bootstrap address or a URL alone, and every one of them must get the same credentials.
Nothing here is ever logged.
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from welfare_watch.errors import ConfigError
from welfare_watch.settings import Environment

_SASL = ("SASL_PLAINTEXT", "SASL_SSL")
_TLS = ("SSL", "SASL_SSL")


def environment() -> Environment:
    """This process's environment (WW_* variables), or a ConfigError naming the bad key."""
    try:
        return Environment()
    except ValidationError as exc:
        error = exc.errors()[0]
        key = "WW_" + ".".join(str(part) for part in error["loc"]).upper()
        raise ConfigError(
            f"bad configuration key {key!r} in the environment: {error['msg']}"
        ) from None


def check(env: Environment) -> None:
    """Stop at start, naming the key, when the security settings cannot work together."""
    protocol = env.kafka_security_protocol
    if protocol in _SASL:
        for key, value in (
            ("WW_KAFKA_SASL_USERNAME", env.kafka_sasl_username),
            ("WW_KAFKA_SASL_PASSWORD", env.kafka_sasl_password),
        ):
            if not value:
                raise ConfigError(f"{key} is required with WW_KAFKA_SECURITY_PROTOCOL={protocol}")
    elif env.kafka_sasl_username or env.kafka_sasl_password:
        raise ConfigError(
            "WW_KAFKA_SASL_USERNAME/WW_KAFKA_SASL_PASSWORD are set, but "
            f"WW_KAFKA_SECURITY_PROTOCOL={protocol} uses no SASL: set SASL_SSL or SASL_PLAINTEXT"
        )
    if env.kafka_ca_file is not None:
        if protocol not in _TLS:
            raise ConfigError(
                f"WW_KAFKA_CA_FILE is set, but WW_KAFKA_SECURITY_PROTOCOL={protocol} uses no TLS"
            )
        if not env.kafka_ca_file.is_file():
            raise ConfigError(f"WW_KAFKA_CA_FILE: no such file {env.kafka_ca_file}")
    if env.redis_ca_file is not None:
        if not _redis_tls(env.redis_url):
            raise ConfigError(
                "WW_REDIS_CA_FILE is set, but WW_REDIS_URL does not use TLS "
                "(rediss:// or rediss+cluster://)"
            )
        if not env.redis_ca_file.is_file():
            raise ConfigError(f"WW_REDIS_CA_FILE: no such file {env.redis_ca_file}")
    if env.redis_username and not env.redis_password:
        raise ConfigError("WW_REDIS_USERNAME is set without WW_REDIS_PASSWORD")


def kafka_options(env: Environment | None = None) -> dict[str, Any]:
    """Keyword arguments for kafka-python's KafkaConsumer, KafkaProducer, KafkaAdminClient."""
    env = env or environment()
    protocol = env.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in _SASL:
        options.update(_sasl(env))
    if protocol in _TLS and env.kafka_ca_file is not None:
        options["ssl_cafile"] = str(env.kafka_ca_file)
    return options


def aiokafka_options(env: Environment | None = None) -> dict[str, Any]:
    """Keyword arguments for aiokafka's AIOKafkaProducer and AIOKafkaConsumer."""
    env = env or environment()
    protocol = env.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in _SASL:
        options.update(_sasl(env))
    if protocol in _TLS:
        options["ssl_context"] = _tls_context(env)
    return options


def faust_credentials(env: Environment) -> Any:
    """The Faust app's `broker_credentials`: None on a plain cluster."""
    import faust

    protocol = env.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return faust.SSLCredentials(_tls_context(env))
    sasl = _sasl(env)
    return faust.SASLCredentials(
        username=sasl["sasl_plain_username"],
        password=sasl["sasl_plain_password"],
        mechanism=sasl["sasl_mechanism"],
        ssl_context=_tls_context(env) if protocol == "SASL_SSL" else None,
    )


def redis_options(env: Environment | None = None, url: str | None = None) -> dict[str, Any]:
    """Keyword arguments for redis-py's clients (welfare_watch/redis_client.py): AUTH from
    WW_REDIS_USERNAME/WW_REDIS_PASSWORD, the CA for a `rediss://` URL. A password in the URL
    itself (redis://:secret@host) works too; the setting keeps it out of the URL."""
    env = env or environment()
    options: dict[str, Any] = {}
    if env.redis_password is not None:
        options["password"] = env.redis_password.get_secret_value()
        if env.redis_username:
            options["username"] = env.redis_username
    if env.redis_ca_file is not None and _redis_tls(url or env.redis_url):
        options["ssl_ca_certs"] = str(env.redis_ca_file)
    return options


def _sasl(env: Environment) -> dict[str, Any]:
    password = env.kafka_sasl_password
    return {
        "sasl_mechanism": env.kafka_sasl_mechanism,
        "sasl_plain_username": env.kafka_sasl_username or "",
        "sasl_plain_password": password.get_secret_value() if password else "",
    }


def _tls_context(env: Environment) -> ssl.SSLContext:
    """Verifies the brokers against the configured CA, else the system's."""
    cafile = str(env.kafka_ca_file) if env.kafka_ca_file is not None else None
    return ssl.create_default_context(cafile=cafile)


def _redis_tls(url: str) -> bool:
    return urlsplit(url.strip()).scheme in ("rediss", "rediss+cluster")
