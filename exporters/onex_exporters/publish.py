"""Publishing ready-made envelopes (not spans): the CLI skills' direct path and the emit daemon.

Both reuse :class:`~onex_exporters.kafka.OnexKafkaSpanExporter`'s producer, topics, headers and
durable spool, so an event published here is routed, keyed and protected exactly like one mapped
from a span.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from onex_exporters.kafka import OnexKafkaSpanExporter
from onex_exporters.mapping import EventRecord
from onex_otel.config import Settings, load_settings
from onex_otel.conventions import EventType
from onex_otel.errors import PublishError  # defined in the core: onex_otel.emit catches it

__all__ = ["EnvelopePublisher", "PublishError", "publish_envelope_dicts", "record_for"]


def record_for(envelope: Mapping[str, Any]) -> EventRecord:
    """An :class:`EventRecord` for an envelope dict; its traceparent's trace id is the correlation id.

    The span id is random: such events come from outside any span (a shell hook, a legacy
    producer), so the ``traceparent`` header only carries the run's trace.
    """
    trace_id = uuid.UUID(str(envelope["correlation_id"])).hex
    span_id = os.urandom(8).hex()
    return EventRecord(EventType(envelope["event_type"]), dict(envelope), f"00-{trace_id}-{span_id}-01", None)


def publish_envelope_dicts(
    events: Sequence[Mapping[str, Any]], *, settings: Settings | None = None, timeout: float = 5.0
) -> str:
    """Publish envelope dicts with a producer of this call's own; bounded by ``timeout`` seconds.

    Returns ``"delivered"`` when Kafka acknowledged every event, ``"spooled"`` when some went to the
    durable spool (they are re-sent by the next process that publishes); raises
    :class:`PublishError` when events were dropped.
    """
    settings = settings or load_settings()
    exporter = OnexKafkaSpanExporter(settings, attach_lifecycle=False, shutdown_timeout_s=max(0.1, timeout))
    exporter.report_spooled_at_exit = False  # the caller reports "spooled" itself
    try:
        exporter.publish([record_for(e) for e in events])
    finally:
        exporter.shutdown()
    stats = exporter.stats()
    dropped = sum(int(v) for v in stats["dropped"].values())
    if dropped:
        raise PublishError(f"{dropped} event(s) dropped ({', '.join(sorted(stats['dropped']))}); see the log")
    return "spooled" if stats["spooled"] else "delivered"


class EnvelopePublisher:
    """A long-lived publisher of validated envelopes (what the emit daemon hands events to)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.exporter = OnexKafkaSpanExporter(settings or load_settings(), attach_lifecycle=False)

    def publish_envelope(self, envelope: Any) -> None:
        """Queue one :class:`~onex_otel.envelope.OnexEnvelopeV1`; never waits on the network."""
        self.exporter.publish([record_for(envelope.model_dump(mode="json"))])

    def stats(self) -> Mapping[str, Any]:
        """The exporter's accounting (delivered, spooled, dropped, ...)."""
        return self.exporter.stats()

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued within ``timeout``, spool the rest."""
        self.exporter.shutdown(timeout * 1000)
