"""What a connector raises when input cannot be understood; each message is for a clerk."""

from __future__ import annotations

from welfare_watch.errors import WelfareWatchError


class BadValue(WelfareWatchError):
    """One value (an ID number, a date, a word) is wrong; the message names the column."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadRecord(WelfareWatchError):
    """One record cannot become a fact; the record is rejected, the rest of its file goes on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotATable(WelfareWatchError):
    """A whole file or body is not a table of the expected feed (binary, wrong header)."""
