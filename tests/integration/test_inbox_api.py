"""The caseworkers' API on the real Kafka and Redis: who sees and does what, every lifecycle
step and refusal, reassignment, the event stream's resume, and the pre-approval check."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from tests.integration.conftest import AS_OF, Cli, Worker, stored_alerts
from web import create_app
from welfare_watch.settings import Settings
from welfare_watch.tokens import issue

SAMPLES = Path(__file__).parent.parent / "data" / "samples"
SECRET = "test-secret-of-at-least-thirty-two-bytes"
JAILED = "210104197502020776"  # in the sample roster (cw-210104-02) and prison.csv
DEAD = "210105195203140118"  # in the sample roster (cw-210105-01) and psb_deaths.csv

Client = TestClient[web.Request, web.Application]
T = TypeVar("T")


def _settings(tmp_path: Path, env: dict[str, str]) -> Settings:
    return Settings.load(
        kafka_bootstrap=env["WW_KAFKA_BOOTSTRAP"],
        redis_url=env["WW_REDIS_URL"],
        data_dir=tmp_path,
        secret_key=SECRET,
        as_of=AS_OF,
    )


def _serve(settings: Settings, scenario: Callable[[Client], Awaitable[T]]) -> T:
    async def main() -> T:
        app = create_app(settings, CollectorRegistry())
        async with TestClient(TestServer(app)) as client:
            return await scenario(client)

    return asyncio.run(main())


def token(role: str, scope: str, subject: str) -> dict[str, str]:
    now = dt.datetime.now(dt.UTC)
    signed = issue(role, scope, 1, SECRET.encode(), now, subject=subject)
    return {"Authorization": f"Bearer {signed}"}


OWN = token("caseworker", "cw-210104-02", "S-OWN")
OTHER = token("caseworker", "cw-210105-01", "S-OTHER")
COLLEAGUE = token("caseworker", "cw-210104-01", "S-COLLEAGUE")
SUPERVISOR = token("supervisor", "210104", "S-SUP")
OTHER_SUPERVISOR = token("supervisor", "210105", "S-SUP2")
CITY = token("supervisor", "210100", "S-CITY")
AUDITOR = token("auditor", "*", "S-AUDIT")
DEPARTMENT = token("department", "prison", "dept:prison")


async def _json(reply: ClientResponse) -> Any:
    return json.loads(await reply.text())


def _jailed_alert_id(ww: Cli) -> str:
    (alert,) = [a for a in stored_alerts(ww.env) if a.person_id == JAILED]
    assert alert.type == "INCARCERATED_BENEFICIARY"
    return alert.alert_id


def test_who_sees_and_does_what_and_every_step_is_recorded(
    ww: Cli, worker: Worker, tmp_path: Path
) -> None:
    worker.start()
    ww("roster", "load", str(SAMPLES / "roster.csv"))
    ww("ingest", "prison", str(SAMPLES / "prison.csv"))
    ww("wait")
    alert_id = _jailed_alert_id(ww)
    path = f"/api/alerts/{alert_id}"

    async def scenario(client: Client) -> None:
        async def count(headers: dict[str, str]) -> int | None:
            reply = await client.get("/api/alerts", headers=headers)
            return (await _json(reply))["total"] if reply.status == 200 else reply.status

        # Seeing: the case's caseworker, its district's and the city's supervisors, the auditor.
        seen = {
            name: await count(headers)
            for name, headers in [("own", OWN), ("other", OTHER), ("supervisor", SUPERVISOR),
                                  ("other_supervisor", OTHER_SUPERVISOR), ("city", CITY),
                                  ("auditor", AUDITOR), ("department", DEPARTMENT)]
        }  # fmt: skip
        assert seen == {
            "own": 1, "other": 0, "supervisor": 1, "other_supervisor": 0, "city": 1,
            "auditor": 1, "department": 403,
        }  # fmt: skip
        assert (await client.get("/api/alerts")).status == 401
        bad = {"Authorization": "Bearer not-a-token"}
        assert (await client.get("/api/alerts", headers=bad)).status == 401
        assert (await client.get(path, headers=OTHER)).status == 403
        detail = await client.get(path, headers=OWN)
        assert detail.status == 200
        assert (await _json(detail))["person_id"] == JAILED

        # Acting: the auditor reads only; nobody acts outside their scope.
        assert (await client.post(f"{path}/ack", headers=AUDITOR)).status == 403
        assert (await client.post(f"{path}/ack", headers=OTHER)).status == 403
        acked = await client.post(f"{path}/ack", headers=OWN)
        assert acked.status == 200, await acked.text()
        body = await _json(acked)
        assert (body["status"], body["version"]) == ("acknowledged", 2)
        assert (body["history"][-1]["by"], body["history"][-1]["action"]) == (
            "S-OWN", "acknowledged"
        )  # fmt: skip
        assert body["history"][-1]["token_id"]
        again = await client.post(f"{path}/ack", headers=OWN)
        assert again.status == 409
        assert "cannot be acknowledged" in (await _json(again))["error"]

        # Reassigning: a supervisor, within the district only.
        elsewhere = {"queue": "cw-210105-01", "note": "跨区"}
        moved = await client.post(f"{path}/reassign", headers=SUPERVISOR, json=elsewhere)
        assert moved.status == 403
        mine = {"queue": "cw-210104-01", "note": "调整分工"}
        assert (await client.post(f"{path}/reassign", headers=OWN, json=mine)).status == 403
        moved = await client.post(f"{path}/reassign", headers=SUPERVISOR, json=mine)
        assert moved.status == 200, await moved.text()
        assert (await _json(moved))["queue"] == "cw-210104-01"
        assert await count(OWN) == 0
        assert await count(COLLEAGUE) == 1

        # Closing: a false match needs a note; a withdrawn or closed alert cannot be resolved.
        false_match = {"resolution": "false_match"}
        refused = await client.post(f"{path}/resolve", headers=COLLEAGUE, json=false_match)
        assert refused.status == 422
        assert (await client.post(f"{path}/dismiss", headers=COLLEAGUE, json={})).status == 422
        resolution = {"resolution": "confirmed_suspended", "note": "已暂停发放"}
        done = await client.post(f"{path}/resolve", headers=COLLEAGUE, json=resolution)
        assert done.status == 200, await done.text()
        assert (await _json(done))["status"] == "resolved"
        dismissed = await client.post(f"{path}/dismiss", headers=COLLEAGUE, json={"note": "x"})
        assert dismissed.status == 409

    _serve(_settings(tmp_path, ww.env), scenario)
    (stored,) = [a for a in stored_alerts(ww.env) if a.alert_id == alert_id]
    assert [h.action for h in stored.history] == [
        "opened", "acknowledged", "reassigned", "resolved"
    ]  # fmt: skip
    assert [h.by for h in stored.history] == ["system", "S-OWN", "S-SUP", "S-COLLEAGUE"]
    assert stored.version == 4  # strictly one version per change, by the one writer


async def _events(
    client: Client,
    headers: dict[str, str],
    wanted: int,
    connected: asyncio.Event | None = None,
) -> list[tuple[str, Any]]:
    """Read `wanted` alert events from the stream, then drop the connection."""
    found: list[tuple[str, Any]] = []
    async with client.get("/api/alerts/stream", headers=headers, timeout=None) as reply:
        assert reply.status == 200
        event_id = ""
        async for raw in reply.content:
            if connected is not None:
                connected.set()  # the stream has started: what is written now is ours
            line = raw.decode().rstrip("\n")
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: ") and event_id:
                found.append((event_id, json.loads(line[6:])))
                if len(found) == wanted:
                    break
    return found


def test_the_stream_resumes_after_a_dropped_connection(
    ww: Cli, worker: Worker, tmp_path: Path
) -> None:
    worker.start()
    ww("roster", "load", str(SAMPLES / "roster.csv"))
    ww("wait")

    async def scenario(client: Client) -> None:
        connected = asyncio.Event()
        listening = asyncio.create_task(_events(client, AUDITOR, 1, connected))
        await asyncio.wait_for(connected.wait(), 30)
        await asyncio.to_thread(ww, "ingest", "prison", str(SAMPLES / "prison.csv"))
        ((first_id, first),) = await asyncio.wait_for(listening, 120)
        assert first["person_id"] == JAILED
        # Disconnected: a death is written meanwhile.
        await asyncio.to_thread(ww, "ingest", "psb_deaths", str(SAMPLES / "psb_deaths.csv"))
        await asyncio.to_thread(ww, "wait")
        resumed = {**AUDITOR, "Last-Event-ID": first_id}
        ((_, missed),) = await asyncio.wait_for(_events(client, resumed, 1), 120)
        assert (missed["person_id"], missed["type"]) == (DEAD, "DECEASED_BENEFICIARY")
        # A caseworker's stream shows only their own queue's alerts.
        replay = {**OWN, "Last-Event-ID": "0-0"}
        ((_, own),) = await asyncio.wait_for(_events(client, replay, 1), 120)
        assert own["queue"] == "cw-210104-02"

    _serve(_settings(tmp_path, ww.env), scenario)


def test_the_pre_approval_check_agrees_with_the_worker(
    ww: Cli, worker: Worker, tmp_path: Path
) -> None:
    worker.start()
    ww("roster", "load", str(SAMPLES / "roster.csv"))
    for feed in ("prison", "psb_deaths"):
        ww("ingest", feed, str(SAMPLES / f"{feed}.csv"))
    ww("wait")
    worker_types = {(a.person_id, a.type) for a in stored_alerts(ww.env)}

    async def scenario(client: Client) -> Any:
        body = {"program": "dibao_urban", "ids": [JAILED, DEAD]}
        reply = await client.post("/api/checks", headers=OWN, json=body)
        assert reply.status == 200, await reply.text()
        refused = await client.post("/api/checks", headers=AUDITOR, json=body)
        assert refused.status == 403
        bad = await client.post(
            "/api/checks", headers=OWN, json={"program": "dibao_x", "ids": [DEAD]}
        )
        assert bad.status == 422
        return await _json(reply)

    reply = _serve(_settings(tmp_path, ww.env), scenario)
    checked = {(r["person_id"], f["type"]) for r in reply["results"] for f in r["findings"]}
    assert (JAILED, "INCARCERATED_BENEFICIARY") in checked & worker_types
    assert (DEAD, "DECEASED_BENEFICIARY") in checked & worker_types
    assert len(stored_alerts(ww.env)) == len(worker_types)  # the check wrote nothing
