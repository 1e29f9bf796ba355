"""A free port for a server a test starts (the web app, `welfare-watch run`, Prometheus).

Chosen below Linux's range for outgoing connections (32768-60999): a port found free there can
be taken by a client socket of Kafka or Redis before the server binds it, and the server then
fails with "address already in use" (CI saw it once, with `welfare-watch run`). Clear of the
test stacks' own ports (16379, 19092, 26379, 27379, 29092, 29192 and their neighbours).
"""

from __future__ import annotations

import random
import socket

LOW, HIGH = 21_000, 25_999


def free_port() -> int:
    for _ in range(500):
        port = random.randint(LOW, HIGH)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between {LOW} and {HIGH}")
