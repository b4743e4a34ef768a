"""The figures of a long-running onex-otel service (the collector, the bridge).

One :class:`ServiceMetrics` per service process, shared by its consumer loop (which counts) and
its HTTP thread (which reads). A service subclasses it with its own figures and a table of them
(name -> kind and help text); the same figures are then

- the ``/metrics`` JSON (:meth:`ServiceMetrics.snapshot`, in the table's order) and ``/health``
  (:meth:`ServiceMetrics.health`);
- OpenTelemetry observable instruments on a meter provider of the object's own, read by the
  ecosystem's Prometheus exporter (``opentelemetry-exporter-prometheus``) into a
  ``prometheus_client`` registry of its own: :meth:`ServiceMetrics.prometheus` is that registry
  in the Prometheus text format.

Prometheus names: the service's prefix + the table's name; counters get the exporter's ``_total``;
no unit suffix (the names carry their units: ``_seconds``, ``_ms``, ``_bytes``). A figure whose
value is ``None`` (not known yet) is left out; booleans are 0/1; a time is its Unix time.

Example::

    @dataclass
    class Metrics(ServiceMetrics):
        prefix: ClassVar[str] = "onex_example_"
        figures: ClassVar[Mapping[str, tuple[Kind, str]]] = {
            "uptime_seconds": ("gauge", "Seconds since the service started."),
            ...,  # every figure of _common_figures(), then the service's own
            "rows_inserted": ("counter", "Rows inserted."),
        }
        rows_inserted: int = 0

        def _figures(self) -> dict[str, Any]:
            with self._lock:
                return {**self._common_figures(), "rows_inserted": self.rows_inserted}
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import CollectorRegistry, generate_latest

__all__ = ["Kind", "PrometheusExposition", "ServiceMetrics"]

Kind = Literal["counter", "gauge"]


class PrometheusExposition:
    """Figures read by a callable, as OpenTelemetry observable instruments, in Prometheus text.

    ``read()`` returns the figures by name (a value ``None``: left out); it is called once per
    :meth:`text`, and every instrument of that scrape reads the same reading.
    """

    def __init__(
        self,
        prefix: str,
        figures: Mapping[str, tuple[Kind, str]],
        read: Callable[[], Mapping[str, Any]],
        *,
        scope: str,
    ) -> None:
        """Instruments named ``prefix + name`` for every figure of the table."""
        self._prefix = prefix
        self._registry = CollectorRegistry(auto_describe=True)
        reader = PrometheusMetricReader(
            disable_target_info=True, scope_info_enabled=False, registry=self._registry
        )
        self._provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
        self._meter = self._provider.get_meter(scope)
        self._scrape_lock = threading.Lock()
        self._reading: dict[str, Any] = {}
        self._sources: dict[str, Callable[[], Mapping[str, Any]]] = {"": read}
        self._exposed: set[str] = set()
        self._add(figures)

    def add_source(
        self,
        prefix: str,
        read: Callable[[], Mapping[str, Any]],
        help_text: Callable[[str], str] = lambda name: name.replace("_", " "),
    ) -> None:
        """Also expose ``read()``'s figures (gauges named ``self.prefix + prefix + name``).

        The names are those ``read()`` returns now; adding the same ``prefix`` again replaces
        the callable.
        """
        self._sources[prefix] = read
        self._add({prefix + name: ("gauge", help_text(name)) for name in read()})

    def text(self) -> str:
        """The figures in the Prometheus text exposition format (version 0.0.4)."""
        with self._scrape_lock:
            reading: dict[str, Any] = {}
            for prefix, read in self._sources.items():
                reading.update((prefix + name, value) for name, value in read().items())
            self._reading = reading
            return generate_latest(self._registry).decode()

    def close(self) -> None:
        """Release the registry (the exposition answers nothing after)."""
        self._provider.shutdown()

    def _add(self, figures: Mapping[str, tuple[Kind, str]]) -> None:
        for name, (kind, help_text) in figures.items():
            if name in self._exposed:
                continue
            self._exposed.add(name)
            create = (
                self._meter.create_observable_counter
                if kind == "counter"
                else self._meter.create_observable_gauge
            )
            create(self._prefix + name, [self._observer(name)], description=help_text)

    def _observer(self, name: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            value = self._reading.get(name)
            if value is None:
                return ()
            if isinstance(value, datetime):
                value = value.timestamp()
            return (Observation(int(value) if isinstance(value, bool) else value),)

        return observe


@dataclass
class ServiceMetrics:
    """Thread-safe figures of one service process; subclasses add theirs and a table."""

    #: Prometheus name prefix, e.g. ``onex_collector_``.
    prefix: ClassVar[str] = "onex_service_"
    #: Name -> (kind, help text) of every figure (those of :meth:`_common_figures` and the
    #: service's own), in the ``/metrics`` JSON's order.
    figures: ClassVar[Mapping[str, tuple[Kind, str]]] = {}

    started_monotonic: float = field(default_factory=time.monotonic)
    messages_consumed: int = 0
    messages_dead_lettered: int = 0
    batches_processed: int = 0
    batch_ms_total: float = 0.0
    last_commit_time: datetime | None = None
    consumer_lag: int | None = None
    kafka_ok: bool = True
    kafka_reason: str | None = None
    running: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _exposition: PrometheusExposition = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Expose the table's figures through OpenTelemetry metrics."""
        self._exposition = PrometheusExposition(
            self.prefix, self.figures, self._figures, scope=type(self).__module__
        )

    # -- counting (the consumer loop) -------------------------------------------------------
    def _count_batch(self, *, consumed: int, dead: int, ms: float) -> None:
        """Count one committed batch's common figures; the caller holds ``_lock``."""
        self.messages_consumed += consumed
        self.messages_dead_lettered += dead
        self.batches_processed += 1
        self.batch_ms_total += ms
        self.last_commit_time = datetime.now(UTC)

    def set_kafka(self, ok: bool, reason: str | None = None) -> None:
        """Record whether Kafka works now."""
        with self._lock:
            self.kafka_ok = ok
            self.kafka_reason = None if ok else reason

    def set_lag(self, lag: int | None) -> None:
        """Record the consumer lag (sum over assigned partitions; approximate)."""
        with self._lock:
            self.consumer_lag = lag

    # -- reading (the HTTP thread) -----------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """``{"status": "healthy"|"degraded", "consumer": ..., "reasons": {...}}``."""
        reasons = self._reasons()
        body: dict[str, Any] = {
            "status": "degraded" if reasons else "healthy",
            "consumer": "running" if self.running else "stopped",
        }
        if reasons:
            body["reasons"] = reasons
        return body

    def snapshot(self) -> dict[str, Any]:
        """The ``/metrics`` JSON: every figure of the table, a time as RFC 3339 UTC."""
        values = self._figures()
        return {name: _json(values.get(name)) for name in self.figures}

    def prometheus(self) -> str:
        """The same figures in the Prometheus text exposition format."""
        return self._exposition.text()

    def expose(self, prefix: str, read: Callable[[], Mapping[str, Any]]) -> None:
        """Also expose ``read()``'s figures as gauges ``self.prefix + prefix + name``."""
        self._exposition.add_source(prefix, read)

    # -- for subclasses ----------------------------------------------------------------------
    def _reasons(self) -> dict[str, str]:
        """Why the service is degraded (none: healthy); subclasses add theirs."""
        with self._lock:
            return {} if self.kafka_ok else {"kafka": self.kafka_reason or "unavailable"}

    def _figures(self) -> dict[str, Any]:
        """Every figure by name (a time as a ``datetime``); subclasses add theirs."""
        with self._lock:
            return self._common_figures()

    def _common_figures(self) -> dict[str, Any]:
        """The figures every service has; the caller holds ``_lock``."""
        uptime = time.monotonic() - self.started_monotonic
        batches = self.batches_processed
        return {
            "uptime_seconds": round(uptime, 3),
            "messages_consumed": self.messages_consumed,
            "dlq_messages": self.messages_dead_lettered,
            "batches_processed": batches,
            "avg_batch_processing_ms": round(self.batch_ms_total / batches, 3) if batches else 0.0,
            "messages_per_second": round(self.messages_consumed / uptime, 3) if uptime > 0 else 0.0,
            "last_commit_time": self.last_commit_time,
            "consumer_lag": self.consumer_lag,
            "kafka_ok": self.kafka_ok,
        }


def _json(value: Any) -> Any:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, datetime) else value
