"""`welfare-watch connectors`: the file drop and the Kafka raw topics, side by side."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

from connectors.filedrop import FileDrop
from connectors.filedrop import drain as drain_inbox
from connectors.raw import RawTopics
from welfare_watch.exposition import serve
from welfare_watch.settings import Settings


def run_connectors(settings: Settings, *, drain: bool, log: Callable[[str], None]) -> None:
    """Run until SIGTERM or SIGINT; with `drain`, take what is waiting now and return."""
    files = FileDrop(settings)
    raw = RawTopics(settings)
    try:
        if drain:
            for report in drain_inbox(settings, timeout=600):
                log(f"{report.file}: {report.status}, accepted {report.accepted}, "
                    f"rejected {report.rejected}")  # fmt: skip
            while results := raw.poll(timeout=2.0):
                for result in results:
                    log(f"{result.source}: accepted {result.accepted}, rejected {result.rejected}")
            return
        serve(settings.env.metrics_port)  # its own /metrics when deployed on its own
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        inbox = threading.Thread(target=files.run, args=(stop,), name="file-drop", daemon=True)
        inbox.start()
        log(f"connectors: watching {settings.env.data_dir / 'inbox'} and dept.*.raw")
        raw.run(stop)
        inbox.join(timeout=30)
    finally:
        raw.close()
