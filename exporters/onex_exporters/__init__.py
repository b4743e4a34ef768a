r"""onex_exporters: OpenTelemetry spans -> OnexEnvelopeV1 events -> Kafka.

Usage from code (``onex_otel.configure()`` does this when Kafka is configured)::

    from opentelemetry.sdk.trace import TracerProvider
    from onex_exporters import install

    provider = TracerProvider()
    install(provider)          # lifecycle processor + BatchSpanProcessor(OnexKafkaSpanExporter)

Zero-code, through the ``opentelemetry_traces_exporter`` entry point ``onex_kafka``::

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 \\
    OTEL_TRACES_EXPORTER=otlp,onex_kafka opentelemetry-instrument python agent.py

There the SDK builds ``OnexKafkaSpanExporter()`` after it has set the global tracer provider;
the exporter adds its lifecycle processor to that provider itself, so started/progress events
are published in real time as well.

Configuration comes from :func:`onex_otel.config.load_settings` (``KAFKA_BOOTSTRAP_SERVERS`` or
``KAFKA_BROKERS``; ``KAFKA_ENABLE_LOGGING=false`` turns publishing off; ``ONEX_TOPIC_*``,
``ONEX_SPOOL_*``, ``ONEX_KAFKA_*``).

Modules: :mod:`~onex_exporters.mapping` (pure span -> envelope functions),
:mod:`~onex_exporters.normalize` (framework spans -> the mapping's neutral view),
:mod:`~onex_exporters.kafka` (the exporter), :mod:`~onex_exporters.realtime_processor` (real-time
lifecycle processor), :mod:`~onex_exporters.spool` (the durable spool),
:mod:`~onex_exporters.bridge` (OTLP on Kafka -> the same events: ``onex-otel bridge``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the settings load on use: `onex-otel --help` imports this package
    from opentelemetry.sdk.trace import TracerProvider

    from onex_exporters.kafka import OnexKafkaSpanExporter
    from onex_otel.config import Settings

__all__ = ["install"]


def install(provider: TracerProvider, settings: Settings | None = None) -> OnexKafkaSpanExporter | None:
    """Add the lifecycle processor and a batch-exporting Kafka exporter to ``provider``.

    Returns the exporter, or ``None`` when Kafka publishing is not configured (no bootstrap
    servers, or ``KAFKA_ENABLE_LOGGING=false``): then nothing is added.
    """
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from onex_exporters.kafka import OnexKafkaSpanExporter
    from onex_exporters.realtime_processor import OnexLifecycleProcessor
    from onex_otel.config import load_settings

    settings = settings or load_settings()
    if not settings.kafka_enabled:
        return None
    exporter = OnexKafkaSpanExporter(settings, attach_lifecycle=False)
    provider.add_span_processor(OnexLifecycleProcessor(exporter))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return exporter
