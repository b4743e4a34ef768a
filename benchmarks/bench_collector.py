"""Collector benchmark: Kafka -> PostgreSQL beside a raw COPY of the same rows, at 10k, 100k, 1M.

Run from the repository root (it starts its own broker and fresh databases, like the tests)::

    python benchmarks/bench_collector.py                          # 10k, 100k and 1M events
    python benchmarks/bench_collector.py --sizes 10000,100000     # without 1M (about 3 minutes)
    python benchmarks/bench_collector.py --batch-size 100         # a setting other than default

The full run takes 5 to 20 minutes on 2 cores (by machine), most of it the 1M events (producing
them, then each round); progress goes to stderr.

For each size N, the mixed workload (:func:`mixed_events`: per run of 20 events, 12 tool calls,
1 routing decision, 1 transformation, 1 router metrics, 1 detection failure and an execution's
started, 2 progress and completed events, each with the Kafka exporter's headers) is produced
once to topics of its own. Then, in rounds, four fresh worker processes, one after the other
(the order rotating from round to round), ``collector``, ``copy`` and ``ingest`` each into a fresh
migrated database:

* ``collector``: a :class:`~onex_collector.consumer.Collector` (default settings unless given)
  consumes the N events, in a process prepared as ``onex-otel collect`` prepares its own (what
  startup allocated frozen out of the garbage collector's way:
  :func:`~onex_otel.long_running.freeze_startup_objects`). Figure: events/s from the moment
  it joined its consumer group (its partitions assigned, as its consumer's assignment callback
  tells: the join itself, seconds of protocol waits, is excluded) to its last committed batch;
  and the worker's peak RSS (``ru_maxrss``)
  beside its RSS before it consumed anything. The group resumes from committed offsets (at the
  start of each topic), as a restarted collector does: a group's very first start, with nothing
  committed, also waits out librdkafka's offset-reset timer (about 100 ms) before it fetches.
* ``copy`` (the baseline): the worker reads and decodes the same N messages first (not timed),
  then COPYs their rows into the same partitioned tables in one transaction. Figure: rows/s of
  the COPY (one row per event).
* ``read``: a consumer configured as the collector's reads the N messages and does nothing with
  them: the Kafka side alone, which the collector pays and the COPY does not. Figure: events/s
  from its assignment to its last message.
* ``ingest``: the database's side of the collector alone. The worker reads and decodes the same
  N messages and builds its batches' documents first (not timed), then runs the collector's
  statement (``onex_ingest``: idempotent inserts, the live execution log rebuilt) on each, one
  after the other on one connection set up as the writer's, each batch its own transaction.
  Figure: events/s of the statements; what the collector would reach if its own process cost
  nothing and it wrote on one connection.

Printed per size: min/median/max of the rates, every round's ratio, the per-event cost of the
collector (us/event) and the verdict on the target (collector >= 0.7x raw COPY); then the
per-event cost of every size against the smallest (target: flat within 10%) and the peak RSS
of every size (target: not growing with N); and where the time goes: the CPU per event of each
worker process, of its PostgreSQL backends and of the broker over the measured interval (from
/proc, so only where the server and the broker run on this host), and what that CPU alone
allows: the collector, its backends and the broker together need so many us of CPU per event,
and the machine's cores bound the collector's rate at cores / that, whatever the scheduling.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
import psycopg
from confluent_kafka import Consumer, Producer, TopicPartition
from harness import Rounds, Target
from tests.services.kafka import script_broker
from tests.services.postgres import fresh_database

from onex_collector.consumer import Collector, CollectorOptions
from onex_collector.ingest import INGEST, batch_document
from onex_collector.metrics import CollectorMetrics
from onex_collector.migrate import migrate
from onex_collector.rows import TABLE_COLUMNS, decode_message
from onex_collector.tables import Decoded
from onex_collector.writer import Writer, _db_values
from onex_otel import conventions as c
from onex_otel.conventions import ActionType, EventType
from onex_otel.envelope import (
    AgentActionPayload,
    DetectionFailurePayload,
    ExecutionCompletedPayload,
    ExecutionProgressPayload,
    ExecutionStartedPayload,
    OnexEnvelopeV1,
    RouterPerformancePayload,
    RoutingDecisionPayload,
    TransformationPayload,
)
from onex_otel.long_running import freeze_startup_objects

#: The target: collector events/s over raw COPY rows/s, at every size.
TARGET = Target("collector", "copy", ">=", 0.7)
#: Per-event cost at every size within this fraction of the smallest size's.
FLAT = 0.10
_TABLES = tuple(TABLE_COLUMNS)
#: The workers of a round: the collector, its baseline, the Kafka side alone and the database's.
KINDS = ["copy", "collector", "read", "ingest"]


def mixed_events(n: int) -> list[OnexEnvelopeV1]:
    """n events: per run of 20, 1 routing, 1 transformation, 1 metrics, 1 started, 2 progress,
    1 completed, 12 actions, 1 detection failure (every 20th)."""
    out: list[OnexEnvelopeV1] = []
    while len(out) < n:
        corr, ex = uuid.uuid4(), uuid.uuid4()
        run: list[Any] = [
            RoutingDecisionPayload(
                correlation_id=corr,
                selected_agent="agent-performance",
                confidence_score=0.92,
                routing_strategy="fuzzy",
                routing_time_ms=45,
                user_request="optimize my queries",
                alternatives=["agent-api"],
                reasoning="match",
            ),
            TransformationPayload(
                correlation_id=corr,
                source_agent="polymorphic-agent",
                target_agent="agent-performance",
                transformation_duration_ms=85,
            ),
            RouterPerformancePayload(
                correlation_id=corr,
                query_text="optimize my queries",
                routing_duration_ms=45,
                candidates_evaluated=5,
            ),
            ExecutionStartedPayload(
                correlation_id=corr, execution_id=ex, agent_name="agent-performance", user_request="optimize"
            ),
            ExecutionProgressPayload(
                correlation_id=corr,
                execution_id=ex,
                agent_name="agent-performance",
                stage="analysis",
                percent=25,
            ),
            ExecutionProgressPayload(
                correlation_id=corr, execution_id=ex, agent_name="agent-performance", stage="done", percent=75
            ),
        ]
        run += [
            AgentActionPayload(
                correlation_id=corr,
                agent_name="agent-performance",
                action_type=ActionType.TOOL_CALL,
                action_name="Read",
                duration_ms=12,
                action_details={"file_path": f"/src/m{i}.py", "lines": 150},
                project_path="/src",
                project_name="proj",
            )
            for i in range(12)
        ]
        run.append(
            ExecutionCompletedPayload(
                correlation_id=corr, execution_id=ex, agent_name="agent-performance", quality_score=0.9
            )
        )
        run.append(
            DetectionFailurePayload(correlation_id=corr, user_request="???", failure_reason="no_match")
        )
        out += [OnexEnvelopeV1.create(p) for p in run]
    return out[:n]


def headers(env: OnexEnvelopeV1) -> list[tuple[str, str | bytes | None]]:
    """The headers the Kafka exporter puts on ``env``'s message (a span of its correlation's trace)."""
    return [
        (c.HEADER_TRACEPARENT, f"00-{env.correlation_id.hex}-{random.getrandbits(64) or 1:016x}-01".encode()),
        (c.HEADER_EVENT_TYPE, env.event_type.value.encode()),
        (c.HEADER_SCHEMA_REF, c.SCHEMA_REFS[env.event_type].encode()),
        (c.HEADER_CONTENT_TYPE, c.CONTENT_TYPE_JSON.encode()),
    ]


def topic(event_type: EventType, prefix: str = "") -> str:
    """The topic of ``event_type``'s events in a run whose topics carry ``prefix``."""
    return prefix + c.DEFAULT_TOPICS[event_type]


def topic_types(prefix: str = "") -> dict[str, EventType | str]:
    """What the collector subscribes to in a run whose topics carry ``prefix``."""
    return {topic(t, prefix): t for t in EventType}


def create_topics(bootstrap: str, prefix: str = "") -> None:
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic(t, prefix), 1, 1) for t in EventType])
    try:
        for fut in futures.values():
            fut.result(15)
    except TimeoutError:
        raise SystemExit(
            f"no Kafka broker answered at {bootstrap} within 15 s (creating the topics)"
        ) from None


def _produce_into(producer: Producer, envelopes: Sequence[OnexEnvelopeV1], prefix: str) -> None:
    for env in envelopes:
        while True:
            try:
                producer.produce(
                    topic(env.event_type, prefix),
                    env.to_json(),
                    key=str(env.correlation_id).encode(),
                    headers=headers(env),
                )
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)


def _producer(bootstrap: str) -> Producer:
    return Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "queue.buffering.max.messages": 1_000_000}
    )


def produce(bootstrap: str, envelopes: Sequence[OnexEnvelopeV1], prefix: str = "") -> None:
    """Produce ``envelopes`` (with the exporter's headers) and wait until the broker has them."""
    producer = _producer(bootstrap)
    _produce_into(producer, envelopes, prefix)
    if producer.flush(120):
        raise SystemExit("the broker did not take every event")


def produce_mixed(bootstrap: str, n: int, prefix: str, chunk: int = 20_000) -> None:
    """Produce ``n`` mixed events, ``chunk`` at a time (memory bounded), with progress."""
    producer = _producer(bootstrap)
    done, last = 0, time.monotonic()
    while done < n:
        _produce_into(producer, mixed_events(min(chunk, n - done)), prefix)
        done += min(chunk, n - done)
        if time.monotonic() - last > 10:
            print(f"  produced {done}/{n}", file=sys.stderr, flush=True)
            last = time.monotonic()
    if producer.flush(300):
        raise SystemExit("the broker did not take every event")


def checkpoint(db_url: str) -> None:
    """Flush what earlier phases left dirty, so that no phase pays for another's writes."""
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.Error as exc:  # not allowed (needs pg_checkpoint): measure without it
        print(f"CHECKPOINT skipped: {exc}", file=sys.stderr)


def resume_at_start(bootstrap: str, group_id: str, prefix: str) -> None:
    """Commit offset 0 of every topic for ``group_id``: the group resumes there, as a restarted one."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id, "enable.auto.commit": False})
    try:
        consumer.commit(
            offsets=[TopicPartition(name, 0, 0) for name in topic_types(prefix)], asynchronous=False
        )
    finally:
        consumer.close()


def count_rows(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT " + " + ".join(f"(SELECT count(*) FROM {t})" for t in _TABLES)).fetchone()
    return int(row[0]) if row else 0


def expect_rows(db_url: str, n: int) -> None:
    """Exit unless the workload's tables hold one row per event of the ``n``."""
    rows = count_rows(db_url)
    if rows != n:
        raise SystemExit(f"{rows} rows for {n} events")


def _backend_cpu_s(pids: Sequence[int]) -> float | None:
    """CPU seconds (user + system) the PostgreSQL backends ``pids`` used so far (None: unreadable,
    e.g. a server on another host)."""
    seconds = [harness.process_cpu_s(pid) for pid in pids]
    return None if None in seconds else sum(s for s in seconds if s is not None)


def _broker_cpu_s(pid: int | None) -> float | None:
    """CPU seconds the broker used so far (None: not a process of this host, or not told)."""
    return None if pid is None else harness.process_cpu_s(pid)


def _spent(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def _broker_figures(prefix: str, n: int, seconds: float | None) -> dict[str, float]:
    """The broker's CPU per event (us) while the worker read, as a figure of a round."""
    return {} if seconds is None else {f"{prefix}_broker_us": seconds / n * 1e6}


def _cpu_figures(prefix: str, n: int, own: float, backends: float | None) -> dict[str, float]:
    """Per-event CPU of the worker process and of its backends (us), as figures of a round."""
    figures = {f"{prefix}_cpu_us": own / n * 1e6}
    if backends is not None:
        figures[f"{prefix}_pg_us"] = backends / n * 1e6
    return figures


def _rss_mb() -> float:
    """This process's current resident set (MB)."""
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------------------
# Workers (each a fresh process, each into a fresh database)
# ------------------------------------------------------------------------------------------------
def collector_worker(
    bootstrap: str, prefix: str, n: int, batch_size: int | None, broker_pid: int | None
) -> dict[str, float]:
    """Events/s of one collector (own group, fresh database) through the n events on the broker."""
    with fresh_database("onex_bench_collect") as db:
        migrate(db.url)
        checkpoint(db.url)
        metrics = CollectorMetrics()
        extra: dict[str, Any] = {} if batch_size is None else {"batch_size": batch_size}
        group_id = f"bench-{uuid.uuid4().hex[:6]}"
        resume_at_start(bootstrap, group_id, prefix)
        options = CollectorOptions(
            bootstrap_servers=bootstrap,
            conninfo=db.url,
            group_id=group_id,
            topic_types=topic_types(prefix),
            **extra,
        )
        collector = Collector(options, metrics=metrics)
        # The clock starts in the consumer's own assignment callback: to the moment, and before
        # the collector's thread reads a message.
        assigned_at: list[float] = []
        cpu_at_first: list[float] = []
        pg_at_first: list[float | None] = []
        broker_at_first: list[float | None] = []
        backends: list[int] = []
        on_assign = collector._on_assign

        def clocked_assign(consumer: Any, partitions: list[TopicPartition]) -> None:
            if not assigned_at:
                assigned_at.append(time.perf_counter())
                cpu_at_first.append(harness.own_cpu_s())
                pg_at_first.append(_backend_cpu_s(backends))
                broker_at_first.append(_broker_cpu_s(broker_pid))
            on_assign(consumer, partitions)

        collector._on_assign = clocked_assign  # type: ignore[method-assign]
        freeze_startup_objects()  # as `onex-otel collect` does before it runs its collector
        rss_before = _rss_mb()
        target: Any = collector.run
        profile = os.environ.get("ONEX_BENCH_PROFILE")  # pyinstrument (pip) of the collector's thread
        if profile:
            from pyinstrument import Profiler

            def target() -> None:
                prof = Profiler(interval=0.0005)
                prof.start()
                collector.run()
                prof.stop()
                Path(profile).write_text(prof.output_text(show_all=False, color=False))

        # Its connections open before it subscribes (seconds before its partitions come): their
        # backends are found here, not on the clock.
        collector.writer.open(options.db_writers)
        backends += collector_backends(db.url)
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        deadline = time.monotonic() + max(120.0, n / 500)
        last_print = time.monotonic()
        while time.monotonic() < deadline:
            snap = metrics.snapshot()
            if snap["messages_consumed"] >= n:
                break
            if time.monotonic() - last_print > 10:
                print(f"  collector: {snap['messages_consumed']}/{n}", file=sys.stderr, flush=True)
                last_print = time.monotonic()
            time.sleep(0.002)
        end = time.perf_counter()
        cpu = harness.own_cpu_s()
        pg_at_end, broker_at_end = _backend_cpu_s(backends), _broker_cpu_s(broker_pid)
        collector.request_stop()
        thread.join(60)
        consumed = metrics.snapshot()["messages_consumed"]
        if consumed < n or not assigned_at:
            raise SystemExit(f"the collector consumed only {consumed} of {n} events")
        first = assigned_at[0]
        cpu -= cpu_at_first[0]
        expect_rows(db.url, n)
    return {
        "collector": n / (end - first),
        "rss_before": rss_before,
        "rss_peak": _peak_rss_mb(),
        **_cpu_figures("collector", n, cpu, _spent(pg_at_first[0], pg_at_end)),
        **_broker_figures("collector", n, _spent(broker_at_first[0], broker_at_end)),
    }


def collector_backends(db_url: str) -> list[int]:
    """The process ids of the collector's connections to ``db_url``'s database."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'onex-otel-collector'"
        ).fetchall()
    return [int(pid) for (pid,) in rows]


def _from_start(consumer: Consumer, prefix: str, n: int) -> Iterator[Any]:
    """The first ``n`` messages of the workload's topics, each from its start; closes ``consumer``."""
    consumer.assign([TopicPartition(name, 0, 0) for name in topic_types(prefix)])
    got, deadline = 0, time.monotonic() + max(120.0, n / 1000)
    try:
        while got < n and time.monotonic() < deadline:
            for msg in consumer.consume(CollectorOptions.batch_size, 1.0):
                if msg.error() is None:
                    got += 1
                    yield msg
    finally:
        consumer.close()
    if got < n:
        raise SystemExit(f"read only {got} of {n} events")


def read_worker(bootstrap: str, prefix: str, n: int, broker_pid: int | None) -> dict[str, float]:
    """Events/s of a consumer configured as the collector's reading the n events, nothing more.

    The Kafka side alone (the broker and librdkafka), which the collector pays and the raw COPY
    does not: timed from the partitions' assignment (as the collector) to the last message.
    """
    from onex_collector.kafka_clients import consumer_config

    options = CollectorOptions(
        bootstrap_servers=bootstrap, conninfo="", group_id=f"bench-{uuid.uuid4().hex[:6]}"
    )
    consumer = Consumer(
        consumer_config(options, error_cb=lambda _err: None, on_commit=lambda _err, _tps: None)
    )
    consumer.list_topics(timeout=10)  # connected before the clock
    start, cpu_before, broker_before = time.perf_counter(), harness.own_cpu_s(), _broker_cpu_s(broker_pid)
    for _msg in _from_start(consumer, prefix, n):
        pass
    seconds = time.perf_counter() - start
    cpu, broker = harness.own_cpu_s() - cpu_before, _spent(broker_before, _broker_cpu_s(broker_pid))
    return {"read": n / seconds, "read_cpu_us": cpu / n * 1e6, **_broker_figures("read", n, broker)}


def _decoded(bootstrap: str, prefix: str, n: int) -> list[Decoded]:
    """The n events read from the broker and decoded as the collector decodes them (not timed)."""
    types = topic_types(prefix)
    plain = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-read-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    return [decode_message(msg.topic(), msg.value(), types) for msg in _from_start(plain, prefix, n)]


def copy_worker(bootstrap: str, prefix: str, n: int) -> dict[str, float]:
    """Rows/s of one raw COPY of the events' rows into a fresh database (decoded beforehand)."""
    by_table: dict[str, list[tuple[Any, ...]]] = {t: [] for t in _TABLES}
    for event in _decoded(bootstrap, prefix, n):
        for row in event.rows:
            by_table[row.table].append(_db_values(row))
    with fresh_database("onex_bench_copy") as db:
        migrate(db.url)
        checkpoint(db.url)
        with psycopg.connect(db.url) as conn:
            backend = [conn.info.backend_pid]
            pg_before, cpu_before = _backend_cpu_s(backend), harness.own_cpu_s()
            start = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur:
                for table, rows in by_table.items():
                    cols = ", ".join(TABLE_COLUMNS[table])
                    with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:  # type: ignore[arg-type]
                        for values in rows:
                            cp.write_row(values)
            seconds = time.perf_counter() - start
            cpu, pg_after = harness.own_cpu_s() - cpu_before, _backend_cpu_s(backend)
        expect_rows(db.url, n)
    return {"copy": n / seconds, **_cpu_figures("copy", n, cpu, _spent(pg_before, pg_after))}


def _documents(events: Sequence[Decoded], size: int) -> list[str]:
    """The documents of ``events`` in batches of ``size``, as the collector's writer builds them."""
    return [batch_document(events[i : i + size]) for i in range(0, len(events), size)]


def ingest_worker(bootstrap: str, prefix: str, n: int, batch_size: int | None) -> dict[str, float]:
    """Events/s of the collector's statement alone: its batches' documents built beforehand.

    The database's side of the collector (idempotent inserts, one transaction per batch, the live
    execution log rebuilt), on one connection set up as the writer's, one batch after the other:
    what the collector would reach on one connection if its own process cost nothing.
    """
    documents = _documents(_decoded(bootstrap, prefix, n), batch_size or CollectorOptions.batch_size)
    with fresh_database("onex_bench_ingest") as db:
        migrate(db.url)
        checkpoint(db.url)
        with Writer(db.url)._connect() as conn:
            backend = [conn.info.backend_pid]
            pg_before, cpu_before = _backend_cpu_s(backend), harness.own_cpu_s()
            start = time.perf_counter()
            for document in documents:
                conn.execute(INGEST, (document,)).fetchone()
            seconds = time.perf_counter() - start
            cpu, pg_after = harness.own_cpu_s() - cpu_before, _backend_cpu_s(backend)
        expect_rows(db.url, n)
    return {"ingest": n / seconds, **_cpu_figures("ingest", n, cpu, _spent(pg_before, pg_after))}


# ------------------------------------------------------------------------------------------------
# The parent: one broker, per size one production and interleaved rounds
# ------------------------------------------------------------------------------------------------
def _worker(
    kind: str, bootstrap: str, prefix: str, n: int, batch_size: int | None, broker_pid: int | None
) -> dict[str, float]:
    argv = [
        sys.executable,
        __file__,
        "--worker",
        kind,
        "--bootstrap",
        bootstrap,
        "--prefix",
        prefix,
        "--events",
        str(n),
    ]
    if batch_size is not None:
        argv += ["--batch-size", str(batch_size)]
    if broker_pid is not None:
        argv += ["--broker-pid", str(broker_pid)]
    # stderr passes through (progress); the figures come on stdout.
    proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True, timeout=max(600, n / 200), check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} worker failed ({proc.returncode})")
    rounds = harness._read_rounds(proc.stdout)
    return rounds[0]


def measure(bootstrap: str, n: int, rounds: int, batch_size: int | None, broker_pid: int | None) -> Rounds:
    prefix = f"b{n}-{uuid.uuid4().hex[:6]}."
    create_topics(bootstrap, prefix)
    started = time.monotonic()
    print(f"{n} events: producing ...", file=sys.stderr, flush=True)
    produce_mixed(bootstrap, n, prefix)
    print(f"{n} events: produced in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    out: Rounds = []
    for i in range(rounds):
        order = KINDS[i % len(KINDS) :] + KINDS[: i % len(KINDS)]  # rotated round by round
        figures: dict[str, float] = {}
        for kind in order:
            figures.update(_worker(kind, bootstrap, prefix, n, batch_size, broker_pid))
        out.append(figures)
        print(
            f"{n} events, round {i + 1}/{rounds}: collector {figures['collector']:.0f} events/s,"
            f" raw COPY {figures['copy']:.0f} rows/s, Kafka read {figures['read']:.0f} events/s,"
            f" statement alone {figures['ingest']:.0f} events/s, ratio"
            f" {figures['collector'] / figures['copy']:.3f}, collector peak RSS"
            f" {figures['rss_peak']:.0f} MB",
            file=sys.stderr,
            flush=True,
        )
    return out


def _median(measured: Rounds, key: str) -> float | None:
    values = [r[key] for r in measured if key in r]
    return statistics.median(values) if values else None


def _median_of(measured: Rounds, key: str) -> str:
    value = _median(measured, key)
    return "n/a (not readable here)" if value is None else f"{value:5.1f} us"


def _counts(text: str) -> list[int]:
    """A comma-separated list of :func:`harness.count` values (``--sizes``, ``--rounds``)."""
    return [harness.count(part) for part in text.split(",")]


def _run_worker(args: argparse.Namespace) -> dict[str, float]:
    """A worker process's figures (``--worker``)."""
    if args.worker == "collector":
        return collector_worker(args.bootstrap, args.prefix, args.events, args.batch_size, args.broker_pid)
    if args.worker == "read":
        return read_worker(args.bootstrap, args.prefix, args.events, args.broker_pid)
    if args.worker == "ingest":
        return ingest_worker(args.bootstrap, args.prefix, args.events, args.batch_size)
    return copy_worker(args.bootstrap, args.prefix, args.events)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=_counts,
        default="10000,100000,1000000",
        help="comma-separated event counts (drop 1000000 to skip the long one)",
    )
    parser.add_argument(
        "--rounds",
        type=_counts,
        default="5,3,3",
        help="rounds per size, in the order of --sizes (the last repeats); at least 3 for a median"
        " that one slow round does not move",
    )
    parser.add_argument(
        "--batch-size",
        type=harness.count,
        default=None,
        help="collector BATCH_SIZE (default: the setting's default)",
    )
    parser.add_argument("--worker", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--broker-pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--events", type=harness.count, help="one size only (the same as --sizes N)")
    args = parser.parse_args(argv)
    if args.worker:
        try:
            figures = _run_worker(args)
        except psycopg.OperationalError as exc:
            raise SystemExit(f"{args.worker} worker: {str(exc).splitlines()[0]}") from None
        harness.emit_rounds([figures])
        return 0
    sizes: list[int] = [args.events] if args.events else args.sizes
    per_size: list[int] = args.rounds
    batch = args.batch_size or CollectorOptions.batch_size
    print(f"machine: {harness.machine()}")
    print(
        f"collector settings: BATCH_SIZE={batch}, BATCH_TIMEOUT_MS="
        f"{CollectorOptions.batch_timeout_ms}, ONEX_COLLECTOR_DB_WRITERS="
        f"{CollectorOptions.db_writers}"
    )
    results: dict[int, Rounds] = {}
    verdicts: list[harness.Verdict] = []
    with script_broker(Path(tempfile.mkdtemp(prefix="onex-bench-"))) as b:
        for i, n in enumerate(sizes):
            broker_pid = None if b.proc is None else b.proc.pid
            results[n] = measure(
                b.bootstrap, n, per_size[min(i, len(per_size) - 1)], args.batch_size, broker_pid
            )
            verdicts += harness.report(
                f"{n} mixed events",
                results[n],
                {
                    "collector": "collector, Kafka -> PostgreSQL",
                    "copy": "raw COPY, same rows",
                    "read": "Kafka read alone, as the collector reads",
                    "ingest": "the collector's statement alone, batches built first",
                },
                "events/s",
                ["copy"],
                [TARGET],
            )
    print("== per-event cost and memory by size (medians)")
    base_us: float | None = None
    flat = True
    seconds: list[tuple[int, float]] = []  # (size, the collector's median time for it)
    for n, measured in results.items():
        us = 1e6 / statistics.median(r["collector"] for r in measured)
        seconds.append((n, n * us / 1e6))
        copy_us = 1e6 / statistics.median(r["copy"] for r in measured)
        base_us = base_us or us
        flat = flat and abs(us / base_us - 1) <= FLAT
        peak = [r["rss_peak"] for r in measured]
        print(
            f"{n:>9} events: collector {us:6.1f} us/event ({us / base_us:.3f}x the smallest"
            f" size), raw COPY {copy_us:6.1f} us/row; collector RSS before"
            f" {statistics.median(r['rss_before'] for r in measured):.0f} MB, peak"
            f" {min(peak):.0f}-{max(peak):.0f} MB"
        )
    print(f"{'PASS' if flat else 'FAIL'}  collector us/event flat within {FLAT:.0%} across sizes")
    # from the medians of two sizes: what the larger size's extra events cost each, against the
    # smaller size's cost per event; the time left over is what does not grow with the events
    for (n1, t1), (n2, t2) in itertools.pairwise(seconds):
        marginal = (t2 - t1) / (n2 - n1)
        fixed = t1 - n1 * marginal
        print(
            f"  {n1} -> {n2} events: {marginal * 1e6:.1f} us per extra event "
            f"({marginal * n1 / t1:.3f}x the {n1}'s cost per event); "
            + (
                f"{fixed * 1000:.0f} ms of the {n1}'s time do not grow with the events"
                if fixed > 0
                else "the cost per event grows with the events"
            )
        )
    print("== CPU per event by size (medians; the backends' and the broker's where they run on this host)")
    cores = harness.cores()
    for n, measured in results.items():
        print(
            f"{n:>9} events: collector process {_median_of(measured, 'collector_cpu_us')}, its"
            f" PostgreSQL backends {_median_of(measured, 'collector_pg_us')}, the broker"
            f" {_median_of(measured, 'collector_broker_us')}; Kafka read alone: consumer"
            f" {_median_of(measured, 'read_cpu_us')}, broker {_median_of(measured, 'read_broker_us')};"
            f" raw COPY client {_median_of(measured, 'copy_cpu_us')}, its backend"
            f" {_median_of(measured, 'copy_pg_us')}; the collector's statement alone: client"
            f" {_median_of(measured, 'ingest_cpu_us')}, its backend {_median_of(measured, 'ingest_pg_us')}"
        )
        # what the CPU alone allows: the collector's processes together need `total` us of CPU
        # per event, and the machine has `cores` of them at most
        parts = [_median(measured, f"collector_{k}_us") for k in ("cpu", "pg", "broker")]
        if None not in parts:
            total = sum(v for v in parts if v is not None)
            copy_rate = statistics.median(r["copy"] for r in measured)
            ceiling = cores * 1e6 / total
            print(
                f"           the collector's CPU, {total:.1f} us per event on {cores} cores, bounds it at"
                f" {ceiling:,.0f} events/s = {ceiling / copy_rate:.2f}x raw COPY; {TARGET.limit}x"
                f" needs at most {cores * 1e6 / (TARGET.limit * copy_rate):.1f} us"
            )
    return 0 if flat and all(v.passed for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
