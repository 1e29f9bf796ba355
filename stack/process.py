"""Pid files, ports, detached processes and their logs: the plumbing both services share."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import signal
import socket
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from stack.errors import StackError

STOP_GRACE_SECONDS = 20.0


def loopback_host(host: str, setting: str, value: str) -> str:
    """The IPv4 loopback address to bind for `host`; anything else is not ours to run."""
    if host == "localhost":
        return "127.0.0.1"
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(host)
        if address.version == 4 and address.is_loopback:
            return host
    raise StackError(
        f"{setting} is {value!r}, but the embedded stack runs on this machine only; "
        "use localhost or 127.0.0.1 there"
    )


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port (a socket in TIME_WAIT does not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


_TIME_WAIT = "06"  # the state column of /proc/net/tcp


def held_by_ended_connections(port: int) -> bool:
    """True when only TIME_WAIT sockets hold local `port`: connections that ended (a client's
    ephemeral port, on a busy machine) and block a listener for at most a minute more."""
    states = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rpartition(":")[2], 16) == port:
                    states.append(fields[3])
    return bool(states) and all(state == _TIME_WAIT for state in states)


def wait_port_free(host: str, port: int, timeout: float = 65.0) -> bool:
    """True once nothing listens on host:port, waiting while only ended connections hold it."""
    deadline = time.monotonic() + timeout
    while not port_free(host, port):
        if not held_by_ended_connections(port) or time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


_exit_codes: dict[int, int] = {}  # children of this process that ended, as reaped


def _reap(pid: int) -> None:
    """Collect the exit status if `pid` is our own child and has ended, so no zombie stays."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return
    if done:
        _exit_codes[pid] = os.waitstatus_to_exitcode(status)


def _state(pid: int) -> str | None:
    """The process's state letter (R, S, Z, ...), or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[0]


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    _reap(pid)
    return _state(pid) not in (None, "Z")


def is_ours(pid: int, marker: Path) -> bool:
    """True when `pid` is alive and was started with `marker` (our config file) as an argument."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return os.fsencode(marker) in argv and alive(pid)


def running_pid(pid_file: Path, marker: Path) -> int | None:
    """The pid recorded in `pid_file` if that process is still ours, else None."""
    pid = read_pid(pid_file)
    return pid if pid is not None and is_ours(pid, marker) else None


def spawn(argv: Sequence[str], output: Path) -> int:
    """Start `argv` detached in its own session, stdout and stderr appended to `output`."""
    output.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        pid = os.posix_spawn(
            argv[0],
            list(argv),
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, fd, 1),
                (os.POSIX_SPAWN_DUP2, fd, 2),
            ],
            setsid=True,  # a Ctrl-C in the terminal that ran `up` must not reach the service
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),  # Python ignores these; services must not
        )
    finally:
        os.close(fd)
    _exit_codes.pop(pid, None)  # a recycled pid
    return pid


def exit_code(pid: int, wait: float = 0.0) -> int | None:
    """The exit code of `pid` once it has ended, if it was started by this process, waiting up
    to `wait` seconds for it: a process of many threads (a JVM) shows as a zombie while its
    other threads are still exiting, and only then can its status be collected."""
    deadline = time.monotonic() + wait
    _reap(pid)
    while pid not in _exit_codes and time.monotonic() < deadline and _state(pid) == "Z":
        time.sleep(0.02)
        _reap(pid)
    return _exit_codes.get(pid)


def stop(pids: Iterable[int], grace: float = STOP_GRACE_SECONDS) -> set[int]:
    """SIGTERM each process, wait up to `grace` seconds, SIGKILL the rest; the pids killed."""
    waiting = set(pids)
    for pid in waiting:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while waiting and time.monotonic() < deadline:
        waiting = {pid for pid in waiting if alive(pid)}
        if waiting:
            time.sleep(0.1)
    for pid in waiting:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # its session is its own: take its children too
    kill_deadline = time.monotonic() + 5
    while any(alive(pid) for pid in waiting) and time.monotonic() < kill_deadline:
        time.sleep(0.05)
    return waiting


def log_sizes(paths: Iterable[Path]) -> dict[Path, int]:
    """How long each log is now, so that only what a new process writes is read later."""
    return {path: path.stat().st_size if path.exists() else 0 for path in paths}


def new_lines(sizes: dict[Path, int]) -> list[str]:
    """The lines appended to the logs since `log_sizes` measured them."""
    lines: list[str] = []
    for path, size in sizes.items():
        with contextlib.suppress(OSError), path.open("rb") as handle:
            handle.seek(size)
            lines += handle.read().decode(errors="replace").splitlines()
    return lines


_STACK_FRAME = re.compile(r"^(at |\.\.\. \d+ (more|common frames omitted))")
_EXCEPTION = re.compile(r"^(Caused by: )?[\w.$]+(Exception|Error)\b(:.*)?$")


def last_meaningful(lines: Sequence[str]) -> str | None:
    """What a failed process said last about why: its last exception line, else its last line."""
    kept = [line.strip() for line in lines if line.strip()]
    kept = [line for line in kept if not _STACK_FRAME.match(line)]
    exceptions = [line for line in kept if _EXCEPTION.match(line)]
    chosen = exceptions[-1] if exceptions else (kept[-1] if kept else None)
    return None if chosen is None else shorten(chosen)


def shorten(line: str, limit: int = 240) -> str:
    """A long error line cut to its last clauses, which are the ones that name the cause."""
    line = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
    if len(line) <= limit:
        return line
    clauses = line.split(": ")
    tail = clauses.pop()
    while clauses and len(clauses[-1]) + len(tail) + 2 <= limit - 1:
        tail = f"{clauses.pop()}: {tail}"
    if len(tail) > limit - 1:  # one long sentence: its start says the most
        return tail[: limit - 1].rstrip() + "…"
    return "…" + tail
