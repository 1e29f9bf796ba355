"""The embedded Redis's generated configuration and the address it is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack import StackError
from stack.redis import RedisAddress, parse_redis_url, redis_conf


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://localhost:6379/0", RedisAddress("127.0.0.1", 6379)),
        ("redis://localhost", RedisAddress("127.0.0.1", 6379)),
        ("redis://127.0.0.1:16379/3", RedisAddress("127.0.0.1", 16379)),
        ("redis://:s3cret@localhost:6380/0", RedisAddress("127.0.0.1", 6380, "s3cret")),
    ],
)
def test_url_gives_the_loopback_address(url: str, expected: RedisAddress) -> None:
    assert parse_redis_url(url) == expected


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("rediss://localhost:6379/0", "plain redis://localhost:PORT only"),
        ("unix:///run/redis.sock", "plain redis://localhost:PORT only"),
        ("localhost:6379", "plain redis://localhost:PORT only"),
        ("redis://cache.example.org:6379/0", "this machine only"),
        ("redis://localhost:port/0", "port is not a number"),
    ],
)
def test_url_the_stack_cannot_serve_is_refused(url: str, complaint: str) -> None:
    with pytest.raises(StackError, match=complaint) as raised:
        parse_redis_url(url)
    assert "WW_REDIS_URL" in str(raised.value)


def _directives(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return dict(line.split(" ", 1) for line in lines)


def test_config_binds_loopback_and_keeps_an_append_only_file() -> None:
    conf = _directives(redis_conf(RedisAddress("127.0.0.1", 16379), Path("/d/redis/data")))
    assert conf["bind"] == "127.0.0.1"
    assert conf["port"] == "16379"
    assert conf["appendonly"] == "yes"
    assert conf["dir"] == '"/d/redis/data"'
    assert conf["daemonize"] == "no"
    assert conf["lazyfree-lazy-server-del"] == "yes"
    assert conf["set-proc-title"] == "no"  # `down` finds the config path in the command line
    assert "requirepass" not in conf


def test_config_quotes_odd_paths_and_sets_the_password() -> None:
    text = redis_conf(RedisAddress("127.0.0.1", 6379, 'pa"ss'), Path('/d/my "redis"'))
    conf = _directives(text)
    assert conf["dir"] == '"/d/my \\"redis\\""'
    assert conf["requirepass"] == '"pa\\"ss"'
