"""The warning rules: one pure function from a person's state and a date to findings."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from streams.rules.finding import Context, Finding
from streams.rules.life import deceased, incarcerated
from streams.rules.residence import moved
from streams.state import PersonState

Rule = Callable[[PersonState, Context], Iterator[Finding]]

RULES: tuple[Rule, ...] = (deceased, incarcerated, moved)


def evaluate(state: PersonState, ctx: Context) -> list[Finding]:
    """Every finding for this person today, including ones outranked by death or prison."""
    return [finding for rule in RULES for finding in rule(state, ctx)]


__all__ = ["Context", "Finding", "evaluate"]
