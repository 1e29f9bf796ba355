"""The one exception the embedded stack raises."""

from welfare_watch.errors import WelfareWatchError


class StackError(WelfareWatchError):
    """Installing, starting or stopping the embedded Kafka or Redis failed; one line says why."""
