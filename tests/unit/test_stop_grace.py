"""A stopping worker finishes the batch in flight within its grace, or commits none of it; and a
timer that fails logs (masked) and runs again instead of crashing the worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, cast

import faust
import pytest

from streams.app import StopGrace, exception_safe, timer

GRACE = 0.3
PERSON = "210105194001010018"  # a made-up ID number, as an error message might carry one


@dataclass(eq=False)
class FakeMessage:
    acked: bool = False


@dataclass
class FakeConsumer:
    unacked: set[FakeMessage] = field(default_factory=set)


@dataclass
class FakeApp:
    """What StopGrace reads of the Faust app: whether it is stopping, and the consumer."""

    consumer: FakeConsumer = field(default_factory=FakeConsumer)
    should_stop: bool = False
    timers: list[tuple[float, bool, Callable[[], Coroutine[Any, Any, None]]]] = field(
        default_factory=list
    )

    def timer(self, seconds: float, on_leader: bool = False) -> Any:
        def register(
            body: Callable[[], Coroutine[Any, Any, None]],
        ) -> Callable[[], Coroutine[Any, Any, None]]:
            self.timers.append((seconds, on_leader, body))
            return body

        return register


def grace_for(app: FakeApp) -> StopGrace:
    return StopGrace(cast(faust.App, app), GRACE)


class Batch:
    """A batch that takes `seconds` to be saved (forever: None)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.saved = False
        self.cancelled = False

    async def __call__(self) -> None:
        try:
            await asyncio.sleep(3600 if self.seconds is None else self.seconds)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        self.saved = True


def in_flight(app: FakeApp, n: int = 3) -> list[FakeMessage]:
    messages = [FakeMessage() for _ in range(n)]
    app.consumer.unacked.update(messages)
    return messages


def test_a_batch_runs_to_its_end_when_nothing_stops() -> None:
    app = FakeApp()
    batch = Batch(0.05)
    asyncio.run(grace_for(app).run(batch()))
    assert batch.saved


def test_a_batch_that_fails_raises_its_error_and_is_not_committed() -> None:
    """The error leaves the agent through take_events, which acks the batch: held back first."""
    app = FakeApp()
    messages = in_flight(app)

    async def failing() -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        asyncio.run(grace_for(app).run(failing()))
    assert all(m.acked for m in messages)


def test_a_batch_that_fails_after_the_cancel_is_not_committed() -> None:
    app = FakeApp()
    messages = in_flight(app)

    async def failing_later() -> None:
        await asyncio.sleep(GRACE / 3)
        raise ConnectionError("Redis went away")

    async def scenario() -> None:
        task = asyncio.ensure_future(grace_for(app).run(failing_later()))
        canceller = asyncio.ensure_future(_cancel_after(task, 0.02))
        with pytest.raises(asyncio.CancelledError):
            await task
        await canceller

    asyncio.run(scenario())
    assert all(m.acked for m in messages)


async def _cancel_after(task: asyncio.Task[None], seconds: float) -> None:
    await asyncio.sleep(seconds)
    task.cancel()


def test_cancelled_mid_batch_it_waits_for_the_save_then_stops() -> None:
    """The agent's cancel (a crashed app, or the stop) does not reach the batch: it is saved,
    and only then does the cancel go on (and the batch is acked and committed)."""
    app = FakeApp()
    messages = in_flight(app)
    batch = Batch(GRACE / 2)

    async def scenario() -> None:
        task = asyncio.ensure_future(grace_for(app).run(batch()))
        canceller = asyncio.ensure_future(_cancel_after(task, 0.02))
        with pytest.raises(asyncio.CancelledError):
            await task
        await canceller

    asyncio.run(scenario())
    assert batch.saved and not batch.cancelled
    assert not any(m.acked for m in messages)  # left for the stream's own ack


def test_cancelled_and_not_saved_within_the_grace_nothing_unacked_is_committed() -> None:
    app = FakeApp()
    messages = in_flight(app)
    done = FakeMessage(acked=True)  # acked before: saved, and committed as usual
    app.consumer.unacked.add(done)
    batch = Batch(None)

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        task = asyncio.ensure_future(grace_for(app).run(batch()))
        canceller = asyncio.ensure_future(_cancel_after(task, 0.02))
        with pytest.raises(asyncio.CancelledError):
            await task
        await canceller
        return loop.time() - start

    took = asyncio.run(scenario())
    assert all(m.acked for m in messages)  # settled without an ack: no commit covers them
    assert batch.cancelled and not batch.saved
    assert GRACE <= took < GRACE + 1.5


def test_stopping_before_the_cancel_holds_back_then_waits_for_the_cancel() -> None:
    """SIGTERM: Faust waits for the streams to empty before it cancels the agent. A batch
    that cannot be saved within the grace is held back, so that wait ends, and the agent
    takes no other batch: it waits for its cancel."""
    app = FakeApp(should_stop=True)
    messages = in_flight(app)
    batch = Batch(None)

    async def scenario() -> None:
        task = asyncio.ensure_future(grace_for(app).run(batch()))
        while not all(m.acked for m in messages):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        assert not task.done()  # held back, and waiting for the cancel
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert batch.cancelled


def test_stopping_a_batch_saved_within_the_grace_ends_normally() -> None:
    app = FakeApp(should_stop=True)
    messages = in_flight(app)
    batch = Batch(GRACE / 3)
    asyncio.run(grace_for(app).run(batch()))
    assert batch.saved
    assert not any(m.acked for m in messages)


def test_the_grace_is_for_the_whole_stop_not_each_batch() -> None:
    app = FakeApp(should_stop=True)
    grace = grace_for(app)

    async def scenario() -> None:
        await grace.run(Batch(GRACE * 0.7)())
        in_flight(app)
        second = asyncio.ensure_future(grace.run(Batch(GRACE * 0.7)()))
        await asyncio.sleep(GRACE * 0.6)  # the grace ran out meanwhile: held back
        assert all(m.acked for m in app.consumer.unacked)
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second

    asyncio.run(scenario())


def test_a_failing_timer_logs_masked_and_runs_again(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError(f"Redis went away while looking at {PERSON}")

    guarded = exception_safe(flaky)
    with caplog.at_level(logging.ERROR, logger="welfare_watch.worker"):
        asyncio.run(guarded())
        asyncio.run(guarded())
    assert calls == 2
    assert "timer flaky failed (ConnectionError" in caplog.text
    assert PERSON not in caplog.text and PERSON[:6] in caplog.text


def test_a_cancelled_timer_stays_cancelled() -> None:
    async def cancelled() -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(exception_safe(cancelled)())


def test_timer_declares_the_exception_safe_body() -> None:
    app = FakeApp()

    async def tick() -> None:
        raise RuntimeError("boom")

    declared = timer(cast(faust.App, app), 5.0, on_leader=True)(tick)
    assert declared is tick
    [(seconds, on_leader, body)] = app.timers
    assert (seconds, on_leader) == (5.0, True)
    asyncio.run(body())  # logged, not raised
