"""What a webhook says about an alert change, in each format: pure, and never a name or full ID.

alerts.md "Webhooks": the queue, the alert type and severity, the masked ID number at most, and a
link to the alert in the inbox. `notice` picks exactly those (plus what changed, from the last
history entry) out of an alert; the formats only lay them out, in the inbox's words.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

from alerts.model import Alert
from connectors.ids import mask_id
from web.labels import HISTORY_ACTIONS, SEVERITIES, STATUSES, UI, type_name, word
from welfare_watch.settings import WebhookFormat

# Every word is the inbox's (web.labels, zh-CN); these are the colours 企业微信 markdown has.
_WECOM_COLOURS = {"critical": "warning", "high": "warning", "medium": "info", "low": "comment"}


@dataclass(frozen=True)
class Notice:
    """Everything a webhook may carry about one alert change, and nothing more."""

    queue: str
    type: str
    type_name: str  # zh-CN
    severity: str
    change: str  # the last history entry's action: opened, updated, withdrawn, acknowledged…
    status: str
    masked_id: str  # 210105********0118
    link: str  # {inbox_url}/alerts/{alert_id}


def notice(alert: Alert, inbox_url: str) -> Notice:
    change = alert.history[-1].action if alert.history else "updated"
    return Notice(
        queue=alert.queue,
        type=alert.type,
        type_name=type_name(alert.type),
        severity=alert.severity,
        change=change,
        status=alert.status,
        masked_id=mask_id(alert.person_id),
        link=f"{inbox_url.rstrip('/')}/alerts/{quote(alert.alert_id, safe='')}",
    )


def webhook_body(fmt: WebhookFormat, alert: Alert, inbox_url: str) -> dict[str, Any]:
    """The JSON body to POST for one alert change in one format."""
    n = notice(alert, inbox_url)
    match fmt:
        case "json":
            return asdict(n)
        case "wecom":
            return {"msgtype": "markdown", "markdown": {"content": _wecom(n)}}
        case "dingtalk":
            return {"msgtype": "markdown", "markdown": {"title": _title(n), "text": _dingtalk(n)}}


def _title(n: Notice) -> str:
    return f"{UI['product']}：{n.type_name} · {word(HISTORY_ACTIONS, n.change)}"


def _fields(n: Notice) -> list[tuple[str, str]]:
    return [
        (UI["what"], word(HISTORY_ACTIONS, n.change)),
        (UI["status"], word(STATUSES, n.status)),
        (UI["severity"], word(SEVERITIES, n.severity)),
        (UI["queue"], n.queue),
        (UI["id_number"], n.masked_id),
    ]


def _heading(n: Notice) -> str:
    name = n.type_name if n.type_name == n.type else f"{n.type_name}（{n.type}）"
    return f"【{UI['product']}】{name}"


def _wecom(n: Notice) -> str:
    colour = _WECOM_COLOURS.get(n.severity, "comment")
    lines = [f"**{_heading(n)}**"]
    for label, value in _fields(n):
        if label == UI["severity"]:
            value = f'<font color="{colour}">{value}</font>'
        lines.append(f"> {label}：{value}")
    lines.append(f"[{UI['detail']}]({n.link})")
    return "\n".join(lines)


def _dingtalk(n: Notice) -> str:
    # 钉钉 markdown keeps a line break only between paragraphs.
    lines = [f"#### {_heading(n)}", *(f"- {label}：{value}" for label, value in _fields(n))]
    return "\n\n".join([*lines, f"[{UI['detail']}]({n.link})"])
