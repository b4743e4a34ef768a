"""OnexKafkaSpanExporter: spans -> OnexEnvelopeV1 JSON events -> Kafka, with a durable spool.

One event per message; key = correlation id (seed 003 partition policy); headers ``traceparent``
(and ``tracestate``) of the span, ``event_type``, ``schema_ref``, ``content-type:
application/json``. The producer is idempotent, ``acks=all``, compressed
(``ONEX_KAFKA_COMPRESSION``).

Guarantees:

- ``export()`` never raises and never waits on the network: ``produce()`` only enqueues; a full
  queue sends the events to the spool instead.
- Every event the broker does not acknowledge within ``ONEX_KAFKA_DELIVERY_TIMEOUT_MS`` (broker
  away, delivery error, still queued at shutdown) goes to the durable spool
  (:mod:`onex_exporters.spool`); a background thread re-sends the spool oldest first once the
  broker answers again (exponential backoff with jitter up to ``ONEX_SPOOL_RETRY_MAX_S``), also
  the spool left by an earlier process. While the spool holds events, new events queue behind
  them in the spool, so the events of one correlation id keep their order.
- ``force_flush()`` and ``shutdown()`` deliver what is pending within their timeout; at shutdown
  what is still undelivered is spooled. ``shutdown()`` is idempotent and bounded by
  ``ONEX_KAFKA_DELIVERY_TIMEOUT_MS`` (plus at most :data:`EXIT_MARGIN_S` to spool what is left,
  whatever timeout it is given): with Kafka down a process exits within that time, and one warning
  says how many events went to the spool. A second SIGINT while it waits (Ctrl-C twice) spools
  what is queued and returns at once.
- The spool is delivered once: a re-sent batch is acknowledged as soon as Kafka confirmed it, also
  when the process is shutting down (shutdown lets the batch in hand finish within its bound,
  then keeps re-sending while Kafka answers and time is left), so a later process does not send
  it again.
- Delivery is at least once; each event carries a unique, deterministic ``event_id`` (mapping a
  span twice gives the same ids), so a consumer deduplicates by it.
- :meth:`OnexKafkaSpanExporter.send` takes ready-made messages through the same producer and
  spool, and tells the sender when each one is safe: delivered, or synced in the spool (the
  OTLP receiver answers its clients only then).
- Every event is accounted: see :meth:`OnexKafkaSpanExporter.stats` and the metrics
  ``onex.export.spans``, ``onex.export.events{outcome}``, ``onex.export.dropped{reason}``.
- The exporter's Kafka I/O is not traced: it uses the C producer class directly (which
  ``opentelemetry-instrumentation-confluent-kafka`` does not wrap) and runs with
  instrumentation suppressed.
- Fork-safe: after ``fork()`` the child builds its own producer and I/O thread on first use.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import random
import signal
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from onex_exporters.mapping import (
    EventRecord,
    MappingError,
    MappingOptions,
    dumps,
    span_to_records,
)
from onex_exporters.spool import Spool, SpoolRecord
from onex_otel.config import ConfigError, Settings, load_settings
from onex_otel.conventions import (
    CONTENT_TYPE_JSON,
    DROP_DISABLED,
    DROP_REJECTED,
    DROP_SHUTDOWN,
    DROP_SPOOL_CORRUPT,
    DROP_SPOOL_ERROR,
    DROP_SPOOL_FULL,
    DROP_UNSERIALIZABLE,
    HEADER_CONTENT_TYPE,
    HEADER_EVENT_TYPE,
    HEADER_SCHEMA_REF,
    HEADER_TRACEPARENT,
    HEADER_TRACESTATE,
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
    SCHEMA_REFS,
    EventType,
)

__all__ = ["EXIT_MARGIN_S", "OnexKafkaSpanExporter", "producer_config", "topics_from_settings"]

_log = logging.getLogger(__name__)

_TOPIC_SETTINGS: Mapping[EventType, str] = {
    EventType.EXECUTION_STARTED: "topic_execution_started",
    EventType.EXECUTION_PROGRESS: "topic_execution_progress",
    EventType.EXECUTION_COMPLETED: "topic_execution_completed",
    EventType.EXECUTION_FAILED: "topic_execution_failed",
    EventType.AGENT_ACTION: "topic_agent_actions",
    EventType.ROUTING_DECISION: "topic_routing_decision",
    EventType.ROUTER_PERFORMANCE: "topic_router_performance",
    EventType.TRANSFORMATION: "topic_transformation",
    EventType.DETECTION_FAILURE: "topic_detection_failure",
}

#: Producers abandoned in a forked child: their librdkafka threads did not survive the fork,
#: so destroying them could hang; they are kept alive (and unused) instead.
_ABANDONED: list[Any] = []
#: How long messages already sent get to resolve when the exporter switches to the spool.
_IN_FLIGHT_GRACE_S = 5.0
#: Longest ``shutdown()`` takes beyond the delivery timeout: purging what Kafka did not take and
#: writing it to the spool.
EXIT_MARGIN_S = 3.0
_EXPORTERS: weakref.WeakSet[OnexKafkaSpanExporter] = weakref.WeakSet()
#: topic, value, key, headers, and who waits to hear that the message is safe (see ``send``)
_Message = tuple[str, bytes, bytes | None, list[tuple[str, bytes]], Callable[[str], None] | None]


def _permanent(err: Any) -> bool:
    """Whether a Kafka error refuses this message for good (re-sending cannot help)."""
    from confluent_kafka import KafkaError

    codes = {
        KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_MSG_SIZE,
        KafkaError.RECORD_LIST_TOO_LARGE, KafkaError.INVALID_RECORD,
        KafkaError.TOPIC_EXCEPTION, KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError._INVALID_ARG,
    }
    try:
        return bool(err.code() in codes and not err.fatal())
    except Exception:
        return False


def _purged(err: Any) -> bool:
    """Whether a delivery failure is a purge of the exporter's own (not a Kafka error)."""
    from confluent_kafka import KafkaError

    try:
        return bool(err.code() in (KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT))
    except Exception:
        return False


def topics_from_settings(settings: Settings) -> dict[EventType, str]:
    """The topic of each event type: its ``ONEX_TOPIC_*`` setting, else prefix + event type."""
    out = {}
    for event_type, attr in _TOPIC_SETTINGS.items():
        explicit = getattr(settings, attr, None)
        out[event_type] = explicit or f"{settings.topic_prefix}{event_type.value}"
    return out


def producer_config(settings: Settings) -> dict[str, Any]:
    """The confluent-kafka producer configuration derived from ``settings``."""
    return {
        "bootstrap.servers": settings.kafka_bootstrap_servers or "",
        "client.id": "onex-otel",
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": settings.kafka_compression,
        "linger.ms": 5,
        "message.timeout.ms": settings.kafka_delivery_timeout_ms,
        "queue.buffering.max.messages": 200_000,
        "queue.buffering.max.kbytes": 128 * 1024,
        "reconnect.backoff.max.ms": 2000,
        # only failures come back as callbacks: successes are counted by difference, which
        # keeps the per-message cost off the Python side
        "delivery.report.only.error": True,
    }


class _RateLimitedLog:
    """Logs a warning at most once a minute per topic; the rest goes to DEBUG."""

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}

    def warning(self, what: str, msg: str, *args: Any, exc_info: bool = False) -> None:
        now = time.monotonic()
        if now - self._last.get(what, -1e9) >= self.interval:
            self._last[what] = now
            _log.warning(msg, *args, exc_info=exc_info)
        else:
            _log.debug(msg, *args, exc_info=exc_info)


class _LibrdkafkaLogger:
    """librdkafka's log lines, routed to Python logging at DEBUG.

    Errors reach the user through the exporter's own once-a-minute warnings.
    """

    def log(self, level: int, msg: str, *args: Any) -> None:
        _log.debug("librdkafka: " + msg, *args)


class _Backoff:
    """Exponential backoff with full jitter and a cap, on the monotonic clock."""

    def __init__(self, initial: float = 0.2, factor: float = 2.0, cap: float = 30.0) -> None:
        self.initial, self.factor, self.cap = initial, factor, cap
        self._delay = 0.0
        self.next_at = 0.0

    def failed(self) -> None:
        self._delay = min(self.cap, max(self.initial, self._delay * self.factor))
        self.next_at = time.monotonic() + self._delay * (0.5 + random.random() / 2)

    def succeeded(self) -> None:
        self._delay = 0.0
        self.next_at = 0.0

    def ready(self) -> bool:
        return time.monotonic() >= self.next_at


class OnexKafkaSpanExporter(SpanExporter):
    """Exports spans as OnexEnvelopeV1 events to Kafka; see the module docstring.

    Built with no arguments (as ``opentelemetry-instrument`` does through the
    ``opentelemetry_traces_exporter`` entry point ``onex_kafka``), it reads the environment
    with :func:`onex_otel.config.load_settings` and, when the global tracer provider is an SDK
    ``TracerProvider``, adds its :class:`~onex_exporters.realtime_processor.OnexLifecycleProcessor` to it
    so that execution started/progress/completed events are published in real time.
    ``attach_lifecycle=False`` leaves that to the caller (:func:`onex_exporters.install` does).
    Without a lifecycle processor the exporter publishes the lifecycle events at export time.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        producer_overrides: Mapping[str, Any] | None = None,
        spool: Spool | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        attach_lifecycle: bool | None = None,
        shutdown_timeout_s: float = 10.0,
    ) -> None:
        """Create the exporter (no network I/O happens before the first event)."""
        if settings is None:
            try:
                settings = load_settings()
            except ConfigError as exc:
                _log.error("onex-otel Kafka exporter disabled: %s", exc)
                settings = Settings(kafka_enable_logging=False)
        self.settings = settings
        self.enabled = settings.kafka_enabled
        self.options = MappingOptions(tenant_id=settings.tenant_id, source=settings.source)
        self.topics = topics_from_settings(settings)
        #: per event type: topic and the headers every message of that type carries
        self._static = {
            et: (topic, ((HEADER_EVENT_TYPE, et.value.encode()),
                         (HEADER_SCHEMA_REF, SCHEMA_REFS[et].encode()),
                         (HEADER_CONTENT_TYPE, CONTENT_TYPE_JSON.encode())))
            for et, topic in self.topics.items()
        }
        self.shutdown_timeout_s = shutdown_timeout_s
        #: say in one warning how many events ``shutdown()`` spooled (off when the caller reports
        #: the outcome itself, as the skills' JSON line does)
        self.report_spooled_at_exit = True
        self._producer_conf = {**producer_config(settings), **(producer_overrides or {})}
        self._delivery_timeout_s = int(self._producer_conf["message.timeout.ms"]) / 1000.0
        self._backoff = _Backoff(cap=settings.spool_retry_max_s)
        self._warn = _RateLimitedLog()
        self._counts: dict[str, int] = {
            "spans": 0, "events": 0, "produced": 0, "failed": 0, OUTCOME_SPOOLED: 0,
            OUTCOME_RESENT: 0,
        }
        self._drops: dict[str, int] = {}
        self._stats_lock = threading.Lock()
        self._init_runtime()
        self.spool: Spool | None = None
        if self.enabled:
            try:
                self.spool = spool or Spool(settings.spool_path, settings.spool_max_bytes,
                                            settings.spool_fsync)
            except OSError as exc:
                _log.error("onex-otel spool %s unusable (%s): undeliverable events will be "
                           "dropped and counted", settings.spool_path, exc)
        self.lifecycle_attached = False
        self._is_shutdown = False
        self._register_metrics(meter_provider)
        _EXPORTERS.add(self)
        if self.enabled and attach_lifecycle is not False:
            self._attach_to_global_provider()

    # -- runtime state (rebuilt after fork) ------------------------------------------------
    def _init_runtime(self) -> None:
        self._producer: Any = None
        self._route_lock = threading.RLock()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        #: when stopping: until when a re-send in hand may still wait for Kafka's answer
        self._stop_deadline = math.inf
        self._abort = threading.Event()  # a second SIGINT at shutdown: give up waiting at once
        self._wake = threading.Event()
        self._degraded = False  # events go to the spool (it holds older ones)
        self._holding = False  # events wait in memory while outstanding ones resolve
        self._transition = False  # the I/O thread must resolve outstanding messages
        self._held: list[SpoolRecord] = []
        #: failed direct messages of a switch to the spool, with their produce sequence numbers:
        #: librdkafka does not report failures in produce order across its internal queues
        self._failed_buf: list[tuple[int, SpoolRecord]] = []
        self._seq = itertools.count()
        self._resend_failures = 0
        self._fatal = False
        self._spool_check = True  # look for a spool left by an earlier process
        self._resent_ok: set[tuple[str, int]] = set()
        self._resend_inflight = 0
        self._pid = os.getpid()

    def _after_fork_in_child(self) -> None:
        if self._producer is not None:
            _ABANDONED.append(self._producer)
        self._stats_lock = threading.Lock()
        self._counts = dict.fromkeys(self._counts, 0)  # the child accounts for its own events
        self._drops = {}
        self._init_runtime()
        if self.spool is not None:
            self.spool.after_fork_in_child()

    def _attach_to_global_provider(self) -> None:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider

        from onex_exporters.realtime_processor import OnexLifecycleProcessor

        provider = trace.get_tracer_provider()
        if isinstance(provider, TracerProvider):
            provider.add_span_processor(OnexLifecycleProcessor(self))

    # -- metrics ---------------------------------------------------------------------------
    def _register_metrics(self, meter_provider: metrics.MeterProvider | None) -> None:
        meter = (meter_provider.get_meter(INSTRUMENTATION_NAME) if meter_provider
                 else metrics.get_meter(INSTRUMENTATION_NAME))
        me = weakref.ref(self)

        def spans(_: CallbackOptions) -> list[Observation]:
            obj = me()
            return [Observation(obj._counts["spans"])] if obj else []

        def events(_: CallbackOptions) -> list[Observation]:
            obj = me()
            if not obj:
                return []
            snapshot = obj.stats()
            return [Observation(snapshot[o], {METRIC_ATTR_OUTCOME: o})
                    for o in (OUTCOME_DELIVERED, OUTCOME_SPOOLED, OUTCOME_RESENT)]

        def drops(_: CallbackOptions) -> list[Observation]:
            obj = me()
            if not obj:
                return []
            return [Observation(n, {METRIC_ATTR_REASON: r}) for r, n in obj.stats()["dropped"]
                    .items()]

        def spool_bytes(_: CallbackOptions) -> list[Observation]:
            obj = me()
            return [Observation(obj.stats()["spool_bytes"])] if obj else []

        def pending(_: CallbackOptions) -> list[Observation]:
            obj = me()
            return [Observation(obj.stats()["in_flight"])] if obj else []

        meter.create_observable_counter(METRIC_EXPORT_SPANS, [spans], unit="{span}",
                                        description="Spans seen by the Kafka exporter.")
        meter.create_observable_counter(METRIC_EXPORT_EVENTS, [events], unit="{event}",
                                        description="Events by outcome (delivered, spooled, "
                                                    "resent from the spool).")
        meter.create_observable_counter(METRIC_EXPORT_DROPS, [drops], unit="{event}",
                                        description="Events dropped, by reason.")
        meter.create_observable_gauge(METRIC_SPOOL_BYTES, [spool_bytes], unit="By",
                                      description="Bytes waiting in the spool.")
        meter.create_observable_gauge(METRIC_EXPORT_PENDING, [pending], unit="{event}",
                                      description="Events queued in the producer.")

    def _count(self, key: str, n: int = 1) -> None:
        with self._stats_lock:
            self._counts[key] += n

    def _drop(self, reason: str, n: int = 1) -> None:
        with self._stats_lock:
            self._drops[reason] = self._drops.get(reason, 0) + n

    def stats(self) -> dict[str, Any]:
        """A snapshot of the accounting.

        ``events`` (mapped) = ``delivered`` + ``spooled`` + ``in_flight`` + drops other than
        the spool's own; ``spooled`` = ``resent`` + events still in the spool + the spool's
        drops (``spool_full``, ``spool_corrupt``).
        """
        with self._stats_lock:
            counts = dict(self._counts)
            drops = dict(self._drops)
        if self.spool is not None:
            if self.spool.stats.dropped_full:
                drops[DROP_SPOOL_FULL] = self.spool.stats.dropped_full
            if self.spool.stats.dropped_corrupt:
                drops[DROP_SPOOL_CORRUPT] = self.spool.stats.dropped_corrupt
        in_flight = 0
        producer = self._producer
        if producer is not None and os.getpid() == self._pid:
            with contextlib.suppress(Exception):
                in_flight = len(producer)
        spool_bytes = 0
        if self.spool is not None:
            with contextlib.suppress(OSError):
                spool_bytes = self.spool.pending_bytes()
        direct_in_flight = max(0, in_flight - self._resend_inflight)
        return {
            "spans_seen": counts["spans"],
            "events": counts["events"],
            "delivered": max(0, counts["produced"] - counts["failed"] - direct_in_flight),
            "spooled": counts[OUTCOME_SPOOLED],
            "resent": counts[OUTCOME_RESENT],
            "in_flight": in_flight,
            "spool_bytes": spool_bytes,
            "dropped": drops,
        }

    # -- producer and I/O thread -----------------------------------------------------------
    def _make_producer(self) -> Any:
        from confluent_kafka.cimpl import Producer  # the C class: never instrumented

        conf = dict(self._producer_conf)
        conf.setdefault("logger", _LibrdkafkaLogger())
        conf["error_cb"] = self._on_error
        return Producer(conf)

    def _ensure_started(self) -> Any:
        if os.getpid() != self._pid:  # forked without the at-fork hook (should not happen)
            self._after_fork_in_child()
        producer = self._producer
        if producer is not None:
            return producer
        with self._start_lock:
            if self._producer is None:
                self._producer = self._make_producer()
                self._thread = threading.Thread(target=self._run, name="onex-kafka-io",
                                                daemon=True)
                self._thread.start()
            return self._producer

    def _on_error(self, err: Any) -> None:
        if err.fatal():
            self._fatal = True
            self._wake.set()
        self._warn.warning("kafka", "onex-otel Kafka producer: %s (events are spooled until "
                                    "the broker is back)", err)

    def _run(self) -> None:
        token = otel_context.attach(otel_context.set_value(
            otel_context._SUPPRESS_INSTRUMENTATION_KEY, True))
        next_sync = 0.0
        try:
            while not self._stop.is_set():
                try:
                    self._producer.poll(0.05)
                    if time.monotonic() >= next_sync:  # the `batch` policy's periodic fsync
                        next_sync = time.monotonic() + 1.0
                        self._sync_spool()
                    if self._fatal:
                        self._rebuild_producer()
                    elif self._transition:
                        self._resolve_outstanding(self._producer, self._delivery_timeout_s + 1)
                    if self._spool_check and self.spool is not None and self._backoff.ready():
                        self._drain_once()
                except Exception:  # the loop never dies
                    self._warn.warning("io", "onex-otel Kafka I/O loop error", exc_info=True)
                    self._stop.wait(0.5)
        finally:
            otel_context.detach(token)

    def _begin_holding(self) -> None:
        """Switch to the spool, keeping order (call with the route lock held).

        Messages already handed to the producer may still fail and be spooled by their
        callbacks; newer events wait in memory until those have resolved, then follow them into
        the spool, so the spool keeps the order of each correlation's events.
        """
        if not self._degraded:
            self._degraded = True
            self._holding = True
            self._transition = True
            self._wake.set()

    def _resolve_outstanding(self, producer: Any, wait_s: float,
                             deliver_first: bool = False) -> bool:
        """Let the producer's outstanding messages resolve, spool the rest, release held events.

        ``deliver_first`` (shutdown): try to deliver everything within ``wait_s`` first.
        Returns True when every outstanding message has an outcome (delivered, which reports
        nothing, or failed through its callback, which spooled it).
        """
        if deliver_first:
            with contextlib.suppress(Exception):
                producer.flush(max(0.0, wait_s))
            wait_s = 0.0
        # Messages not yet sent are purged at once (no risk of duplicates: the broker never
        # saw them; they follow in the spool); those in flight get a few seconds to resolve.
        deadline = time.monotonic() + min(max(0.0, wait_s), _IN_FLIGHT_GRACE_S)
        while True:
            with contextlib.suppress(Exception):
                producer.purge(True, False)  # in queue only; their callbacks collect them
            with contextlib.suppress(Exception):
                producer.poll(0.05)
            if len(producer) == 0 or time.monotonic() >= deadline:
                break
        if len(producer):  # still in flight: purge (a re-send may duplicate; event_id dedupes)
            with contextlib.suppress(Exception):
                producer.purge(True, True)
            end = time.monotonic() + 2.0
            while len(producer) and time.monotonic() < end:
                with contextlib.suppress(Exception):
                    producer.poll(0.05)
        resolved = len(producer) == 0
        with self._route_lock:
            failed, self._failed_buf = self._failed_buf, []
            held, self._held = self._held, []
            self._holding = False
            self._transition = False
            failed.sort(key=lambda item: item[0])
            records = [r for _, r in failed] + held
            if records:
                self._to_spool(records)
        self._sync_spool()
        return resolved

    def _rebuild_producer(self) -> bool:
        """Replace a producer that hit a fatal error (or is stuck); undelivered events are spooled.

        Returns True when the old producer's queue was fully resolved.
        """
        with self._route_lock:
            old = self._producer
            self._producer = self._make_producer()
            self._fatal = False
            self._begin_holding()
        _log.debug("onex-otel: rebuilding the Kafka producer")
        return self._resolve_outstanding(old, 1.0)

    # -- routing ---------------------------------------------------------------------------
    def _message(self, record: EventRecord) -> _Message:
        event_type, envelope, traceparent, tracestate = record
        topic, static = self._static[event_type]
        headers = [(HEADER_TRACEPARENT, traceparent.encode()), *static]
        if tracestate:
            headers.append((HEADER_TRACESTATE, tracestate.encode()))
        return topic, dumps(envelope), envelope["correlation_id"].encode(), headers, None

    def publish(self, records: Sequence[EventRecord], *, sync: bool = True) -> None:
        """Send mapped events (used by the exporter and by the lifecycle processor).

        Never raises and never waits on the network. ``sync=False`` (the lifecycle processor,
        on the agent's thread) leaves the spool's ``batch`` fsync to the I/O thread, which
        syncs within a second.
        """
        if not records:
            return
        self._count("events", len(records))
        if not self.enabled:
            self._drop(DROP_DISABLED, len(records))
            return
        if self._is_shutdown:
            self._drop(DROP_SHUTDOWN, len(records))
            return
        messages = []
        for record in records:
            try:
                messages.append(self._message(record))
            except MappingError as exc:
                self._drop(DROP_UNSERIALIZABLE)
                self._warn.warning("unserializable", "onex-otel dropped an event: %s", exc)
        token = otel_context.attach(otel_context.set_value(
            otel_context._SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            self._route(messages, sync)
        finally:
            otel_context.detach(token)

    def start(self) -> None:
        """Start the producer and its I/O thread now rather than at the first event.

        The I/O thread re-sends a spool left by an earlier process: a long-running service
        (the bridge, the OTLP receiver) starts it so that this happens before any new traffic.
        """
        if self.enabled and not self._is_shutdown:
            self._ensure_started()

    def send(self, messages: Sequence[SpoolRecord]) -> None:
        """Send ready-made Kafka messages, each acknowledged once it is safe.

        For senders that must know when a message can no longer be lost (the OTLP receiver
        answers its client only then): each message's ``ack`` is called exactly once, with
        ``"delivered"`` (Kafka acknowledged it), ``"spooled"`` (it is in the spool and synced
        to disk, re-sent later like any spooled event) or the reason it was dropped. The
        callback runs on a producer or I/O thread and must not block. Needs an exporter built
        with ``producer_overrides={"delivery.report.only.error": False}`` (successes must be
        reported). Never raises for a message, never waits on the network.
        """
        if self._producer_conf.get("delivery.report.only.error", False):
            raise ValueError("send() needs delivery reports of successes: build the exporter "
                             "with producer_overrides={'delivery.report.only.error': False}")
        reason = DROP_DISABLED if not self.enabled else DROP_SHUTDOWN if self._is_shutdown \
            else None
        if reason is not None:
            self._drop(reason, len(messages))
            for m in messages:
                if m.ack is not None:
                    m.ack(reason)
            return
        token = otel_context.attach(otel_context.set_value(
            otel_context._SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            self._route([(m.topic, m.value, m.key, list(m.headers), m.ack) for m in messages])
        finally:
            otel_context.detach(token)

    def _route(self, messages: list[_Message], sync: bool = True) -> None:
        producer = self._ensure_started()
        to_spool: list[SpoolRecord] = []
        with self._route_lock:
            producer = self._producer
            seq = self._seq
            if self._holding:
                self._held.extend(SpoolRecord(t, v, k, tuple(h), a) for t, v, k, h, a in messages)
            elif self._degraded:
                to_spool = [SpoolRecord(t, v, k, tuple(h), a) for t, v, k, h, a in messages]
            else:
                produced = 0
                for i, (topic, value, key, headers, ack) in enumerate(messages):
                    try:
                        producer.produce(topic, value, key, headers=headers,
                                         on_delivery=_Delivery(self, headers, next(seq), ack))
                        produced += 1
                    except BufferError:  # queue full: keep the order, go through the spool
                        self._begin_holding()
                        self._held.extend(SpoolRecord(t, v, k, tuple(h), a)
                                          for t, v, k, h, a in messages[i:])
                        break
                    except Exception as exc:
                        err = exc.args[0] if exc.args else None
                        if _permanent(err):  # this message can never be sent: count it
                            self._reject(err, ack)
                            continue
                        # e.g. a fatal producer: spool and rebuild
                        self._fatal = True
                        self._begin_holding()
                        self._warn.warning("produce", "onex-otel produce failed: %s", exc)
                        self._held.extend(SpoolRecord(t, v, k, tuple(h), a)
                                          for t, v, k, h, a in messages[i:])
                        break
                self._count("produced", produced)
            if to_spool:
                self._to_spool(to_spool)
        if to_spool and sync:
            self._sync_spool()

    def _reject(self, err: Any, ack: Callable[[str], None] | None = None) -> None:
        self._drop(DROP_REJECTED)
        self._warn.warning("rejected", "onex-otel dropped an event Kafka refuses for good: %s "
                                       "(counted in onex.export.dropped{reason=rejected})", err)
        if ack is not None:
            ack(DROP_REJECTED)

    def _to_spool(self, records: list[SpoolRecord]) -> None:
        acked = any(r.ack is not None for r in records)
        try:
            if self.spool is None:
                raise OSError("no usable spool")
            stored = self.spool.append(records)
            if acked:  # a waiting sender is told "spooled" only once it is on disk
                self.spool.sync()
        except OSError as exc:
            self._drop(DROP_SPOOL_ERROR, len(records))
            if self.spool is not None:
                self._warn.warning("spool", "onex-otel spool write failed: %s", exc)
            _ack_all(records, DROP_SPOOL_ERROR)
            return
        self._count(OUTCOME_SPOOLED, len(records))
        self._spool_check = True
        self._wake.set()
        if acked:  # beyond the spool's bound its oldest records, those first here, were dropped
            lost = len(records) - stored
            _ack_all(records[:lost], DROP_SPOOL_FULL)
            _ack_all(records[lost:], OUTCOME_SPOOLED)

    def _sync_spool(self) -> None:
        if self.spool is not None:
            with contextlib.suppress(OSError):
                self.spool.sync()

    def _on_delivery(self, err: Any, msg: Any, headers: list[tuple[str, bytes]],
                     seq: int, ack: Callable[[str], None] | None = None) -> None:
        if err is None:  # only with delivery.report.only.error overridden to false
            if ack is not None:
                ack(OUTCOME_DELIVERED)
            return
        if _permanent(err):
            self._count("produced", -1)
            self._reject(err, ack)
            return
        self._count("failed")
        if not _purged(err):  # a purge is ours (a switch to the spool, shutdown): reported there
            self._warn.warning("delivery", "onex-otel could not deliver to Kafka (%s): spooling "
                                           "events until the broker is back", err)
        # a delivery report carries no headers: they travel with the callback
        record = SpoolRecord(msg.topic(), msg.value(), msg.key(), tuple(headers), ack)
        with self._route_lock:
            self._begin_holding()
            if self._holding:  # spooled in produce order once the outstanding ones resolved
                self._failed_buf.append((seq, record))
                return
        self._to_spool([record])

    # -- re-sending the spool --------------------------------------------------------------
    def _halted(self) -> bool:
        """Whether a re-send in hand must give up now (shutdown out of time, or aborted)."""
        return self._abort.is_set() or (self._stop.is_set()
                                         and time.monotonic() >= self._stop_deadline)

    def _broker_reachable(self) -> bool:
        wait = min(1.0, self._stop_deadline - time.monotonic())
        if wait <= 0.05:
            return False
        try:
            self._producer.list_topics(timeout=wait)
            return True
        except Exception:
            return False

    def _drain_once(self) -> None:
        spool = self.spool
        assert spool is not None
        if self._holding:  # outstanding direct messages first
            return
        batch = spool.read(max_records=1000)
        if not batch.records:
            with self._route_lock:
                if spool.is_empty():
                    self._degraded = False
                    self._spool_check = False
            self._resent_ok.clear()
            return
        if not self._broker_reachable():
            self._backoff.failed()
            self._warn.warning("drain", "onex-otel: Kafka unreachable, %d+ events wait in the "
                                        "spool %s", len(batch.records), spool.path)
            return
        failed: set[int] = set()
        rejected: set[int] = set()

        def on_delivery(index: int) -> Any:
            def callback(err: Any, _msg: Any) -> None:
                if err is not None:  # successes report nothing (delivery.report.only.error)
                    if _permanent(err):
                        rejected.add(index)
                        return
                    failed.add(index)
                    self._warn.warning("resend", "onex-otel spool re-send failed: %s", err)
            return callback

        producer = self._producer
        needed = sum(1 for pos in batch.positions if pos not in self._resent_ok)
        sent: list[int] = []
        for i, (record, pos) in enumerate(zip(batch.records, batch.positions, strict=True)):
            if pos in self._resent_ok:
                continue
            try:
                producer.produce(record.topic, record.value, record.key,
                                 headers=list(record.headers), on_delivery=on_delivery(i))
                sent.append(i)
            except BufferError:
                break
            except Exception as exc:
                if _permanent(exc.args[0] if exc.args else None):
                    rejected.add(i)
                    continue
                self._fatal = True
                break
        self._resend_inflight = len(sent)
        # Shutdown does not cut a re-send short (that would send the batch again next time): it
        # gets until the shutdown's own deadline (``_stop_deadline``) to be confirmed.
        deadline = min(time.monotonic() + self._delivery_timeout_s + 2.0, self._stop_deadline)
        complete = False
        while time.monotonic() < deadline and not self._halted():
            if self._fatal:  # rebuild now: purged messages report as failed to `failed`
                complete = self._rebuild_producer()
                break
            try:
                if producer.flush(0.1) == 0:
                    complete = True  # every message has its outcome; failures reported
                    break
            except Exception:  # a fatal producer error
                self._fatal = True
        self._resend_inflight = 0
        _log.debug("onex-otel spool re-send: %d read, %d sent, %d failed, complete=%s, "
                   "fatal=%s", len(batch.records), len(sent), len(failed), complete, self._fatal)
        ok = 0
        for i in rejected:  # never deliverable: acknowledged as dropped, so the spool flows
            self._reject("refused for good")
            self._resent_ok.add(batch.positions[i])
        if complete:
            for i in sent:
                if i not in failed and i not in rejected:
                    self._resent_ok.add(batch.positions[i])
                    ok += 1
        needed -= len(rejected)
        self._count(OUTCOME_RESENT, ok)
        # acknowledge each segment's delivered prefix
        commit: list[tuple[str, int]] = []
        blocked: set[str] = set()
        for pos in batch.positions:
            seg = pos[0]
            if seg in blocked:
                continue
            if pos in self._resent_ok:
                commit.append(pos)
            else:
                blocked.add(seg)
        spool.commit(commit)
        self._resent_ok.difference_update(commit)
        if ok < needed:
            self._backoff.failed()
            self._resend_failures += 1
            if self._resend_failures >= 3:  # the broker answers but takes nothing: start afresh
                self._resend_failures = 0
                self._fatal = True
        else:
            self._resend_failures = 0
            self._backoff.succeeded()

    # -- SpanExporter ----------------------------------------------------------------------
    def bind_lifecycle(self) -> None:
        """Note that a lifecycle processor publishes execution lifecycle events in real time.

        The exporter then leaves them out at export time.
        """
        self.lifecycle_attached = True

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Map and send ``spans``; never raises, never waits on the network."""
        try:
            self._count("spans", len(spans))
            if self._is_shutdown:
                return SpanExportResult.FAILURE
            records: list[EventRecord] = []
            include = not self.lifecycle_attached
            for span in spans:
                try:
                    records.extend(span_to_records(span, self.options, include_lifecycle=include))
                except Exception as exc:
                    self._drop(DROP_UNSERIALIZABLE)
                    self._warn.warning("mapping", "onex-otel could not map span %r: %s",
                                       getattr(span, "name", "?"), exc)
            self.publish(records)
        except Exception:
            self._warn.warning("export", "onex-otel export failed", exc_info=True)
        return SpanExportResult.SUCCESS

    def settle(self, timeout_s: float) -> bool:
        """Wait until every event published so far is settled; True if so within ``timeout_s``.

        Settled: acknowledged by Kafka, or in the spool and synced to it (``ONEX_SPOOL_FSYNC``;
        a spooled event is re-sent by whichever process opens the spool next), or dropped and
        counted (:meth:`stats`). A consumer that republishes events (the bridge) commits its
        input offsets only after this returns True, so a crash can repeat events (their ids
        dedupe) but never lose one.
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        producer = self._producer
        if producer is None or os.getpid() != self._pid:
            return True
        while True:
            left = deadline - time.monotonic()
            try:  # every message handed to the producer has its outcome (failures spool)
                remaining = producer.flush(max(0.0, min(left, 0.5)))
            except Exception:
                remaining = -1
            with self._route_lock:  # failed messages of a switch to the spool are spooled
                busy = (self._holding or self._transition or bool(self._held)
                        or bool(self._failed_buf) or self._fatal or producer is not self._producer)
            if remaining == 0 and not busy:
                self._sync_spool()
                return True
            if left <= 0:
                return False
            if busy:
                self._wake.set()
                time.sleep(min(0.02, max(0.0, left)))
            producer = self._producer

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Deliver what is queued, within ``timeout_millis``; True when nothing is left."""
        try:
            producer = self._producer
            self._sync_spool()
            if producer is None or os.getpid() != self._pid:
                return True
            remaining = producer.flush(max(0.0, timeout_millis / 1000.0))
            self._sync_spool()
            return bool(remaining == 0)
        except Exception:
            self._warn.warning("flush", "onex-otel force_flush failed", exc_info=True)
            return False

    def shutdown(self, timeout_millis: float | None = None) -> None:
        """Deliver what is queued, spool the rest, stop (idempotent; bounded, see the module).

        Waits at most the smaller of the timeout and the delivery timeout for Kafka, then up to
        :data:`EXIT_MARGIN_S` to spool what it did not take. On the main thread, a SIGINT while
        it waits stops the waiting at once (what is queued is spooled); outside the interpreter's
        exit the ``KeyboardInterrupt`` is then raised, as the user asked.
        """
        with self._start_lock:
            if self._is_shutdown:
                return
            self._is_shutdown = True
        timeout = self.shutdown_timeout_s if timeout_millis is None else timeout_millis / 1000
        deadline = time.monotonic() + max(0.0, min(timeout, self._delivery_timeout_s))
        spooled_before = self._counts[OUTCOME_SPOOLED]
        try:
            producer = self._producer
            if producer is not None and os.getpid() == self._pid:
                with _sigint_sets(self._abort):
                    self._stop_deadline = deadline
                    self._stop.set()
                    self._wake.set()
                    thread = self._thread
                    # the I/O thread finishes the re-send in hand (within the deadline)
                    while thread is not None and thread.is_alive() and not self._abort.is_set() \
                            and time.monotonic() < deadline:
                        thread.join(0.1)
                    self._deliver_until(producer, deadline)
                    # what Kafka did not take is purged and spooled: callbacks spool the failed
                    # ones, then events held back during a switch to the spool follow them
                    self._resolve_outstanding(producer, 0.0)
                    if thread is not None:
                        thread.join(0.5)
                    self._drain_at_exit(deadline)
            if self.spool is not None:
                self.spool.close()
        except Exception:
            _log.warning("onex-otel Kafka exporter shutdown failed", exc_info=True)
        self._report_spooled_at_exit(self._counts[OUTCOME_SPOOLED] - spooled_before)
        if self._abort.is_set() and threading.main_thread().is_alive():
            raise KeyboardInterrupt  # not exiting (atexit runs after the main thread ended)

    def _deliver_until(self, producer: Any, deadline: float) -> None:
        """Let the producer deliver until nothing is queued, ``deadline``, or an abort."""
        while not self._abort.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                if producer.flush(min(0.1, left)) == 0:
                    return
            except Exception:
                return

    def _drain_at_exit(self, deadline: float) -> None:
        """Keep re-sending the spool while Kafka takes it and time is left (a short process)."""
        spool = self.spool
        thread = self._thread
        if spool is None or self._degraded or self._fatal \
                or (thread is not None and thread.is_alive()):  # one re-sender at a time
            return
        while not self._halted() and deadline - time.monotonic() > 0.2:
            try:
                if spool.is_empty():
                    return
                committed = spool.stats.committed
                self._drain_once()
            except Exception:
                _log.debug("onex-otel: re-sending the spool at exit failed", exc_info=True)
                return
            if spool.stats.committed == committed:  # no progress: leave it to a later process
                return

    def _report_spooled_at_exit(self, spooled: int) -> None:
        """One line when events went to the spool at exit (they are not lost)."""
        if spooled <= 0 or self.spool is None or not self.report_spooled_at_exit:
            return
        how = "interrupted" if self._abort.is_set() else "Kafka did not take them in time"
        _log.warning("onex-otel: %d event(s) spooled at exit (%s) to %s; not lost: the next "
                     "process that publishes sends them", spooled, how, self.spool.path)


@contextlib.contextmanager
def _sigint_sets(event: threading.Event) -> Any:
    """Within the block, SIGINT sets ``event`` instead of raising (main thread, default handler).

    At exit the first Ctrl-C is what started the exit; a second one must end the wait, not
    raise a traceback out of an atexit handler (:meth:`OnexKafkaSpanExporter.shutdown` raises
    ``KeyboardInterrupt`` itself, after spooling, when the process is not exiting).
    """
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return

    def handler(_signum: int, _frame: Any) -> None:
        event.set()

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGINT, signal.default_int_handler)


class _Delivery:
    """A delivery callback that keeps the message's headers (delivery reports lack them)."""

    __slots__ = ("ack", "exporter", "headers", "seq")

    def __init__(self, exporter: OnexKafkaSpanExporter, headers: list[tuple[str, bytes]],
                 seq: int, ack: Callable[[str], None] | None = None) -> None:
        self.exporter = exporter
        self.headers = headers
        self.seq = seq
        self.ack = ack

    def __call__(self, err: Any, msg: Any) -> None:
        self.exporter._on_delivery(err, msg, self.headers, self.seq, self.ack)


def _ack_all(records: Sequence[SpoolRecord], outcome: str) -> None:
    for record in records:
        if record.ack is not None:
            record.ack(outcome)


def _after_fork_in_child() -> None:
    for exporter in list(_EXPORTERS):
        with contextlib.suppress(Exception):
            exporter._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
