"""The embedded Redis: Debian's redis-server with a generated configuration."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import redis

from stack.errors import StackError
from stack.process import loopback_host
from welfare_watch.settings import Environment

SETTING = "WW_REDIS_URL"


@dataclass(frozen=True)
class RedisAddress:
    host: str
    port: int
    password: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def parse_redis_url(url: str) -> RedisAddress:
    """Where to run Redis for WW_REDIS_URL, e.g. 'redis://localhost:6379/0' → 127.0.0.1:6379."""
    parts = urlsplit(url.strip())
    if parts.scheme != "redis" or not parts.hostname:
        raise StackError(
            f"{SETTING} is {url!r}; the embedded stack serves plain redis://localhost:PORT only"
        )
    try:
        port = parts.port or 6379
    except ValueError:
        raise StackError(f"{SETTING} is {url!r}; its port is not a number") from None
    password = unquote(parts.password) if parts.password else None  # as redis-py reads it
    return RedisAddress(loopback_host(parts.hostname, SETTING, url), port, password)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def redis_conf(address: RedisAddress, data: Path) -> str:
    """redis.conf: loopback only, append-only file under `data`, lazy frees for big hashes."""
    lines = [
        "# Written by `welfare-watch stack up` on every start; edit the code, not this.",
        f"bind {address.host}",
        f"port {address.port}",
        "protected-mode yes",
        "daemonize no",
        'logfile ""',  # stdout, which `up` sends to redis.log
        "set-proc-title no",  # keep the config path in the command line: `down` checks it
        f"dir {_quote(str(data))}",
        "appendonly yes",
        "appendfsync everysec",
        # A person's hash is five values of up to a few hundred bytes each (compressed:
        # welfare_watch/packing.py); up to 2 KB a value Redis keeps it as one compact listpack
        # instead of a hash table, about 260 bytes less per person (bench/RESULTS.md).
        "hash-max-listpack-value 2048",
        # Freeing a large key (a reset's, an old stream's) in the background keeps Redis
        # answering meanwhile.
        "lazyfree-lazy-server-del yes",
        "lazyfree-lazy-user-del yes",
    ]
    if address.password:
        lines.append(f"requirepass {_quote(address.password)}")
    return "\n".join(lines) + "\n"


class Redis:
    """redis-server as a service that `up`, `down` and `status` manage."""

    name = "Redis"
    setting = SETTING

    def __init__(self, env: Environment, server: RedisAddress | None = None) -> None:
        # `server`: where it would run when WW_REDIS_URL names a cluster (stack/redis_cluster.py)
        self.server = server or parse_redis_url(env.redis_url)
        self.home = env.data_dir.expanduser().resolve() / "redis"
        self.data = self.home / "data"
        self.config = self.home / "redis.conf"  # its path marks our server's command line
        self.pid_file = self.home / "redis.pid"
        self.output = self.home / "redis.log"
        self.logs: tuple[Path, ...] = (self.output,)
        self.host, self.port = self.server.host, self.server.port
        self.address = self.server.address
        self.ports = {self.server.port: ""}

    def missing(self) -> str | None:
        if shutil.which("redis-server"):
            return None
        return "redis-server is not installed; run `welfare-watch stack install`"

    def files(self) -> dict[Path, str]:
        return {self.config: redis_conf(self.server, self.data)}

    def prepare(self, log: Callable[[str], None]) -> None:
        self.data.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        redis_server = shutil.which("redis-server")
        if redis_server is None:
            raise StackError("redis-server is not installed; run `welfare-watch stack install`")
        return [redis_server, str(self.config)]

    def ready(self) -> bool:
        """Ready when PING answers (not while the append-only file is still loading)."""
        client = redis.Redis(
            host=self.server.host,
            port=self.server.port,
            password=self.server.password,
            socket_timeout=1,
            socket_connect_timeout=1,
        )
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()
