"""`welfare-watch run`: several commands as one process group that starts and stops together."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Mapping
from types import FrameType


def run_group(commands: list[list[str]], env: Mapping[str, str] | None = None) -> None:
    """Start every command (with `env`, default this process's environment); when one exits
    or a signal comes, stop the others and return."""
    children = [subprocess.Popen(command, env=env) for command in commands]
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 30
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
