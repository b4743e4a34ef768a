"""The collector's counters and health, shared by the consumer loop and the HTTP thread."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from onex_otel.conventions import METRIC_COLLECTOR_PREFIX
from onex_otel.service_metrics import Kind, ServiceMetrics

__all__ = ["CollectorMetrics", "render_prometheus"]


@dataclass
class CollectorMetrics(ServiceMetrics):
    """Thread-safe figures of one collector process (seed 001/004 ``/metrics`` fields and more).

    Exposed as OpenTelemetry metrics named ``onex_collector_*`` (see
    :class:`~onex_otel.service_metrics.ServiceMetrics`).
    """

    prefix: ClassVar[str] = METRIC_COLLECTOR_PREFIX
    figures: ClassVar[Mapping[str, tuple[Kind, str]]] = {
        "uptime_seconds": ("gauge", "Seconds since the collector started."),
        "messages_consumed": ("counter", "Messages read from Kafka and processed."),
        "messages_inserted": ("counter", "Messages whose rows were committed to PostgreSQL."),
        "messages_failed": ("counter", "Messages sent to the dead-letter topic."),
        "batches_processed": ("counter", "Batches committed."),
        "avg_batch_processing_ms": ("gauge", "Mean time to process a batch, milliseconds."),
        "batch_processing_ms": ("counter", "Time spent processing batches, milliseconds."),
        "messages_per_second": ("gauge", "Messages consumed per second since start."),
        "last_commit_time": ("gauge", "Unix time of the last committed batch."),
        "consumer_lag": ("gauge", "Messages not yet consumed (approximate, from watermarks)."),
        "messages_pending": ("gauge", "Messages read but not yet written (the batch in hand)."),
        "dlq_messages": ("counter", "Messages written to the dead-letter topic."),
        "rows_inserted": ("counter", "Rows inserted (duplicates excluded)."),
        "database_retries": ("counter", "Failed database attempts retried."),
        "messages_revoked": (
            "counter",
            "Messages read, then left to another collector at a rebalance (re-read there).",
        ),
        "database_ok": ("gauge", "1 while PostgreSQL takes writes."),
        "kafka_ok": ("gauge", "1 while Kafka is reachable."),
        "executions_in_progress": ("gauge", "agent_execution_logs rows still in_progress."),
        "oldest_in_progress_seconds": (
            "gauge",
            "Age of the oldest execution still in progress, seconds (0: none).",
        ),
    }

    messages_inserted: int = 0
    rows_inserted: int = 0
    messages_failed: int = 0
    database_retries: int = 0
    messages_revoked: int = 0
    messages_pending: int = 0
    database_ok: bool = True
    database_reason: str | None = None
    executions_in_progress: int | None = None
    oldest_in_progress_seconds: float | None = None

    def record_batch(self, *, consumed: int, inserted: int, rows: int, failed: int, ms: float) -> None:
        """Count one committed batch."""
        with self._lock:
            self._count_batch(consumed=consumed, dead=failed, ms=ms)
            self.messages_inserted += inserted
            self.rows_inserted += rows
            self.messages_failed += failed

    def record_revoked(self, messages: int) -> None:
        """Count messages read and left unwritten because their partition was revoked."""
        with self._lock:
            self.messages_revoked += messages

    def set_database(self, ok: bool, reason: str | None = None) -> None:
        """Record whether the database works now."""
        with self._lock:
            self.database_ok = ok
            self.database_reason = None if ok else reason
            if not ok:
                self.database_retries += 1

    def set_pending(self, count: int) -> None:
        """Record how many messages are read but not yet written (the batch in hand)."""
        with self._lock:
            self.messages_pending = count

    def set_in_progress(self, count: int | None, oldest_seconds: float | None) -> None:
        """Record the executions in progress and the oldest one's age (``None``: unknown)."""
        with self._lock:
            self.executions_in_progress = count
            self.oldest_in_progress_seconds = oldest_seconds

    def _reasons(self) -> dict[str, str]:
        reasons: dict[str, str] = {}
        with self._lock:
            if not self.database_ok:
                reasons["database"] = self.database_reason or "unavailable"
        return {**reasons, **super()._reasons()}

    def _figures(self) -> dict[str, Any]:
        with self._lock:
            return {
                **self._common_figures(),
                "messages_inserted": self.messages_inserted,
                "messages_failed": self.messages_failed,
                "batch_processing_ms": round(self.batch_ms_total, 3),
                "messages_pending": self.messages_pending,
                "rows_inserted": self.rows_inserted,
                "database_retries": self.database_retries,
                "messages_revoked": self.messages_revoked,
                "database_ok": self.database_ok,
                "executions_in_progress": self.executions_in_progress,
                "oldest_in_progress_seconds": (
                    None
                    if self.oldest_in_progress_seconds is None
                    else round(self.oldest_in_progress_seconds, 3)
                ),
            }


def render_prometheus(metrics: CollectorMetrics) -> str:
    """The figures in the Prometheus text exposition format (:meth:`CollectorMetrics.prometheus`)."""
    return metrics.prometheus()
