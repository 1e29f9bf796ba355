"""install, up, down and status for the embedded Kafka and Redis together.

Redis is one server, or a three-node Redis Cluster (stack/redis_cluster.py) when `up` is asked
for one or WW_REDIS_URL (as given, or as `up --redis-cluster` recorded it) names one. One data
directory runs one of the two at a time; `down` stops whichever runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from stack import process
from stack.errors import StackError
from stack.install import install_kafka, install_prometheus, install_redis
from stack.kafka import Kafka
from stack.redis import Redis
from stack.redis_cluster import RedisCluster, RedisNode, forget, started_nodes
from welfare_watch.redis_client import is_cluster
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


def services(env: Environment, redis_cluster: bool = False) -> list[Service]:
    cluster = _cluster(env, redis_cluster)
    return [Kafka(env), *cluster.nodes] if cluster else [Kafka(env), Redis(env)]


def _cluster(env: Environment, asked: bool) -> RedisCluster | None:
    return RedisCluster(env) if asked or is_cluster(env.redis_url) else None


def _other_redis(env: Environment, cluster: RedisCluster | None) -> list[Service]:
    """Every Redis under this data directory that `up` with these settings would not start
    (the other kind, or a cluster on other ports): `up` refuses to run beside one, `down`
    stops it too."""
    ours = {node.config for node in cluster.nodes} if cluster else set()
    others: list[Service] = [node for node in started_nodes(env) if node.config not in ours]
    if cluster is not None:
        others.append(cluster.single)
    return others


def _check_alone(env: Environment, cluster: RedisCluster | None) -> None:
    for other in _other_redis(env, cluster):
        pid = process.running_pid(other.pid_file, other.config)
        if pid is not None:
            kind = "a Redis Cluster" if isinstance(other, RedisNode) else "the single Redis"
            raise StackError(
                f"{kind} of {env.data_dir} is running ({other.name}, pid {pid}); "
                "run `welfare-watch stack down` first"
            )


def install(env: Environment, log: Log = print) -> None:
    """Download Kafka's jars (once), install redis-server and prometheus (once); fast when
    all are there."""
    install_kafka(log)
    install_redis(log)
    install_prometheus(log)  # for the monitoring tests only


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
        if not process.wait_port_free(service.host, port):
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
    code = process.exit_code(pid, wait=2.0)
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


def up(
    env: Environment, log: Log = print, timeout: float = 90, redis_cluster: bool = False
) -> None:
    """Start whatever is not running yet and wait until all answer; running ones are kept.
    With `redis_cluster`, Redis is a three-master cluster, created once and then recorded."""
    deadline = time.monotonic() + timeout
    cluster = _cluster(env, redis_cluster)
    _check_alone(env, cluster)
    plan: dict[Service, int | None] = {}
    for service in services(env, redis_cluster):
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
        if cluster is not None:
            cluster.form(log, deadline)
    except BaseException:
        process.stop(started)  # a failed `up` leaves nothing of its own behind
        for service, pid in waiting.items():
            if pid in started:
                service.pid_file.unlink(missing_ok=True)
        raise


def down(env: Environment, log: Log = print) -> None:
    """Stop what `up` started, by its recorded pid; fine when nothing runs."""
    stopping: dict[Service, int] = {}
    cluster = _cluster(env, False)
    for service in services(env):
        pid = process.read_pid(service.pid_file)
        if pid is not None and process.is_ours(pid, service.config):
            stopping[service] = pid
            continue
        service.pid_file.unlink(missing_ok=True)
        log(f"{service.name}: not running")
    for other in _other_redis(env, cluster):  # started under another WW_REDIS_URL
        pid = process.running_pid(other.pid_file, other.config)
        if pid is not None:
            stopping[other] = pid
    killed = process.stop(stopping.values())
    for service, pid in stopping.items():
        service.pid_file.unlink(missing_ok=True)
        how = f"killed after {process.STOP_GRACE_SECONDS:g} s" if pid in killed else "stopped"
        log(f"{service.name}: {how} (pid {pid})")
    forget(env)  # the commands that follow no longer use the cluster


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
    for other in _other_redis(env, _cluster(env, False)):
        pid = process.running_pid(other.pid_file, other.config)
        if pid is not None:  # started under another WW_REDIS_URL
            detail = f"not the Redis WW_REDIS_URL names; `stack down` stops it; log {other.logs[0]}"
            report.append(ServiceStatus(other.name, True, pid, other.address, detail))
    return report
