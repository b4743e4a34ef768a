"""The collector's Kafka consumer loop: batches -> one PostgreSQL transaction -> commit.

Guarantees (see the README's "Collector" section):

- offsets are stored only after the batch's transaction has committed (and its poison messages
  are confirmed on the dead-letter topic), and only stored offsets are ever committed (by
  librdkafka every ``commit_interval_ms``, and at once when draining or rebalancing): a crash at
  any point, ``kill -9`` included, loses nothing; the redelivered events are idempotent, so
  nothing is duplicated;
- PostgreSQL unavailable: the assigned partitions are paused, the same batch is retried with
  exponential backoff (capped), nothing is committed and nothing goes to the dead-letter topic;
  consumption resumes by itself when the database is back;
- a poison message (not JSON, not a valid event, or a row the database rejects) goes to the
  dead-letter topic with its original key, value and headers plus ``onex.dlq.*`` headers naming
  the original topic, partition, offset, error class, message and stage; the rest of its batch is
  written and the partition keeps flowing;
- :meth:`Collector.request_stop` (SIGTERM / SIGINT): the batch in hand is finished and committed,
  then the consumer leaves its group; bounded by ``shutdown_timeout_s``. Run on the main thread
  with Python's default SIGINT handler (no service around it), Ctrl-C does the same, then
  :meth:`Collector.run` raises ``KeyboardInterrupt``;
- health is what is true: Kafka counts as unavailable from the start until a broker answered,
  and while librdkafka reports the brokers down; a one-shot run (``stop_when_idle_s``, replay)
  raises :class:`KafkaUnavailable` once Kafka stayed unreachable for ``connect_timeout_s``, and
  :class:`~onex_collector.writer.DatabaseUnavailable` once a batch could not be written for that
  long, instead of waiting for ever (what was written before stays committed).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from opentelemetry import context as context_api
from opentelemetry.context import Context
from opentelemetry.trace import (
    SpanKind,
    Status,
    StatusCode,
    TracerProvider,
    set_span_in_context,
)

from onex_collector.batches import Inflight, decode_batch
from onex_collector.dead_letters import DeadLetterUnavailable, Poison, send_dead_letters
from onex_collector.kafka_clients import (
    KafkaUnavailable,
    consumer_config,
    consumer_lag,
    ensure_dlq_topic,
    producer_config,
)
from onex_collector.metrics import CollectorMetrics
from onex_collector.options import CollectorOptions
from onex_collector.retry import Backoff
from onex_collector.tables import Decoded
from onex_collector.tracing import producing_traces, tracer
from onex_collector.writer import (
    BATCHES_PER_CONNECTION,
    BatchResult,
    DatabaseUnavailable,
    Writer,
)
from onex_otel import conventions as c
from onex_otel.errors import OnexError
from onex_otel.kafka_consumers import commit_stored_offsets

__all__ = ["Collector", "CollectorOptions", "DeadLetterUnavailable", "KafkaUnavailable"]

log = logging.getLogger("onex_collector")

_STOP_POLL_S = 0.2  # longest a blocking call waits before the loop looks at the stop flag again
_LAG_EVERY_S = 2.0
#: What follows offsets left uncommitted (in the warning of a commit skipped or failed).
_UNCOMMITTED = "idempotent redelivery follows"
_INFLIGHT_POLL_S = 0.005
_ERROR_LOG_EVERY_S = 30.0  # a Kafka error repeated (a reconnect every few ms) is logged this often


class _Abandon(OnexError):
    """Shutting down and the batch could not be finished in time: leave it uncommitted."""


class _NotNow(OnexError):
    """Rebalancing: the database cannot take the batch now; it is not waited for."""


class _Revoked(OnexError):
    """Every partition of the batch went to another collector while it was retried: dropped."""


class Collector:
    """Consume the event topics into PostgreSQL until :meth:`request_stop` (or caught up)."""

    def __init__(
        self,
        options: CollectorOptions,
        *,
        metrics: CollectorMetrics | None = None,
        backoff: Backoff | None = None,
        writer: Writer | None = None,
        progress: Callable[[CollectorMetrics], None] | None = None,
        progress_every_s: float = 2.0,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        """Prepare a collector; nothing connects before :meth:`run`.

        ``tracer_provider``: where the batch spans (and psycopg's spans) go; default global.
        """
        self.options = options
        self.metrics = metrics or CollectorMetrics()
        self.backoff = backoff or Backoff(initial=options.retry_initial_s, cap=options.retry_max_s)
        self._tracer = tracer(tracer_provider)
        instrument = options.instrument_db
        if instrument is None:
            instrument = tracer_provider is not None or _global_tracing_configured()
        self.writer = writer or Writer(
            options.conninfo,
            connect_timeout=options.connect_timeout_s,
            statement_timeout_ms=options.statement_timeout_ms,
            instrument=instrument,
            tracer_provider=tracer_provider,
        )
        self._progress = progress
        self._progress_every_s = progress_every_s
        self._stop = threading.Event()
        self._stop_at: float | None = None
        self._consumer: Any = None
        self._producer: Any = None
        self._held: list[Any] = []
        self._pending: list[Any] = []
        self._paused = False
        self._in_process = False
        self._revoking = False
        self._inflight: deque[Inflight] = deque()
        self._eof: set[tuple[str, int]] = set()
        self._assigned: set[tuple[str, int]] = set()
        self._logged_errors: dict[int, float] = {}
        self._interrupted = False

    # -- control ----------------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Finish the batch in hand, commit it and return from :meth:`run` (signal-safe)."""
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
    def _on_kafka_error(self, err: KafkaError) -> None:
        code = err.code()
        if code in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._RESOLVE):
            self.metrics.set_kafka(False, f"{err.name()}: {err.str()}")
        now = time.monotonic()
        if now - self._logged_errors.get(code, -_ERROR_LOG_EVERY_S) >= _ERROR_LOG_EVERY_S:
            self._logged_errors[code] = now  # librdkafka repeats it at every reconnect
            log.warning("kafka: %s", err.str())
        else:
            log.debug("kafka: %s", err.str())

    def _on_commit(self, err: KafkaError | None, _partitions: list[TopicPartition]) -> None:
        if err is None:
            if not self.metrics.kafka_ok:
                self.metrics.set_kafka(True)
        elif err.code() != KafkaError._NO_OFFSET:
            log.warning("offset commit failed (idempotent redelivery follows): %s", err.str())

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        start = self.options.start
        if start == "beginning":
            for tp in partitions:
                tp.offset = OFFSET_BEGINNING
        elif isinstance(start, datetime):
            ms = int(start.timestamp() * 1000)
            query = [TopicPartition(tp.topic, tp.partition, ms) for tp in partitions]
            found = consumer.offsets_for_times(query, timeout=10)
            partitions = [
                TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else -1) for tp in found
            ]
        self._assigned |= {(tp.topic, tp.partition) for tp in partitions}
        consumer.assign(partitions)
        if self._paused:
            consumer.pause(partitions)

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        """Partitions go to another collector: commit what is finished, drop what is not.

        Batches already written (or whose write answers at once) are finished and their offsets
        committed, synchronously, before the partitions go. Unfinished work of the revoked
        partitions (messages read and not yet sent to the database, batches the database could
        not take now) is dropped: its new owner reads it again from the committed offsets, and
        a dropped batch that committed after all changes nothing there (the writes are
        idempotent). Nothing here waits for the database to come back, so a collector whose
        database is away never holds the group's rebalance up.
        """
        gone = {(tp.topic, tp.partition) for tp in partitions}
        self._revoking = True
        try:
            if not self._in_process:
                try:
                    self._finish_inflight()
                except _NotNow as exc:
                    log.warning("batch not written before the rebalance: %s", exc)
                except (_Abandon, KafkaException) as exc:
                    log.warning("batch left uncommitted at rebalance: %s", exc)
            self._final_commit()
        finally:
            self._revoking = False
        self._assigned -= gone
        self._eof -= gone
        kept: deque[Inflight] = deque()
        for batch in self._inflight:
            if batch.offsets.keys() <= gone:  # none of its partitions stays here
                batch.span.set_attribute(c.ATTR_COLLECTOR_DEAD_LETTERED, 0)
                batch.span.end()
                self.metrics.record_revoked(len(batch.messages))
            else:
                kept.append(batch)
        self._inflight = kept
        dropped = [m for m in self._pending + self._held if (m.topic(), m.partition()) in gone]
        if dropped:
            self.metrics.record_revoked(len(dropped))
        self._pending = [m for m in self._pending if (m.topic(), m.partition()) not in gone]
        self._held = [m for m in self._held if (m.topic(), m.partition()) not in gone]
        consumer.unassign()

    # -- main loop --------------------------------------------------------------------------------
    def run(self) -> None:
        """Consume until stopped (or caught up when ``stop_when_idle_s`` is set).

        Raises :class:`KafkaUnavailable` or :class:`~onex_collector.writer.DatabaseUnavailable`
        when a one-shot run cannot reach Kafka or PostgreSQL for ``connect_timeout_s``, and
        ``KeyboardInterrupt`` after a clean stop on Ctrl-C (see the module docstring).
        """
        with self._sigint_stops():
            self._run()
        if self._interrupted:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def _sigint_stops(self) -> Iterator[None]:
        """SIGINT requests a stop within the block (main thread, default handler only).

        A KeyboardInterrupt raised inside librdkafka's ``consume`` surfaces as a SystemError
        ("returned NULL without setting an exception") and skips the final commit.
        """
        if (
            threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        ):
            yield
            return

        def handler(_signum: int, _frame: Any) -> None:
            self._interrupted = True
            self.request_stop()

        signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def _probe_kafka(self, timeout: float) -> bool:
        """Whether a broker answers a metadata request within ``timeout``; health follows."""
        try:
            self._consumer.list_topics(timeout=max(0.1, timeout))
        except KafkaException as exc:
            if self.metrics.kafka_ok:
                self.metrics.set_kafka(
                    False, f"no broker answered: {exc.args[0].str()}" if exc.args else "no broker answered"
                )
            return False
        if not self.metrics.kafka_ok:
            self.metrics.set_kafka(True)
        return True

    def _run(self) -> None:
        opts = self.options
        self._consumer = Consumer(
            consumer_config(opts, error_cb=self._on_kafka_error, on_commit=self._on_commit)
        )
        self._producer = Producer(producer_config(opts, error_cb=self._on_kafka_error))
        # Unknown until a broker answers: health does not say "healthy" before that.
        self.metrics.set_kafka(False, f"connecting to {opts.bootstrap_servers}")
        one_shot = opts.stop_when_idle_s is not None
        kafka_down_since: float | None = None
        first_at: float | None = None
        drained = False  # the last read took every message the consumer had
        polled_at = time.monotonic()  # when the last consume() began
        try:
            started = time.monotonic()
            if not self._probe_kafka(min(opts.connect_timeout_s, 5.0)) and one_shot:
                self._give_up_unless_kafka(started)
            if one_shot and not self._any_topic_exists():
                return  # nothing to read: no partition would ever be assigned
            ensure_dlq_topic(self.options)
            self._open_writer()
            self._consumer.subscribe(
                sorted(opts.topic_types), on_assign=self._on_assign, on_revoke=self._on_revoke
            )
            self.metrics.running = True
            last_message = time.monotonic()
            next_lag = next_progress = time.monotonic()
            while True:
                if self._held:
                    self._pending.extend(self._held)
                    self._held = []
                while self._inflight and self._inflight[0].pending.done():
                    self._finish_oldest()
                now = time.monotonic()
                if self._pending and first_at is None:
                    # The batch's clock starts when its first message may have arrived: when the
                    # consume() that returned it began (BATCH_TIMEOUT_MS bounds its whole wait).
                    first_at = polled_at
                elif not self._pending:
                    first_at = None  # (a rebalance may have dropped the batch being gathered)
                due = (
                    bool(self._pending)
                    and first_at is not None
                    and (
                        len(self._pending) >= opts.batch_size
                        or now - first_at >= opts.batch_timeout_ms / 1000
                        or (drained and not self._inflight and opts.eager_batches)
                        or self.stopping
                    )
                )
                if due:
                    pending, self._pending = self._pending, []
                    first_at = None
                    self._submit(pending)
                    self.metrics.set_pending(len(self._pending))
                    continue
                if self.stopping:
                    self._finish_inflight()
                    break
                if now >= next_lag:
                    self._update_lag()
                    next_lag = now + _LAG_EVERY_S
                if self._progress is not None and now >= next_progress:
                    self._progress(self.metrics)
                    next_progress = now + self._progress_every_s
                # While a batch is in flight, look back soon to commit it without delay.
                # consume() returns when it has the messages asked for or the wait is over: a
                # message arriving in an empty batch waits no longer than the batch timeout.
                wait = min(_INFLIGHT_POLL_S if self._inflight else _STOP_POLL_S, opts.batch_timeout_ms / 1000)
                if first_at is not None:
                    wait = max(0.0, min(wait, first_at + opts.batch_timeout_ms / 1000 - now))
                polled_at = time.monotonic()
                msgs, drained = self._gather(wait)
                if self._accept(msgs):
                    last_message = time.monotonic()
                self.metrics.set_pending(len(self._pending))
                if one_shot and not self.stopping:
                    if self.metrics.kafka_ok:
                        kafka_down_since = None
                    elif kafka_down_since is None:
                        kafka_down_since = time.monotonic()
                    elif time.monotonic() - kafka_down_since >= opts.connect_timeout_s:
                        self._give_up_unless_kafka(kafka_down_since)
                if (
                    opts.stop_when_idle_s is not None
                    and not self._pending
                    and not self._inflight
                    and self._assigned
                    and self._assigned <= self._eof
                    and time.monotonic() - last_message >= opts.stop_when_idle_s
                ):
                    break
        except _Abandon as exc:
            log.warning("stopping with a batch left uncommitted (it will be redelivered): %s", exc)
        finally:
            self.metrics.running = False
            for abandoned in self._inflight:  # left uncommitted: redelivered later
                abandoned.span.end()
            self._inflight.clear()
            self._close()
        if self._progress is not None:
            self._progress(self.metrics)

    def _open_writer(self) -> None:
        """Open the database connections before any partition is assigned (best effort).

        The first batches then wait for no connection; a database not reachable now is retried
        by the batches, as at any other time.
        """
        try:
            self.writer.open(self.options.db_writers)
        except DatabaseUnavailable as exc:
            log.info("PostgreSQL not reachable at start (the batches retry): %s", exc)

    def _any_topic_exists(self) -> bool:
        """Whether any subscribed topic exists (a one-shot run on an empty cluster ends)."""
        try:
            meta = self._consumer.list_topics(timeout=self.options.connect_timeout_s)
        except KafkaException:
            return True  # unknown: the run's own bounds apply
        if set(meta.topics) & set(self.options.topic_types):
            return True
        log.warning(
            "none of the %d topics exists on %s: nothing to read",
            len(self.options.topic_types),
            self.options.bootstrap_servers,
        )
        return False

    def _give_up_unless_kafka(self, since: float) -> None:
        """A one-shot run: wait for Kafka until ``connect_timeout_s`` after ``since``, or raise."""
        timeout = self.options.connect_timeout_s
        while True:
            left = since + timeout - time.monotonic()
            if self._probe_kafka(min(1.0, max(0.1, left))):
                return
            if self.stopping:
                return
            if left <= 0:
                break
        reason = self.metrics.kafka_reason or "unreachable"
        raise KafkaUnavailable(
            f"no Kafka broker answered at {self.options.bootstrap_servers} for {timeout:g}s ({reason})"
        )

    def _gather(self, wait: float) -> tuple[list[Any], bool]:
        """Messages for the batch being gathered, waiting at most ``wait`` s; and whether drained.

        An empty batch waits for its first message only (``poll`` returns when one arrives),
        then takes what else the consumer has fetched without waiting; a batch already started
        waits for more until ``wait`` is over or it is full. Drained: fewer messages came than
        were asked for, so nothing more is waiting in the consumer and, with no batch in flight
        (``eager_batches``), the loop writes the partial batch at once instead of waiting out the
        batch timeout (under load batches still fill: the writer is busy while they gather).
        """
        assert self._consumer is not None
        room = max(1, self.options.batch_size - len(self._pending))
        if self._pending:
            msgs = self._consumer.consume(num_messages=room, timeout=wait)
        else:
            first = self._consumer.poll(wait)
            if first is None:
                return [], True
            msgs = [first]
            if room > 1:
                msgs.extend(self._consumer.consume(num_messages=room - 1, timeout=0))
        return msgs, len(msgs) < room

    def _accept(self, msgs: list[Any]) -> bool:
        """Add the messages to the batch being gathered (errors handled); whether any was."""
        if any(msg.error() is not None for msg in msgs):
            accepted = self._accept_each(msgs)
        else:  # (the common case: every message in one step rather than one by one)
            self._pending.extend(msgs)
            accepted = bool(msgs)
            if self._eof:  # only ever filled when replaying (partition EOF events)
                self._eof.difference_update((msg.topic(), msg.partition()) for msg in msgs)
        if accepted and not self.metrics.kafka_ok:
            self.metrics.set_kafka(True)
        return accepted

    def _accept_each(self, msgs: list[Any]) -> bool:
        """:meth:`_accept` message by message, in order (an error among them is handled)."""
        accepted = False
        for msg in msgs:
            err = msg.error()
            if err is None:
                self._pending.append(msg)
                accepted = True
                if self._eof:  # only ever filled when replaying (partition EOF events)
                    self._eof.discard((msg.topic(), msg.partition()))
            else:
                self._consumer_error(msg, err)
        return accepted

    def _consumer_error(self, msg: Any, err: KafkaError) -> None:
        if err.code() == KafkaError._PARTITION_EOF:
            self._eof.add((msg.topic(), msg.partition()))
        elif err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            log.debug("subscribed topic not available yet: %s", err.str())
        elif err.fatal():
            raise KafkaException(err)
        else:
            log.warning("kafka consumer: %s", err.str())

    def _final_commit(self, stopping: bool = False) -> None:
        """Commit the stored offsets now (not while Kafka is known to be away)."""
        if self._consumer is not None:
            commit_stored_offsets(self._consumer, self.metrics.kafka_ok, log, _UNCOMMITTED, stopping=stopping)

    def _close(self) -> None:
        if self._consumer is not None:
            self._final_commit(stopping=True)
            try:
                self._consumer.close()
            except (KafkaException, RuntimeError) as exc:
                log.warning("closing the consumer: %s", exc)
            self._consumer = None
        if self._producer is not None:
            self._producer.flush(5)
            self._producer = None
        self.writer.close()

    # -- one batch --------------------------------------------------------------------------------
    # A batch is decoded on the loop's thread, then handed to the writer, which sends it and
    # returns at once (Writer.start: ``db_writers`` connections, each with up to
    # BATCHES_PER_CONNECTION batches queued, each batch its own transaction) while the loop reads
    # and decodes the next ones.
    # Results are handled (dead letters, offsets) on the loop's thread in consumption order, the
    # oldest batch first, so offsets are committed in order and only past rows already committed
    # to PostgreSQL.
    def _submit(self, messages: Sequence[Any]) -> None:
        started = time.perf_counter()
        batch = decode_batch(messages, self.options.topic_types)
        events, poison, offsets = batch.events, batch.poison, batch.offsets
        while len(self._inflight) >= max(1, self.options.db_writers) * BATCHES_PER_CONNECTION:
            self._finish_oldest()  # written while we decoded this batch
        span = self._tracer.start_span(c.SPAN_COLLECTOR_BATCH, kind=SpanKind.CONSUMER)
        if span.is_recording():  # (tracing configured: read the producers' traceparent headers)
            for producer in producing_traces(m.headers() for m in messages):
                span.add_link(producer)
        span.set_attribute(c.ATTR_COLLECTOR_BATCH_SIZE, len(messages))
        ctx = set_span_in_context(span)
        token = context_api.attach(ctx)
        try:
            pending = self.writer.start(events, writers=self.options.db_writers)
        finally:
            context_api.detach(token)
        self._inflight.append(
            Inflight(list(messages), offsets, events, batch.sources, poison, pending, span, ctx, started)
        )

    def _finish_inflight(self) -> None:
        """Finish every batch in flight, oldest first."""
        while self._inflight:
            self._finish_oldest()

    def _finish_oldest(self) -> None:
        """Wait for the oldest batch in flight; retry it while the database is away; DLQ; commit.

        While rebalancing (:meth:`_on_revoke`) a batch the database cannot take now stays at the
        head of the queue (:class:`_NotNow`); a batch whose partitions were all revoked while it
        was retried is dropped, uncommitted (its new owner writes it).
        """
        inflight = self._inflight[0]
        self._in_process = True
        span = inflight.span
        finished = True
        try:
            events = inflight.events
            try:
                result = inflight.pending.result()
                self._database_ok()
            except DatabaseUnavailable as exc:
                if self._revoking:
                    finished = False
                    raise _NotNow(str(exc)) from exc
                self._inflight.popleft()
                try:
                    result = self._write_retrying(
                        events, inflight.ctx, first_error=exc, partitions=inflight.offsets.keys()
                    )
                except _Revoked:
                    self.metrics.record_revoked(len(inflight.messages))
                    log.info("batch dropped: its partitions went to another collector")
                    return
            else:
                self._inflight.popleft()
            poison = list(inflight.poison)
            for rejected in result.rejected:
                msg = inflight.sources[rejected.index]
                poison.append((msg, rejected.error_class, rejected.message, c.DLQ_STAGE_DATABASE))
            span.set_attribute(c.ATTR_COLLECTOR_ROWS_INSERTED, result.rows_inserted)
            span.set_attribute(c.ATTR_COLLECTOR_DEAD_LETTERED, len(poison))
            if poison:
                span.set_status(Status(StatusCode.ERROR, f"{len(poison)} message(s) dead-lettered"))
                self._dead_letter_retrying(poison)
            self._store_offsets(inflight.offsets)
            ms = (time.perf_counter() - inflight.started) * 1000
            self.metrics.record_batch(
                consumed=len(inflight.messages),
                inserted=len(inflight.events) - len(result.rejected),
                rows=result.rows_inserted,
                failed=len(poison),
                ms=ms,
            )
        finally:
            if finished:
                span.end()
            self._in_process = False

    def _wait(self, delay: float) -> None:
        """Sleep ``delay`` seconds while keeping the consumer alive (paused partitions)."""
        deadline = time.monotonic() + delay
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self._past_deadline():
                return
            msg = self._consumer.poll(min(left, _STOP_POLL_S)) if self._consumer else None
            if msg is not None and msg.error() is None:
                self._held.append(msg)  # fetched before the pause took effect: keep it in order
            elif msg is None and self._consumer is None:
                time.sleep(min(left, _STOP_POLL_S))

    def _pause(self) -> None:
        if not self._paused and self._consumer is not None:
            self._paused = True
            self._consumer.pause(self._consumer.assignment())

    def _resume(self) -> None:
        if self._paused and self._consumer is not None:
            self._paused = False
            self._consumer.resume(self._consumer.assignment())

    def _database_ok(self) -> None:
        if not self.metrics.database_ok:
            self.metrics.set_database(True)
        self.backoff.reset()
        self._resume()

    def _write_retrying(
        self,
        events: list[Decoded],
        ctx: Context,
        first_error: DatabaseUnavailable,
        partitions: Collection[tuple[str, int]] = (),
    ) -> BatchResult:
        error: DatabaseUnavailable | None = first_error
        since = time.monotonic()
        while True:
            if partitions and self._assigned.isdisjoint(partitions):
                raise _Revoked()
            try:
                if error is not None:
                    raise error
                result = self.writer.write_in_context(ctx, events)
            except DatabaseUnavailable as exc:
                error = None
                self.metrics.set_database(False, str(exc))
                if self._past_deadline():
                    raise _Abandon(str(exc)) from exc
                if self._one_shot_gives_up(since):
                    raise  # replay: the outage is the run's error (the batch stays uncommitted)
                self._pause()
                delay = self.backoff.next_delay()
                log.warning("database unavailable, retrying in %.2fs: %s", delay, exc)
                self._wait(delay)
                continue
            self._database_ok()
            return result

    def _one_shot_gives_up(self, since: float) -> bool:
        """Whether a one-shot run stops retrying an outage that began at ``since``."""
        return (
            self.options.stop_when_idle_s is not None
            and not self.stopping
            and time.monotonic() - since >= self.options.connect_timeout_s
        )

    def _dead_letter_retrying(self, poison: list[Poison]) -> None:
        since = time.monotonic()
        while True:
            try:
                self._dead_letter(poison)
                return
            except DeadLetterUnavailable as exc:
                self.metrics.set_kafka(False, str(exc))
                if self._past_deadline():
                    raise _Abandon(str(exc)) from exc
                if self._one_shot_gives_up(since):
                    raise KafkaUnavailable(str(exc)) from exc
                self._pause()
                self._wait(self.backoff.next_delay())
        # unreachable

    def _dead_letter(self, poison: list[Poison]) -> None:
        send_dead_letters(self._producer, self.options.dlq_topic, poison)

    def _store_offsets(self, last: dict[tuple[str, int], int]) -> None:
        """Mark a batch processed: its ``last`` offsets per partition go out with the next commit.

        While running, librdkafka commits the stored offsets every ``commit_interval_ms`` (one
        request for many batches; a commit lost in a crash only means an idempotent
        redelivery). Draining and rebalancing commit them at once and wait for the answer.
        """
        offsets = [TopicPartition(t, p, off + 1) for (t, p), off in sorted(last.items())]
        try:
            self._consumer.store_offsets(offsets=offsets)
        except KafkaException as exc:  # partition no longer assigned (rebalance)
            log.warning("storing offsets: %s", exc)
        if self.stopping or self._revoking:
            self._final_commit()

    # -- housekeeping -----------------------------------------------------------------------------
    def _update_lag(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        if not self.metrics.kafka_ok:
            try:  # is the broker back? (cheap metadata request)
                consumer.list_topics(timeout=0.5)
                self.metrics.set_kafka(True)
            except KafkaException:
                return
        try:
            lag = consumer_lag(consumer)
            if lag is not None:
                self.metrics.set_lag(lag)
        except (KafkaException, RuntimeError) as exc:
            log.debug("lag: %s", exc)


def _global_tracing_configured() -> bool:
    """Whether a real tracer provider is installed globally (not the API's no-op proxy)."""
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)
