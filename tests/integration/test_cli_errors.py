"""User errors from the command line: one line that says what to do, never a stack trace."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import WW, Cli
from tests.integration.redis_state import settings_of
from welfare_watch import kafka, names

SAMPLES = Path(__file__).parent.parent / "data" / "samples"


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WW, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", [["ingest", "psb_deaths"], ["roster", "load"]])
def test_a_command_that_sends_waits_for_kafka_then_says_so(command: list[str]) -> None:
    """A broker restarting is waited for (WW_KAFKA_WAIT), said at once; past it, one line."""
    sample = SAMPLES / ("psb_deaths.csv" if command[0] == "ingest" else "roster.csv")
    done = run(*command, str(sample), WW_KAFKA_BOOTSTRAP="127.0.0.1:1", WW_KAFKA_WAIT="3")
    assert done.returncode == 1
    first, *_, last = done.stderr.strip().splitlines()
    assert first == (
        "welfare-watch: Kafka at 127.0.0.1:1 is not answering; waiting up to 3 s (WW_KAFKA_WAIT)"
    )
    assert last.startswith("welfare-watch: cannot reach Kafka at 127.0.0.1:1")


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        pytest.param(
            ["ingest", "psb_deaths", str(SAMPLES / "psb_deaths.csv")],
            {"WW_KAFKA_BOOTSTRAP": "127.0.0.1:1", "WW_KAFKA_WAIT": "0"},
            "cannot reach Kafka at 127.0.0.1:1",
            id="kafka unreachable",
        ),
        pytest.param(
            ["alerts", "list"],
            {"WW_REDIS_URL": "redis://127.0.0.1:1/0"},
            "cannot reach Redis at redis://127.0.0.1:1/0",
            id="redis unreachable",
        ),
        pytest.param(
            ["ingest", "psb_deaths", "/nonexistent.csv"], {}, "no such file", id="missing file"
        ),
        pytest.param(
            ["ingest", "no_such_feed", str(SAMPLES / "psb_deaths.csv")],
            {},
            "unknown feed 'no_such_feed'",
            id="unknown feed",
        ),
        pytest.param(["alerts", "list"], {"WW_AS_OF": "2026-13-01"}, "WW_AS_OF", id="bad setting"),
    ],
)
def test_one_line_error(args: list[str], env: dict[str, str], says: str) -> None:
    done = run(*args, **env)
    assert done.returncode == 1
    assert says in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_worker_whose_inputs_are_not_co_partitioned_does_not_start(ww: Cli) -> None:
    """ww.recheck made with fewer partitions than the other inputs: a person's re-checks
    would reach another worker than their facts."""
    settings = settings_of(ww)
    bootstrap = settings.env.kafka_bootstrap
    kafka.ensure_topics(bootstrap, [names.RECHECK], 1)
    done = subprocess.run(
        [WW, "worker"], env=ww.env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()[-1:]
    assert line.startswith("welfare-watch: the worker's input topics must all have")
    assert "ww.recheck=1" in line
