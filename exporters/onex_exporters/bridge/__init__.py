r"""The bridge: OTLP on Kafka -> OnexEnvelopeV1 events on the onex topics (``onex-otel bridge``).

Any program that speaks OTLP (Claude Code, agents in TypeScript, Go, Java...) reaches the legacy
tables without onex-otel in its process: an OpenTelemetry Collector's ``kafka`` exporter writes
one export request per message to ``otlp_spans`` / ``otlp_logs`` (``otlp_proto``, its default,
or ``otlp_json``), and the bridge maps each span with the same pure mapping the in-process
exporter uses (:func:`onex_exporters.mapping.span_to_records`, normalizer included) and each log
record of a known producer with :func:`onex_exporters.bridge.logs.records_from_logs`, then
publishes through :class:`~onex_exporters.kafka.OnexKafkaSpanExporter` (same topics, keys,
headers, spool). Event ids are deterministic, so a span that also reached Kafka in-process is
written once by the collector.

Run it::

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 onex-otel bridge
    onex-otel bridge --otlp-grpc 127.0.0.1:4317 --otlp-http 127.0.0.1:4318   # + a receiver

From code::

    from onex_exporters.bridge.service import Bridge, options_from_settings
    bridge = Bridge(options_from_settings(settings), settings)
    bridge.run()               # until bridge.request_stop() (SIGTERM/SIGINT in the CLI)

Modules: :mod:`~onex_exporters.bridge.otlp` (decoding, OTLP -> SDK spans),
:mod:`~onex_exporters.bridge.logs` (log records -> events), :mod:`~onex_exporters.bridge.service`
(the consumer loop, dead letters, ``/health`` and ``/metrics``),
:mod:`~onex_exporters.bridge.receiver` (OTLP/gRPC and OTLP/HTTP in, each export request written
to the ``otlp_spans`` / ``otlp_logs`` topics as the Collector's Kafka exporter does).
"""

from __future__ import annotations

from onex_otel.errors import OnexError

__all__ = ["DecodeError"]


class DecodeError(OnexError, ValueError):
    """A Kafka message is not an OTLP export request in the configured encoding."""

    def __init__(self, reason: str) -> None:
        """``reason``: what is wrong, one sentence (it goes to the DLQ headers)."""
        super().__init__(reason)
        self.reason = reason
