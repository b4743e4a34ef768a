"""The exporter's metrics: observable instruments that read its accounting when collected."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from onex_otel.conventions import (
    INSTRUMENTATION_NAME,
    METRIC_ATTR_OUTCOME,
    METRIC_ATTR_REASON,
    METRIC_EXPORT_DROPS,
    METRIC_EXPORT_EVENTS,
    METRIC_EXPORT_PENDING,
    METRIC_EXPORT_SPANS,
    METRIC_SPOOL_BYTES,
    OUTCOME_DELIVERED,
    OUTCOME_RESENT,
    OUTCOME_SPOOLED,
)

if TYPE_CHECKING:
    from onex_exporters.kafka import OnexKafkaSpanExporter

__all__ = ["register_metrics"]


def register_metrics(exporter: OnexKafkaSpanExporter, meter_provider: metrics.MeterProvider | None) -> None:
    """Observable instruments over ``exporter``'s accounting (held weakly)."""
    meter = (
        meter_provider.get_meter(INSTRUMENTATION_NAME)
        if meter_provider
        else metrics.get_meter(INSTRUMENTATION_NAME)
    )
    me = weakref.ref(exporter)

    def spans(_: CallbackOptions) -> list[Observation]:
        obj = me()
        return [Observation(obj._counts["spans"])] if obj else []

    def events(_: CallbackOptions) -> list[Observation]:
        obj = me()
        if not obj:
            return []
        snapshot = obj.stats()
        return [
            Observation(snapshot[o], {METRIC_ATTR_OUTCOME: o})
            for o in (OUTCOME_DELIVERED, OUTCOME_SPOOLED, OUTCOME_RESENT)
        ]

    def drops(_: CallbackOptions) -> list[Observation]:
        obj = me()
        if not obj:
            return []
        return [Observation(n, {METRIC_ATTR_REASON: r}) for r, n in obj.stats()["dropped"].items()]

    def spool_bytes(_: CallbackOptions) -> list[Observation]:
        obj = me()
        return [Observation(obj.stats()["spool_bytes"])] if obj else []

    def pending(_: CallbackOptions) -> list[Observation]:
        obj = me()
        return [Observation(obj.stats()["in_flight"])] if obj else []

    meter.create_observable_counter(
        METRIC_EXPORT_SPANS, [spans], unit="{span}", description="Spans seen by the Kafka exporter."
    )
    meter.create_observable_counter(
        METRIC_EXPORT_EVENTS,
        [events],
        unit="{event}",
        description="Events by outcome (delivered, spooled, resent from the spool).",
    )
    meter.create_observable_counter(
        METRIC_EXPORT_DROPS, [drops], unit="{event}", description="Events dropped, by reason."
    )
    meter.create_observable_gauge(
        METRIC_SPOOL_BYTES, [spool_bytes], unit="By", description="Bytes waiting in the spool."
    )
    meter.create_observable_gauge(
        METRIC_EXPORT_PENDING, [pending], unit="{event}", description="Events queued in the producer."
    )
