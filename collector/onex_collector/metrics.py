"""The collector's counters and health, shared by the consumer loop and the HTTP thread."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from onex_otel.conventions import METRIC_COLLECTOR_PREFIX
from onex_otel.status_http import prometheus_text

__all__ = ["CollectorMetrics", "render_prometheus"]


@dataclass
class CollectorMetrics:
    """Thread-safe figures of one collector process (seed 001/004 ``/metrics`` fields and more)."""

    started_monotonic: float = field(default_factory=time.monotonic)
    messages_consumed: int = 0
    messages_inserted: int = 0
    rows_inserted: int = 0
    messages_failed: int = 0
    messages_dead_lettered: int = 0
    batches_processed: int = 0
    batch_ms_total: float = 0.0
    database_retries: int = 0
    messages_revoked: int = 0
    last_commit_time: datetime | None = None
    consumer_lag: int | None = None
    messages_pending: int = 0
    database_ok: bool = True
    database_reason: str | None = None
    kafka_ok: bool = True
    kafka_reason: str | None = None
    running: bool = False
    executions_in_progress: int | None = None
    oldest_in_progress_seconds: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record_batch(
        self, *, consumed: int, inserted: int, rows: int, failed: int, ms: float
    ) -> None:
        """Count one committed batch."""
        with self._lock:
            self.messages_consumed += consumed
            self.messages_inserted += inserted
            self.rows_inserted += rows
            self.messages_failed += failed
            self.messages_dead_lettered += failed
            self.batches_processed += 1
            self.batch_ms_total += ms
            self.last_commit_time = datetime.now(UTC)

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

    def set_kafka(self, ok: bool, reason: str | None = None) -> None:
        """Record whether Kafka works now."""
        with self._lock:
            self.kafka_ok = ok
            self.kafka_reason = None if ok else reason

    def set_lag(self, lag: int | None) -> None:
        """Record the consumer lag (sum over assigned partitions; approximate)."""
        with self._lock:
            self.consumer_lag = lag

    def set_pending(self, count: int) -> None:
        """Record how many messages are read but not yet written (the batch in hand)."""
        with self._lock:
            self.messages_pending = count

    def set_in_progress(self, count: int | None, oldest_seconds: float | None) -> None:
        """Record the executions in progress and the oldest one's age (``None``: unknown)."""
        with self._lock:
            self.executions_in_progress = count
            self.oldest_in_progress_seconds = oldest_seconds

    def health(self) -> dict[str, Any]:
        """``{"status": "healthy"|"degraded", "consumer": ..., "reasons": {...}}``."""
        with self._lock:
            reasons: dict[str, str] = {}
            if not self.database_ok:
                reasons["database"] = self.database_reason or "unavailable"
            if not self.kafka_ok:
                reasons["kafka"] = self.kafka_reason or "unavailable"
            body: dict[str, Any] = {
                "status": "degraded" if reasons else "healthy",
                "consumer": "running" if self.running else "stopped",
            }
            if reasons:
                body["reasons"] = reasons
            return body

    def snapshot(self) -> dict[str, Any]:
        """The ``/metrics`` JSON."""
        with self._lock:
            uptime = time.monotonic() - self.started_monotonic
            batches = self.batches_processed
            return {
                "uptime_seconds": round(uptime, 3),
                "messages_consumed": self.messages_consumed,
                "messages_inserted": self.messages_inserted,
                "messages_failed": self.messages_failed,
                "batches_processed": batches,
                "avg_batch_processing_ms": (
                    round(self.batch_ms_total / batches, 3) if batches else 0.0
                ),
                "batch_processing_ms": round(self.batch_ms_total, 3),
                "messages_per_second": (
                    round(self.messages_consumed / uptime, 3) if uptime > 0 else 0.0
                ),
                "last_commit_time": (
                    self.last_commit_time.strftime("%Y-%m-%dT%H:%M:%SZ")
                    if self.last_commit_time else None
                ),
                "consumer_lag": self.consumer_lag,
                "messages_pending": self.messages_pending,
                "dlq_messages": self.messages_dead_lettered,
                "rows_inserted": self.rows_inserted,
                "database_retries": self.database_retries,
                "messages_revoked": self.messages_revoked,
                "database_ok": self.database_ok,
                "kafka_ok": self.kafka_ok,
                "executions_in_progress": self.executions_in_progress,
                "oldest_in_progress_seconds": (
                    None if self.oldest_in_progress_seconds is None
                    else round(self.oldest_in_progress_seconds, 3)
                ),
            }


_HELP: dict[str, tuple[str, str]] = {
    "uptime_seconds": ("gauge", "Seconds since the collector started."),
    "messages_consumed": ("counter", "Messages read from Kafka and processed."),
    "messages_inserted": ("counter", "Messages whose rows were committed to PostgreSQL."),
    "messages_failed": ("counter", "Messages sent to the dead-letter topic."),
    "batches_processed": ("counter", "Batches committed."),
    "avg_batch_processing_ms": ("gauge", "Mean time to process a batch, milliseconds."),
    "batch_processing_ms": ("counter", "Time spent processing batches, milliseconds."),
    "messages_per_second": ("gauge", "Messages consumed per second since start."),
    "consumer_lag": ("gauge", "Messages not yet consumed (approximate, from watermarks)."),
    "messages_pending": ("gauge", "Messages read but not yet written (the batch in hand)."),
    "dlq_messages": ("counter", "Messages written to the dead-letter topic."),
    "rows_inserted": ("counter", "Rows inserted (duplicates excluded)."),
    "database_retries": ("counter", "Failed database attempts retried."),
    "messages_revoked": (
        "counter", "Messages read, then left to another collector at a rebalance (re-read there)."),
    "database_ok": ("gauge", "1 while PostgreSQL takes writes."),
    "kafka_ok": ("gauge", "1 while Kafka is reachable."),
    "last_commit_time": ("gauge", "Unix time of the last committed batch."),
    "executions_in_progress": ("gauge", "agent_execution_logs rows still in_progress."),
    "oldest_in_progress_seconds": (
        "gauge", "Age of the oldest execution still in progress, seconds (0: none)."),
}


def render_prometheus(metrics: CollectorMetrics) -> str:
    """The same figures in the Prometheus text exposition format."""
    snap = metrics.snapshot()
    with metrics._lock:
        last = metrics.last_commit_time
    snap["last_commit_time"] = last.timestamp() if last else None
    return prometheus_text(METRIC_COLLECTOR_PREFIX, _HELP, snap)
