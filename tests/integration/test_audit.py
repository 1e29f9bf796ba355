"""The audit chain on the real Kafka and Redis: many writers at once, tampering behind the
product's back caught by `welfare-watch audit verify`, the command line's exports audited,
and `GET /api/audit` for auditors only."""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from alerts.audit import AuditLog, Entry, SyncAuditLog, worker_chain
from tests.integration.conftest import AS_OF, WW, Cli, Worker
from web import create_app
from welfare_watch import kafka, names, redis_client
from welfare_watch.settings import Settings
from welfare_watch.tokens import issue

SAMPLES = Path(__file__).parent.parent / "data" / "samples"
SECRET = "audit-test-secret-" + "x" * 32
DEAD_PID, DEAD_NAME = "210105195203140118", "杨德福"  # in the sample roster and psb_deaths.csv

Client = TestClient[web.Request, web.Application]


@pytest.fixture()
def clean(ww: Cli) -> Cli:
    """A clean slate, the audit topic included (`reset` keeps it: see the report)."""
    _delete_audit_topic(ww.env["WW_KAFKA_BOOTSTRAP"])
    return ww


def _delete_audit_topic(bootstrap: str) -> None:
    with kafka.admin(bootstrap) as client:
        if names.AUDIT not in client.list_topics():
            return
        client.delete_topics([names.AUDIT])
        deadline = time.monotonic() + 60
        while names.AUDIT in client.list_topics():
            assert time.monotonic() < deadline, "Kafka did not delete the audit topic"
            time.sleep(0.2)


def _settings(tmp_path: Path, env: dict[str, str]) -> Settings:
    return Settings.load(
        data_dir=tmp_path,
        secret_key=SECRET,
        as_of=AS_OF,
        kafka_bootstrap=env["WW_KAFKA_BOOTSTRAP"],
        redis_url=env["WW_REDIS_URL"],
    )


def _verify(ww: Cli) -> tuple[int, str]:
    done = subprocess.run(
        [WW, "audit", "verify"], env=ww.env, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout.strip()


def _chain(env: dict[str, str], chain: str) -> list[Entry]:
    client = redis_client.connect(env["WW_REDIS_URL"])
    return [Entry.decode(raw) for raw in client.lrange(names.audit_chain_key(chain), 0, -1)]


# --- many writers ----------------------------------------------------------------------------


def test_web_worker_and_command_line_writers_at_once_keep_every_chain_intact(
    clean: Cli, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, clean.env)

    async def main() -> None:
        clients = [redis_client.connect_async(settings.env.redis_url) for _ in range(2)]
        webs = [AuditLog.for_settings(settings, c) for c in clients]  # two web processes
        other = SyncAuditLog.for_settings(settings)  # and a third writer, in a thread

        def plain_writer() -> None:
            for i in range(10):
                other.append("web", actor="cw-210105-09", action="viewed", target=f"t-{i}")

        worker_batch = [
            {"actor": "system", "role": "system", "action": "opened", "target": f"a-{i}"}
            for i in range(5)
        ]
        clis = [
            await asyncio.create_subprocess_exec(
                WW, "alerts", "list", env=clean.env, stdout=subprocess.DEVNULL
            )
            for _ in range(3)
        ]
        try:
            await asyncio.gather(
                *(
                    webs[i % 2].append(
                        "web",
                        actor=f"cw-210105-0{i % 3}",
                        role="caseworker",
                        token_id=f"jti-{i}",
                        action="viewed",
                        target=f"alert-{i}",
                        detail={"i": i},
                    )
                    for i in range(50)
                ),
                asyncio.to_thread(plain_writer),
                webs[0].append_many("worker-0", worker_batch),
                webs[1].append_many("worker-0", worker_batch),
                *(p.wait() for p in clis),
            )
        finally:
            for log in webs:
                await log.close()
            for c in clients:
                await c.aclose()
            other.close()
        assert [p.returncode for p in clis] == [0, 0, 0]

    asyncio.run(main())
    web_chain = _chain(clean.env, "web")
    assert [e.seq for e in web_chain] == list(range(60))
    assert sorted(e.target for e in web_chain) == sorted(
        [f"alert-{i}" for i in range(50)] + [f"t-{i}" for i in range(10)]
    )
    batches = [e.target for e in _chain(clean.env, "worker-0")]
    assert batches == [f"a-{i}" for i in range(5)] * 2  # each batch whole, one after the other
    assert _verify(clean) == (0, "audit chain intact: 73 entries in 3 chains")


def test_verify_while_writers_append_finds_nothing_wrong(clean: Cli, tmp_path: Path) -> None:
    """Entries land in Redis, then on Kafka: a verify in between must not take an entry on
    its way for a removed or an unpublished one."""
    settings = _settings(tmp_path, clean.env)
    stop = threading.Event()

    def writer() -> None:
        log = SyncAuditLog.for_settings(settings)
        try:
            while not stop.is_set():
                log.append("web", actor="cw-210105-01", action="viewed")
                log.append_many("worker-1", [{"actor": "system", "action": "updated"}] * 3)
        finally:
            log.close()

    running = threading.Thread(target=writer)
    running.start()
    try:
        verdicts = [_verify(clean) for _ in range(3)]
    finally:
        stop.set()
        running.join(timeout=60)
    assert [code for code, _ in verdicts] == [0, 0, 0], verdicts
    final = _verify(clean)
    assert final[0] == 0
    assert len(_chain(clean.env, "web")) > 3


# --- tampering behind the product's back ---------------------------------------------------


def _at(client: redis.Redis, key: str, index: int) -> str:
    raw = client.lindex(key, index)
    assert isinstance(raw, bytes)
    return raw.decode()


def _edit(client: redis.Redis, key: str) -> None:
    raw = _at(client, key, 2)
    assert '"i":2' in raw
    client.lset(key, 2, raw.replace('"i":2', '"i":9'))


def _delete_middle(client: redis.Redis, key: str) -> None:
    client.lrem(key, 1, _at(client, key, 3))


def _delete_last(client: redis.Redis, key: str) -> None:
    client.rpop(key)


def _reorder(client: redis.Redis, key: str) -> None:
    one, two = _at(client, key, 1), _at(client, key, 2)
    client.lset(key, 1, two)
    client.lset(key, 2, one)


def _rewrite_and_relink(client: redis.Redis, key: str) -> None:
    """An editor who knows the format: entry 4 changed, its hash and successor re-linked."""
    from alerts.audit_chain import entry_hash

    entries = [json.loads(_at(client, key, i)) for i in range(6)]
    entries[4]["action"] = "listed"
    for i in (4, 5):
        entries[i]["prev"] = entries[i - 1]["hash"]
        entries[i]["hash"] = entry_hash(entries[i])
        client.lset(key, i, Entry(**entries[i]).encode().decode())


@pytest.mark.parametrize(
    ("tamper", "seq", "says"),
    [
        pytest.param(_edit, 2, "edited", id="edited"),
        pytest.param(_delete_middle, 3, "removed or moved", id="middle deleted"),
        pytest.param(_delete_last, 5, "removed from the end", id="last deleted"),
        pytest.param(_reorder, 1, "removed or moved", id="reordered"),
        pytest.param(_rewrite_and_relink, 4, "differs from its copy in Kafka", id="rewritten"),
    ],
)
def test_tampering_is_reported_at_the_first_broken_entry(
    clean: Cli,
    tmp_path: Path,
    tamper: Callable[[redis.Redis, str], None],
    seq: int,
    says: str,
) -> None:
    _six_web_entries(_settings(tmp_path, clean.env))
    clean("alerts", "list")  # a second chain, left alone
    assert _verify(clean) == (0, "audit chain intact: 7 entries in 2 chains")

    tamper(redis_client.connect(clean.env["WW_REDIS_URL"]), names.audit_chain_key("web"))
    code, said = _verify(clean)
    assert code == 1
    assert said.startswith(f"audit chain broken at chain 'web', seq {seq}: "), said
    assert says in said


def test_a_deleted_last_entry_is_caught_after_the_product_writes_again(
    clean: Cli, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, clean.env)
    _six_web_entries(settings)
    redis_client.connect(clean.env["WW_REDIS_URL"]).rpop(names.audit_chain_key("web"))
    _six_web_entries(settings, start=6)  # a fresh writer links on to what it finds: seq 5…
    code, said = _verify(clean)
    assert code == 1
    assert said.startswith("audit chain broken at chain 'web', seq 5: two different entries")


def _six_web_entries(settings: Settings, start: int = 0) -> None:
    async def main() -> None:
        client = redis_client.connect_async(settings.env.redis_url)
        log = AuditLog.for_settings(settings, client)
        try:
            for i in range(start, start + 6):
                await log.append("web", actor="cw-210105-01", action="viewed", detail={"i": i})
        finally:
            await log.close()
            await client.aclose()

    asyncio.run(main())


# --- the command line --------------------------------------------------------------------------


@pytest.fixture()
def worker(clean: Cli, tmp_path: Path) -> Iterator[Worker]:
    running = clean.worker(tmp_path / "worker.log")
    yield running
    running.stop()


def test_alerts_export_and_list_are_audited_without_personal_data(
    clean: Cli, worker: Worker, tmp_path: Path
) -> None:
    worker.start()
    clean("roster", "load", str(SAMPLES / "roster.csv"))
    clean("ingest", "psb_deaths", str(SAMPLES / "psb_deaths.csv"))
    clean("wait", "--timeout", "120")
    out = tmp_path / f"{DEAD_NAME}.jsonl"  # a file name that names someone
    clean("alerts", "export", "--out", str(out))
    clean("alerts", "list", "--status", "open")
    exported = len(out.read_text(encoding="utf-8").splitlines())
    assert exported > 0

    entries = _chain(clean.env, "cli")
    assert [(e.actor, e.role, e.action, e.target) for e in entries] == [
        (getpass.getuser(), "cli", "exported", "alerts"),
        (getpass.getuser(), "cli", "listed", "alerts"),
    ]
    assert entries[0].detail == {"exported": exported, "to": "file"}
    assert entries[1].detail["status"] == "open" and entries[1].detail["shown"] > 0
    raw = b"".join(e.encode() for e in entries).decode()
    assert DEAD_NAME not in raw and DEAD_PID not in raw
    code, verdict = _verify(clean)
    assert code == 0 and verdict.startswith("audit chain intact"), verdict
    # The worker recorded each alert it opened, on the chain of the partition that owns the
    # person, as the system.
    opened = [
        e
        for e in _all_worker_entries(clean.env)
        if e.action == "opened" and e.detail["type"] == "DECEASED_BENEFICIARY"
    ]
    assert [(e.actor, e.role) for e in opened] == [("system", "system")]
    assert opened[0].chain == worker_chain(DEAD_PID, 4)


def _all_worker_entries(env: dict[str, str]) -> list[Entry]:
    client = redis_client.connect(env["WW_REDIS_URL"])
    chains = [
        k.decode().split(":", 2)[2]
        for k in client.scan_iter(match=names.audit_chain_key("worker-*"))
    ]
    return [e for chain in sorted(chains) for e in _chain(env, chain)]


# --- GET /api/audit ----------------------------------------------------------------------------


def _auth(role: str, scope: str, subject: str) -> dict[str, str]:
    token = issue(role, scope, 1, SECRET.encode(), dt.datetime.now(dt.UTC), subject=subject)
    return {"Authorization": f"Bearer {token}"}


def _ask(settings: Settings, asks: list[tuple[str, dict[str, str]]]) -> list[tuple[int, Any]]:
    """GET each path with its headers from the app served in-process; status and JSON body."""

    async def main() -> list[tuple[int, Any]]:
        app = create_app(settings, CollectorRegistry())
        async with TestClient(TestServer(app)) as client:
            replies = []
            for path, headers in asks:
                reply = await client.get(path, headers=headers)
                replies.append((reply.status, await reply.json()))
            return replies

    return asyncio.run(main())


def test_the_auditor_reads_the_log_newest_first_paged_and_filtered(
    clean: Cli, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, clean.env)
    clean("alerts", "list")
    _six_web_entries(settings)
    auditor = _auth("auditor", "*", "au-01")
    replies = _ask(
        settings,
        [
            ("/api/audit?per_page=4", auditor),
            ("/api/audit?per_page=4&page=2", auditor),
            ("/api/audit?chain=cli", auditor),
            ("/api/audit?target=/api/audit", auditor),  # the three listings just made
            ("/api/audit?per_page=0", auditor),
        ],
    )
    assert [status for status, _ in replies] == [200, 200, 200, 200, 400]
    first, second, cli, own, _ = (body for _, body in replies)
    assert (first["total"], first["page"], first["per_page"]) == (7, 1, 4)
    assert [e["detail"].get("i") for e in first["entries"]] == [5, 4, 3, 2]  # newest first
    assert second["total"] == 8  # the first listing is on top now, so everything moved down
    assert [(e["chain"], e["detail"].get("i")) for e in second["entries"]] == [
        ("web", 2),
        ("web", 1),
        ("web", 0),
        ("cli", None),
    ]
    assert [(e["chain"], e["action"]) for e in cli["entries"]] == [("cli", "listed")]
    assert [
        (e["actor"], e["action"], e["detail"]["chain"], e["detail"]["page"]) for e in own["entries"]
    ] == [("au-01", "listed", "cli", 1), ("au-01", "listed", "", 2), ("au-01", "listed", "", 1)]
    assert all(e["token_id"] and e["role"] == "auditor" for e in own["entries"])
    assert _verify(clean) == (0, "audit chain intact: 11 entries in 2 chains")


def test_nobody_but_an_auditor_reads_the_log_and_each_refusal_is_audited(
    clean: Cli, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, clean.env)
    replies = _ask(
        settings,
        [
            ("/api/audit", _auth("caseworker", "cw-210105-01", "s-0101")),
            ("/api/audit", _auth("supervisor", "210100", "s-0001")),
            ("/api/audit", {}),
        ],
    )
    assert [status for status, _ in replies] == [403, 403, 401]
    refused = [(e.action, e.actor, e.role, e.target) for e in _chain(clean.env, "web")]
    assert refused == [
        ("refused", "s-0101", "caseworker", "/api/audit"),
        ("refused", "s-0001", "supervisor", "/api/audit"),
        ("unauthorized", "anonymous", "", "/api/audit"),
    ]
    assert _verify(clean) == (0, "audit chain intact: 3 entries in 1 chains")
