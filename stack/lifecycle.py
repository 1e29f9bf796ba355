"""install, up, down and status for the embedded Kafka and Redis together."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from stack import process
from stack.errors import StackError
from stack.install import install_kafka, install_redis
from stack.kafka import Kafka
from stack.redis import Redis
from welfare_watch.settings import Environment

Log = Callable[[str], None]


class Service(Protocol):
    """What `up`, `down` and `status` need to know about Kafka or Redis."""

    name: str
    setting: str  # the WW_* variable that sets its address
    host: str  # the loopback address it binds
    port: int  # the port clients use
    address: str  # host:port
    ports: dict[int, str]  # every port it binds → how to name that port in an error
    config: Path  # the generated config file; its path on a command line marks our process
    pid_file: Path
    output: Path  # where its stdout and stderr go
    logs: tuple[Path, ...]  # where to look when it fails; the first is the one to read

    def missing(self) -> str | None: ...
    def files(self) -> dict[Path, str]: ...
    def prepare(self, log: Log) -> None: ...
    def command(self) -> list[str]: ...
    def ready(self) -> bool: ...


@dataclass(frozen=True)
class ServiceStatus:
    """One line of `welfare-watch stack status`."""

    name: str
    running: bool
    pid: int | None
    address: str
    detail: str


def services(env: Environment) -> list[Service]:
    return [Kafka(env), Redis(env)]


def install(env: Environment, log: Log = print) -> None:
    """Download Kafka's jars (once) and install redis-server (once); fast when both are there."""
    install_kafka(log)
    install_redis(log)


def _settings_changed(service: Service) -> bool:
    for path, text in service.files().items():
        if not path.exists() or path.read_text() != text:
            return True
    return False


def _check_can_start(service: Service) -> None:
    """Everything that must hold before anything is started, so a failing `up` starts nothing."""
    problem = service.missing()
    if problem:
        raise StackError(problem)
    for port, what in service.ports.items():
        if not process.port_free(service.host, port):
            raise StackError(
                f"port {port}{what} is already in use by another process "
                f"(not welfare-watch's {service.name}); stop it or set {service.setting}"
            )


def _start(service: Service, log: Log) -> int:
    for path, text in service.files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    service.prepare(log)
    pid = process.spawn(service.command(), service.output)
    service.pid_file.write_text(f"{pid}\n")
    log(f"{service.name}: starting on {service.address} (pid {pid})")
    return pid


def _died(service: Service, pid: int, sizes: dict[Path, int]) -> StackError:
    code = process.exit_code(pid)
    what = f"{service.name} exited during start-up"
    what += f" with exit code {code}" if code is not None else ""
    for log_file in service.logs:  # the first log it wrote to since it started tells why
        reason = process.last_meaningful(process.new_lines({log_file: sizes.get(log_file, 0)}))
        if reason:
            return StackError(f"{what}: {reason}; see {log_file}")
    return StackError(f"{what}; see {service.logs[0]}")


def _wait_ready(
    waiting: dict[Service, int], sizes: dict[Path, int], deadline: float, log: Log
) -> tuple[Service, int] | None:
    """Wait until every service answers; the first one still silent at the deadline, if any."""
    pending = dict(waiting)
    while pending:
        for service, pid in list(pending.items()):
            if not process.alive(pid):
                raise _died(service, pid, sizes)
            if service.ready():
                log(f"{service.name}: ready on {service.address}")
                del pending[service]
        if pending and time.monotonic() > deadline:
            return next(iter(pending.items()))
        if pending:
            time.sleep(0.25)
    return None


def up(env: Environment, log: Log = print, timeout: float = 90) -> None:
    """Start whatever is not running yet and wait until both answer; running ones are kept."""
    deadline = time.monotonic() + timeout
    plan: dict[Service, int | None] = {}
    for service in services(env):
        pid = process.running_pid(service.pid_file, service.config)
        if pid is None:
            _check_can_start(service)
        elif _settings_changed(service):
            raise StackError(
                f"{service.name} is already running (pid {pid}) with other settings than "
                f"{service.setting} now gives; run `welfare-watch stack down` first"
            )
        plan[service] = pid
    started: list[int] = []
    waiting: dict[Service, int] = {}
    sizes = process.log_sizes(path for service in plan for path in service.logs)
    try:
        for service, pid in plan.items():
            if pid is None:
                service.pid_file.unlink(missing_ok=True)
                pid = _start(service, log)
                started.append(pid)
            else:
                log(f"{service.name}: already running on {service.address} (pid {pid})")
            waiting[service] = pid
        late = _wait_ready(waiting, sizes, deadline, log)
        if late:
            service, pid = late
            stopped = " and was stopped" if pid in started else ""
            raise StackError(
                f"{service.name} was not ready on {service.address} within {timeout:g} s"
                f"{stopped}; see {service.logs[0]} (a slow machine may need a longer timeout)"
            )
    except BaseException:
        process.stop(started)  # a failed `up` leaves nothing of its own behind
        for service, pid in waiting.items():
            if pid in started:
                service.pid_file.unlink(missing_ok=True)
        raise


def down(env: Environment, log: Log = print) -> None:
    """Stop what `up` started, by its recorded pid; fine when nothing runs."""
    stopping: dict[Service, int] = {}
    for service in services(env):
        pid = process.read_pid(service.pid_file)
        if pid is not None and process.is_ours(pid, service.config):
            stopping[service] = pid
            continue
        service.pid_file.unlink(missing_ok=True)
        log(f"{service.name}: not running")
    killed = process.stop(stopping.values())
    for service, pid in stopping.items():
        service.pid_file.unlink(missing_ok=True)
        how = f"killed after {process.STOP_GRACE_SECONDS:g} s" if pid in killed else "stopped"
        log(f"{service.name}: {how} (pid {pid})")


def _stopped_detail(service: Service) -> str:
    problem = service.missing()
    if problem:
        return problem
    taken = [port for port in service.ports if not process.port_free(service.host, port)]
    if taken:
        return f"stopped; port {taken[0]} is in use by another process"
    return "stopped"


def status(env: Environment) -> list[ServiceStatus]:
    """Each service: running or not, its pid and address, and a word on its state."""
    report = []
    for service in services(env):
        pid = process.running_pid(service.pid_file, service.config)
        if pid is None:
            detail = _stopped_detail(service)
        else:
            listening = process.accepts(service.host, service.port)
            detail = f"{'listening' if listening else 'starting'}; log {service.logs[0]}"
        report.append(ServiceStatus(service.name, pid is not None, pid, service.address, detail))
    return report
