"""Capacity figures: CPU per event in the collector and in PostgreSQL; partitions; collectors.

Run from the repository root (own broker, fresh databases on the local PostgreSQL)::

    python benchmarks/bench_capacity.py [--events 30000] [--group]

1. CPU per event. One collector (in this process, default settings) consumes N mixed events
   (benchmarks/bench_collector.py's mix) into a fresh database, twice: with the partitions a new
   database has (today and 7 days ahead), and with 60 days of partitions kept (each table then
   has 68 day partitions); the process prepared as ``onex-otel collect`` prepares its own
   (startup objects frozen out of the garbage collector's way). Measured from the moment the
   collector joined its consumer group (its start-up, clients and group join, left out) to its
   last event: the collector process's CPU time (user + system, every thread) and the CPU time
   of the PostgreSQL backends serving the collector (read from /proc at the join and every 0.1 s
   while they live; the server's shared background processes, WAL writer and checkpointer, are
   not included). Printed: events per CPU-second of each side, i.e. what one core of each
   sustains, and the 60-day / fresh ratio; and the wall rate from the first committed batch to
   the last (both sides sharing this machine's cores), and the bytes on disk per event.
   ``--before VERSION`` also runs both layouts with the migrations only up to VERSION (e.g.
   0008: before the rebuild was bounded by time, 0009), alternating with the current ones, and
   prints each tree's 60-day / fresh ratio.
2. ``--group``: the wall-clock rate of 1 collector process, then 2 in one consumer group, on
   topics of 4 partitions (``onex-otel collect`` subprocesses; once the group has settled, rate
   = events / time from the start of their publication to the last row, the producer running
   on the same cores). On this 2-core machine the collectors and PostgreSQL share the cores,
   so this shows how the group divides the work, not how it scales on separate machines.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
import psycopg
from bench_collector import mixed_events, produce
from tests.services.kafka import free_port, script_broker
from tests.services.postgres import fresh_database

from onex_collector.consumer import Collector, CollectorOptions
from onex_collector.metrics import CollectorMetrics
from onex_collector.migrate import migrate
from onex_otel.conventions import EventType
from onex_otel.long_running import freeze_startup_objects

#: Bytes on disk per event (tables, TOAST and indexes) after each CPU run.
STORAGE: list[float] = []
_TABLES = (
    "agent_actions",
    "agent_execution_events",
    "agent_routing_decisions",
    "agent_transformation_events",
    "router_performance_metrics",
    "agent_detection_failures",
)


def create_topics(bootstrap: str, partitions: int, prefix: str = "") -> None:
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(prefix + t.value, partitions, 1) for t in EventType])
    for fut in futures.values():
        fut.result(15)


class BackendCpu:
    """CPU seconds of the PostgreSQL backends of one database and application (sampled)."""

    def __init__(self, db_url: str, dbname: str, application: str) -> None:
        self._conn = psycopg.connect(db_url, autocommit=True)
        self._dbname, self._application = dbname, application
        self.seconds: dict[int, float] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one reader of the connection at a time
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> BackendCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._conn.close()

    def sample(self) -> float:
        """Read the backends' CPU now (rather than at the next 0.1 s tick); the total so far."""
        with self._lock:
            self._read()
            return self.total

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                self._read()
            self._stop.wait(0.1)

    def _read(self) -> None:
        pids = [
            r[0]
            for r in self._conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
                (self._dbname, self._application),
            ).fetchall()
        ]
        for pid in pids:
            cpu = harness.process_cpu_s(pid)
            if cpu is not None:
                self.seconds[pid] = max(cpu, self.seconds.get(pid, 0.0))

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


def cpu_run(bootstrap: str, n: int, days_kept: int, target: str | None = None) -> tuple[float, float, float]:
    """(wall events/s, collector CPU s, PostgreSQL backend CPU s) for n events, with the
    migrations up to ``target`` (default: all)."""
    with fresh_database("onex_bench_cap") as db:
        migrate(db.url, target=target)
        if days_kept:
            with psycopg.connect(db.url, autocommit=True) as conn:
                conn.execute(
                    "SELECT onex_create_partitions(make_interval(days => %s),"
                    " now() - make_interval(days => %s))",
                    (days_kept, days_kept),
                )
        metrics = CollectorMetrics()
        options = CollectorOptions(
            bootstrap_servers=bootstrap, conninfo=db.url, group_id=f"cap-{uuid.uuid4().hex[:6]}"
        )
        collector = Collector(options, metrics=metrics)
        freeze_startup_objects()  # as `onex-otel collect` does before it runs its collector
        with BackendCpu(db.url, db.name, "onex-otel-collector") as pg:
            thread = threading.Thread(target=collector.run, daemon=True)
            thread.start()
            deadline = time.monotonic() + max(120.0, n / 300)
            first: tuple[float, int] | None = None
            joined: tuple[float, float] | None = None  # both sides' CPU when the group was joined
            while (snap := metrics.snapshot())["messages_consumed"] < n and (time.monotonic() < deadline):
                if joined is None and collector._assigned:  # start-up (clients, group join) left out
                    joined = (harness.own_cpu_s(), pg.sample())
                if first is None and snap["batches_processed"]:
                    first = (time.perf_counter(), snap["messages_consumed"])
                time.sleep(0.005)
            end = time.perf_counter()
            own_end = harness.own_cpu_s()
            time.sleep(0.3)  # one more sample of the backends before they close
            collector.request_stop()
            thread.join(60)
        if metrics.snapshot()["messages_consumed"] < n:
            raise SystemExit("the collector did not consume every event in time")
        with psycopg.connect(db.url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")  # settles the visibility map and free space map
            size = conn.execute(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
                " WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace"
                " AND c.relname <> 'schema_migrations'"
            ).fetchone()
        STORAGE.append(int(size[0]) / n if size and size[0] else 0.0)
    if first is None or joined is None:
        raise SystemExit("no batch was committed")
    return (n - first[1]) / (end - first[0]), own_end - joined[0], pg.total - joined[1]


def group_rate(bootstrap: str, n: int, members: int, workdir: Path) -> float:
    """Events/s of ``members`` collector processes in one group (publication to last row)."""
    prefix = f"cap{uuid.uuid4().hex[:6]}."
    create_topics(bootstrap, 4, prefix)
    envelopes = mixed_events(n)
    with fresh_database("onex_bench_group") as db:
        migrate(db.url)
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "DATABASE_URL": db.url,
            "KAFKA_GROUP_ID": f"{prefix}group",
            "ONEX_TOPIC_PREFIX": prefix,
            "ONEX_COLLECTOR_PORT": "0",
        }
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for i in range(members):
                with open(workdir / f"{prefix}{i}.log", "ab") as out:
                    procs.append(
                        subprocess.Popen(
                            [sys.executable, "-m", "onex_otel.cli", "collect"],
                            env={**env, "ONEX_COLLECTOR_PORT": str(free_port())},
                            stdout=out,
                            stderr=subprocess.STDOUT,
                        )
                    )
            count = " + ".join(f"(SELECT count(*) FROM {t})" for t in _TABLES)
            with psycopg.connect(db.url, autocommit=True) as conn:

                def rows() -> int:
                    row = conn.execute(f"SELECT {count}").fetchone()
                    return int(row[0]) if row else 0

                time.sleep(10)  # the group forms (a join takes about 3 s per member on Tansu)
                warm = mixed_events(200)  # and reads every partition: the group is settled
                produce_prefixed(bootstrap, warm, prefix)
                deadline = time.monotonic() + 60
                while rows() < len(warm) and time.monotonic() < deadline:
                    time.sleep(0.05)
                started = time.perf_counter()
                produce_prefixed(bootstrap, envelopes, prefix)
                deadline = time.monotonic() + max(180.0, n / 200)
                while (done := rows()) < n + len(warm) and time.monotonic() < deadline:
                    time.sleep(0.02)
                end = time.perf_counter()
            if done < n + len(warm):
                raise SystemExit(f"{members} collector(s) wrote {done} of {n} rows in time")
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(40)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
    return n / (end - started)


def produce_prefixed(bootstrap: str, envelopes: list, prefix: str) -> None:  # type: ignore[type-arg]
    from confluent_kafka import Producer

    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "queue.buffering.max.messages": 1_000_000}
    )
    for env in envelopes:
        while True:
            try:
                producer.produce(
                    prefix + env.event_type.value, env.to_json(), key=str(env.correlation_id).encode()
                )
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    if producer.flush(120):
        raise SystemExit("the broker did not take every event")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument(
        "--days-kept", type=int, default=60, help="day partitions kept in the second CPU run (60)"
    )
    parser.add_argument("--runs", type=int, default=3, help="alternating runs per layout (3)")
    parser.add_argument("--group", action="store_true", help="also 1 vs 2 collector processes")
    parser.add_argument(
        "--before", metavar="VERSION", help="also run with the migrations up to VERSION (e.g. 0008)"
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="onex-capacity-"))
        broker = stack.enter_context(script_broker(workdir))
        create_topics(broker.bootstrap, 1)
        print(f"producing {args.events} events ...", file=sys.stderr, flush=True)
        produce(broker.bootstrap, mixed_events(args.events))
        gc.collect()
        trees: list[str | None] = [None] if args.before is None else [args.before, None]
        runs: dict[tuple[str | None, int], list[tuple[float, float, float]]] = {
            (tree, days): [] for tree in trees for days in (0, args.days_kept)
        }
        for _ in range(args.runs):  # alternating: every layout sees the machine in the same moods
            for tree, days in runs:
                rate, own, pg = cpu_run(broker.bootstrap, args.events, days, tree)
                runs[tree, days].append((rate, own, pg))
                print(
                    f"  {tree or 'current'}, {days:3d} days kept: {rate:8.0f} events/s wall;"
                    f" collector {own:6.2f} CPU s, PostgreSQL backends {pg:6.2f} CPU s",
                    file=sys.stderr,
                    flush=True,
                )
        n = args.events
        results = {
            key: tuple(statistics.median(r[i] for r in rs) for i in range(3)) for key, rs in runs.items()
        }
        print(
            f"CPU per event ({n} mixed events, default settings, one collector;"
            f" medians of {args.runs} alternating runs):"
        )
        for (tree, days), (rate, own, pg) in results.items():
            label = (
                "fresh database (8 day partitions)"
                if days == 0
                else (f"{days} days kept ({days + 8} day partitions)")
            )
            if args.before is not None:
                label = f"{tree or 'current'}: {label}"
            print(
                f"  {label:48}: collector {n / own:7.0f} events/CPU-s,"
                f" PostgreSQL backends {n / pg:7.0f} events/CPU-s, wall {rate:7.0f} events/s"
            )
        for tree in trees:
            fresh, kept = results[tree, 0], results[tree, args.days_kept]
            print(
                f"  {tree or 'current'}: ratio {args.days_kept} days kept / fresh"
                f" (events per CPU-s): collector {fresh[1] / kept[1]:.2f},"
                f" PostgreSQL {fresh[2] / kept[2]:.2f}"
            )
        if args.before is not None:
            old, new = results[args.before, args.days_kept], results[None, args.days_kept]
            print(
                f"  {args.days_kept} days kept, current / {args.before} (events per CPU-s):"
                f" collector {old[1] / new[1]:.2f}, PostgreSQL {old[2] / new[2]:.2f}"
            )
        print(
            f"storage: {statistics.median(STORAGE):.0f} bytes per event on disk (tables, TOAST"
            " and indexes, after VACUUM; WAL not included)"
        )
        if args.group:
            one = group_rate(broker.bootstrap, n, 1, workdir)
            two = group_rate(broker.bootstrap, n, 2, workdir)
            print(f"collector processes in one group (4 partitions per topic, {n} events):")
            print(
                f"  1 collector: {one:7.0f} events/s; 2 collectors: {two:7.0f} events/s;"
                f" ratio 2/1 = {two / one:.2f} (2 cores shared with PostgreSQL)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
