"""Where the benchmark runs: its own embedded stack on its own ports and data directory, unless
WW_KAFKA_BOOTSTRAP / WW_REDIS_URL name one the user runs."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import stack
from bench.procs import BenchError, Log
from welfare_watch.settings import REPO_ROOT, Settings

KAFKA = "127.0.0.1:39092"  # its controller takes 39093
REDIS = "redis://127.0.0.1:39379/0"
WEB_PORT = 39080
DATA_DIR = REPO_ROOT / ".data" / "bench"
# The day the simulated city is judged on (as the integration tests): the same city and the
# same expected alerts on every run, whatever the date.
AS_OF = dt.date(2026, 11, 28)
# Another process's /metrics port would clash with the parts the benchmark starts.
_DROPPED = ("WW_METRICS_PORT",)


@dataclass(frozen=True)
class BenchEnv:
    """The environment every part is started with, and the same settings in this process."""

    env: dict[str, str]
    settings: Settings
    data_dir: Path
    own_stack: bool  # started here (and stopped at the end), or the user's

    @property
    def kafka(self) -> str:
        return self.settings.env.kafka_bootstrap

    @property
    def redis_url(self) -> str:
        return self.settings.env.redis_url


def bench_env(data_dir: Path = DATA_DIR, as_of: dt.date = AS_OF) -> BenchEnv:
    given = os.environ
    named = [k for k in ("WW_KAFKA_BOOTSTRAP", "WW_REDIS_URL") if k in given]
    if len(named) == 1:
        raise BenchError(
            f"only {named[0]} is set: set both WW_KAFKA_BOOTSTRAP and WW_REDIS_URL (a stack you "
            "run), or neither (the benchmark starts its own)"
        )
    own = not named
    env = {k: v for k, v in given.items() if k not in _DROPPED}
    env.setdefault("WW_KAFKA_BOOTSTRAP", KAFKA)
    env.setdefault("WW_REDIS_URL", REDIS)
    env["WW_DATA_DIR"] = str(data_dir)
    env["WW_AS_OF"] = as_of.isoformat()
    env.setdefault("WW_SECRET_KEY", secrets.token_hex(32))  # the web app and `token issue`
    settings = Settings.load(
        kafka_bootstrap=env["WW_KAFKA_BOOTSTRAP"],
        redis_url=env["WW_REDIS_URL"],
        data_dir=data_dir,
        as_of=as_of,
    )
    return BenchEnv(env, settings, data_dir, own)


def up(bench: BenchEnv, log: Log) -> None:
    if bench.own_stack:
        stack.up(bench.settings.env, log=log)
    else:
        log(f"bench: using the stack at {bench.kafka} and {bench.redis_url}, as set")


def down(bench: BenchEnv, log: Log) -> None:
    if bench.own_stack:
        stack.down(bench.settings.env, log=log)
