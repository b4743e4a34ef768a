"""onex-otel bridge: OTLP from anywhere -> the onex topics.

:mod:`~onex_exporters.bridge.receiver` accepts OTLP/gRPC and OTLP/HTTP and writes each export
request to the ``otlp_spans`` / ``otlp_logs`` topics, as the OpenTelemetry Collector's Kafka
exporter does.
"""
