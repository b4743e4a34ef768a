"""Publish-to-row latency: events published at a steady rate until their rows are committed.

Run from the repository root (it starts its own broker and a fresh database)::

    python benchmarks/bench_latency.py                      # 1,000 events/s for 30 s
    python benchmarks/bench_latency.py --rate 2000 --seconds 10

The publisher is the real one (:class:`onex_exporters.publish.EnvelopePublisher`: the Kafka
exporter's producer, topics, headers and spool), in this process, paced to ``--rate`` events/s
of the mixed workload of ``bench_collector.py``. The collector runs in a process of its own with
default settings (``BATCH_SIZE``, ``BATCH_TIMEOUT_MS``...), its writer recording when the
transaction holding each event answered as committed (the rows are visible from then on).
Latency = that moment minus the moment the event was handed to the publisher (wall clocks of
one machine). Printed: p50, p95, p99 and max, and the verdict on the target (p99 < 250 ms).
It takes ``--seconds`` plus about 15 s (broker, database, group join).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from bench_collector import create_topics, mixed_events
from tests.services.kafka import script_broker
from tests.services.postgres import fresh_database

from onex_collector.consumer import Collector, CollectorOptions
from onex_collector.metrics import CollectorMetrics
from onex_collector.migrate import migrate
from onex_collector.tables import Decoded
from onex_collector.writer import BatchResult, PendingWrite, Writer
from onex_exporters.publish import EnvelopePublisher
from onex_otel.config import Settings

#: The target: p99 of publish -> committed row, in ms.
TARGET_P99_MS = 250.0
_READY = "@@ready"
#: Events published (one run of the mix: every topic, every table) before the measured ones.
_WARM_UP = 20
_RESULT = "@@committed "


class TimedWriter(Writer):
    """Records, per event id, when the collector saw the transaction holding it commit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.committed_at: dict[str, float] = {}

    def start(self, events: Sequence[Decoded], *, writers: int = 2) -> PendingWrite:
        return _Timed(super().start(events, writers=writers), events, self.committed_at)


class _Timed:
    def __init__(
        self, pending: PendingWrite, events: Sequence[Decoded], committed_at: dict[str, float]
    ) -> None:
        self.pending, self.events, self.committed_at = pending, events, committed_at

    def done(self) -> bool:
        return self.pending.done()

    def result(self) -> BatchResult:
        result = self.pending.result()
        now = time.time()
        for e in self.events:
            self.committed_at.setdefault(str(e.event_id), now)
        return result


def collector_worker(bootstrap: str, db_url: str, events: int, timeout: float, extra: dict[str, Any]) -> None:
    """Run a default collector until ``events`` events are committed; print their commit times."""
    options = CollectorOptions(
        bootstrap_servers=bootstrap,
        conninfo=db_url,
        group_id=f"bench-lat-{uuid.uuid4().hex[:6]}",
        **extra,
    )
    writer = TimedWriter(db_url)  # as the collector builds it without tracing configured
    collector = Collector(options, metrics=CollectorMetrics(), writer=writer)
    thread = threading.Thread(target=collector.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    ready = False
    while len(writer.committed_at) < events and time.monotonic() < deadline:
        if not ready and len(writer.committed_at) >= _WARM_UP:  # joined, every table written
            print(_READY, flush=True)
            ready = True
        time.sleep(0.01)
    collector.request_stop()
    thread.join(60)
    print(_RESULT + json.dumps(writer.committed_at), flush=True)


def publish_paced(publisher: Any, envelopes: Sequence[Any], rate: int) -> dict[str, float]:
    """Publish ``envelopes`` at ``rate``/s through ``publisher``; when each was handed over."""
    published: dict[str, float] = {}
    start = time.perf_counter()
    for i, env in enumerate(envelopes):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        published[str(env.event_id)] = time.time()
        publisher.publish_envelope(env)
    return published


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000, help="events/s published")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long they are published")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="a CollectorOptions field other than its default (e.g. batch_timeout_ms=100)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    timeout = args.seconds + 120
    if args.worker:
        extra = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.option)}
        collector_worker(args.bootstrap, args.db, args.events, timeout, extra)
        return 0
    n = int(args.rate * args.seconds)
    print(f"machine: {harness.machine()}")
    warm, envelopes = mixed_events(_WARM_UP), mixed_events(n)
    tmp = Path(tempfile.mkdtemp(prefix="onex-bench-"))
    with script_broker(tmp) as b, fresh_database("onex_bench_latency") as db:
        create_topics(b.bootstrap)
        migrate(db.url)
        worker = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                "--bootstrap",
                b.bootstrap,
                "--db",
                db.url,
                "--events",
                str(n + _WARM_UP),
                *(f"--option={o}" for o in args.option),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert worker.stdout is not None
        try:
            # The publisher is long-lived, as in an agent: connected and warm before the run.
            # Warm-up: the collector has joined its group and written one event of each kind.
            publisher = EnvelopePublisher(
                Settings(kafka_bootstrap_servers=b.bootstrap, spool_dir=str(tmp / "spool"))
            )
            try:
                publish_paced(publisher, warm, 1000)
                line = worker.stdout.readline()
                if not line.startswith(_READY):
                    raise SystemExit(f"the collector did not start: {line!r}")
                print(
                    f"publishing {n} events at {args.rate}/s for {args.seconds:g} s ...",
                    file=sys.stderr,
                    flush=True,
                )
                published = publish_paced(publisher, envelopes, args.rate)
            finally:
                publisher.close(30)
            dropped = publisher.stats()["dropped"]
            if any(int(v) for v in dropped.values()):
                raise SystemExit(f"the publisher dropped events: {dropped}")
            out, _ = worker.communicate(timeout=timeout)
        finally:
            if worker.poll() is None:
                worker.kill()
    committed: dict[str, float] = {}
    for line in out.splitlines():
        if line.startswith(_RESULT):
            committed = json.loads(line[len(_RESULT) :])
    missing = [eid for eid in published if eid not in committed]
    if missing:
        raise SystemExit(f"{len(missing)} of {n} events never reached the database")
    start = min(published.values())
    per_second: dict[int, float] = {}
    for eid, t in published.items():
        second = int(t - start)
        per_second[second] = max(per_second.get(second, 0.0), (committed[eid] - t) * 1000)
    print(
        "worst latency (ms) of each second published: "
        + " ".join(f"{per_second[s]:.0f}" for s in sorted(per_second))
    )
    lat = sorted((committed[eid] - t) * 1000 for eid, t in published.items())
    q = statistics.quantiles(lat, n=100)
    print(
        f"publish -> committed row at {args.rate} events/s for {args.seconds:g} s ({n} events,"
        " collector settings: " + (", ".join(args.option) or "defaults") + "):"
    )
    print(f"  p50 {q[49]:7.1f} ms   p95 {q[94]:7.1f} ms   p99 {q[98]:7.1f} ms   max {lat[-1]:7.1f} ms")
    passed = q[98] < TARGET_P99_MS
    print(
        f"{'PASS' if passed else 'FAIL'}  p99 < {TARGET_P99_MS:g} ms: p99 {q[98]:.1f} ms"
        f" ({q[98] / TARGET_P99_MS:.2f} of the budget)"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
