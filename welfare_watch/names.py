"""Every Kafka topic name and Redis key used by welfare-watch, in one place."""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterator

# --- Kafka topics -------------------------------------------------------------
ROSTER_CHANGES = "roster.changes"  # enrollment changes from the roster system (contract)
ALERTS = "alerts"  # every alert and every change to one (contract)
REJECTED = "dept.rejected"  # records a connector could not understand (contract)
AUDIT = "audit"  # every audit entry, keyed by chain: the chains' heads outside Redis (contract)
FACTS = "ww.facts"  # canonical department facts, keyed by person_id (internal)
RECHECK = "ww.recheck"  # "re-evaluate this person", keyed by person_id (internal)
COMMANDS = "ww.commands"  # a person's action on an alert (ack, resolve…), keyed by person_id
# Worker input that failed for a reason retrying cannot fix (streams.deadletter): the original
# key, value and headers unchanged, then headers `ww.dlq.*` with the topic, partition and offset
# it was read at and the masked error. One partition, kept forever (retention.ms=-1).
DEADLETTER = "ww.deadletter"

# The worker's inputs: all keyed by person_id and co-partitioned, so one person's
# updates are handled in order by one worker, the one writer of their alerts.
WORKER_INPUTS = (FACTS, ROSTER_CHANGES, RECHECK, COMMANDS)
WORKER_GROUP = "welfare-watch"  # the Faust app id, which is also its consumer group


def raw_topic(feed: str) -> str:
    """The topic a department may publish its raw records to."""
    return f"dept.{feed}.raw"


# --- Redis keys -----------------------------------------------------------------
PREFIX = "ww:"


def person_key(person_id: str) -> str:
    """One person's state: a hash of the PERSON_* fields, each JSON (the long ones compressed:
    welfare_watch.packing). The braces make it its own hash slot: one person is one slot on
    Redis Cluster, and one save one small write."""
    return f"{PREFIX}person:{{{person_id}}}"


PERSON_ENROLLMENTS = "enrollments"  # [enrollment, ...]: absent when on no program
PERSON_FACTS = "facts"  # {fact identity: fact}, every fact but payments
# the payments ledger (streams/ledger.py): the regular payments, and the rest
PERSON_PAYMENTS = "payments"
PERSON_PAYMENTS_REST = "payments_rest"
PERSON_ALERTS = "alerts"  # {alert_id: alert}
# {"topic/partition": offset}: the last offset of each input partition the saved state
# includes (streams/offsets.py), written with the state
PERSON_OFFSETS = "offsets"
# how many saves the person has had: a save checks it is the one it loaded (fencing: a worker
# the group has moved on from cannot overwrite what the person's new owner saved)
PERSON_VERSION = "version"
PERSON_FIELDS = (
    PERSON_ENROLLMENTS,
    PERSON_FACTS,
    PERSON_PAYMENTS,
    PERSON_PAYMENTS_REST,
    PERSON_ALERTS,
    PERSON_OFFSETS,
    PERSON_VERSION,
)

# Everyone the store holds, in PEOPLE_SHARDS sets (each its own slot, spread over a cluster's
# nodes): a person is added when first saved with enrollments or alerts, and never removed
# (streams/people.py reads whether they are still on the roster).
PEOPLE_SHARDS = 64


def people_key(shard: int) -> str:
    return f"{PREFIX}people:{{s{shard}}}"


def people_shard(person_id: str) -> int:
    return zlib.crc32(person_id.encode()) % PEOPLE_SHARDS


def progress_key(partition: int) -> str:
    """Of the input partitions numbered `partition` (one per input topic), the offset up to
    which every message is saved or dead-lettered: hash "topic/partition" -> offset
    (streams/offsets.py). In the slot of the partition's outbox index, one key per partition,
    so that no write of it goes to one node for every partition."""
    return f"{PREFIX}progress:{{p{partition}}}"


def progress_key_candidates(partition: int) -> Iterator[str]:
    """progress_key(partition), then more keys of the same partition (`ww:progress:{p3.1}`, …).
    On Redis Cluster the progress is written to every master, each in the first of these that
    it serves (redis_client.per_primary), after the saves on that master: a master that comes
    back without its last second comes back without its progress too, whatever the others
    kept."""
    yield progress_key(partition)
    for more in itertools.count(1):
        yield f"{PREFIX}progress:{{p{partition}.{more}}}"


def snapshots_begun_key(partition: int) -> str:
    """Of the roster.changes partition `partition`, the roster snapshots begun in it: hash
    offset of the begin marker -> the snapshot's time (connectors.delivery.SnapshotBegin). In
    the slot of the partition's progress, one key per partition."""
    return f"{PREFIX}snapshots-begun:{{p{partition}}}"


# hash snapshot id -> JSON {"seen", "ended": [partitions], "whole"}: each roster snapshot a
# worker has applied any of, until it has ended in every partition (streams.snapshots)
SNAPSHOTS = PREFIX + "snapshots"
PROGRESS_PATTERN = PREFIX + "progress:*"  # every progress key (see progress_key)


def input_label(topic: str, partition: int) -> str:
    """How an input partition is named in PERSON_OFFSETS and PROGRESS: `ww.facts/3`."""
    return f"{topic}/{partition}"


# Every alert, in ALERT_SHARDS pairs of keys chosen by the alert id (each pair its own slot,
# spread over a cluster's nodes): a hash alert_id -> person_id (where the alert is stored) and
# a sorted set of alert ids by first detection time (what an auditor or the city lists).
ALERT_SHARDS = 64


def alert_shard(alert_id: str) -> int:
    return zlib.crc32(alert_id.encode()) % ALERT_SHARDS


def alert_index_key(shard: int) -> str:
    return f"{PREFIX}alert-index:{{a{shard}}}"


def alert_order_key(shard: int) -> str:
    return f"{PREFIX}alert-order:{{a{shard}}}"


ALERT_ORDER_KEYS = tuple(alert_order_key(s) for s in range(ALERT_SHARDS))
LAST_SCAN = PREFIX + "scan:last"  # the date the daily scan last ran for
# hash delivery id -> JSON {"feed", "payment", "seen"}: deliveries with people pending
# evaluation, and when the worker last saw one of their facts (an abandoned one is ended)
PENDING_DELIVERIES = PREFIX + "pending-deliveries"
# sorted set feed -> time (epoch seconds) its latest delivery was completed (end marker seen)
FEED_DELIVERED = PREFIX + "feed-delivered"
PENDING_PATTERN = PREFIX + "pending:*"  # every pending set (see pending_key)
# hash dead-letter offset -> JSON {"state": "sending"|"sent", "at", "to"}: the dead letters that
# `welfare-watch deadletter replay` put back (each at most once), and where they went
DEADLETTER_REPLAYS = PREFIX + "deadletter:replays"


def household_key(household_id: str) -> str:
    """Set of the person_ids ever enrolled in one household. Only ever added to (SADD, by
    any writer, in any order: no one rewrites it whole); whether a member still belongs is
    read from their enrollments. One key per household, each its own hash slot."""
    return f"{PREFIX}household:{{{household_id}}}"


def scan_claim_key(day: str) -> str:
    """Which worker is queuing the daily scan of `day` (ISO date): SET NX EX, renewed while it
    queues, so two leaders never queue one day twice and a scan cut short is retried once the
    claim of the worker that died expires. In LAST_SCAN's hash slot (the braces), so that one
    script can record the day only while the claim holds, on Redis Cluster too."""
    return f"{PREFIX}{{{LAST_SCAN}}}:claim:{day}"


def queue_key(queue: str) -> str:
    """A caseworker's or supervisor's durable queue: sorted set of open alert ids."""
    return f"{PREFIX}queue:{queue}"


def supervisor_queue(district_code: str) -> str:
    """The queue name for a supervisor scope, as given. Routing goes through
    `City.supervisor_queue`, which turns a district that is not configured into the city's."""
    return f"supervisor-{district_code}"


def pending_key(delivery: str, partition: int) -> str:
    """Set of people in one partition with facts from a delivery not yet evaluated."""
    return f"{PREFIX}pending:{delivery}:{partition}"


# The alert outbox (streams/outbox.py): one stream per person, in the person's hash slot
# (each entry an alert version: fields "id": alert_id, "alert": its exact JSON), written by the
# same script as the state that holds it; and per input partition, the index of the people
# whose outbox may hold entries (sorted set person_id -> when marked, in ms), which the relay
# of the worker owning the partition reads, publishes from and clears.


def outbox_key(person_id: str) -> str:
    """Alert versions saved for one person, not yet on the `alerts` topic."""
    return f"{PREFIX}outbox:{{{person_id}}}"


def outbox_index_key(partition: int) -> str:
    """People of one input partition whose outbox may hold entries."""
    return f"{PREFIX}outbox-index:{{p{partition}}}"


# --- the inbox ------------------------------------------------------------------------------
# stream of every alert change as the worker saved it (field "alert": the alert's JSON): the
# inbox's push (resumable by stream id, Last-Event-ID) and the webhooks read it. One key on
# purpose: the push and the webhooks need one order and one cursor, and it is written once per
# alert change, not per input message (docs/scaling.md, "Limits").
ALERT_EVENTS = PREFIX + "alert-events"
REVOKED_TOKENS = PREFIX + "tokens:revoked"  # set of token ids (jti) revoked before expiry


def queue_alerts_key(queue: str) -> str:
    """Every alert (any status) currently routed to a queue: sorted set by detection time."""
    return f"{PREFIX}queue-alerts:{queue}"


def district_alerts_key(district_code: str) -> str:
    """Every alert (any status) of a district: sorted set by detection time."""
    return f"{PREFIX}district-alerts:{district_code}"


def command_result_key(command_id: str) -> str:
    """The worker's answer to one command (JSON), kept a few minutes for the web app."""
    return f"{PREFIX}command:{command_id}"


def audit_chain_key(chain: str) -> str:
    """One audit chain: a list of entries, each with the hash of the one before."""
    return f"{PREFIX}audit:{chain}"
