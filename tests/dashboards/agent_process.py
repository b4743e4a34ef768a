"""An agent process for the dashboard tests (run as a script, so its global OTel state is its own).

``python -m tests.dashboards.agent_process <bootstrap> <topic prefix> <spool dir> <cid>...``

Runs agents through the public API with the real Kafka exporter (events go to the broker, to
topics with the given prefix), records its metrics with OpenTelemetry's Prometheus exporter, and
prints the Prometheus exposition text of its metrics on stdout once everything is delivered.
Correlation ids: ``alpha`` run, ``beta`` run (fails), detection failure, ``beta`` run left in
flight.
"""

from __future__ import annotations

import sys
import uuid

from opentelemetry import metrics
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

TOOL_ERROR = "search timed out"
EXECUTION_ERROR = "bad input"


def main(argv: list[str]) -> int:
    bootstrap, prefix, spool_dir, *cids = argv
    alpha, beta, detection, in_flight = (uuid.UUID(c) for c in cids)
    metrics.set_meter_provider(MeterProvider(metric_readers=[PrometheusMetricReader()]))

    import onex_otel
    from onex_otel._internal import internal_error

    provider = TracerProvider()
    onex_otel.configure(
        "dashboard-agents",
        tracer_provider=provider,
        kafka_bootstrap_servers=bootstrap,
        topic_prefix=prefix,
        spool_dir=spool_dir,
    )

    with onex_otel.agent_execution(
        "agent-alpha", user_request="summarise the report", correlation_id=alpha
    ) as run:
        onex_otel.routing_decision("agent-alpha", 0.9, "fuzzy_match", 12, user_request="summarise the report")
        onex_otel.router_metrics(
            "summarise the report",
            12,
            candidates_evaluated=4,
            cache_hit=False,
            trigger_match_strategy="fuzzy_match",
        )
        with onex_otel.tool_call("read_file", {"path": "report.md"}):
            pass
        try:
            with onex_otel.tool_call("web_search", {"q": "report"}):
                raise TimeoutError(TOOL_ERROR)
        except TimeoutError:
            pass
        onex_otel.record_error("ParseError", "could not parse the page")
        run.complete(quality_score=0.75)

    try:
        with onex_otel.agent_execution("agent-beta", user_request="fix the bug", correlation_id=beta):
            onex_otel.routing_decision("agent-beta", 0.6, "keyword", 30)
            onex_otel.router_metrics(
                "fix the bug", 30, candidates_evaluated=2, cache_hit=True, trigger_match_strategy="keyword"
            )
            onex_otel.transformation(
                "polymorphic-agent", "agent-beta", duration_ms=40, reason="specialist", confidence_score=0.6
            )
            with onex_otel.tool_call("read_file", {"path": "bug.py"}):
                pass
            raise ValueError(EXECUTION_ERROR)
    except ValueError:
        pass

    onex_otel.detection_failure(
        "do something vague",
        "no_confident_match",
        best_confidence=0.3,
        detection_strategy="fuzzy_match",
        candidates_evaluated=5,
        correlation_id=detection,
    )

    # A run still going when the metrics are read: its started event is published at once.
    onex_otel.agent_execution("agent-beta", user_request="long task", correlation_id=in_flight).__enter__()

    # A contained internal failure (onex_internal_errors_total).
    try:
        raise RuntimeError("simulated instrumentation failure")
    except RuntimeError:
        internal_error("dashboard_test")

    # An event Kafka refuses for good (larger than the producer may send): a counted drop.
    # Its own topics, so that none of its events reach the collector under test, and its own
    # metrics registry (a second exporter's instruments on the same meter would be duplicates).
    drops = CollectorRegistry(auto_describe=True)
    from onex_exporters.kafka import OnexKafkaSpanExporter
    from onex_otel.config import load_settings
    from tests.exporters.spans import SpanFactory

    small = OnexKafkaSpanExporter(
        load_settings(
            {},
            kafka_bootstrap_servers=bootstrap,
            topic_prefix="drop." + prefix,
            spool_dir=spool_dir + "-drop",
        ),
        attach_lifecycle=False,
        producer_overrides={"message.max.bytes": 1000},
        meter_provider=MeterProvider(metric_readers=[PrometheusMetricReader(registry=drops)]),
    )
    factory = SpanFactory()
    with factory.execution("agent-alpha", user_request="x" * 4000):
        pass
    small.export(factory.finished())
    if not small.force_flush(30_000) or not provider.force_flush(30_000):
        print("telemetry not delivered within 30 s", file=sys.stderr)
        return 1
    sys.stdout.write(generate_latest(REGISTRY).decode() + generate_latest(drops).decode())
    sys.stdout.flush()
    small.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
