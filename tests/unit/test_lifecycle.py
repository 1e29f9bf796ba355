"""A person's actions on an alert: every transition, every refused one, and the one writer."""

from __future__ import annotations

import datetime as dt

import pytest
from prometheus_client import CollectorRegistry

from alerts.lifecycle import RESOLUTIONS, Actor, Command, Refused, apply, check
from alerts.model import Alert
from alerts.reconcile import reconcile
from streams.commands import apply_commands
from streams.rules import evaluate
from streams.store import Changes, Loaded
from tests.factories import CTX, POLICY, enrollment, psb_death, state
from welfare_watch.metrics import Metrics

T0 = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
ACTOR = Actor(subject="S-0042", role="caseworker", scope="cw-1", token_id="tok-1")


def alert(status: str = "open") -> Alert:
    s = state(enrollment(), psb_death())
    (opened,) = reconcile(evaluate(s, CTX), {}, s.revoked, now=T0, trigger="event", policy=POLICY)
    return opened.model_copy(update={"status": status})


def command(action: str, **fields: object) -> Command:
    a = alert()
    return Command.model_validate(
        {"alert_id": a.alert_id, "person_id": a.person_id, "action": action, "actor": ACTOR,
         "at": T0, **fields}
    )  # fmt: skip


ALLOWED = [
    ("open", command("ack"), "acknowledged"),
    ("open", command("resolve", resolution="confirmed_suspended"), "resolved"),
    ("acknowledged", command("resolve", resolution="no_action_needed"), "resolved"),
    ("acknowledged", command("resolve", resolution="false_match", note="另一个人"), "resolved"),
    ("open", command("dismiss", note="重复数据"), "dismissed"),
    ("acknowledged", command("dismiss", note="重复数据"), "dismissed"),
    ("open", command("reassign", queue="cw-2"), "open"),
    ("acknowledged", command("reassign", queue="cw-2", note="调岗"), "acknowledged"),
]


@pytest.mark.parametrize(("status", "cmd", "after"), ALLOWED)
def test_allowed_transitions_add_history_naming_the_person_and_token(
    status: str, cmd: Command, after: str
) -> None:
    before = alert(status)
    updated = apply(before, cmd, T0 + dt.timedelta(minutes=5))
    assert updated.status == after
    assert updated.version == before.version + 1
    entry = updated.history[-1]
    assert (entry.by, entry.role, entry.token_id) == ("S-0042", "caseworker", "tok-1")
    assert entry.command_id == cmd.command_id
    if cmd.action == "reassign":
        assert updated.queue == "cw-2"
        assert entry.why.startswith("cw-1 → cw-2")


REFUSED = [
    ("acknowledged", command("ack"), 409, "cannot be acknowledged"),
    ("withdrawn", command("resolve", resolution="confirmed_suspended"), 409, "withdrawn"),
    ("resolved", command("dismiss", note="x"), 409, "cannot be dismissed"),
    ("dismissed", command("ack"), 409, "cannot be acknowledged"),
    ("withdrawn", command("reassign", queue="cw-2"), 409, "cannot be reassigned"),
    ("open", command("resolve", resolution="false_match"), 422, "needs a note"),
    ("open", command("resolve", resolution="false_match", note="   "), 422, "needs a note"),
    ("open", command("resolve", resolution="paid_back"), 422, "is not one of"),
    ("open", command("resolve"), 422, "is not one of"),
    ("open", command("dismiss"), 422, "needs a note"),
    ("open", command("reassign"), 422, "needs the caseworker queue"),
    ("open", command("reassign", queue="cw-1"), 409, "already in cw-1"),
]


@pytest.mark.parametrize(("status", "cmd", "code", "why"), REFUSED)
def test_refused_transitions_say_why(status: str, cmd: Command, code: int, why: str) -> None:
    with pytest.raises(Refused, match=why) as caught:
        check(alert(status), cmd)
    assert caught.value.status == code


def test_every_resolution_code_of_the_spec_is_known() -> None:
    assert set(RESOLUTIONS) == {
        "confirmed_suspended", "confirmed_recalculated", "confirmed_recovered",
        "transferred", "false_match", "no_action_needed",
    }  # fmt: skip


def _batch(existing: Alert, *commands: Command) -> tuple[Changes, CollectorRegistry]:
    loaded = Loaded(alerts={existing.person_id: {existing.alert_id: existing}})
    changes = Changes()
    registry = CollectorRegistry()
    apply_commands(commands, loaded, changes, T0, Metrics(registry))
    return changes, registry


def test_the_worker_applies_commands_in_order_on_the_batch_s_latest_version() -> None:
    ack, resolve = command("ack"), command("resolve", resolution="false_match", note="同名")
    changes, registry = _batch(alert(), ack, resolve)
    (versions,) = changes.alerts.values()
    assert [(a.status, a.version) for a in versions] == [("acknowledged", 2), ("resolved", 3)]
    assert [o.ok for o in changes.outcomes] == [True, True]
    counted = registry.get_sample_value("welfare_watch_false_matches_total", {"feed": "psb_deaths"})
    assert counted == 1


def test_a_refused_or_unknown_command_is_answered_and_changes_nothing() -> None:
    stranger = command("ack").model_copy(update={"alert_id": "nope"})
    changes, _ = _batch(alert("withdrawn"), command("ack"), stranger)
    assert changes.alerts == {}
    assert [(o.ok, o.status) for o in changes.outcomes] == [(False, 409), (False, 404)]


def test_a_command_read_twice_after_a_crash_is_applied_once() -> None:
    ack = command("ack")
    changes, _ = _batch(alert(), ack)
    (saved,) = changes.alerts[alert().person_id]
    again, _ = _batch(saved, ack)
    assert again.alerts == {}
    assert again.outcomes[0].ok and again.outcomes[0].alert == saved
