"""The parts of welfare-watch as the benchmark runs them: commands, long-running processes, and
the wait for the worker to catch up."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from welfare_watch.errors import WelfareWatchError
from welfare_watch.progress import outstanding
from welfare_watch.settings import Settings

WW = str(Path(sys.executable).parent / "welfare-watch")
Log = Callable[[str], None]


class BenchError(WelfareWatchError):
    """A step of the benchmark failed; the message says which and why."""


def ww(
    env: Mapping[str, str], *args: str, timeout: float = 3600, ok: tuple[int, ...] = (0,)
) -> str:
    """Run one `welfare-watch` command to its end; its stdout, or BenchError with its stderr
    when its exit code is not one of `ok`."""
    try:
        done = subprocess.run(
            [WW, *args], env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"welfare-watch {args[0]} did not finish within {timeout:.0f} s") from None
    if done.returncode not in ok:
        raise BenchError(
            f"welfare-watch {' '.join(args[:2])} failed (exit {done.returncode}): "
            f"{done.stderr.strip()[-1500:]}"
        )
    return done.stdout


def timed(
    env: Mapping[str, str], *args: str, timeout: float = 3600, ok: tuple[int, ...] = (0,)
) -> tuple[str, float]:
    started = time.monotonic()
    output = ww(env, *args, timeout=timeout, ok=ok)
    return output, time.monotonic() - started


class Service:
    """One long-running part (`worker`, `connectors`, `web`) with its output in a log file."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self._args = args
        self._env = dict(env)
        self.log = log
        self._process: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise BenchError(f"{self.name} is not running")
        return self._process.pid

    def start(self) -> Service:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._out = self.log.open("ab")
        self._process = subprocess.Popen(  # in the log's folder: faust's data folder goes there
            [WW, *self._args],
            env=self._env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            cwd=self.log.parent,
        )
        return self

    def check_alive(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            raise BenchError(
                f"{self.name} exited with code {self._process.returncode}; see {self.log}"
            )

    def peak_rss(self) -> int:
        """The process's peak resident memory so far in bytes (VmHWM); 0 if unknown."""
        return peak_rss_of(self.pid)

    def stop(self, grace: float = 30) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds; fine when it already ended."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=grace)
        if self._out is not None:
            self._out.close()
            self._out = None


def peak_rss_of(pid: int) -> int:
    """VmHWM of a running process from /proc (Linux), in bytes; 0 when it cannot be read."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else 0


def wait_caught_up(
    settings: Settings, timeout: float, alive: Callable[[], None] = lambda: None
) -> float:
    """What `welfare-watch wait` does, in this process (no interpreter start in the timing):
    poll until nothing is outstanding. Returns the seconds waited; BenchError on time-out."""
    started = time.monotonic()
    while True:
        left = outstanding(settings)
        if left.total == 0:
            return time.monotonic() - started
        alive()
        if time.monotonic() - started > timeout:
            raise BenchError(f"not caught up after {timeout:.0f} s: {left.describe()}")
        time.sleep(0.25)
