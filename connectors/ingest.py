"""`ingest FEED FILE`: one department file through its connector onto Kafka."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from connectors.feedspec import FeedSpec
from connectors.parse import read_feed
from connectors.sink import DeliveryResult, sink_for
from welfare_watch.errors import WelfareWatchError
from welfare_watch.settings import Settings


def feed_spec(settings: Settings, feed: str) -> FeedSpec:
    spec = settings.feeds.get(feed)
    if spec is None:
        known = ", ".join(sorted(settings.feeds))
        raise WelfareWatchError(f"unknown feed {feed!r}; configured feeds: {known}")
    return spec


def checked(settings: Settings, feed: str, path: Path) -> FeedSpec:
    """The feed's spec, once the feed is configured and the file is there."""
    spec = feed_spec(settings, feed)
    if not path.is_file():
        raise WelfareWatchError(f"no such file: {path}")
    return spec


def ingest_file(
    settings: Settings, feed: str, path: Path, progress: Callable[[int], None] = lambda n: None
) -> DeliveryResult:
    spec = checked(settings, feed, path)
    with sink_for(settings, spec, f"file:{path.name}") as sink:
        for item in read_feed(spec, path, sink.received_at, sink.result.source):
            sink.send(item)
            if sink.result.received % 1000 == 0:
                progress(1000)
        progress(sink.result.received % 1000)
    return sink.result
