"""The embedded broker's generated configuration and the address it is given."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from stack import StackError
from stack.install import KAFKA_VERSION, POM
from stack.kafka import Listener, log4j2_xml, parse_bootstrap, server_properties


@pytest.mark.parametrize(
    ("bootstrap", "expected"),
    [
        ("localhost:9092", Listener("127.0.0.1", 9092)),
        ("127.0.0.1:19092", Listener("127.0.0.1", 19092)),
        (" localhost:9092 ", Listener("127.0.0.1", 9092)),
        ("PLAINTEXT://localhost:9092", Listener("127.0.0.1", 9092)),
        ("127.0.0.2:9000", Listener("127.0.0.2", 9000)),
    ],
)
def test_bootstrap_gives_the_loopback_listener(bootstrap: str, expected: Listener) -> None:
    assert parse_bootstrap(bootstrap) == expected


@pytest.mark.parametrize(
    ("bootstrap", "complaint"),
    [
        ("localhost:9092,localhost:9094", "runs one broker"),
        ("kafka.example.org:9092", "this machine only"),
        ("10.0.0.5:9092", "this machine only"),
        ("localhost", "must look like localhost:9092"),
        ("localhost:http", "must look like localhost:9092"),
        ("localhost:65535", "must look like localhost:9092"),  # the controller needs port + 1
        (":9092", "must look like localhost:9092"),
    ],
)
def test_bootstrap_the_stack_cannot_serve_is_refused(bootstrap: str, complaint: str) -> None:
    with pytest.raises(StackError, match=complaint) as raised:
        parse_bootstrap(bootstrap)
    assert "WW_KAFKA_BOOTSTRAP" in str(raised.value)
    assert "\n" not in str(raised.value)


def _properties(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_server_properties_make_one_combined_kraft_node() -> None:
    settings = _properties(server_properties(Listener("127.0.0.1", 19092), Path("/d/kafka/data")))
    assert settings["process.roles"] == "broker,controller"
    assert settings["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert settings["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert settings["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert settings["log.dirs"] == "/d/kafka/data"
    assert settings["num.partitions"] == "4"
    assert settings["group.initial.rebalance.delay.ms"] == "0"
    replication = {key: value for key, value in settings.items() if "replication.factor" in key}
    assert set(replication.values()) == {"1"}
    assert "offsets.topic.replication.factor" in replication
    assert settings["transaction.state.log.min.isr"] == "1"


def test_server_properties_escape_backslashes_in_the_data_path() -> None:
    text = server_properties(Listener("127.0.0.1", 9092), Path("/data/a\\b"))
    assert "log.dirs=/data/a\\\\b" in text


def test_log4j2_config_writes_server_log_under_the_logs_dir() -> None:
    root = ET.fromstring(log4j2_xml(Path('/tmp/we "ird" & <logs>')))
    appender = root.find("./Appenders/RollingFile")
    assert appender is not None
    assert appender.get("fileName") == '/tmp/we "ird" & <logs>/server.log'
    assert root.find("./Loggers/Root/AppenderRef") is not None


def test_pom_pins_the_kafka_version_the_code_expects() -> None:
    found = re.search(r"<kafka.version>(.+)</kafka.version>", POM.read_text())
    assert found is not None
    assert found.group(1) == KAFKA_VERSION
