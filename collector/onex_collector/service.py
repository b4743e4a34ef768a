"""Running the collector as a service: options from settings, tracing, signals, HTTP endpoints."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from types import FrameType

from onex_collector.consumer import Collector, CollectorOptions
from onex_collector.http import MetricsServer
from onex_collector.metrics import CollectorMetrics
from onex_collector.partitions import PartitionMaintainer
from onex_collector.probe import InProgressProbe
from onex_collector.rows import default_topic_types
from onex_otel.config import Settings
from onex_otel.long_running import freeze_startup_objects

__all__ = [
    "install_signal_handlers",
    "options_from_settings",
    "run_service",
    "setup_tracing",
]

log = logging.getLogger("onex_collector")


def options_from_settings(
    settings: Settings,
    *,
    group_id: str | None = None,
    start: str | datetime | None = None,
    stop_when_idle_s: float | None = None,
) -> CollectorOptions:
    """Collector options from the resolved settings (see ``onex-otel config``)."""
    if not settings.kafka_bootstrap_servers:
        raise ValueError("KAFKA_BOOTSTRAP_SERVERS (or KAFKA_BROKERS) is not set")
    return CollectorOptions(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        conninfo=settings.postgres_conninfo(),
        group_id=group_id or settings.kafka_group_id,
        topic_types=default_topic_types(settings.topic_prefix),
        dlq_topic=settings.dlq_topic,
        batch_size=settings.batch_size,
        batch_timeout_ms=settings.batch_timeout_ms,
        eager_batches=settings.eager_batches,
        db_writers=settings.db_writers,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        commit_interval_ms=settings.commit_interval_ms,
        retry_initial_s=settings.db_retry_initial_ms / 1000,
        retry_max_s=settings.db_retry_max_ms / 1000,
        shutdown_timeout_s=settings.shutdown_timeout_s,
        connect_timeout_s=settings.connect_timeout_s,
        start=start,
        stop_when_idle_s=stop_when_idle_s,
    )


def setup_tracing(settings: Settings, service_name: str = "onex-otel-collector") -> Callable[[], None]:
    """Export the collector's own spans over OTLP when an endpoint is configured.

    Returns a function that flushes and shuts the provider down (a no-op without an endpoint).
    """
    if not settings.otlp_endpoint:
        return lambda: None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.service_name or service_name})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider.shutdown


def install_signal_handlers(collector: Collector) -> None:
    """SIGTERM and SIGINT ask the collector to drain and stop (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing the batch in hand", signal.Signals(signum).name)
        collector.request_stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _progress_logger(prefix: str) -> Callable[[CollectorMetrics], None]:
    def report(metrics: CollectorMetrics) -> None:
        snap = metrics.snapshot()
        health = metrics.health()
        print(
            f"{prefix}: consumed {snap['messages_consumed']}, written {snap['messages_inserted']}"
            f" ({snap['rows_inserted']} new rows), dead-lettered {snap['messages_failed']},"
            f" lag {snap['consumer_lag'] if snap['consumer_lag'] is not None else '?'},"
            f" {health['status']}"
            + (f" ({'; '.join(health['reasons'].values())})" if "reasons" in health else ""),
            file=sys.stderr,
            flush=True,
        )

    return report


def _partition_maintainer(options: CollectorOptions, settings: Settings) -> PartitionMaintainer | None:
    """The collector's partition maintenance (not for a replay, nor when turned off)."""
    if options.stop_when_idle_s is not None or settings.maintenance_interval_s <= 0:
        return None
    return PartitionMaintainer(
        options.conninfo,
        interval_s=settings.maintenance_interval_s,
        ahead_days=settings.partitions_ahead_days,
        retention_days=settings.retention_days,
        debug_retention_days=settings.debug_retention_days,
    ).start()


def run_service(
    options: CollectorOptions,
    settings: Settings,
    *,
    http: bool = True,
    progress_prefix: str = "collect",
    progress_every_s: float = 10.0,
) -> CollectorMetrics:
    """Run a collector in the foreground until SIGTERM/SIGINT (or caught up, for replay)."""
    shutdown_tracing = setup_tracing(settings)
    metrics = CollectorMetrics()
    collector = Collector(
        options,
        metrics=metrics,
        progress=_progress_logger(progress_prefix),
        progress_every_s=progress_every_s,
    )
    install_signal_handlers(collector)
    maintainer = _partition_maintainer(options, settings)
    server: MetricsServer | None = None
    probe: InProgressProbe | None = None
    if http and settings.http_port:
        server = MetricsServer(metrics, settings.http_host, settings.http_port).start()
        probe = InProgressProbe(options.conninfo, metrics).start()
        print(
            f"{progress_prefix}: /health and /metrics on http://{settings.http_host}:{server.port}",
            file=sys.stderr,
            flush=True,
        )
    freeze_startup_objects()
    try:
        collector.run()
    finally:
        if maintainer is not None:
            maintainer.close()
        if probe is not None:
            probe.close()
        if server is not None:
            server.close()
        shutdown_tracing()
    return metrics
