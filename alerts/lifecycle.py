"""What a person does to an alert (alerts.md "Lifecycle and due process"), as pure functions.

`open → acknowledged → resolved` (with a resolution code), `open/acknowledged → dismissed` (with
a note), and a supervisor's reassignment to another caseworker. `check` says why a command is
refused; `apply` returns the alert's next version. The web app checks before it sends a command;
the worker that owns the person checks again and applies it, so it is the one writer.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alerts.model import Alert, HistoryEntry

Action = Literal["ack", "resolve", "dismiss", "reassign"]
Resolution = Literal[
    "confirmed_suspended",
    "confirmed_recalculated",
    "confirmed_recovered",
    "transferred",
    "false_match",
    "no_action_needed",
]
RESOLUTIONS: tuple[str, ...] = Resolution.__args__  # type: ignore[attr-defined]
FALSE_MATCH = "false_match"
MAX_NOTE = 2000

# The history word for each action.
DONE: dict[str, str] = {
    "ack": "acknowledged",
    "resolve": "resolved",
    "dismiss": "dismissed",
    "reassign": "reassigned",
}
_FROM: dict[str, frozenset[str]] = {
    "ack": frozenset({"open"}),
    "resolve": frozenset({"open", "acknowledged"}),
    "dismiss": frozenset({"open", "acknowledged"}),
    "reassign": frozenset({"open", "acknowledged"}),
}


class Actor(BaseModel):
    """Who acts: the person a token names, and the token."""

    model_config = ConfigDict(frozen=True)

    subject: str
    role: str
    scope: str
    token_id: str


class Command(BaseModel):
    """One action on one alert, as the web app hands it to the worker on ww.commands."""

    model_config = ConfigDict(frozen=True)

    command_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    alert_id: str
    person_id: str
    action: Action
    note: str = Field(default="", max_length=MAX_NOTE)
    resolution: str | None = None
    queue: str | None = None  # reassign: the caseworker queue it moves to
    actor: Actor
    at: dt.datetime


class Refused(ValueError):
    """A command that cannot be applied: `status` is the HTTP status that says why."""

    def __init__(self, reason: str, status: int = 409) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def check(alert: Alert, command: Command) -> None:
    """Raise Refused unless the command may be applied to this version of the alert."""
    action = command.action
    if alert.status not in _FROM[action]:
        raise Refused(f"an alert that is {alert.status} cannot be {DONE[action]}")
    note = command.note.strip()
    if action == "resolve":
        if command.resolution not in RESOLUTIONS:
            raise Refused(
                f"resolution {command.resolution!r} is not one of: {', '.join(RESOLUTIONS)}", 422
            )
        if command.resolution == FALSE_MATCH and not note:
            raise Refused("resolving as false_match needs a note saying why", 422)
    if action == "dismiss" and not note:
        raise Refused("dismissing an alert needs a note saying why", 422)
    if action == "reassign":
        if not command.queue:
            raise Refused("reassigning needs the caseworker queue to move the alert to", 422)
        if command.queue == alert.queue:
            raise Refused(f"the alert is already in {command.queue}")


def apply(alert: Alert, command: Command, now: dt.datetime) -> Alert:
    """The alert's next version after the command; Refused if it may not be applied."""
    check(alert, command)
    action = command.action
    note = command.note.strip()
    why = note
    fields: dict[str, object] = {}
    if action == "ack":
        fields["status"] = "acknowledged"
    elif action == "resolve":
        fields |= {"status": "resolved", "resolution": command.resolution}
        why = f"{command.resolution}: {note}" if note else str(command.resolution)
    elif action == "dismiss":
        fields["status"] = "dismissed"
    else:
        fields["queue"] = command.queue
        why = f"{alert.queue} → {command.queue}" + (f": {note}" if note else "")
    entry = HistoryEntry(
        at=now,
        by=command.actor.subject,
        action=DONE[action],
        why=why,
        role=command.actor.role,
        token_id=command.actor.token_id,
        command_id=command.command_id,
    )
    return alert.model_copy(
        update={
            **fields,
            "version": alert.version + 1,
            "updated_at": now,
            "history": [*alert.history, entry],
        }
    )


class Outcome(BaseModel):
    """The worker's answer to a command, read back by the web app."""

    command_id: str
    ok: bool
    status: int = 200
    error: str = ""
    alert: Alert | None = None

    def as_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def decode(cls, raw: bytes | str) -> Outcome:
        return cls.model_validate(json.loads(raw))
