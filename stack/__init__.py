"""The embedded stack: a real Kafka broker and Redis server run on this machine, no Docker.

`install` fetches them once, `up` starts them detached and waits until they answer, `down`
stops exactly what `up` started, `status` says what runs where.
"""

from stack.errors import StackError
from stack.lifecycle import ServiceStatus, down, install, status, up

__all__ = ["ServiceStatus", "StackError", "down", "install", "status", "up"]
