"""The embedded Redis Cluster: three masters from Debian's redis-server, joined once by redis-cli.

`stack up --redis-cluster` runs the nodes on the port WW_REDIS_URL names and the two after it
(the cluster bus on each port + 10000), each with its own data and nodes.conf under
WW_DATA_DIR/redis-cluster/PORT/. Once every node says cluster_state:ok, the cluster's URL is
recorded (welfare_watch.settings.stack_redis_record), so every command run with that data
directory uses it; `stack down` deletes the record. nodes.conf is kept: a restart rejoins the
cluster the nodes already form, it never creates a second one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import redis

from stack import process
from stack.errors import StackError
from stack.redis import SETTING, Redis, RedisAddress, parse_redis_url, redis_conf
from welfare_watch.redis_client import is_cluster
from welfare_watch.settings import Environment, stack_redis_record

NODES = 3
SLOTS = 16384
BUS_OFFSET = 10000  # Redis's default: each node's cluster bus listens on its port + 10000

Log = Callable[[str], None]


def cluster_address(url: str) -> RedisAddress:
    """The first node's address for WW_REDIS_URL, `redis+cluster://localhost:PORT` or a plain
    `redis://localhost:PORT/0`; the other nodes take the ports after it."""
    parts = urlsplit(url.strip())
    plain = url
    if parts.scheme == "redis+cluster" and "," not in parts.netloc:
        plain = urlunsplit(("redis", parts.netloc, "", "", ""))
    elif is_cluster(url):
        raise StackError(
            f"{SETTING} is {url!r}; the embedded cluster is named by one node, "
            "redis+cluster://localhost:PORT (no TLS)"
        )
    try:
        first = parse_redis_url(plain)
    except StackError as exc:
        raise StackError(str(exc).replace(repr(plain), repr(url))) from None
    last_bus = first.port + NODES - 1 + BUS_OFFSET
    if last_bus > 65535:
        raise StackError(
            f"{SETTING} is {url!r}; a cluster there would need port {last_bus} for its bus: "
            f"give a port of at most {65535 - BUS_OFFSET - NODES + 1}"
        )
    return first


def cluster_url(first: RedisAddress) -> str:
    """What clients are given: the first node, from which they learn the others."""
    auth = f":{quote(first.password, safe='')}@" if first.password else ""
    return f"redis+cluster://{auth}{first.address}"


def node_conf(address: RedisAddress, data: Path) -> str:
    """One node's redis.conf: the single Redis's (loopback, append-only, fsync every second)
    with cluster mode on; nodes.conf lives in `data`, so the cluster survives a restart."""
    cluster = ["cluster-enabled yes", "cluster-config-file nodes.conf", "cluster-node-timeout 5000"]
    return redis_conf(address, data) + "\n".join(cluster) + "\n"


def parse_cluster_info(text: str) -> dict[str, str]:
    """CLUSTER INFO's `key:value` lines as a dict."""
    fields = (line.strip().partition(":") for line in text.splitlines())
    return {key: value for key, _, value in fields if key}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisNode(Redis):
    """One master of the cluster: a Redis service with its own home, config and bus port."""

    def __init__(self, home: Path, server: RedisAddress, number: int) -> None:
        self.server = server
        self.name = f"Redis node {number}"
        self.home = home / str(server.port)
        self.data = self.home / "data"
        self.config = self.home / "redis.conf"  # its path marks our server's command line
        self.pid_file = self.home / "redis.pid"
        self.output = self.home / "redis.log"
        self.logs = (self.output,)
        self.host, self.port, self.address = server.host, server.port, server.address
        self.ports = {server.port: "", server.port + BUS_OFFSET: " (its cluster bus)"}

    def missing(self) -> str | None:
        for tool in ("redis-server", "redis-cli"):  # redis-cli: Debian's redis-tools
            if not shutil.which(tool):
                return f"{tool} is not installed; run `welfare-watch stack install`"
        return None

    def files(self) -> dict[Path, str]:
        return {self.config: node_conf(self.server, self.data)}

    def cluster_info(self) -> dict[str, str]:
        client = redis.Redis(
            host=self.host, port=self.port, password=self.server.password, socket_timeout=5
        )
        try:
            reply = client.cluster("INFO")
        finally:
            client.close()
        if isinstance(reply, dict):  # redis-py parses it
            return {_text(key): _text(value) for key, value in reply.items()}
        return parse_cluster_info(_text(reply))


class RedisCluster:
    """The three nodes `up` starts as services, and what makes them one cluster afterwards."""

    def __init__(self, env: Environment) -> None:
        first = cluster_address(env.redis_url)
        self.home = env.data_dir.expanduser().resolve() / "redis-cluster"
        self.nodes = [
            RedisNode(self.home, replace(first, port=first.port + n), n + 1) for n in range(NODES)
        ]
        self.url = cluster_url(first)
        self.record = stack_redis_record(env.data_dir)
        # The single Redis of this data directory, were it asked for at the first node's address:
        # the two never run at once.
        self.single = Redis(env, first)

    def form(self, log: Log, deadline: float) -> None:
        """Create the cluster unless the nodes already form one, wait until every node says
        cluster_state:ok, then record its URL for the commands that follow."""
        infos = [node.cluster_info() for node in self.nodes]
        if all(int(i.get("cluster_known_nodes", 0)) == 1 for i in infos) and not any(
            int(i.get("cluster_slots_assigned", 0)) for i in infos
        ):
            self._create(deadline)
            log(f"Redis Cluster: created, {NODES} masters sharing {SLOTS} slots")
        elif not all(self._whole(info) for info in infos):
            raise StackError(
                f"the Redis Cluster in {self.home} is only partly formed (a `stack up` cut "
                "short?); run `welfare-watch stack down`, delete that directory (its data too), "
                "and start again"
            )
        self._wait_ok(deadline)
        self.record.parent.mkdir(parents=True, exist_ok=True)
        self.record.touch(mode=0o600)  # the URL carries the password, if there is one
        self.record.write_text(self.url + "\n")
        log(f"Redis Cluster: ready on {self.url} (recorded in {self.record})")

    @staticmethod
    def _whole(info: dict[str, str]) -> bool:
        known = int(info.get("cluster_known_nodes", 0))
        return known == NODES and int(info.get("cluster_slots_assigned", 0)) == SLOTS

    def _create(self, deadline: float) -> None:
        redis_cli = shutil.which("redis-cli")
        if redis_cli is None:
            raise StackError("redis-cli is not installed; run `welfare-watch stack install`")
        command = [redis_cli, "--cluster", "create", *(node.address for node in self.nodes)]
        command += ["--cluster-replicas", "0", "--cluster-yes"]
        env = dict(os.environ)
        if self.nodes[0].server.password:  # not on the command line, where `ps` shows it
            env["REDISCLI_AUTH"] = self.nodes[0].server.password
        try:
            done = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                env=env,
                timeout=max(deadline - time.monotonic(), 5),
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise StackError("`redis-cli --cluster create` did not finish in time") from None
        said = (done.stdout + "\n" + done.stderr).splitlines()
        if done.returncode != 0 or not any(f"All {SLOTS} slots covered" in s for s in said):
            reason = process.last_meaningful(said) or "no output"
            raise StackError(f"`redis-cli --cluster create` failed: {reason}")

    @staticmethod
    def _state(node: RedisNode) -> str:
        try:
            return node.cluster_info().get("cluster_state", "unknown")
        except redis.RedisError as exc:  # still loading its append-only file, say
            return f"nothing ({type(exc).__name__})"

    def _wait_ok(self, deadline: float) -> None:
        while True:
            states = {node.name: self._state(node) for node in self.nodes}
            failing = [name for name, state in states.items() if state != "ok"]
            if not failing:
                return
            if time.monotonic() > deadline:
                raise StackError(
                    f"the Redis Cluster did not reach cluster_state:ok in time ({failing[0]} "
                    f"says {states[failing[0]]}); see {self.nodes[0].logs[0]}"
                )
            time.sleep(0.25)


def forget(env: Environment) -> None:
    """Delete the record, so the commands that follow use WW_REDIS_URL's default again."""
    stack_redis_record(env.data_dir).unlink(missing_ok=True)


def started_nodes(env: Environment) -> list[RedisNode]:
    """Every cluster node a `stack up --redis-cluster` started under this data directory, on
    whatever ports: found by their directories, whatever WW_REDIS_URL now says."""
    home = env.data_dir.expanduser().resolve() / "redis-cluster"
    found = sorted(int(p.parent.name) for p in home.glob("*/redis.conf") if p.parent.name.isdigit())
    return [RedisNode(home, RedisAddress("127.0.0.1", port), n + 1) for n, port in enumerate(found)]
