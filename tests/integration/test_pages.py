"""The inbox's pages on the real Redis and Kafka: sign-in and its cookie, refusals, paging
through 10,000 alerts, the detail and who may open it. (The browser test drives the rest.)"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from alerts.model import Alert, Evidence, HistoryEntry
from streams.store import Changes, Loaded, PersonStore
from tests.integration.conftest import AS_OF, Cli
from web import create_app
from welfare_watch import names, redis_client
from welfare_watch.settings import Settings
from welfare_watch.tokens import issue, token_id_of

SECRET = "pages-test-secret-0123456789abcdef0123456789"
QUEUE, OTHER = "cw-210104-09", "cw-210104-08"
MANY = 10_000
SEVERITIES = ("critical", "high", "medium", "low")
STATUSES = ("open", "open", "acknowledged", "resolved")

Client = TestClient[web.Request, web.Application]
T = TypeVar("T")


def _settings(tmp_path: Path, env: dict[str, str]) -> Settings:
    return Settings.load(
        data_dir=tmp_path,
        secret_key=SECRET,
        as_of=AS_OF,
        kafka_bootstrap=env["WW_KAFKA_BOOTSTRAP"],
        redis_url=env["WW_REDIS_URL"],
    )


def _serve(settings: Settings, scenario: Callable[[Client], Awaitable[T]]) -> T:
    async def main() -> T:
        app = create_app(settings, CollectorRegistry())
        async with TestClient(TestServer(app)) as client:
            return await scenario(client)

    return asyncio.run(main())


def _token(role: str, scope: str, subject: str | None = None) -> str:
    now = dt.datetime.now(dt.UTC)
    return issue(role, scope, 1, SECRET.encode(), now, subject=subject)


def _alert(i: int, queue: str = QUEUE, name: str = "张三丰") -> Alert:
    at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=i)
    person = f"210104{1950 + i % 50:04d}{1 + i // 10_000:02d}01{i % 10_000:04d}"
    return Alert(
        alert_id=f"page-{i:06d}",
        key=["VEHICLE_OWNER", person, "dibao_urban"],
        type="VEHICLE_OWNER",
        severity=SEVERITIES[i % 4],
        person_id=person,
        person_name=name,
        name_mismatch=False,
        program="dibao_urban",
        household_id=f"HH-{i}",
        district_code="210104",
        community="东站社区",
        queue=queue,
        confidence="confirmed",
        recommended_action="review_eligibility",
        reason="owns a registered car",
        amount_at_risk=Decimal("0.00"),
        evidence=[
            Evidence(
                feed="vehicles",
                record_id=f"CL-{i}",
                kind="vehicle",
                fact="vehicle record from vehicles",
                event_date=dt.date(2026, 1, 1),
                received_at=at,
            )
        ],
        trigger="event",
        event_time=dt.date(2026, 1, 1),
        ingested_at=at,
        detected_at=at,
        updated_at=at,
        due_by=at + dt.timedelta(days=3),
        status=STATUSES[i % 4],
        history=[HistoryEntry(at=at, by="system", action="opened", why="owns a registered car")],
    )


async def _store(url: str, alerts: list[Alert]) -> None:
    """Written as the worker writes them (streams.store): alerts, indexes, events."""
    client = redis_client.connect_async(url)
    changes = Changes()
    for alert in alerts:
        changes.alerts.setdefault(alert.person_id, []).append(alert)
    await PersonStore(client).save(changes, Loaded())
    await client.aclose()


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr class="alert[^"]*" data-id="([^"]+)"', html)


def test_sign_in_keeps_the_token_in_a_strict_http_only_cookie(ww: Cli, tmp_path: Path) -> None:
    token = _token("caseworker", QUEUE, QUEUE)

    async def scenario(client: Client) -> None:
        first = await client.get("/")
        assert first.status == 200
        assert "登录救助预警工作台" in await first.text()
        assert "default-src 'self'" in first.headers["Content-Security-Policy"]
        assert first.headers["Cache-Control"] == "no-store"

        signed = await client.post("/api/session", data={"token": token}, allow_redirects=False)
        assert signed.status == 303
        assert signed.headers["Location"] == "/"
        cookie = signed.headers["Set-Cookie"]
        assert cookie.startswith("ww_token=")
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Secure" not in cookie  # plain http here; set on https
        assert "Path=/" in cookie

        inbox = await client.get("/")
        assert "未办结预警" in await inbox.text()
        assert (await client.get("/api/alerts")).status == 200  # the API takes the cookie too

        out = await client.post("/api/session/logout", allow_redirects=False)
        assert out.status == 303
        assert 'ww_token=""' in out.headers["Set-Cookie"]
        assert "Max-Age=0" in out.headers["Set-Cookie"]
        assert "登录救助预警工作台" in await (await client.get("/")).text()

        as_json = await client.post("/api/session", json={"token": token})
        assert await as_json.json() == {"role": "caseworker", "scope": QUEUE, "subject": QUEUE}

    _serve(_settings(tmp_path, ww.env), scenario)


def test_a_bad_a_revoked_or_a_department_token_does_not_sign_in(ww: Cli, tmp_path: Path) -> None:
    good = _token("caseworker", QUEUE, QUEUE)

    async def scenario(client: Client) -> None:
        bad = await client.post("/api/session", data={"token": good[:-4] + "AAAA"})
        assert bad.status == 401
        assert "访问令牌无效、已过期或已被注销" in await bad.text()
        assert "Set-Cookie" not in bad.headers
        assert (await client.post("/api/session", json={"token": "x"})).status == 401
        assert (await client.post("/api/session", data={"token": ""})).status == 400

        department = await client.post(
            "/api/session", data={"token": _token("department", "prison")}
        )
        assert department.status == 403
        assert "Set-Cookie" not in department.headers

        elsewhere = await client.post(
            "/api/session", data={"token": good}, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert elsewhere.status == 403

        assert (await client.post("/api/session", data={"token": good})).status == 200
        redis = redis_client.connect_async(ww.env["WW_REDIS_URL"])
        await redis.sadd(names.REVOKED_TOKENS, token_id_of(good))
        await redis.aclose()
        ended = await client.get("/")
        assert "登录已失效，请重新登录。" in await ended.text()
        assert "Max-Age=0" in ended.headers["Set-Cookie"]
        assert (await client.post("/api/session", data={"token": good})).status == 401

    _serve(_settings(tmp_path, ww.env), scenario)


def test_ten_thousand_alerts_are_paged_and_only_their_caseworker_sees_them(
    ww: Cli, tmp_path: Path
) -> None:
    hostile = "<script>alert(1)</script>"
    asyncio.run(_store(ww.env["WW_REDIS_URL"], [_alert(i) for i in range(MANY)]))
    asyncio.run(_store(ww.env["WW_REDIS_URL"], [_alert(MANY, name=hostile)]))
    mine = {"Authorization": f"Bearer {_token('caseworker', QUEUE, QUEUE)}"}
    theirs = {"Authorization": f"Bearer {_token('caseworker', OTHER, OTHER)}"}

    async def scenario(client: Client) -> None:
        started = time.monotonic()
        first = await client.get("/", headers=mine)
        html = await first.text()
        print(f"\nfirst page of {MANY + 1} alerts in {time.monotonic() - started:.2f} s")
        rows = _rows(html)
        assert len(rows) == 50
        assert "共 10001 条" in html
        assert "第 1 / 201 页" in html
        assert "/?page=2" in html
        # open work first, the most severe first, then the newest
        assert rows[:3] == ["page-010000", "page-009996", "page-009992"]
        assert all(int(r[-6:]) % 4 == 0 for r in rows)  # critical and open (see _alert)

        started = time.monotonic()
        last = await (await client.get("/?page=201", headers=mine)).text()
        print(f"last page in {time.monotonic() - started:.2f} s")
        assert len(_rows(last)) == 1
        far = await client.get("/?page=900", headers=mine, allow_redirects=False)
        assert far.status == 303
        assert far.headers["Location"] == "/?page=201"

        chosen = await (await client.get("/?severity=low&status=resolved", headers=mine)).text()
        assert "共 2500 条" in chosen
        assert all(int(r[-6:]) % 4 == 3 for r in _rows(chosen))
        assert "210104" in chosen
        assert re.search(r"210104\*{8}\d{4}", chosen)  # masked
        assert not re.search(r"210104\d{12}", chosen)

        assert _rows(await (await client.get("/", headers=theirs)).text()) == []

        detail = await client.get(f"/alerts/page-{MANY:06d}", headers=mine)
        page = await detail.text()
        assert detail.status == 200
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert hostile not in page
        assert "自然资源局" not in page
        assert "公安交管 机动车登记" in page
        assert "有车" in page

        assert 'data-action="resolve"' in page
        assert 'data-action="reassign"' not in page  # a caseworker does not reassign
        supervisor = {"Authorization": f"Bearer {_token('supervisor', '210104', 'sup-0104')}"}
        overseen = await (await client.get(f"/alerts/page-{MANY:06d}", headers=supervisor)).text()
        assert 'data-action="reassign"' in overseen
        auditor = {"Authorization": f"Bearer {_token('auditor', '*', 'aud-001')}"}
        read = await (await client.get(f"/alerts/page-{MANY:06d}", headers=auditor)).text()
        assert "您的账号为只读" in read
        assert 'data-action="' not in read

        refused = await client.get(f"/alerts/page-{MANY:06d}", headers=theirs)
        assert refused.status == 403
        assert "没有找到该预警，或您无权查看。" in await refused.text()
        assert (await client.get("/alerts/page-nothing", headers=mine)).status == 404
        unsigned = await client.get("/alerts/page-000001", allow_redirects=False)
        assert unsigned.status == 303

    _serve(_settings(tmp_path, ww.env), scenario)
