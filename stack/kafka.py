"""The embedded Kafka broker: one KRaft node, broker and controller in a single JVM."""

from __future__ import annotations

import contextlib
import logging
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from xml.sax.saxutils import quoteattr

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from stack.errors import StackError
from stack.install import KAFKA_VERSION, find_java, kafka_installed, kafka_lib
from stack.process import accepts, last_meaningful, loopback_host
from welfare_watch.settings import Environment

SETTING = "WW_KAFKA_BOOTSTRAP"
HEAP = ("-Xmx512m", "-Xms256m")
# What kafka-server-start.sh passes besides the heap (KAFKA_JVM_PERFORMANCE_OPTS).
JVM_OPTIONS = (
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)


@dataclass(frozen=True)
class Listener:
    """Where the broker listens: clients on `port`, the KRaft controller on `port + 1`."""

    host: str
    port: int

    @property
    def controller_port(self) -> int:
        return self.port + 1

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def parse_bootstrap(bootstrap: str) -> Listener:
    """The listener for WW_KAFKA_BOOTSTRAP, e.g. 'localhost:9092' → 127.0.0.1:9092."""
    value = bootstrap.strip()
    if "," in value:
        raise StackError(f"{SETTING} is {bootstrap!r}, but the embedded stack runs one broker")
    host, _, port_text = value.removeprefix("PLAINTEXT://").rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65535:
        raise StackError(f"{SETTING} is {bootstrap!r}; it must look like localhost:9092")
    return Listener(loopback_host(host, SETTING, bootstrap), int(port_text))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\")


def server_properties(listener: Listener, data: Path) -> str:
    """server.properties for a single combined broker+controller node."""
    plain = f"{listener.host}:{listener.port}"
    controller = f"{listener.host}:{listener.controller_port}"
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{controller}",
        "listeners": f"PLAINTEXT://{plain},CONTROLLER://{controller}",
        "advertised.listeners": f"PLAINTEXT://{plain}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": _escape(str(data)),
        "num.partitions": "4",
        "auto.create.topics.enable": "true",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        # One node: every internal topic has one replica.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Consumer groups in tests start at once instead of waiting 3 s for more members.
        "group.initial.rebalance.delay.ms": "0",
    }
    lines = ["# Written by `welfare-watch stack up` on every start; edit the code, not this."]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def log4j2_xml(logs: Path) -> str:
    """Log4j2 configuration: the broker's log goes to logs/server.log, rolled at 20 MB."""
    server_log = quoteattr(str(logs / "server.log"))
    rolled = quoteattr(str(logs / "server.log.%i"))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by `welfare-watch stack up` on every start. -->
<Configuration status="warn" shutdownHook="disable">
  <Appenders>
    <RollingFile name="server" fileName={server_log} filePattern={rolled}>
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <Policies><SizeBasedTriggeringPolicy size="20 MB"/></Policies>
      <DefaultRolloverStrategy max="5"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="info"><AppenderRef ref="server"/></Root>
    <Logger name="kafka.request.logger" level="warn"/>
    <Logger name="state.change.logger" level="warn"/>
  </Loggers>
</Configuration>
"""


@contextlib.contextmanager
def _client_logs_silenced() -> Iterator[None]:
    """kafka-python reports every connection at INFO; polling for readiness should not."""
    logger = logging.getLogger("kafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


class Kafka:
    """The broker as a service that `up`, `down` and `status` manage."""

    name = "Kafka"
    setting = SETTING

    def __init__(self, env: Environment) -> None:
        self.listener = parse_bootstrap(env.kafka_bootstrap)
        self.home = env.data_dir.expanduser().resolve() / "kafka"
        self.data = self.home / "data"
        self.logs_dir = self.home / "logs"
        self.config = self.home / "server.properties"  # its path marks our JVM's command line
        self.log4j = self.home / "log4j2.xml"
        self.pid_file = self.home / "kafka.pid"
        self.output = self.logs_dir / "kafka.out"
        self.logs: tuple[Path, ...] = (self.logs_dir / "server.log", self.output)
        self.host, self.port = self.listener.host, self.listener.port
        self.address = self.listener.address
        controller = f" (Kafka's controller port, next to {self.port})"
        self.ports = {self.port: "", self.listener.controller_port: controller}

    def missing(self) -> str | None:
        if kafka_installed():
            return None
        return (
            f"Kafka {KAFKA_VERSION} is not installed in {kafka_lib()}; "
            "run `welfare-watch stack install`"
        )

    def files(self) -> dict[Path, str]:
        return {
            self.config: server_properties(self.listener, self.data),
            self.log4j: log4j2_xml(self.logs_dir),
        }

    @cached_property
    def java(self) -> str:
        return find_java()

    def _java(self, main: str, *arguments: str) -> list[str]:
        return [
            self.java,
            f"-Dlog4j2.configurationFile={self.log4j}",
            f"-XX:ErrorFile={self.logs_dir / 'hs_err_pid%p.log'}",
            "-cp",
            f"{kafka_lib()}/*",
            main,
            *arguments,
        ]

    def _storage_tool(self, *arguments: str) -> str:
        command = self._java("kafka.tools.StorageTool", *arguments)
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            reason = last_meaningful((result.stdout + result.stderr).splitlines())
            raise StackError(f"formatting Kafka's storage in {self.data} failed: {reason}")
        return result.stdout.strip()

    def prepare(self, log: Callable[[str], None]) -> None:
        """Format the storage on first start; the cluster id stays in data/meta.properties."""
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        if (self.data / "meta.properties").exists():
            return
        cluster_id = self._storage_tool("random-uuid").splitlines()[-1]
        self._storage_tool("format", "-t", cluster_id, "-c", str(self.config))
        log(f"Kafka: formatted {self.data} (cluster id {cluster_id})")

    def command(self) -> list[str]:
        java, *rest = self._java("kafka.Kafka", str(self.config))
        return [java, *HEAP, *JVM_OPTIONS, *rest]

    def ready(self) -> bool:
        """Ready when a metadata request succeeds, not merely when the port opens."""
        if not accepts(self.host, self.port):
            return False
        with _client_logs_silenced():
            try:
                client = KafkaAdminClient(
                    bootstrap_servers=self.address,
                    client_id="welfare-watch-stack",
                    request_timeout_ms=3000,
                    bootstrap_timeout_ms=3000,
                )
            except (KafkaError, OSError):
                return False
            try:
                client.list_topics()
            except (KafkaError, OSError):
                return False
            finally:
                client.close()
        return True
