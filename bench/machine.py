"""What the figures were measured on: the machine and the code."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path

from welfare_watch.settings import REPO_ROOT


def _first(path: str, pattern: str) -> str:
    try:
        found = re.search(pattern, Path(path).read_text(), re.MULTILINE)
    except OSError:
        return ""
    return found.group(1).strip() if found else ""


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def describe() -> dict[str, object]:
    memory_kb = _first("/proc/meminfo", r"^MemTotal:\s+(\d+) kB")
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(int(memory_kb) / 2**20, 1) if memory_kb else None,
        "cpu": _first("/proc/cpuinfo", r"^model name\s*:(.*)$"),
        "python": platform.python_version(),
        "kernel": platform.release(),
        # the machine may be shared: others' work at the start slows every step
        "load_average_at_start": os.getloadavg(),
        "commit": _git("rev-parse", "HEAD"),
        "uncommitted_changes": bool(_git("status", "--porcelain")),
    }
