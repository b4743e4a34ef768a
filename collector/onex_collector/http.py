"""``/health`` and ``/metrics`` of the collector (:class:`onex_otel.status_http.StatusServer`).

- ``GET /health``: ``{"status": "healthy", "consumer": "running"}`` (HTTP 200), or
  ``{"status": "degraded", ..., "reasons": {"database": "...", "kafka": "..."}}`` (HTTP 503).
- ``GET /metrics``: the seed's JSON fields plus consumer lag and the dead-letter count;
  ``/metrics?format=prometheus`` or ``Accept: text/plain``: the same in Prometheus text format.
"""

from __future__ import annotations

from onex_collector.metrics import CollectorMetrics
from onex_otel.status_http import StatusServer

__all__ = ["MetricsServer"]


class MetricsServer(StatusServer):
    """An HTTP server thread exposing a :class:`CollectorMetrics`; a context manager."""

    def __init__(self, metrics: CollectorMetrics, host: str = "127.0.0.1", port: int = 8080):
        """Bind to ``host:port`` (port 0: any free port, see :attr:`port`)."""
        self.metrics = metrics
        super().__init__(
            metrics.health, metrics.snapshot, metrics.prometheus, host, port, name="onex-collector"
        )
