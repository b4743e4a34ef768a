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
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import Token
from functools import partial
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from onex_exporters.kafka_metrics import register_metrics
from onex_exporters.kafka_settings import (
    LibrdkafkaLogger,
    permanent,
    producer_config,
    purged,
    topics_from_settings,
)
from onex_exporters.mapping import (
    ENCODE_ERRORS,
    EventRecord,
    MappingOptions,
    encode,
    unserializable,
)
from onex_exporters.mapping_records import map_span
from onex_exporters.mapping_span import spans_to_map
from onex_exporters.rate_limited_log import RateLimitedLog
from onex_exporters.routing import Route, RouteState
from onex_exporters.sigint import sigint_sets
from onex_exporters.spool import Spool, SpoolRecord
from onex_exporters.spool_resend import SpoolResender
from onex_otel.backoff import Backoff
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
    OUTCOME_DELIVERED,
    OUTCOME_RESENT,
    OUTCOME_SPOOLED,
    SCHEMA_REFS,
    EventType,
)

__all__ = ["EXIT_MARGIN_S", "OnexKafkaSpanExporter", "producer_config", "topics_from_settings"]

_log = logging.getLogger(__name__)

#: so destroying them could hang; they are kept alive (and unused) instead.
_ABANDONED: list[Any] = []
#: How long messages already sent get to resolve when the exporter switches to the spool.
_IN_FLIGHT_GRACE_S = 5.0
#: Longest ``shutdown()`` takes beyond the delivery timeout: purging what Kafka did not take and
#: writing it to the spool.
EXIT_MARGIN_S = 3.0
#: ``export()`` maps and sends a batch this many spans at a time: a slice's events are freed
#: before the next slice is mapped, so the garbage collector, which runs on the number of live
#: new objects, runs less than half as often (a full collection walks the agent's whole heap),
#: and what is encoded is still in the CPU's caches. A whole 512-span batch mapped first: 2.2x
#: the collections and 1.16x the time per event (``benchmarks/bench_kafka_exporter.py``, ``whole``).
SLICE_SPANS = 16
#: ``Producer.produce``'s partition argument for "the partitioner chooses" (librdkafka's
#: ``RD_KAFKA_PARTITION_UA``). The exporter passes all of produce()'s arguments by position: with
#: any keyword argument, each of its keywords is looked up by a name built from a C string, for every
#: message (about 4,000 instructions a call, a quarter of a produce with headers and a callback).
#: Its producer is the C class, which no instrumentation wraps (``_make_producer``): the
#: confluent-kafka instrumentation's wrapper would read a positional timestamp as the headers.
_ANY_PARTITION = -1
_EXPORTERS: weakref.WeakSet[OnexKafkaSpanExporter] = weakref.WeakSet()
#: topic, value, key, headers, and who waits to hear that the message is safe (see ``send``)
_Message = tuple[str, bytes, bytes | None, list[tuple[str, bytes]], Callable[[str], None] | None]


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
            et: (
                topic,
                (
                    (HEADER_EVENT_TYPE, et.value.encode()),
                    (HEADER_SCHEMA_REF, SCHEMA_REFS[et].encode()),
                    (HEADER_CONTENT_TYPE, CONTENT_TYPE_JSON.encode()),
                ),
            )
            for et, topic in self.topics.items()
        }
        self.shutdown_timeout_s = shutdown_timeout_s
        #: say in one warning how many events ``shutdown()`` spooled (off when the caller reports
        #: the outcome itself, as the skills' JSON line does)
        self.report_spooled_at_exit = True
        self._producer_conf = {**producer_config(settings), **(producer_overrides or {})}
        self._delivery_timeout_s = int(self._producer_conf["message.timeout.ms"]) / 1000.0
        self._warn = RateLimitedLog()
        self._counts: dict[str, int] = {
            "spans": 0,
            "events": 0,
            "produced": 0,
            "failed": 0,
            OUTCOME_SPOOLED: 0,
            OUTCOME_RESENT: 0,
        }
        self._drops: dict[str, int] = {}
        self._stats_lock = threading.Lock()
        self._init_runtime()
        self.spool: Spool | None = None
        if self.enabled:
            try:
                self.spool = spool or Spool(
                    settings.spool_path, settings.spool_max_bytes, settings.spool_fsync
                )
            except OSError as exc:
                _log.error(
                    "onex-otel spool %s unusable (%s): undeliverable events will be dropped and counted",
                    settings.spool_path,
                    exc,
                )
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
        #: where new events go (see :mod:`onex_exporters.routing`)
        self._state = RouteState()
        self._held: list[SpoolRecord] = []
        #: failed direct messages of a switch to the spool, with their produce sequence numbers:
        #: librdkafka does not report failures in produce order across its internal queues
        self._failed_buf: list[tuple[int, SpoolRecord]] = []
        self._seq = itertools.count()
        self._fatal = False
        self._spool_check = True  # look for a spool left by an earlier process
        self._resender = SpoolResender(
            self, Backoff(initial=0.2, factor=2.0, cap=self.settings.spool_retry_max_s, jitter=0.25)
        )
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
        register_metrics(self, meter_provider)

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
        direct_in_flight = max(0, in_flight - self._resender.inflight)
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
        conf.setdefault("logger", LibrdkafkaLogger())
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
                self._thread = threading.Thread(target=self._run, name="onex-kafka-io", daemon=True)
                self._thread.start()
            return self._producer

    def _on_error(self, err: Any) -> None:
        if err.fatal():
            self._fatal = True
            self._wake.set()
        self._warn.warning(
            "kafka", "onex-otel Kafka producer: %s (events are spooled until the broker is back)", err
        )

    def _run(self) -> None:
        token = _suppress_instrumentation()
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
                    elif self._state.holding:
                        self._resolve_outstanding(self._producer, self._delivery_timeout_s + 1)
                    if self._spool_check and self.spool is not None and self._resender.backoff.ready():
                        self._resender.drain_once()
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
        if self._state.advance(Route.DIRECT, Route.HOLDING):
            self._wake.set()

    def _resolve_outstanding(self, producer: Any, wait_s: float, deliver_first: bool = False) -> bool:
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
            self._state.advance(Route.HOLDING, Route.SPOOLING)
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
    def _messages(self, records: Iterable[EventRecord]) -> Iterator[_Message]:
        """The Kafka messages of ``records``, each encoded only when it is asked for.

        Produced one by one, a message's value is freed (librdkafka keeps a copy) before the
        next is encoded, so a batch reuses the same memory: with all of a batch's values alive at
        once, the allocator took fresh pages from the system for every batch. An event that
        cannot be encoded is dropped and counted.
        """
        static = self._static
        # the events of one span share their headers: built once per span and event type
        headers_of: dict[tuple[EventType, str, str | None], tuple[str, list[tuple[str, bytes]]]] = {}
        for event_type, envelope, traceparent, tracestate in records:
            try:
                value = encode(envelope)
            except ENCODE_ERRORS as exc:
                self._drop(DROP_UNSERIALIZABLE)
                self._warn.warning("unserializable", "onex-otel dropped an event: %s", unserializable(exc))
                continue
            key = (event_type, traceparent, tracestate)
            routed = headers_of.get(key)
            if routed is None:
                topic, fixed = static[event_type]
                headers = [(HEADER_TRACEPARENT, traceparent.encode()), *fixed]
                if tracestate:
                    headers.append((HEADER_TRACESTATE, tracestate.encode()))
                routed = headers_of[key] = (topic, headers)
            yield routed[0], value, envelope["correlation_id"].encode(), routed[1], None

    def publish(self, records: Sequence[EventRecord], *, sync: bool = True) -> None:
        """Send mapped events (used by the exporter and by the lifecycle processor).

        Never raises and never waits on the network. ``sync=False`` (the lifecycle processor,
        on the agent's thread) leaves the spool's ``batch`` fsync to the I/O thread, which
        syncs within a second.
        """
        token = _suppress_instrumentation()
        try:
            if self._send_records(records) and sync:
                self._sync_spool()
        finally:
            otel_context.detach(token)

    def _send_records(self, records: Sequence[EventRecord]) -> bool:
        """Count ``records`` and produce (or spool) them; True when some went to the spool.

        When none can be sent (disabled, shut down) they are counted as dropped.
        """
        if not records:
            return False
        self._count("events", len(records))
        if not self.enabled:
            self._drop(DROP_DISABLED, len(records))
            return False
        if self._is_shutdown:
            self._drop(DROP_SHUTDOWN, len(records))
            return False
        return self._route(self._messages(records))

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
            raise ValueError(
                "send() needs delivery reports of successes: build the exporter "
                "with producer_overrides={'delivery.report.only.error': False}"
            )
        reason = DROP_DISABLED if not self.enabled else DROP_SHUTDOWN if self._is_shutdown else None
        if reason is not None:
            self._drop(reason, len(messages))
            for m in messages:
                if m.ack is not None:
                    m.ack(reason)
            return
        token = _suppress_instrumentation()
        try:
            if self._route([(m.topic, m.value, m.key, list(m.headers), m.ack) for m in messages]):
                self._sync_spool()
        finally:
            otel_context.detach(token)

    def _route(self, messages: Iterable[_Message]) -> bool:
        """Produce ``messages`` (or spool them); True when some went to the spool, not yet synced."""
        producer = self._ensure_started()
        to_spool: list[SpoolRecord] = []
        with self._route_lock:
            producer = self._producer
            seq = self._seq
            if self._state.holding:
                self._held.extend(SpoolRecord(t, v, k, tuple(h), a) for t, v, k, h, a in messages)
            elif self._state.spooling:
                to_spool = [SpoolRecord(t, v, k, tuple(h), a) for t, v, k, h, a in messages]
            else:
                produced = 0
                produce = producer.produce
                next_seq = seq.__next__
                delivered = self._delivered
                pending = iter(messages)
                for topic, value, key, headers, ack in pending:
                    try:
                        # every argument by position (see _ANY_PARTITION); delivery reports
                        # carry no headers: they travel with the callback
                        produce(
                            topic,
                            value,
                            key,
                            _ANY_PARTITION,
                            partial(delivered, headers, next_seq(), ack),  # callback
                            None,  # on_delivery, its alias
                            0,  # timestamp: now
                            headers,
                        )
                        produced += 1
                        continue
                    except BufferError:  # queue full: keep the order, go through the spool
                        pass
                    except Exception as exc:
                        err = exc.args[0] if exc.args else None
                        if permanent(err):  # this message can never be sent: count it
                            self._reject(err, ack)
                            continue
                        # e.g. a fatal producer: spool and rebuild
                        self._fatal = True
                        self._warn.warning("produce", "onex-otel produce failed: %s", exc)
                    # this message and the rest go through the spool, in order
                    self._begin_holding()
                    self._held.append(SpoolRecord(topic, value, key, tuple(headers), ack))
                    self._held.extend(SpoolRecord(t, v, k, tuple(h), a) for t, v, k, h, a in pending)
                    break
                self._count("produced", produced)
            if to_spool:
                self._to_spool(to_spool)
        return bool(to_spool)

    def _reject(self, err: Any, ack: Callable[[str], None] | None = None) -> None:
        self._drop(DROP_REJECTED)
        self._warn.warning(
            "rejected",
            "onex-otel dropped an event Kafka refuses for good: %s "
            "(counted in onex.export.dropped{reason=rejected})",
            err,
        )
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

    def _delivered(
        self,
        headers: list[tuple[str, bytes]],
        seq: int,
        ack: Callable[[str], None] | None,
        err: Any,
        msg: Any,
    ) -> None:
        """A message's delivery report (bound per message with its headers, produce order, ack)."""
        self._on_delivery(err, msg, headers, seq, ack)

    def _on_delivery(
        self,
        err: Any,
        msg: Any,
        headers: list[tuple[str, bytes]],
        seq: int,
        ack: Callable[[str], None] | None = None,
    ) -> None:
        if err is None:  # only with delivery.report.only.error overridden to false
            if ack is not None:
                ack(OUTCOME_DELIVERED)
            return
        if permanent(err):
            self._count("produced", -1)
            self._reject(err, ack)
            return
        self._count("failed")
        if not purged(err):  # a purge is ours (a switch to the spool, shutdown): reported there
            self._warn.warning(
                "delivery",
                "onex-otel could not deliver to Kafka (%s): spooling events until the broker is back",
                err,
            )
        # a delivery report carries no headers: they travel with the callback
        record = SpoolRecord(msg.topic(), msg.value(), msg.key(), tuple(headers), ack)
        with self._route_lock:
            self._begin_holding()
            if self._state.holding:  # spooled in produce order once the outstanding resolved
                self._failed_buf.append((seq, record))
                return
        self._to_spool([record])

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
            to_map = spans_to_map(spans)  # a database or HTTP span...: no more work
            if to_map:
                token = _suppress_instrumentation()
                try:
                    spooled = False
                    for start in range(0, len(to_map), SLICE_SPANS):  # see SLICE_SPANS
                        spooled = (
                            self._send_records(self._map(to_map[start : start + SLICE_SPANS])) or spooled
                        )
                    if spooled:
                        self._sync_spool()
                finally:
                    otel_context.detach(token)
        except Exception:
            self._warn.warning("export", "onex-otel export failed", exc_info=True)
        return SpanExportResult.SUCCESS

    def _map(self, spans: Sequence[ReadableSpan]) -> list[EventRecord]:
        """The events of ``spans``; a span that cannot be mapped is counted as dropped."""
        records: list[EventRecord] = []
        include = not self.lifecycle_attached
        options = self.options
        for span in spans:
            try:
                records.extend(map_span(span, options, include))
            except Exception as exc:
                self._drop(DROP_UNSERIALIZABLE)
                self._warn.warning(
                    "mapping", "onex-otel could not map span %r: %s", getattr(span, "name", "?"), exc
                )
        return records

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
                busy = (
                    self._state.holding
                    or bool(self._held)
                    or bool(self._failed_buf)
                    or self._fatal
                    or producer is not self._producer
                )
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
                with sigint_sets(self._abort):
                    self._stop_deadline = deadline
                    self._stop.set()
                    self._wake.set()
                    thread = self._thread
                    # the I/O thread finishes the re-send in hand (within the deadline)
                    while (
                        thread is not None
                        and thread.is_alive()
                        and not self._abort.is_set()
                        and time.monotonic() < deadline
                    ):
                        thread.join(0.1)
                    self._deliver_until(producer, deadline)
                    # what Kafka did not take is purged and spooled: callbacks spool the failed
                    # ones, then events held back during a switch to the spool follow them
                    self._resolve_outstanding(producer, 0.0)
                    if thread is not None:
                        thread.join(0.5)
                    self._resender.drain_at_exit(deadline)
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

    def _report_spooled_at_exit(self, spooled: int) -> None:
        """One line when events went to the spool at exit (they are not lost)."""
        if spooled <= 0 or self.spool is None or not self.report_spooled_at_exit:
            return
        how = "interrupted" if self._abort.is_set() else "Kafka did not take them in time"
        _log.warning(
            "onex-otel: %d event(s) spooled at exit (%s) to %s; not lost: the next "
            "process that publishes sends them",
            spooled,
            how,
            self.spool.path,
        )


def _suppress_instrumentation() -> Token[Context]:
    """Attach a context in which instrumentations trace nothing (the exporter's own Kafka I/O)."""
    return otel_context.attach(otel_context.set_value(otel_context._SUPPRESS_INSTRUMENTATION_KEY, True))


def _ack_all(records: Sequence[SpoolRecord], outcome: str) -> None:
    for record in records:
        if record.ack is not None:
            record.ack(outcome)


def _after_fork_in_child() -> None:
    for exporter in list(_EXPORTERS):
        with contextlib.suppress(Exception):
            exporter._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
