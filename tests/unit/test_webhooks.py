"""Webhook bodies carry what alerts.md "Webhooks" allows and nothing more; retry arithmetic."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import tomllib
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from alerts.model import Alert, Evidence, HistoryEntry
from alerts.webhook_formats import notice, webhook_body
from alerts.webhooks import _robot_failure, backoff, dingtalk_signed
from web.labels import TYPE_NAMES
from welfare_watch.settings import DEFAULT_CONFIG, Policy, WebhookFormat

PERSON_ID = "210105195203140118"
NAME = "杨德福"
INBOX = "https://inbox.mzj.example.gov.cn"
FORMATS: tuple[WebhookFormat, ...] = ("json", "wecom", "dingtalk")
AT = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


def alert(**changes: Any) -> Alert:
    fields: dict[str, Any] = {
        "alert_id": "deceased_beneficiary-0123456789abcdef",
        "key": ["DECEASED_BENEFICIARY", PERSON_ID, "dibao_urban"],
        "type": "DECEASED_BENEFICIARY",
        "severity": "critical",
        "person_id": PERSON_ID,
        "person_name": NAME,
        "name_mismatch": False,
        "program": "dibao_urban",
        "household_id": "HH-210105-000118",
        "district_code": "210105",
        "community": "华山社区",
        "queue": "cw-210105-01",
        "confidence": "confirmed",
        "recommended_action": "suspend_payment",
        "reason": f"{NAME} ({PERSON_ID}) died on 2025-11-02 (psb_deaths GA1)",
        "amount_at_risk": Decimal("1560.00"),
        "evidence": [
            Evidence(
                feed="psb_deaths",
                record_id="GA1",
                kind="death",
                fact="death reported by psb_deaths",
                event_date=dt.date(2025, 11, 2),
                received_at=AT,
            )
        ],
        "trigger": "event",
        "event_time": dt.date(2025, 11, 2),
        "ingested_at": AT,
        "detected_at": AT,
        "updated_at": AT,
        "due_by": AT + dt.timedelta(days=1),
        "status": "open",
        "history": [HistoryEntry(at=AT, by="system", action="opened", why=f"{NAME} died")],
    }
    return Alert(**(fields | changes))


def _text(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False)


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_name_no_full_id_nothing_but_the_allowed_fields(fmt: WebhookFormat) -> None:
    a = alert()
    text = _text(webhook_body(fmt, a, INBOX))
    for secret in (NAME, PERSON_ID, a.household_id, a.community, a.reason, "1560", "GA1"):
        assert secret not in text
    assert "210105********0118" in text
    assert f"{INBOX}/alerts/deceased_beneficiary-0123456789abcdef" in text
    assert "DECEASED_BENEFICIARY" in text and "死亡预警" in text
    assert "cw-210105-01" in text
    # no digit run longer than the masked number's visible parts, except in the link's id
    without_link = text.replace(f"{INBOX}/alerts/{a.alert_id}", "")
    assert not re.search(r"\d{7,}", without_link)


def test_json_is_exactly_the_notice() -> None:
    body = webhook_body("json", alert(), INBOX)
    assert body == {
        "queue": "cw-210105-01",
        "type": "DECEASED_BENEFICIARY",
        "type_name": "死亡预警",
        "severity": "critical",
        "change": "opened",
        "status": "open",
        "masked_id": "210105********0118",
        "link": f"{INBOX}/alerts/deceased_beneficiary-0123456789abcdef",
    }


def test_wecom_is_a_group_robot_markdown_message() -> None:
    body = webhook_body("wecom", alert(), INBOX)
    assert set(body) == {"msgtype", "markdown"} and body["msgtype"] == "markdown"
    assert set(body["markdown"]) == {"content"}
    content = body["markdown"]["content"]
    assert content.splitlines()[0] == "**【救助预警】死亡预警（DECEASED_BENEFICIARY）**"
    assert '<font color="warning">紧急</font>' in content
    assert content.endswith(f"({INBOX}/alerts/deceased_beneficiary-0123456789abcdef)")
    assert len(content.encode()) < 4096  # the robot's limit


def test_dingtalk_is_a_robot_markdown_message_with_title_and_text() -> None:
    body = webhook_body("dingtalk", alert(), INBOX)
    assert set(body) == {"msgtype", "markdown"} and body["msgtype"] == "markdown"
    assert set(body["markdown"]) == {"title", "text"}
    assert body["markdown"]["title"] == "救助预警：死亡预警 · 生成预警"
    text = body["markdown"]["text"]
    assert text.startswith("#### 【救助预警】死亡预警（DECEASED_BENEFICIARY）\n\n")
    assert "- 身份证号：210105********0118" in text
    assert text.endswith(f"({INBOX}/alerts/deceased_beneficiary-0123456789abcdef)")


def test_what_changed_is_the_last_history_entry() -> None:
    history = [
        HistoryEntry(at=AT, by="system", action="opened", why=f"{NAME} died"),
        HistoryEntry(at=AT, by="system", action="withdrawn", why=f"{NAME}: record GA1 revoked"),
    ]
    a = alert(status="withdrawn", history=history)
    assert notice(a, INBOX).change == "withdrawn"
    assert webhook_body("dingtalk", a, INBOX)["markdown"]["title"] == "救助预警：死亡预警 · 撤回"
    assert "> 状态：已撤回" in webhook_body("wecom", a, INBOX)["markdown"]["content"]
    assert "revoked" not in _text(webhook_body("json", a, INBOX))  # the why stays home


@pytest.mark.parametrize("code", sorted(TYPE_NAMES))
def test_every_type_is_named_as_the_inbox_names_it(code: str) -> None:
    body = webhook_body("json", alert(type=code), INBOX)
    assert (body["type"], body["type_name"]) == (code, TYPE_NAMES[code])


def test_a_type_the_catalogue_does_not_know_shows_its_code_once() -> None:
    a = alert(type="SOME_NEW_TYPE", severity="low")
    content = webhook_body("wecom", a, INBOX)["markdown"]["content"]
    assert content.splitlines()[0] == "**【救助预警】SOME_NEW_TYPE**"
    assert '<font color="comment">低</font>' in content


def test_link_with_a_trailing_slash_and_a_path() -> None:
    a = alert()
    assert (
        notice(a, "http://10.1.2.3:8080/ww/").link == f"http://10.1.2.3:8080/ww/alerts/{a.alert_id}"
    )


def test_back_off_doubles_within_its_jitter() -> None:
    for attempt, full in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0)):
        for _ in range(50):
            assert full / 2 <= backoff(0.5, attempt) <= full


def test_dingtalk_signature_follows_the_robot_documentation() -> None:
    url = dingtalk_signed("https://oapi.dingtalk.com/robot/send?access_token=abc", "SECx", 1700)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert query["access_token"] == ["abc"] and query["timestamp"] == ["1700"]
    expected = hmac.new(b"SECx", b"1700\nSECx", hashlib.sha256).digest()
    assert base64.b64decode(query["sign"][0]) == expected


@pytest.mark.parametrize(
    ("answer", "failed"),
    [
        (b'{"errcode":0,"errmsg":"ok"}', False),
        (b'{"errcode":45009,"errmsg":"api freq out of limit"}', True),
        (b"ok", False),  # not JSON: the HTTP status already said 2xx
        (b"[]", False),
    ],
)
def test_robot_answers(answer: bytes, failed: bool) -> None:
    assert (_robot_failure(answer) is not None) == failed


def test_the_commented_example_in_the_configuration_is_valid() -> None:
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    start = text.index("# [webhooks]")
    example = "\n".join(line.removeprefix("# ") for line in text[start:].splitlines())
    raw = tomllib.loads(text[:start]) | tomllib.loads(example)
    raw.pop("feeds", None)
    policy = Policy.model_validate(raw)
    hooks = policy.webhooks
    assert set(hooks.targets) == {"cw-210105-01", "supervisor-210105", "*"}
    assert hooks.targets["supervisor-210105"].format == "dingtalk"
    assert "access_token" not in repr(hooks)  # a URL holds the robot's key: never printed
