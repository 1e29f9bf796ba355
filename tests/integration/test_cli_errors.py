"""User errors from the command line: one line that says what to do, never a stack trace."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import WW

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


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        pytest.param(
            ["ingest", "psb_deaths", str(SAMPLES / "psb_deaths.csv")],
            {"WW_KAFKA_BOOTSTRAP": "127.0.0.1:1"},
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
