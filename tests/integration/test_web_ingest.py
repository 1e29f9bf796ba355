"""The web app on the real Kafka and Redis: department pushes, refusals, probes and metrics."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from kafka import KafkaConsumer
from prometheus_client import CollectorRegistry

from tests import citygen
from tests.integration.conftest import AS_OF, WW, Cli, Worker, stored_alerts
from tests.ports import free_port
from web import create_app
from web.state import WebOptions
from welfare_watch import names
from welfare_watch.settings import Settings
from welfare_watch.tokens import PEOPLE, issue

SAMPLES = Path(__file__).parent.parent / "data" / "samples"
SECRET = "web-ingest-test-secret-of-at-least-32-bytes"
PSB_HEADER = "公民身份号码,姓名,死亡日期,注销日期,业务流水号,状态"
DEAD_PID, DEAD_NAME = "210105195203140118", "杨德福"  # in the sample roster and psb_deaths.csv

Client = TestClient[web.Request, web.Application]
T = TypeVar("T")


def _settings(tmp_path: Path, env: dict[str, str], **overrides: str) -> Settings:
    values = {
        "kafka_bootstrap": env["WW_KAFKA_BOOTSTRAP"],
        "redis_url": env["WW_REDIS_URL"],
        **overrides,
    }
    return Settings.load(data_dir=tmp_path, secret_key=SECRET, as_of=AS_OF, **values)


def _serve(settings: Settings, scenario: Callable[[Client], Awaitable[T]], **options: Any) -> T:
    """Run `scenario` against the app served in-process on a free port, then close it all."""

    async def main() -> T:
        app = create_app(settings, CollectorRegistry(), options=WebOptions(**options))
        async with TestClient(TestServer(app)) as client:
            return await scenario(client)

    return asyncio.run(main())


def _auth(role: str, scope: str, secret: str = SECRET, days: int = 1) -> dict[str, str]:
    now = dt.datetime.now(dt.UTC)
    subject = "S-0042" if role in PEOPLE else None
    token = issue(role, scope, days, secret.encode(), now, subject=subject)
    return {"Authorization": f"Bearer {token}"}


async def _post(
    client: Client, feed: str, body: Any, content_type: str = "text/csv", **headers: str
) -> ClientResponse:
    """POST a body (bytes, or an async iterator of bytes: sent chunked, without a length)."""
    return await client.post(
        f"/api/ingest/{feed}", data=body, headers={"Content-Type": content_type, **headers}
    )


def test_a_pushed_death_reaches_the_caseworker_and_is_counted(
    ww: Cli, worker: Worker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    worker.start()
    ww("roster", "load", str(SAMPLES / "roster.csv"))
    body = (SAMPLES / "psb_deaths.csv").read_bytes()

    async def scenario(client: Client) -> tuple[int, dict[str, Any], str, str]:
        reply = await _post(client, "psb_deaths", body, **_auth("department", "psb_deaths"))
        metrics = await client.get("/metrics")
        request_id = reply.headers["X-Request-Id"]
        return reply.status, await reply.json(), request_id, await metrics.text()

    status, reply, request_id, metrics = _serve(_settings(tmp_path, ww.env), scenario)
    assert status == 200
    assert reply == {
        "feed": "psb_deaths",
        "received": 1,
        "accepted": 1,
        "rejected": 0,
        "rejections": [],
    }
    # what came by HTTP; records_received counts it where every way in meets (the worker)
    assert 'welfare_watch_http_ingest_records_total{feed="psb_deaths",outcome="accepted"} 1.0' in (
        metrics
    )
    assert 'welfare_watch_http_ingest_records_total{feed="psb_deaths",outcome="rejected"} 0.0' in (
        metrics
    )
    assert 'welfare_watch_records_received_total{feed="psb_deaths"}' not in metrics

    ww("wait", "--timeout", "120")
    alerts = [a for a in stored_alerts(ww.env) if a.type == "DECEASED_BENEFICIARY"]
    assert [a.person_id for a in alerts] == [DEAD_PID]
    assert [e.source for e in alerts[0].evidence] == [f"http:{request_id}"]
    assert DEAD_PID not in caplog.text
    assert DEAD_NAME not in caplog.text


def _rejected_sources(env: dict[str, str]) -> list[dict[str, Any]]:
    consumer = KafkaConsumer(
        names.REJECTED,
        bootstrap_servers=env["WW_KAFKA_BOOTSTRAP"],
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    try:
        return [json.loads(message.value) for message in consumer]
    finally:
        consumer.close()


def test_json_lines_are_taken_and_a_bad_row_is_rejected_with_its_reason(
    ww: Cli, tmp_path: Path
) -> None:
    good = citygen.person_id(7)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    rows = [
        {"公民身份号码": good, "姓名": "测试人", "死亡日期": "2026-10-01",
         "注销日期": "2026-10-05", "业务流水号": "GA-1", "状态": "正常"},
        {"公民身份号码": bad, "姓名": "测试人", "死亡日期": "2026-10-01",
         "注销日期": "2026-10-05", "业务流水号": "GA-2", "状态": "正常"},
    ]  # fmt: skip
    body = "\n".join(json.dumps(row, ensure_ascii=False) for row in rows).encode()
    auth = _auth("department", "psb_deaths")

    async def scenario(client: Client) -> list[tuple[int, dict[str, Any], str]]:
        replies = [
            await _post(client, "psb_deaths", body, "application/x-ndjson", **auth),
            await _post(client, "psb_deaths", body, "application/octet-stream", **auth),
        ]
        return [(r.status, await r.json(), r.headers["X-Request-Id"]) for r in replies]

    results = _serve(_settings(tmp_path, ww.env), scenario)
    for status, reply, _ in results:  # declared JSON lines, then recognised by its first '{'
        assert status == 200, reply
        assert (reply["received"], reply["accepted"], reply["rejected"]) == (2, 1, 1)
        (rejection,) = reply["rejections"]
        assert rejection["line"] == 2
        assert "公民身份号码" in rejection["reason"]
        assert "check character" in rejection["reason"]
    rejected = _rejected_sources(ww.env)
    assert sorted(r["source"] for r in rejected) == sorted(f"http:{rid}" for _, _, rid in results)


def test_callers_without_the_right_token_are_refused_and_audited(
    ww: Cli, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    body = (SAMPLES / "psb_deaths.csv").read_bytes()

    async def scenario(client: Client) -> list[tuple[int, str]]:
        attempts = [
            _post(client, "psb_deaths", body),
            _post(client, "psb_deaths", body, Authorization="Basic dXNlcjpwYXNz"),
            _post(client, "psb_deaths", body, **_auth("department", "psb_deaths", "guessed" * 5)),
            _post(client, "psb_deaths", body, Authorization="Bearer not-a-token"),
            _post(client, "psb_deaths", body, **_auth("department", "health_deaths")),
            _post(client, "psb_deaths", body, **_auth("auditor", "*")),
            _post(client, "tax_office", body, **_auth("department", "psb_deaths")),
        ]
        replies = [await attempt for attempt in attempts]
        return [(r.status, (await r.json())["error"]) for r in replies]

    results = _serve(_settings(tmp_path, ww.env), scenario)
    assert [status for status, _ in results] == [401, 401, 401, 401, 403, 403, 404]
    assert "no token" in results[0][1]
    assert results[2][1] == "bad signature"
    assert results[3][1] == "malformed token"
    assert "unknown feed 'tax_office'" in results[6][1]
    assert _audited(caplog) == [
        "unauthorized: POST /api/ingest/psb_deaths: " + results[0][1],
        "unauthorized: POST /api/ingest/psb_deaths: " + results[1][1],
        "unauthorized: POST /api/ingest/psb_deaths: bad signature",
        "unauthorized: POST /api/ingest/psb_deaths: malformed token",
        "refused: role=department scope=health_deaths token=ID POST /api/ingest/psb_deaths: "
        "a department token for 'health_deaths' may not do this",
        "refused: role=auditor scope=* token=ID POST /api/ingest/psb_deaths: "
        "an auditor token for '*' may not do this",
    ]
    assert DEAD_PID not in caplog.text
    chain = [
        (e["action"], e["actor"], e["role"], e["target"], e["detail"]["reason"])
        for e in _web_chain(ww.env)
    ]
    path = "/api/ingest/psb_deaths"
    assert chain == [
        ("unauthorized", "anonymous", "", path, results[0][1]),
        ("unauthorized", "anonymous", "", path, results[1][1]),
        ("unauthorized", "anonymous", "", path, "bad signature"),
        ("unauthorized", "anonymous", "", path, "malformed token"),
        ("refused", "dept:health_deaths", "department", path, results[4][1]),
        ("refused", "S-0042", "auditor", path, results[5][1]),
    ]


def _web_chain(env: dict[str, str], chain: str = "web") -> list[dict[str, Any]]:
    """An audit chain as stored in Redis (the web app's by default), oldest entry first."""
    client = redis.Redis.from_url(env["WW_REDIS_URL"])
    try:
        return [json.loads(raw) for raw in client.lrange(names.audit_chain_key(chain), 0, -1)]
    finally:
        client.close()


def _audited(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The refusals recorded, each token id replaced by ID."""
    lines = [r.getMessage() for r in caplog.records if r.name == "welfare_watch.audit"]
    return [re.sub(r"token=[0-9a-f]{32}", "token=ID", line) for line in lines]


def _issue_with_the_cli(env: dict[str, str], *args: str) -> tuple[str, str]:
    """`welfare-watch token issue ARGS`: the token (stdout) and its id (from stderr)."""
    done = subprocess.run(
        [WW, "token", "issue", *args], env=env, capture_output=True, text=True, check=True
    )
    token_id = re.search(r"token id ([0-9a-f]{32})", done.stderr)
    assert token_id is not None, done.stderr
    return done.stdout.strip(), token_id.group(1)


def test_a_revoked_token_is_refused_from_its_next_request_on(
    ww: Cli, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`token revoke` takes effect at once, in a running app: the header and the cookie alike."""
    caplog.set_level(logging.INFO)
    env = {**ww.env, "WW_SECRET_KEY": SECRET}
    token, token_id = _issue_with_the_cli(env, "--role", "department", "--scope", "psb_deaths")
    _, other_id = _issue_with_the_cli(env, "--role", "department", "--scope", "psb_deaths")
    assert token_id != other_id
    bearer = {"Authorization": f"Bearer {token}"}
    cookie = {"Cookie": f"ww_token={token}"}
    revoked: list[str] = []

    async def scenario(client: Client) -> list[tuple[int, str]]:
        before = [  # past the token check: an empty body is refused as such (400)
            await _post(client, "psb_deaths", b"", **bearer),
            await _post(client, "psb_deaths", b"", **cookie),
        ]
        revoked.append(await asyncio.to_thread(ww, "token", "revoke", token_id))
        after = [
            await _post(client, "psb_deaths", b"", **bearer),
            await _post(client, "psb_deaths", b"", **cookie),
        ]
        return [(r.status, (await r.json())["error"]) for r in before + after]

    results = _serve(_settings(tmp_path, ww.env), scenario)
    assert [status for status, _ in results] == [400, 400, 401, 401]
    assert "empty" in results[0][1]
    assert results[2][1] == results[3][1] == "token revoked"
    assert revoked == [f"token {token_id} revoked: every request with it is refused from now on\n"]
    assert _audited(caplog) == ["unauthorized: role=department scope=psb_deaths token=ID "
                                "POST /api/ingest/psb_deaths: token revoked"] * 2  # fmt: skip
    assert token_id in caplog.text  # the refusals name the token that was used
    refusals = [e for e in _web_chain(ww.env) if e["action"] == "unauthorized"]
    assert [(e["actor"], e["token_id"], e["detail"]["reason"]) for e in refusals] == [
        ("dept:psb_deaths", token_id, "token revoked")
    ] * 2
    again = ww("token", "revoke", token_id)
    assert again.startswith(f"token {token_id} was already revoked")
    revocations = [
        (e["action"], e["role"], e["target"], e["detail"]) for e in _web_chain(ww.env, "cli")
    ]
    assert revocations == [
        ("revoked", "cli", f"token:{token_id}", {"already": False}),
        ("revoked", "cli", f"token:{token_id}", {"already": True}),
    ]


def test_a_token_travels_in_the_header_or_the_cookie_never_in_a_url(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    auth = _auth("department", "psb_deaths")
    token = auth["Authorization"].removeprefix("Bearer ")

    async def scenario(client: Client) -> list[tuple[int, str, str]]:
        replies = [
            await _post(client, "psb_deaths", b"", Cookie=f"ww_token={token}"),
            await client.post(f"/api/ingest/psb_deaths?access_token={token}", data=b""),
            await client.post(f"/api/ingest/psb_deaths?token={token}", data=b"", headers=auth),
            await _post(client, "psb_deaths", b"", Cookie=f"ww_token={token}x"),
            await _post(  # the cookie, sent by a page of another site: refused
                client,
                "psb_deaths",
                b"",
                Cookie=f"ww_token={token}",
                **{"Sec-Fetch-Site": "cross-site"},
            ),
            await _post(  # the header is not sent by a browser on its own: accepted
                client, "psb_deaths", b"", **auth, **{"Sec-Fetch-Site": "cross-site"}
            ),
        ]
        return [
            (r.status, (await r.json())["error"], r.headers.get("WWW-Authenticate", ""))
            for r in replies
        ]

    results = _serve(_settings(tmp_path, stack_env), scenario)
    assert [status for status, _, _ in results] == [400, 401, 401, 401, 403, 400]
    assert "token in a URL is refused" in results[1][1]
    assert "token in a URL is refused" in results[2][1]
    assert results[3][1] == "bad signature"
    assert all(challenge.startswith("Bearer") for _, _, challenge in results[1:4])
    assert "another site" in results[4][1]


def test_people_tokens_from_the_command_line_name_the_person(ww: Cli) -> None:
    env = {**ww.env, "WW_SECRET_KEY": SECRET}
    refused = subprocess.run(
        [WW, "token", "issue", "--role", "caseworker", "--scope", "cw-210105-01"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert "give --subject STAFF_ID" in refused.stderr
    assert "Traceback" not in refused.stderr
    token, token_id = _issue_with_the_cli(
        env, "--role", "caseworker", "--scope", "cw-210105-01", "--subject", "MZ-0042"
    )
    from welfare_watch.tokens import verify

    claims = verify(token, SECRET.encode(), dt.datetime.now(dt.UTC))
    assert (claims.subject, claims.token_id, claims.role) == ("MZ-0042", token_id, "caseworker")
    bad = subprocess.run(
        [WW, "token", "revoke", "not a token id"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert "not a token id" in bad.stderr


def test_a_body_that_is_not_a_table_or_too_large_is_refused_whole(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    auth = _auth("department", "psb_deaths")
    wrong_header = b"\xe5\xa7\x93\xe5\x90\x8d,\xe6\x97\xa5\xe6\x9c\x9f\n" + b"a,b\n"
    rows = (f"{PSB_HEADER}\n" + f"{DEAD_PID},杨德福,2025-11-02,2025-11-20,GA1,正常\n" * 10).encode()

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(rows), 100):
            yield rows[start : start + 100]

    async def scenario(client: Client) -> list[tuple[int, str]]:
        replies = [
            await _post(client, "psb_deaths", b"PK\x03\x04\x14\x00\x06\x00", **auth),
            await _post(client, "psb_deaths", b"\x00\x01\x02\x03binary", **auth),
            await _post(client, "psb_deaths", wrong_header, **auth),
            await _post(client, "psb_deaths", b"", **auth),
            await _post(client, "psb_deaths", rows, **auth),
            await _post(client, "psb_deaths", chunked(), **auth),
        ]
        return [(r.status, (await r.json())["error"]) for r in replies]

    results = _serve(_settings(tmp_path, stack_env), scenario, max_body_bytes=500)
    assert [status for status, _ in results] == [400, 400, 400, 400, 413, 413]
    assert "zip or Excel" in results[0][1]
    assert "binary" in results[1][1]
    assert "missing columns 公民身份号码" in results[2][1]
    assert "empty" in results[3][1]
    assert "limit of 500 bytes" in results[4][1]
    assert "limit of 500 bytes" in results[5][1]


def test_probes_and_metrics_answer_for_operators(stack_env: dict[str, str], tmp_path: Path) -> None:
    async def scenario(client: Client) -> list[tuple[int, str, str]]:
        replies = [await client.get(path) for path in ("/healthz", "/readyz", "/metrics")]
        return [(r.status, r.content_type, await r.text()) for r in replies]

    healthz, readyz, metrics = _serve(_settings(tmp_path, stack_env), scenario)
    assert healthz[:2] == (200, "application/json")
    assert json.loads(healthz[2]) == {"status": "ok"}
    assert readyz[0] == 200
    assert json.loads(readyz[2]) == {"status": "ready"}
    assert metrics[:2] == (200, "text/plain")
    assert "# HELP welfare_watch_records_received" in metrics[2]


def test_without_kafka_and_redis_it_is_alive_not_ready_and_ingest_says_why(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    kafka_address = f"127.0.0.1:{free_port()}"
    no_kafka = _settings(tmp_path, stack_env, kafka_bootstrap=kafka_address)
    neither = _settings(
        tmp_path, stack_env, kafka_bootstrap=kafka_address, redis_url="redis://127.0.0.1:1/0"
    )
    body = (SAMPLES / "psb_deaths.csv").read_bytes()

    async def scenario(client: Client) -> list[tuple[int, dict[str, Any]]]:
        replies = [
            await client.get("/healthz"),
            await client.get("/readyz"),
            await _post(client, "psb_deaths", body, **_auth("department", "psb_deaths")),
        ]
        return [(r.status, await r.json()) for r in replies]

    healthz, readyz, ingest = _serve(neither, scenario, ready_timeout=1.0)
    assert healthz[0] == 200
    assert readyz[0] == 503
    assert set(readyz[1]["down"]) == {"kafka", "redis"}
    assert kafka_address in readyz[1]["down"]["kafka"]
    assert ingest[0] == 503  # without Redis, nobody can say the token is not revoked: refused
    assert "cannot check whether the token was revoked" in ingest[1]["error"]
    _, _, ingest = _serve(no_kafka, scenario, ready_timeout=1.0)
    assert ingest[0] == 503
    assert f"cannot reach Kafka at {kafka_address}" in ingest[1]["error"]
