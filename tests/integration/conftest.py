"""The real embedded Kafka and Redis, started once per test run on ports of their own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from alerts.model import Alert
from alerts.query import all_alerts
from welfare_watch import redis_client
from welfare_watch.settings import REPO_ROOT

WW = str(Path(sys.executable).parent / "welfare-watch")
AS_OF = "2026-11-28"

# Apart from the default ports, so a demo stack on this machine is left alone. Two test runs on
# one machine each set WW_TEST_KAFKA, WW_TEST_REDIS and WW_TEST_DATA_DIR to their own. Under
# pytest-xdist (`make test` runs `-n 2`) each process has a stack of its own: process gwN's
# ports are N * 1000 above those, and its data in a folder of its own.
_XDIST = os.environ.get("PYTEST_XDIST_WORKER", "")
_SHIFT = int(_XDIST.removeprefix("gw")) * 1000 if _XDIST.startswith("gw") else 0


def _shifted(url: str) -> str:
    parts = urlsplit(url if "//" in url else f"//{url}")
    moved = parts._replace(netloc=f"{parts.hostname}:{(parts.port or 0) + _SHIFT}")
    return urlunsplit(moved).removeprefix("//")


TEST_ENV = {
    "WW_KAFKA_BOOTSTRAP": _shifted(os.environ.get("WW_TEST_KAFKA", "127.0.0.1:29092")),
    "WW_REDIS_URL": _shifted(os.environ.get("WW_TEST_REDIS", "redis://127.0.0.1:26379/0")),
    "WW_DATA_DIR": os.environ.get("WW_TEST_DATA_DIR", str(REPO_ROOT / ".data" / "test"))
    + (f"-{_XDIST}" if _XDIST else ""),
    "WW_AS_OF": AS_OF,
}
# WW_TEST_REDIS_CLUSTER=1: Redis is a three-master Redis Cluster (`stack up --redis-cluster`) on
# WW_TEST_REDIS's port and the two after it, and the tests reach it by its cluster URL.
REDIS_CLUSTER = os.environ.get("WW_TEST_REDIS_CLUSTER", "") not in ("", "0")
if REDIS_CLUSTER:
    _first = urlsplit(TEST_ENV["WW_REDIS_URL"])
    TEST_ENV["WW_REDIS_URL"] = f"redis+cluster://{_first.hostname}:{_first.port or 6379}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


class Cli:
    """Runs `welfare-watch` as a user would, against the test stack."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, check: bool = True, timeout: float = 180) -> str:
        done = subprocess.run(
            [WW, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"welfare-watch {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def worker(self, log: Path) -> Worker:
        return Worker(self.env, log)


class Worker:
    """A worker process that a test can start, stop, or kill in the middle of its work."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [WW, "worker"], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no final offset commit."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.process = None


@pytest.fixture(scope="session")
def stack_env() -> Iterator[dict[str, str]]:
    env = {**os.environ, **TEST_ENV}
    if os.environ.get("WW_TEST_USE_RUNNING"):  # a stack you started yourself at those addresses
        yield env
        return
    cli = Cli(env)
    cli("stack", "up", *(["--redis-cluster"] if REDIS_CLUSTER else []), timeout=300)
    yield env
    if not os.environ.get("WW_KEEP_TEST_STACK"):
        cli("stack", "down", check=False)


@pytest.fixture()
def ww(stack_env: dict[str, str]) -> Cli:
    """A clean slate: every topic and key deleted before the test."""
    cli = Cli(stack_env)
    cli("reset", "--yes")
    return cli


@pytest.fixture()
def worker(ww: Cli, tmp_path: Path) -> Iterator[Worker]:
    running = ww.worker(tmp_path / "worker.log")
    yield running
    running.stop()


def stored_alerts(env: dict[str, str]) -> list[Alert]:
    return all_alerts(redis_client.connect(env["WW_REDIS_URL"]))
