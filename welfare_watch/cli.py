"""The `welfare-watch` command line: thin wrappers that print results and one-line errors."""

from __future__ import annotations

import datetime as dt
import enum
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import redis
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from welfare_watch import kafka, names, redis_client
from welfare_watch.errors import WelfareWatchError
from welfare_watch.settings import Settings

app = typer.Typer(
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, help=__doc__
)
stack_app = typer.Typer(
    no_args_is_help=True, help="The embedded Kafka and Redis (local processes)."
)
roster_app = typer.Typer(no_args_is_help=True, help="The roster of people receiving assistance.")
alerts_app = typer.Typer(no_args_is_help=True, help="Read and export alerts.")
app.add_typer(stack_app, name="stack")
app.add_typer(roster_app, name="roster")
app.add_typer(alerts_app, name="alerts")

WW_SELF = sys.argv[0] if sys.argv and sys.argv[0].endswith("welfare-watch") else "welfare-watch"
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def _settings() -> Settings:
    from welfare_watch.security import check

    settings = Settings.load()
    check(settings.env)  # credentials that cannot work together stop every command here
    return settings


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int], None]]:
    with Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.completed:,} records"),
        TimeElapsedColumn(),
        console=err,
        transient=not err.is_terminal,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task(label, total=None)
        yield lambda n: bar.advance(task, n)


class _Phases:
    """A bar per phase of a long command (streams.roster.LoadProgress)."""

    def __init__(self, bar: Progress, label: str) -> None:
        self._bar = bar
        self._label = label
        self._task: TaskID | None = None

    def phase(self, name: str, total: int | None) -> None:
        if self._task is not None:  # the previous phase is complete
            done = next(t.completed for t in self._bar.tasks if t.id == self._task)
            self._bar.update(self._task, total=done, completed=done)
        self._task = self._bar.add_task(f"{self._label}: {name}", total=total)

    def advance(self, rows: int) -> None:
        if self._task is not None:
            self._bar.advance(self._task, rows)


@contextmanager
def _phases(label: str) -> Iterator[_Phases]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=err,
        transient=not err.is_terminal,
        disable=not err.is_terminal,
    ) as bar:
        yield _Phases(bar, label)


# --- stack --------------------------------------------------------------------------


@stack_app.command("install")
def stack_install() -> None:
    """Fetch the Kafka jars (Maven), install redis-server and prometheus (apt) if missing;
    start nothing."""
    import stack

    stack.install(_settings().env, log=err.print)


@stack_app.command("up")
def stack_up(
    redis_cluster: Annotated[
        bool,
        typer.Option(
            "--redis-cluster",
            help="Redis as a three-master Redis Cluster on WW_REDIS_URL's port and the two after "
            "it; later commands with the same WW_DATA_DIR use it until `stack down`",
        ),
    ] = False,
) -> None:
    """Start Kafka (KRaft, single node) and Redis on loopback; wait until both answer."""
    import stack

    started = time.monotonic()
    stack.up(_settings().env, log=err.print, redis_cluster=redis_cluster)
    out.print(f"stack is up ({time.monotonic() - started:.1f}s)")


@stack_app.command("down")
def stack_down() -> None:
    """Stop exactly what `stack up` started."""
    import stack

    stack.down(_settings().env, log=err.print)


@stack_app.command("status")
def stack_status() -> None:
    """Report whether the embedded Kafka and Redis run."""
    import stack

    for service in stack.status(_settings().env):
        state = "running" if service.running else "stopped"
        pid = f" pid {service.pid}" if service.pid else ""
        line = f"{service.name:12} {state:8} {service.address}{pid} {service.detail}"
        out.print(line.rstrip())


# --- worker ---------------------------------------------------------------------------


@app.command()
def worker() -> None:
    """Run the stream worker: join facts and roster changes against Redis, write alerts."""
    from streams.worker import run_worker

    run_worker(_settings())


@app.command()
def run(
    port: Annotated[int, typer.Option(help="the web app's port")] = 8080,
) -> None:
    """Worker, connectors, web app and webhooks together, in one process group (`make demo`);
    the web app's /metrics serves the metrics of all of them."""
    import os

    from welfare_watch.exposition import multiprocess_dir
    from welfare_watch.group import run_group

    _settings()  # a bad configuration stops here, before anything starts
    with multiprocess_dir() as metrics_env:
        run_group(
            [
                [WW_SELF, "worker"],
                [WW_SELF, "connectors"],
                [WW_SELF, "web", "--port", str(port)],
                [WW_SELF, "webhooks"],
            ],
            env={**os.environ, **metrics_env},
        )


@app.command()
def connectors(
    drain: Annotated[bool, typer.Option(help="take what is there now, then exit")] = False,
) -> None:
    """File drop ($WW_DATA_DIR/inbox/FEED/) and Kafka (dept.FEED.raw) connectors."""
    from connectors.service import run_connectors

    run_connectors(_settings(), drain=drain, log=err.print)


@app.command()
def web(
    port: Annotated[int, typer.Option(help="port to listen on")] = 8080,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
) -> None:
    """The inbox (GET /) and the HTTP API: alerts, actions, events, checks, audit, ingest."""
    from web.app import run_web

    run_web(_settings(), host=host, port=port)


@app.command()
def webhooks(
    drain: Annotated[bool, typer.Option(help="deliver what is waiting now, then exit")] = False,
    metrics_port: Annotated[
        int, typer.Option(min=0, max=65535, help="serve /metrics on this port (0: WW_METRICS_PORT)")
    ] = 0,
) -> None:
    """Post each alert change to the webhooks configured for its queue (configuration: webhooks)."""
    from alerts.webhooks import run_webhooks

    settings = _settings()
    run_webhooks(settings, drain=drain, metrics_port=metrics_port or settings.env.metrics_port)


token_app = typer.Typer(no_args_is_help=True, help="Bearer tokens for the HTTP API.")
app.add_typer(token_app, name="token")


@token_app.command("issue")
def token_issue(
    role: Annotated[str, typer.Option(help="caseworker, supervisor, auditor or department")],
    scope: Annotated[str, typer.Option(help="a caseworker id, district code, feed, or *")],
    subject: Annotated[
        str | None,
        typer.Option(
            help="the person's staff id (caseworker, supervisor, auditor; not departments)"
        ),
    ] = None,
    days: Annotated[int, typer.Option(min=1, help="valid for this many days")] = 30,
) -> None:
    """Print a bearer token (a JWT) signed with WW_SECRET_KEY (demo mode: a secret in
    WW_DATA_DIR); its id, which `token revoke` takes, goes to stderr."""
    from welfare_watch.tokens import issue_command, token_id_of

    token = issue_command(_settings(), role, scope, days, subject=subject)
    token_id = token_id_of(token)
    out.print(token, soft_wrap=True)
    err.print(f"token id {token_id} (to revoke it: welfare-watch token revoke {token_id})")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="the token's id (its jti)")],
) -> None:
    """Revoke one token at once: from its next request on, it gets 401 (and that is audited)."""
    from welfare_watch.tokens import check_token_id

    token_id = check_token_id(token_id)
    added = _redis(_settings()).sadd(names.REVOKED_TOKENS, token_id)
    state = "revoked" if added else "was already revoked"
    out.print(f"token {token_id} {state}: every request with it is refused from now on")
    # Recorded after it took effect: a revocation never waits for the audit log (Kafka).
    try:
        _audit_cli("revoked", {"already": not added}, target=f"token:{token_id}")
    except WelfareWatchError as exc:
        err.print(
            f"welfare-watch: the revocation could not be recorded in the audit log: {exc}",
            markup=False,
        )


# --- data in -----------------------------------------------------------------------------


def _kafka_answers(settings: Settings) -> None:
    """A command that sends data waits for a broker that is restarting (WW_KAFKA_WAIT)."""
    bootstrap, wait = settings.env.kafka_bootstrap, settings.env.kafka_wait

    def waiting() -> None:
        err.print(
            f"welfare-watch: Kafka at {bootstrap} is not answering; waiting up to {wait:.0f} s "
            "(WW_KAFKA_WAIT)",
            markup=False,
        )

    kafka.reachable(bootstrap, wait, waiting)


@roster_app.command("load")
def roster_load(
    file: Annotated[Path, typer.Argument(help="roster snapshot, CSV or JSON lines")],
    partial: Annotated[bool, typer.Option(help="load the good rows even if some are bad")] = False,
) -> None:
    """Replace the roster with a snapshot: checked whole (a bad row refuses it unless --partial),
    then sent to the worker on roster.changes, which re-checks everyone on it and anyone it
    drops against every stored fact (`welfare-watch wait` returns once it has)."""
    from streams.roster import load_roster

    if not file.is_file():
        raise WelfareWatchError(f"no such file: {file}")
    settings = _settings()
    _kafka_answers(settings)
    with _phases("roster") as progress:
        result = load_roster(settings, file, partial=partial, progress=progress)
    for line, reason in result.examples:
        err.print(f"  line {line}: {reason}")
    out.print(
        f"roster loaded: {result.accepted} enrollments of {result.people} people, "
        f"{result.rejected} rejected, {result.removed} removed (no longer on the roster); "
        f"snapshot {result.snapshot} sent to the worker"
    )


@app.command()
def ingest(
    feed: Annotated[str, typer.Argument(help="feed name, e.g. psb_deaths")],
    file: Annotated[Path, typer.Argument(help="the department's CSV or JSON-lines file")],
) -> None:
    """Send one department file through its connector; print accepted and rejected counts."""
    from connectors.ingest import checked, ingest_file

    settings = _settings()
    checked(settings, feed, file)  # before waiting for Kafka: a wrong name is said at once
    _kafka_answers(settings)
    started = time.monotonic()
    with _progress(feed) as advance:
        result = ingest_file(settings, feed, file, progress=advance)
    seconds = max(time.monotonic() - started, 1e-6)
    out.print(
        f"{feed}: received {result.received}, accepted {result.accepted}, "
        f"rejected {result.rejected} ({result.received / seconds:,.0f} records/s)"
    )


_WAIT_HELP = (
    "Return once everything sent so far has been processed; exit 1 on timeout.\n\n"
    "Waits until no file is left in an inbox folder ($WW_DATA_DIR/inbox/FEED/), the connectors "
    "have taken every record on dept.*.raw, the worker has no message left (facts, roster "
    "changes, re-checks, a requested scan) and nobody of a delivery is pending evaluation.\n\n"
    "A file in an inbox or a record on dept.*.raw waits for `welfare-watch connectors`: when "
    "they are not running, wait waits until the timeout, then names what is still outstanding."
)


@app.command(help=_WAIT_HELP)
def wait(
    timeout: Annotated[float, typer.Option(help="seconds before giving up")] = 120.0,
) -> None:
    """Loop on `progress.outstanding` until nothing is left or the timeout passes."""
    from welfare_watch.progress import outstanding

    settings = _settings()
    deadline = time.monotonic() + timeout
    while True:
        left = outstanding(settings)
        if left.total == 0:
            out.print("caught up: nothing outstanding")
            return
        if time.monotonic() > deadline:
            err.print(
                f"welfare-watch: timed out after {timeout:.0f}s; still outstanding: "
                f"{left.describe()}"
            )
            raise typer.Exit(1)
        time.sleep(0.25)


@app.command()
def scan(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="YYYY-MM-DD (default: today)")
    ] = None,
) -> None:
    """Run the time-based rules (15, 16, 17, 20) for everyone now; the worker does it daily."""
    from streams.scan import request_scan

    date = _date(as_of) if as_of else None
    queued = request_scan(_settings(), date)
    out.print(f"scan queued for {queued} people; `welfare-watch wait` returns when it is done")


@app.command()
def check(
    ids: Annotated[list[str], typer.Argument(help="applicants' ID numbers")],
    program: Annotated[str, typer.Option(help="the program applied for")],
) -> None:
    """Pre-approval check (事前核查): what would alert if they were enrolled; creates nothing."""
    from streams.scan import precheck

    results = precheck(_settings(), program, ids)
    for result in results:
        if not result.findings:
            out.print(f"{result.person_id}: no findings")
        for f in result.findings:
            out.print(f"{result.person_id}: {f.type} ({f.severity}) — {f.reason}", highlight=False)
    if any(r.findings for r in results):
        raise typer.Exit(2)


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="folder to write the city into")],
    people: Annotated[int, typer.Option(min=1, help="how many people")] = 10_000,
    seed: Annotated[int, typer.Option(help="same seed, same city")] = 1,
    payment_months: Annotated[
        int, typer.Option(min=3, max=120, help="months of payments to each paid enrollment")
    ] = 3,
) -> None:
    """Write a synthetic city: roster.csv, one file per feed, expected_alerts.jsonl."""
    from simulate import simulate_city

    settings = _settings()
    started = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    stats = simulate_city(
        people, seed, out_dir, settings.today(), settings.policy, payment_months=payment_months
    )
    out.print(
        f"city of {stats.people} people ({stats.enrollments} enrollments) written to {out_dir} "
        f"in {time.monotonic() - started:.1f}s; {stats.expected_alerts} expected alerts"
    )


@app.command("evaluate")
def evaluate_cmd(
    expected: Annotated[Path, typer.Option(help="expected_alerts.jsonl")],
) -> None:
    """Compare current alerts with expected ones: per type, found / missed / unexpected."""
    from alerts.expected import compare, read_expected
    from alerts.query import all_alerts
    from connectors.ids import mask_id

    if not expected.is_file():
        raise WelfareWatchError(f"no such file: {expected}")
    result = compare(all_alerts(_redis(_settings())), read_expected(expected))
    table = Table("type", "found", "missed", "unexpected", "wrong fields")
    for type_, row in sorted(result.by_type().items()):
        table.add_row(type_, *(str(n) for n in row))
    out.print(table)
    for item, wrong in result.wrong[:20]:
        who = mask_id(item["person_id"])
        out.print(f"  {item['type']} {who}: {'; '.join(wrong)}", highlight=False)
    verdict = "exact" if result.exact else "NOT exact"
    out.print(
        f"{sum(result.found.values())} found, {len(result.missed)} missed, "
        f"{len(result.unexpected)} unexpected: {verdict}"
    )
    if not result.exact:
        raise typer.Exit(1)


class _Fsync(enum.StrEnum):
    everysec = "everysec"
    always = "always"


@app.command("bench")
def bench_cmd(
    quick: Annotated[
        bool,
        typer.Option("--quick", help="100,000 enrollments and 30 s of load (1,000,000 and 60 s)"),
    ] = False,
    keep_stack: Annotated[
        bool, typer.Option("--keep-stack", help="leave the benchmark's stack running at the end")
    ] = False,
    enrollments: Annotated[
        int | None, typer.Option(min=1000, help="the city's size in enrollments instead")
    ] = None,
    seed: Annotated[int, typer.Option(help="the simulated city's seed")] = 7,
    payment_months: Annotated[
        int, typer.Option(min=3, max=120, help="months of payments to each paid enrollment")
    ] = 12,
    rate: Annotated[
        float, typer.Option(min=10, help="events/s offered while latency is measured")
    ] = 2000.0,
    seconds: Annotated[
        float | None, typer.Option(min=5, help="how long that load is offered")
    ] = None,
    http_records: Annotated[
        int, typer.Option(min=1, help="records per HTTP request in the latency phase")
    ] = 50,
    appendfsync: Annotated[
        _Fsync | None,
        typer.Option(
            help="Redis's appendfsync for the run (default: as the stack has it, everysec); "
            "the outbox waits 5 s for everysec, 0 for always",
        ),
    ] = None,
) -> None:
    """The benchmark (issue 11): a simulated city through its own stack (Kafka 127.0.0.1:39092,
    Redis :39379, data in .data/bench, unless WW_KAFKA_BOOTSTRAP and WW_REDIS_URL name one;
    everything welfare-watch owns there is deleted first), against the machine's raw limits.
    Prints each step, writes .data/bench/result.json, and ends with one line of figures."""
    from bench.run import Options, run

    options = Options(
        quick=quick,
        enrollments=enrollments,
        seed=seed,
        payment_months=payment_months,
        rate=rate,
        seconds=seconds,
        http_records=http_records,
        appendfsync=appendfsync.value if appendfsync else None,
        keep_stack=keep_stack,
    )
    outcome = run(options, log=lambda line: print(line, flush=True))
    print(outcome.line, flush=True)
    if not outcome.checked:
        raise typer.Exit(1)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise WelfareWatchError(f"--as-of {text!r} is not a date (YYYY-MM-DD)") from None


# --- alerts ---------------------------------------------------------------------------------


def _redis(settings: Settings) -> redis.Redis:
    return redis_client.connect(settings.env.redis_url)


@alerts_app.command("list")
def alerts_list(
    status: Annotated[str | None, typer.Option(help="only this status")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="only this type")] = None,
) -> None:
    """Show alerts as a table (masked ID numbers)."""
    from alerts.query import all_alerts
    from connectors.ids import mask_id

    table = Table(
        "type", "severity", "person", "program", "queue", "confidence", "status", "evidence"
    )
    shown = 0
    for a in all_alerts(_redis(_settings())):
        if (status and a.status != status) or (type_ and a.type != type_):
            continue
        feeds = ",".join(sorted({e.feed for e in a.evidence}))
        table.add_row(
            a.type,
            a.severity,
            mask_id(a.person_id),
            a.program,
            a.queue,
            a.confidence,
            a.status,
            feeds,
        )
        shown += 1
    _audit_cli("listed", {"shown": shown, "status": status or "", "type": type_ or ""})
    out.print(table)
    out.print(f"{shown} alerts")


@alerts_app.command("export")
def alerts_export(
    out_file: Annotated[
        Path | None, typer.Option("--out", help="file to write (default stdout)")
    ] = None,
) -> None:
    """Export every alert as JSON lines."""
    from alerts.query import all_alerts

    alerts = all_alerts(_redis(_settings()))
    where = "stdout" if out_file is None else "file"  # not the path: it could name someone
    _audit_cli("exported", {"exported": len(alerts), "to": where})
    lines = (a.model_dump_json() + "\n" for a in alerts)
    if out_file is None:
        sys.stdout.writelines(lines)
    else:
        out_file.write_text("".join(lines), encoding="utf-8")
        err.print(f"{len(alerts)} alerts written to {out_file}")


def _audit_cli(action: str, detail: dict[str, object], target: str = "alerts") -> None:
    """Record a command that showed or wrote out alerts, before it does (chain `cli`)."""
    import getpass
    import os

    from alerts.audit import CLI_CHAIN, SyncAuditLog

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container): the uid, then
        user = f"uid:{os.getuid()}"
    log = SyncAuditLog.for_settings(_settings())
    try:
        log.append(
            CLI_CHAIN,
            actor=user,
            role="cli",
            action=action,
            target=target,
            detail=detail,
        )
    finally:
        log.close()


# --- audit ------------------------------------------------------------------------------------

audit_app = typer.Typer(no_args_is_help=True, help="The audit chain (全过程留痕).")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check every audit chain in Redis against its copy on Kafka; exit 1 at the first break."""
    from alerts.audit_read import verify_stored

    settings = _settings()
    verdict = verify_stored(_redis(settings), settings.env.kafka_bootstrap)
    out.print(str(verdict), highlight=False, soft_wrap=True)
    if verdict.broken is not None:
        raise typer.Exit(1)


# --- dead letters -----------------------------------------------------------------------------

deadletter_app = typer.Typer(
    no_args_is_help=True,
    help="Worker input set aside because it failed every time (the topic ww.deadletter).",
)
app.add_typer(deadletter_app, name="deadletter")


@deadletter_app.command("list")
def deadletter_list(
    waiting: Annotated[bool, typer.Option("--waiting", help="only those not replayed")] = False,
) -> None:
    """Show each dead letter: its id, where it was read, the masked key, why, and whether it
    was replayed. A replayed message that failed again is a new one, marked as such."""
    from streams.deadletter import read_all, replays, rows

    settings = _settings()
    shown = rows(read_all(settings.env.kafka_bootstrap), replays(_redis(settings)))
    if waiting:
        shown = [r for r in shown if r.status.startswith("waiting")]
    table = Table("id", "at (UTC)", "from", "key", "kind", "error", "status")
    for row in shown:
        table.add_row(str(row.id), row.at, row.source, row.key, row.kind, row.error, row.status)
    out.print(table)
    out.print(f"{len(shown)} dead letters")


@deadletter_app.command("replay")
def deadletter_replay(
    ids: Annotated[list[int] | None, typer.Argument(help="ids that `list` shows")] = None,
    every: Annotated[
        bool,
        typer.Option("--all", help="every one waiting (not the repeat of one already replayed)"),
    ] = False,
    topic: Annotated[str | None, typer.Option(help="with --all: only from this topic")] = None,
) -> None:
    """Put dead letters back on the topic they came from, byte for byte, each at most once.
    Fix what made them fail first: a message that fails again comes back as a new one."""
    from streams.deadletter import replay

    if not ids and not every:
        raise WelfareWatchError("name the dead letters to replay by id, or use --all")
    settings = _settings()
    _audit_cli(
        "deadletter_replayed",
        {"ids": sorted(ids or []), "all": every, "topic": topic or ""},
        target="deadletter",
    )
    sent = replay(
        settings.env.kafka_bootstrap, _redis(settings), ids or [], every=every, topic=topic
    )
    for item in sent:
        out.print(f"#{item.id} replayed to {item.to}")
    out.print(f"{len(sent)} replayed")


# --- housekeeping -----------------------------------------------------------------------------


@app.command()
def reset(yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False) -> None:
    """Delete every topic, consumer group and Redis key welfare-watch owns, except the revoked
    tokens (a token signed before the reset must stay revoked after it). Stop workers first."""
    settings = _settings()
    if not yes and not typer.confirm(
        f"Delete all welfare-watch topics on {settings.env.kafka_bootstrap} and keys in "
        f"{settings.env.redis_url}?"
    ):
        raise typer.Exit(1)
    topics = kafka.delete_everything(settings.env.kafka_bootstrap)
    client = _redis(settings)
    kept = names.REVOKED_TOKENS.encode()
    keys = [k for k in client.scan_iter(match=names.PREFIX + "*", count=1000) if k != kept]
    for start in range(0, len(keys), 1000):
        client.unlink(*keys[start : start + 1000])
    deleted = f"{len(topics)} topics and {len(keys)} Redis keys deleted"
    out.print(f"reset: {deleted} (revoked tokens kept)")


def _one_line(exc: BaseException) -> str:
    hint = "start it with 'welfare-watch stack up' or set WW_REDIS_URL"
    if isinstance(exc, redis.ConnectionError):
        return f"cannot reach Redis at {Settings.load().env.redis_url}; {hint}"
    if isinstance(exc, redis.exceptions.RedisClusterException):
        url, reason = Settings.load().env.redis_url, str(exc).rstrip(".")
        if "cannot be connected" in reason:  # no start node answers
            return f"cannot reach the Redis Cluster at {url} ({reason}); {hint}"
        return f"Redis Cluster at {url}: {reason}"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc)


def main(argv: list[str] | None = None) -> Any:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The client libraries log every failed connection attempt; a command reports the
    # outcome itself, in one line.
    for chatty in ("kafka", "aiokafka"):
        logging.getLogger(chatty).setLevel(logging.CRITICAL)
    try:
        return app(args=argv, standalone_mode=True)
    except (
        WelfareWatchError,
        redis.ConnectionError,
        redis.exceptions.RedisClusterException,
        OSError,
    ) as exc:
        print(f"welfare-watch: {_one_line(exc)}", file=sys.stderr)
        sys.exit(1)
