"""The bridge's consumer loop: OTLP messages -> events on the onex topics -> commit.

Guarantees (see the README's "Bridge" section):

- a batch of messages is decoded, its spans mapped with
  :func:`~onex_exporters.mapping.span_to_records` (the in-process exporter's mapping, normalizer
  included; an execution span arrives finished, so its started and its completed/failed events
  both come from it, with the ids the in-process lifecycle processor gives them) and its log
  records with :func:`~onex_exporters.bridge.logs.records_from_logs`, then published through
  :class:`~onex_exporters.kafka.OnexKafkaSpanExporter` (same topics, keys, headers, spool);
- the batch's offsets are stored only once every one of its events is settled
  (:meth:`~onex_exporters.kafka.OnexKafkaSpanExporter.settle`: acknowledged by Kafka, or written
  and synced to the exporter's durable spool, which whichever process opens it next re-sends, a
  restarted bridge included) and its dead letters are confirmed; only stored offsets are committed
  (every ``commit_interval_ms``, and at once when draining or rebalancing). A crash at any point,
  ``kill -9`` included, loses nothing; what was published after the last commit is published
  again, with the same event ids, which the collector writes once;
- a message that is not an export request in the configured encoding, or whose spans or log
  records cannot be mapped, goes to the dead-letter topic with its key, value and headers plus
  ``onex.dlq.*`` headers (original topic, partition, offset, error class, message, stage
  ``decode`` or ``map``); the good spans of a message are still published, and the rest of the
  batch keeps flowing;
- bridges of one consumer group share the partitions of the OTLP topics;
- :meth:`Bridge.request_stop` (SIGTERM / SIGINT): the batch in hand is delivered and committed,
  then the consumer leaves its group; bounded by ``shutdown_timeout_s``.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, ClassVar

from onex_exporters.bridge import DecodeError
from onex_exporters.bridge.otlp import decode_logs, decode_traces, spans_from_request
from onex_exporters.kafka import OnexKafkaSpanExporter
from onex_exporters.mapping import EventRecord, MappingOptions, span_to_records
from onex_otel import conventions as c
from onex_otel.config import Settings
from onex_otel.deadletter import send_dead_letters
from onex_otel.errors import OnexError
from onex_otel.kafka_consumers import commit_stored_offsets, service_consumer_config
from onex_otel.long_running import freeze_startup_objects
from onex_otel.service_metrics import Kind, ServiceMetrics
from onex_otel.status_http import StatusServer

__all__ = ["Bridge", "BridgeMetrics", "BridgeOptions", "options_from_settings", "run_bridge"]

log = logging.getLogger("onex_exporters.bridge")

_POLL_S = 0.2  # longest a consume() waits before the loop looks at the stop flag again
_LAG_EVERY_S = 2.0
#: What follows offsets left uncommitted (in the warning of a commit skipped or failed).
_UNCOMMITTED = "the batch will be republished"
_SETTLE_STEP_S = 1.0
_DLQ_CONFIRM_S = 15.0


_PUBLISH_EVERY = 1024  # events mapped before they are handed to the exporter
_PENDING_MAX_S = 0.5  # longest a published batch waits to be settled while more come


@dataclass
class _Pending:
    """Batches taken (published) and not yet settled: their offsets and figures."""

    since: float
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    consumed: int = 0
    spans: int = 0
    logs: int = 0
    events: int = 0
    dead: int = 0
    seconds: float = 0.0


class _Abandon(OnexError):
    """Shutting down and the batch could not be settled in time: leave it uncommitted."""


@dataclass
class BridgeOptions:
    """How a :class:`Bridge` runs (``onex-otel bridge`` fills it from the settings)."""

    bootstrap_servers: str
    spans_topic: str | None = c.OTLP_SPANS_TOPIC
    logs_topic: str | None = c.OTLP_LOGS_TOPIC
    encoding: str = c.ENCODING_OTLP_PROTO
    group_id: str = c.DEFAULT_BRIDGE_GROUP_ID
    dlq_topic: str = c.DEFAULT_BRIDGE_DLQ_TOPIC
    #: Messages taken per cycle: decoded, mapped, published and settled together.
    max_batch: int = 500
    #: How often stored offsets (settled batches) are committed to the group.
    commit_interval_ms: int = 1000
    shutdown_timeout_s: float = 30.0
    consumer_config: Mapping[str, Any] = field(default_factory=dict)
    producer_config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def topics(self) -> list[str]:
        """The OTLP topics consumed."""
        return [t for t in (self.spans_topic, self.logs_topic) if t]


def options_from_settings(settings: Settings, **overrides: Any) -> BridgeOptions:
    """Bridge options from the resolved settings (see ``onex-otel config``); ``ValueError`` if unusable."""
    if not settings.kafka_bootstrap_servers:
        raise ValueError("KAFKA_BOOTSTRAP_SERVERS (or KAFKA_BROKERS) is not set")
    if not settings.kafka_enable_logging:
        raise ValueError("KAFKA_ENABLE_LOGGING=false: the bridge would have nowhere to publish")
    opts = BridgeOptions(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        spans_topic=settings.bridge_spans_topic or None,
        logs_topic=settings.bridge_logs_topic or None,
        encoding=settings.bridge_encoding,
        group_id=settings.bridge_group_id,
        dlq_topic=settings.bridge_dlq_topic,
        shutdown_timeout_s=settings.bridge_shutdown_timeout_s,
    )
    for name, value in overrides.items():
        if value is not None:
            setattr(opts, name, value)
    if not opts.topics:
        raise ValueError(
            "no OTLP topic to consume (ONEX_BRIDGE_SPANS_TOPIC and ONEX_BRIDGE_LOGS_TOPIC are both empty)"
        )
    if opts.encoding not in c.OTLP_ENCODINGS:
        raise ValueError(f"unknown encoding {opts.encoding!r}: use {' or '.join(c.OTLP_ENCODINGS)}")
    return opts


# ----------------------------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------------------------
@dataclass
class BridgeMetrics(ServiceMetrics):
    """Thread-safe figures of one bridge process (``/metrics``), plus its exporter's accounting.

    Exposed as OpenTelemetry metrics named ``onex_bridge_*`` (see
    :class:`~onex_otel.service_metrics.ServiceMetrics`).
    """

    prefix: ClassVar[str] = c.METRIC_BRIDGE_PREFIX
    figures: ClassVar[Mapping[str, tuple[Kind, str]]] = {
        "uptime_seconds": ("gauge", "Seconds since the bridge started."),
        "messages_consumed": ("counter", "OTLP messages read from Kafka and settled."),
        "spans_received": ("counter", "Spans decoded from OTLP messages."),
        "log_records_received": ("counter", "Log records decoded from OTLP messages."),
        "events_published": ("counter", "Events mapped and handed to the exporter."),
        "events_delivered": ("counter", "Events acknowledged by Kafka on the first try."),
        "events_spooled": ("counter", "Events written to the spool (Kafka away)."),
        "events_resent": ("counter", "Events delivered from the spool."),
        "events_dropped": ("counter", "Events dropped by the exporter (see its reasons)."),
        "spool_bytes": ("gauge", "Bytes of events waiting in the spool."),
        "dlq_messages": ("counter", "OTLP messages written to the dead-letter topic."),
        "batches_processed": ("counter", "Batches settled and committed."),
        "avg_batch_processing_ms": ("gauge", "Mean time to process a batch, milliseconds."),
        "messages_per_second": ("gauge", "Messages consumed per second since start."),
        "last_commit_time": ("gauge", "Unix time of the last settled batch."),
        "consumer_lag": ("gauge", "OTLP messages not yet consumed (approximate)."),
        "partitions_assigned": ("gauge", "OTLP topic partitions this bridge holds."),
        "kafka_ok": ("gauge", "1 while Kafka is reachable."),
    }

    spans_received: int = 0
    log_records_received: int = 0
    events_published: int = 0
    partitions_assigned: int = 0
    exporter: OnexKafkaSpanExporter | None = None

    def record_batch(
        self, *, consumed: int, spans: int, log_records: int, events: int, dead: int, ms: float
    ) -> None:
        """Count one settled and stored batch."""
        with self._lock:
            self._count_batch(consumed=consumed, dead=dead, ms=ms)
            self.spans_received += spans
            self.log_records_received += log_records
            self.events_published += events

    def set_assigned(self, count: int) -> None:
        """Record how many OTLP partitions this bridge holds."""
        with self._lock:
            self.partitions_assigned = count

    def _exporter_stats(self) -> dict[str, Any]:
        exporter = self.exporter
        if exporter is None:
            return {"delivered": 0, "spooled": 0, "resent": 0, "spool_bytes": 0, "dropped": {}}
        return exporter.stats()

    def _reasons(self) -> dict[str, str]:
        reasons = super()._reasons()
        spool_bytes = self._exporter_stats()["spool_bytes"]
        if spool_bytes:
            reasons["spool"] = f"{spool_bytes} bytes of events wait in the spool for Kafka"
        return reasons

    def _figures(self) -> dict[str, Any]:
        stats = self._exporter_stats()
        with self._lock:
            return {
                **self._common_figures(),
                "spans_received": self.spans_received,
                "log_records_received": self.log_records_received,
                "events_published": self.events_published,
                "events_delivered": stats["delivered"],
                "events_spooled": stats["spooled"],
                "events_resent": stats["resent"],
                "events_dropped": sum(int(v) for v in stats["dropped"].values()),
                "spool_bytes": stats["spool_bytes"],
                "partitions_assigned": self.partitions_assigned,
            }


# ----------------------------------------------------------------------------------------------
# the loop
# ----------------------------------------------------------------------------------------------
class Bridge:
    """Consume OTLP from Kafka into events on the onex topics until :meth:`request_stop`."""

    def __init__(
        self,
        options: BridgeOptions,
        settings: Settings,
        *,
        metrics: BridgeMetrics | None = None,
        exporter: OnexKafkaSpanExporter | None = None,
    ) -> None:
        """Prepare a bridge; nothing connects before :meth:`run`.

        ``exporter``: where events go (default: one built from ``settings``, whose spool,
        topics and producer settings apply).
        """
        self.options = options
        self.settings = settings
        self.metrics = metrics or BridgeMetrics()
        self.exporter = exporter or OnexKafkaSpanExporter(
            settings, attach_lifecycle=False, shutdown_timeout_s=options.shutdown_timeout_s
        )
        self.metrics.exporter = self.exporter
        self.mapping_options = MappingOptions(tenant_id=settings.tenant_id, source=settings.source)
        self._stop = threading.Event()
        self._stop_at: float | None = None
        self._consumer: Any = None
        self._dlq: Any = None
        self._assigned: set[tuple[str, int]] = set()
        self._pending: _Pending | None = None

    # -- control ----------------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Settle and commit the batch in hand, then return from :meth:`run` (signal-safe)."""
        if self._stop_at is None:
            self._stop_at = time.monotonic()
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """Whether a stop was requested."""
        return self._stop.is_set()

    def _past_deadline(self) -> bool:
        return (
            self._stop_at is not None and time.monotonic() - self._stop_at > self.options.shutdown_timeout_s
        )

    # -- kafka clients ----------------------------------------------------------------------------
    def _consumer_config(self) -> dict[str, Any]:
        opts = self.options
        conf = service_consumer_config(opts.bootstrap_servers, opts.group_id, opts.commit_interval_ms)
        conf |= {
            "client.id": "onex-otel-bridge",
            "error_cb": self._on_kafka_error,
            "on_commit": self._on_commit,
        }
        conf.update(self.options.consumer_config)
        return conf

    def _producer_config(self) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "bootstrap.servers": self.options.bootstrap_servers,
            "client.id": "onex-otel-bridge-dlq",
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": 10000,
            "error_cb": self._on_kafka_error,
        }
        conf.update(self.options.producer_config)
        return conf

    def _on_kafka_error(self, err: Any) -> None:
        from confluent_kafka import KafkaError

        if err.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._RESOLVE):
            self.metrics.set_kafka(False, f"{err.name()}: {err.str()}")
        log.warning("kafka: %s", err.str())

    def _on_commit(self, err: Any, _partitions: Any) -> None:
        from confluent_kafka import KafkaError

        if err is None:
            if not self.metrics.kafka_ok:
                self.metrics.set_kafka(True)
        elif err.code() != KafkaError._NO_OFFSET:
            log.warning("offset commit failed (the batch will be republished): %s", err.str())

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        self._assigned |= {(tp.topic, tp.partition) for tp in partitions}
        self.metrics.set_assigned(len(self._assigned))
        log.info("assigned %s", sorted(self._assigned))

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        # settle and store what was taken from these partitions, and commit, before they go
        try:
            self._settle_pending()
        except _Abandon as exc:
            log.warning("batch left uncommitted at rebalance: %s", exc)
            self._pending = None
        self._final_commit()
        self._assigned -= {(tp.topic, tp.partition) for tp in partitions}
        self.metrics.set_assigned(len(self._assigned))

    @property
    def assignment(self) -> set[tuple[str, int]]:
        """The OTLP partitions this bridge holds now."""
        return set(self._assigned)

    # -- main loop --------------------------------------------------------------------------------
    def run(self) -> None:
        """Consume until stopped."""
        from confluent_kafka import Consumer, Producer

        opts = self.options
        self._consumer = Consumer(self._consumer_config())
        self._dlq = Producer(self._producer_config())
        self.exporter.start()  # a spool left by an earlier bridge is re-sent at once
        self._ensure_dlq_topic()
        self._consumer.subscribe(opts.topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
        self.metrics.running = True
        freeze_startup_objects()
        next_lag = time.monotonic()
        try:
            while not self.stopping:
                # with a batch published and not yet settled, take the next one at once if it is
                # there: its decoding and mapping overlap the delivery of the first
                msgs = self._consumer.consume(
                    num_messages=opts.max_batch, timeout=0 if self._pending else _POLL_S
                )
                if msgs:
                    self._take(msgs)
                pending = self._pending
                if pending is not None and (
                    not msgs
                    or pending.consumed >= 2 * opts.max_batch
                    or time.monotonic() - pending.since >= _PENDING_MAX_S
                ):
                    self._settle_pending()
                now = time.monotonic()
                if now >= next_lag:
                    self._update_lag()
                    next_lag = now + _LAG_EVERY_S
            self._settle_pending()
        except _Abandon as exc:
            self._pending = None  # not stored: whoever owns the partitions next republishes it
            log.warning("stopping with a batch left uncommitted (it will be republished): %s", exc)
        finally:
            self.metrics.running = False
            self._close()

    def _close(self) -> None:
        if self._consumer is not None:
            self._final_commit(stopping=True)
            try:
                self._consumer.close()
            except Exception as exc:
                log.warning("closing the consumer: %s", exc)
            self._consumer = None
        left = max(0.5, self.options.shutdown_timeout_s - self._elapsed_since_stop())
        self.exporter.shutdown(left * 1000)
        if self._dlq is not None:
            self._dlq.flush(min(5.0, left))
            self._dlq = None

    def _elapsed_since_stop(self) -> float:
        return 0.0 if self._stop_at is None else time.monotonic() - self._stop_at

    def _final_commit(self, stopping: bool = False) -> None:
        """Commit the stored offsets now (not while Kafka is known to be away)."""
        if self._consumer is not None:
            commit_stored_offsets(self._consumer, self.metrics.kafka_ok, log, _UNCOMMITTED, stopping=stopping)

    # -- one batch --------------------------------------------------------------------------------
    def _take(self, msgs: Sequence[Any]) -> None:
        """Decode, map, publish and dead-letter one batch; its offsets wait for the settle."""
        started = time.perf_counter()
        poison: list[tuple[Any, str, str, str]] = []
        pending = self._pending
        if pending is None:
            pending = self._pending = _Pending(since=time.monotonic())
        offsets = pending.offsets
        records: list[EventRecord] = []
        for msg in msgs:
            if msg.error() is not None:
                self._consumer_error(msg.error())
                continue
            pending.consumed += 1
            topic = msg.topic()
            key, offset = (topic, msg.partition()), msg.offset()
            if offsets.get(key, -1) < offset:
                offsets[key] = offset
            try:
                if topic == self.options.spans_topic:
                    pending.spans += self._map_spans(msg, records, poison)
                else:
                    pending.logs += self._map_logs(msg, records, poison)
            except DecodeError as exc:
                poison.append((msg, type(exc).__name__, exc.reason, c.DLQ_STAGE_DECODE))
            if len(records) >= _PUBLISH_EVERY:  # a big batch's events never pile up in memory
                self._publish(records, pending)
                records = []
        self._publish(records, pending)
        if pending.consumed and not self.metrics.kafka_ok:
            self.metrics.set_kafka(True)
        if poison:
            self._dead_letter_retrying(poison)
            pending.dead += len(poison)
        pending.seconds += time.perf_counter() - started

    def _publish(self, records: list[EventRecord], pending: _Pending) -> None:
        if records:
            self.exporter.publish(records)
            pending.events += len(records)

    def _settle_pending(self) -> None:
        """Wait until the batches taken are settled, then store their offsets."""
        pending = self._pending
        if pending is None:
            return
        started = time.perf_counter()
        self._settle()
        self._pending = None
        self._store_offsets(pending.offsets)
        self.metrics.record_batch(
            consumed=pending.consumed,
            spans=pending.spans,
            log_records=pending.logs,
            events=pending.events,
            dead=pending.dead,
            ms=(pending.seconds + time.perf_counter() - started) * 1000,
        )

    def _map_spans(
        self, msg: Any, records: list[EventRecord], poison: list[tuple[Any, str, str, str]]
    ) -> int:
        request = decode_traces(msg.value(), self.options.encoding)
        # a span that certainly maps to nothing is counted, not built
        spans = spans_from_request(request, mappable_only=True)
        failed: list[str] = []
        error_class = ""
        options = self.mapping_options
        for span in spans:
            try:
                records.extend(span_to_records(span, options))
            except Exception as exc:  # a value no event can hold: the message is kept aside
                error_class = error_class or type(exc).__name__
                failed.append(f"{span.name!r}: {exc}")
        if failed:
            poison.append(
                (
                    msg,
                    error_class,
                    f"{len(failed)} of {len(spans)} span(s) not mapped; {'; '.join(failed[:3])}",
                    c.DLQ_STAGE_MAP,
                )
            )
        return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)

    def _map_logs(self, msg: Any, records: list[EventRecord], poison: list[tuple[Any, str, str, str]]) -> int:
        from onex_exporters.bridge.logs import records_from_logs

        request = decode_logs(msg.value(), self.options.encoding)
        count = sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)
        try:
            records.extend(records_from_logs(request, self.mapping_options))
        except Exception as exc:
            poison.append((msg, type(exc).__name__, f"log records not mapped: {exc}", c.DLQ_STAGE_MAP))
        return count

    def _settle(self) -> None:
        """Wait until the exporter has every event of the batch delivered or spooled."""
        waited = 0.0
        while not self.exporter.settle(_SETTLE_STEP_S):
            waited += _SETTLE_STEP_S
            if self._past_deadline():
                raise _Abandon("events not delivered within the shutdown timeout")
            if waited >= 30 and waited % 30 < _SETTLE_STEP_S:
                log.warning("events of the batch not settled after %.0f s; waiting", waited)

    def _consumer_error(self, err: Any) -> None:
        from confluent_kafka import KafkaError, KafkaException

        if err.code() in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART):
            log.debug("consumer: %s", err.str())
        elif err.fatal():
            raise KafkaException(err)
        else:
            log.warning("kafka consumer: %s", err.str())

    def _store_offsets(self, last: dict[tuple[str, int], int]) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        if not last:
            return
        offsets = [TopicPartition(t, p, off + 1) for (t, p), off in sorted(last.items())]
        try:
            self._consumer.store_offsets(offsets=offsets)
        except KafkaException as exc:  # partition no longer assigned (rebalance)
            log.warning("storing offsets: %s", exc)
        if self.stopping:
            self._final_commit()

    # -- dead letters -----------------------------------------------------------------------------
    def _dead_letter_retrying(self, poison: list[tuple[Any, str, str, str]]) -> None:
        delay = 0.2
        while True:
            problem = self._dead_letter(poison)
            if problem is None:
                return
            self.metrics.set_kafka(False, problem)
            if self._past_deadline():
                raise _Abandon(problem)
            log.warning("%s; retrying in %.1fs", problem, delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)

    def _dead_letter(self, poison: list[tuple[Any, str, str, str]]) -> str | None:
        return send_dead_letters(self._dlq, self.options.dlq_topic, poison, _DLQ_CONFIRM_S, log)

    # -- housekeeping -----------------------------------------------------------------------------
    def _update_lag(self) -> None:
        consumer = self._consumer
        try:
            assignment = consumer.assignment()
            if not assignment:
                self.metrics.set_lag(0)
                return
            lag = 0
            for tp in consumer.position(assignment):
                _lo, hi = consumer.get_watermark_offsets(tp, cached=True)
                if hi is None or hi < 0:
                    continue
                lag += max(0, hi - max(tp.offset, 0))
            self.metrics.set_lag(lag)
        except Exception as exc:
            log.debug("lag: %s", exc)

    def _ensure_dlq_topic(self) -> None:
        """Create the dead-letter topic if it is missing (best effort)."""
        try:
            from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

            admin = AdminClient({"bootstrap.servers": self.options.bootstrap_servers})
            if self.options.dlq_topic in admin.list_topics(timeout=5).topics:
                return
            for fut in admin.create_topics([NewTopic(self.options.dlq_topic, 1, 1)]).values():
                fut.result(10)
        except Exception as exc:
            log.info("dead-letter topic %s not created: %s", self.options.dlq_topic, exc)


# ----------------------------------------------------------------------------------------------
# the service
# ----------------------------------------------------------------------------------------------
def install_signal_handlers(stop: Callable[[], None]) -> None:
    """SIGTERM and SIGINT call ``stop`` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: settling the batch in hand", signal.Signals(signum).name)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _status(
    metrics: BridgeMetrics, receiver: Any
) -> tuple[Callable[[], dict[str, Any]], Callable[[], dict[str, Any]], Callable[[], str]]:
    """The /health, /metrics JSON and Prometheus callables, the receiver's figures included."""

    def health() -> dict[str, Any]:
        body = metrics.health()
        if receiver is not None:
            rh = dict(receiver.health())
            body["receiver"] = rh
            if rh.get("status") != "healthy":
                body["status"] = "degraded"
                body.setdefault("reasons", {})["receiver"] = str(rh.get("status"))
        return body

    def snapshot() -> dict[str, Any]:
        snap = metrics.snapshot()
        if receiver is not None:
            snap["receiver"] = dict(receiver.metrics())
        return snap

    if receiver is not None:
        metrics.expose("receiver_", receiver.metrics)
    return health, snapshot, metrics.prometheus


def run_bridge(
    options: BridgeOptions,
    settings: Settings,
    *,
    receiver: Any = None,
    http: bool = True,
    progress_every_s: float = 10.0,
) -> BridgeMetrics:
    """Run a bridge in the foreground until SIGTERM/SIGINT; ``receiver`` (started) stops with it."""
    bridge = Bridge(options, settings)
    metrics = bridge.metrics

    def stop() -> None:
        bridge.request_stop()

    install_signal_handlers(stop)
    server: StatusServer | None = None
    if http and settings.bridge_http_port:
        health, snapshot, prometheus = _status(metrics, receiver)
        server = StatusServer(
            health,
            snapshot,
            prometheus,
            settings.bridge_http_host,
            settings.bridge_http_port,
            name="onex-bridge",
        ).start()
        print(
            f"bridge: /health and /metrics on http://{settings.bridge_http_host}:{server.port}",
            file=sys.stderr,
            flush=True,
        )
    reporter = threading.Thread(
        target=_report, args=(bridge, progress_every_s), name="onex-bridge-progress", daemon=True
    )
    reporter.start()
    try:
        bridge.run()
    finally:
        if receiver is not None:
            receiver.stop(max(1.0, options.shutdown_timeout_s / 2))
        if server is not None:
            server.close()
        _print_progress(metrics)
    return metrics


def _report(bridge: Bridge, every_s: float) -> None:
    while not bridge._stop.wait(every_s):
        _print_progress(bridge.metrics)


def _print_progress(metrics: BridgeMetrics) -> None:
    snap = metrics.snapshot()
    health = metrics.health()
    print(
        f"bridge: consumed {snap['messages_consumed']} message(s), {snap['spans_received']} "
        f"span(s), {snap['log_records_received']} log record(s) -> {snap['events_published']} "
        f"event(s); dead-lettered {snap['dlq_messages']}, {health['status']}"
        + (f" ({'; '.join(health['reasons'].values())})" if "reasons" in health else ""),
        file=sys.stderr,
        flush=True,
    )
