"""Write decoded events to PostgreSQL: one transaction per batch, the fast way.

Fast path: one statement, one round trip per batch. The batch's rows travel as a single JSONB
document to ``onex_ingest`` (migration 0003), which inserts them table by table with
``INSERT ... SELECT <typed columns> FROM jsonb_array_elements(...) ON CONFLICT DO NOTHING``
(idempotent: a redelivered event adds nothing) and recomputes the ``agent_execution_logs`` rows of
the executions that got new lifecycle events. On the writer's autocommit connection that statement
is its own transaction: the whole batch commits, or none of it.

A row the database rejects (SQLSTATE class 22 "data exception" or 23 "integrity constraint
violation", or psycopg refusing a value such as a NUL character) makes the fast path fail as a
whole; the batch is then written again event by event, each under a savepoint, so the rejected
events are isolated (returned to the caller for the dead-letter topic) and all the others commit
in the same transaction.

Anything else (connection lost, server shutting down, missing table) is a
:class:`DatabaseUnavailable`: nothing is committed and the caller retries the same batch later.

:meth:`Writer.start` begins a batch without waiting for it: the fast path's statement is sent and
its answer collected later (:class:`PendingWrite`), so the caller's thread decodes the next batches
meanwhile, without writer threads contending for the GIL. Up to ``writers`` connections are used,
in libpq's pipeline mode: each holds up to :data:`BATCHES_PER_CONNECTION` statements, each
followed by a sync point, so it is still one transaction per batch and a failing batch does not
touch the next; the server starts a connection's next batch as soon as it has finished one. Anything
but a clean answer (a rejected row, a deadlock, a lost connection) is settled by
:meth:`Writer.write` when the result is asked for. A traced writer (psycopg instrumentation) and a
subclass that overrides :meth:`Writer.write` run ``write`` on a small thread pool instead, so
their spans and behaviour are the same.
"""

from __future__ import annotations

import contextlib
import json
import select
import threading
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import psycopg
import pydantic_core
from opentelemetry import context as context_api
from opentelemetry.context import Context
from psycopg import pq, sql
from psycopg.conninfo import conninfo_to_dict

from onex_collector.rows import JSON_COLUMNS, TABLE_COLUMNS, Decoded, Row
from onex_otel import conventions as c
from onex_otel.errors import OnexError

__all__ = [
    "BATCHES_PER_CONNECTION",
    "TCP_KEEPALIVES",
    "BatchResult",
    "DatabaseUnavailable",
    "PendingWrite",
    "Rejected",
    "Writer",
    "batch_document",
    "is_row_rejection",
]


class DatabaseUnavailable(OnexError):
    """The database could not take the batch now (not the batch's fault); retry later."""


@dataclass(frozen=True)
class Rejected:
    """An event whose rows the database refused."""

    index: int  # position in the batch passed to Writer.write
    error_class: str
    message: str


@dataclass
class BatchResult:
    """What a committed batch did."""

    rows_inserted: int = 0
    executions_updated: int = 0
    rejected: list[Rejected] = field(default_factory=list)


class PendingWrite(Protocol):
    """A batch handed to :meth:`Writer.start`, being written."""

    def done(self) -> bool:
        """Whether :meth:`result` would return (or raise) without waiting."""
        ...

    def result(self) -> BatchResult:
        """Wait for the batch; what :meth:`Writer.write` returns or raises for it."""
        ...


def is_row_rejection(exc: BaseException) -> bool:
    """Whether ``exc`` is the database refusing a row's data (not an outage)."""
    if isinstance(exc, psycopg.DataError | psycopg.IntegrityError):
        return True  # also raised client-side, e.g. a NUL character psycopg cannot send
    return _sqlstate(exc)[:2] in ("22", "23")


def _unavailable(exc: psycopg.Error) -> DatabaseUnavailable:
    """What the collector is told when the database did not take a batch (not its fault)."""
    hint = ""
    if _sqlstate(exc) in _SCHEMA_MISSING:
        hint = " (the schema is not up to date: run `onex-otel db migrate`)"
    return DatabaseUnavailable(f"PostgreSQL: {_one_line(exc)}{hint}")


def _sqlstate(exc: BaseException) -> str:
    """The exception's SQLSTATE ("" when it has none, e.g. a client-side error)."""
    sqlstate = getattr(exc, "sqlstate", None)
    return sqlstate if isinstance(sqlstate, str) else ""


def _json_default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _db_values(row: Row) -> tuple[Any, ...]:
    json_cols = JSON_COLUMNS[row.table]
    if not json_cols:
        return row.values
    names = TABLE_COLUMNS[row.table]
    return tuple(
        json.dumps(v, separators=(",", ":"), default=_json_default)
        if name in json_cols and v is not None
        else v
        for name, v in zip(names, row.values, strict=True)
    )


#: libpq's TCP keepalive settings of the writer's connections, unless the conninfo sets them:
#: a server gone silent is given up after about a minute (not the kernel's 2 hours or more).
TCP_KEEPALIVES: Final[dict[str, int]] = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,  # ms unacknowledged data may wait
}

#: The fast path: the whole batch as one JSONB document, one statement (migration 0003).
_INGEST = "SELECT rows_inserted, executions_updated FROM onex_ingest(%s::jsonb)"
#: The same, prepared on each pipelined connection (parsed and planned once, not per batch).
_INGEST_NAME = "onex_ingest"
_INGEST_PREPARED = _INGEST_NAME.encode()
_PREPARE_INGEST = f"PREPARE {_INGEST_NAME} (jsonb) AS {_INGEST.replace('%s::jsonb', '$1')}"
_SELECT_INTERVAL_S = 0.2
#: Batches :meth:`Writer.start` queues on one connection (libpq pipeline mode).
BATCHES_PER_CONNECTION = 2
_REBUILD = "SELECT onex_rebuild_execution_logs_locked(%s::uuid[])"
_CLAIM = "SELECT onex_claim_event_id(%s, %s)"
#: The column holding a row's time, in each table (its partition key, migration 0008).
_TIME_COLUMNS = frozenset({"created_at", "occurred_at"})
_ROLLBACK_RETRIES = 3
#: undefined_function, undefined_table: migrations not applied (retried: they may be under way).
_SCHEMA_MISSING = frozenset({"42883", "42P01"})


def batch_document(events: Sequence[Decoded]) -> str:
    """The rows of ``events`` as the JSON document ``onex_ingest`` takes.

    ``{"<table>": [[value, ...], ...]}``: each row the array of its values in
    :data:`TABLE_COLUMNS` order; UUIDs and timestamps as canonical / RFC 3339 strings, JSONB
    columns as nested JSON (pydantic-core's serializer, no per-value Python work).
    """
    by_table: dict[str, list[tuple[Any, ...]]] = {}
    for event in events:
        for row in event.rows:
            rows = by_table.get(row.table)
            if rows is None:
                rows = by_table[row.table] = []
            rows.append(row.values)
    return pydantic_core.to_json(by_table).decode()


class Writer:
    """Writes batches of :class:`Decoded` events; thread-safe.

    Each :meth:`write` runs on a connection of its own, taken from a small pool (opened on demand,
    reopened after a failure), so several threads can write batches at once, each in its own
    transaction.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        connect_timeout: float = 5.0,
        statement_timeout_ms: int = 60_000,
        instrument: bool = False,
        tracer_provider: Any = None,
    ):
        """Prepare a writer for ``conninfo``; connections open at the first write.

        ``statement_timeout_ms``: longest a batch's statement may run (a lock held elsewhere, a
        stuck server) before PostgreSQL cancels it and the batch counts as not written
        (:class:`DatabaseUnavailable`: retried); 0: no limit. ``instrument``: trace the
        connections with opentelemetry-instrumentation-psycopg (spans from ``tracer_provider``,
        default the global one).
        """
        self.conninfo = conninfo
        self.connect_timeout = connect_timeout
        self.statement_timeout_ms = statement_timeout_ms
        self.instrument = instrument
        self.tracer_provider = tracer_provider
        self._idle: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()
        self._generation = 0  # close() retires the connections in use when they come back
        self._threads: ThreadPoolExecutor | None = None
        self._channels: list[_Channel] = []  # pipelined connections of start()

    # -- connections --------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = None
        try:
            given = conninfo_to_dict(self.conninfo)
            # A server that vanished (no FIN, no RST) is noticed instead of waited for.
            keepalives: dict[str, Any] = {
                k: v for k, v in TCP_KEEPALIVES.items() if k not in given
            }
            conn = psycopg.connect(
                self.conninfo,
                autocommit=True,  # the fast path's single statement is its own transaction
                connect_timeout=max(1, int(self.connect_timeout)),
                application_name="onex-otel-collector",
                **keepalives,
            )
            # Timestamps without an offset are UTC (as OnexEnvelopeV1 reads them), whatever the
            # server's default time zone (see onex_collector.fastpath).
            conn.execute("SET TIME ZONE 'UTC'")
            if self.statement_timeout_ms > 0:
                conn.execute(
                    sql.SQL("SET statement_timeout = {}").format(int(self.statement_timeout_ms))
                )
        except psycopg.Error as exc:
            if conn is not None:
                _close_quietly(conn)
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {_one_line(exc)}") from exc
        if self.instrument:
            from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

            conn = PsycopgInstrumentor.instrument_connection(
                conn, tracer_provider=self.tracer_provider
            )
        return conn

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection for this thread alone until the block ends."""
        with self._lock:
            conn = self._idle.pop() if self._idle else None
            generation = self._generation
        if conn is None or conn.closed or conn.broken:
            conn = self._connect()
        try:
            yield conn
        finally:
            with self._lock:
                keep = generation == self._generation and not (conn.closed or conn.broken)
                if keep:
                    self._idle.append(conn)
            if not keep:
                _close_quietly(conn)

    def ping(self) -> bool:
        """Whether the database answers a trivial query now."""
        try:
            with self._connection() as conn:
                conn.execute("SELECT 1")
            return True
        except (psycopg.Error, DatabaseUnavailable):
            return False

    def close(self) -> None:
        """Close the connections (a later write reconnects).

        Batches started and not finished are abandoned: nothing tells whether they committed
        (they are idempotent; the caller writes them again). Threaded writes under way finish
        first.
        """
        if self._threads is not None:
            self._threads.shutdown(wait=True)
            self._threads = None
        channels, self._channels = self._channels, []
        for channel in channels:
            channel.close()
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
        for conn in idle:
            _close_quietly(conn)

    # -- writing ------------------------------------------------------------------------------
    def start(self, events: Sequence[Decoded], *, writers: int = 2) -> PendingWrite:
        """Begin writing ``events`` in one transaction; the result comes from the returned object.

        Without instrumentation the fast path's statement is sent now, on the least busy of up
        to ``writers`` pipelined connections, and answered while the caller goes on (no
        thread). With psycopg instrumentation, or when a subclass overrides :meth:`write`,
        :meth:`write` runs on a thread pool of up to ``writers`` threads, in the caller's
        OpenTelemetry context.
        """
        if self.instrument or type(self).write is not Writer.write:
            return self._start_threaded(events, writers)
        if not events:
            return _Finished(BatchResult())
        try:
            channel = self._channel(writers)
        except DatabaseUnavailable as exc:
            return _Finished(exc)
        return channel.send(events)

    def _channel(self, writers: int) -> _Channel:
        """The pipelined connection with the fewest batches queued (a new one while allowed)."""
        channel = min(self._channels, key=_Channel.queued, default=None)
        if channel is None or (channel.queued() and len(self._channels) < max(1, writers)):
            channel = _Channel(self, self._connect())
            self._channels.append(channel)
        return channel

    def _start_threaded(self, events: Sequence[Decoded], writers: int) -> PendingWrite:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(
                max(1, writers), thread_name_prefix="onex-collector-db"
            )
        future: Future[BatchResult] = self._threads.submit(
            self.write_in_context, context_api.get_current(), events
        )
        return future

    def write_in_context(self, ctx: Context, events: Sequence[Decoded]) -> BatchResult:
        """:meth:`write` with ``ctx`` as the current OpenTelemetry context (its spans beneath)."""
        token = context_api.attach(ctx)
        try:
            return self.write(events)
        finally:
            context_api.detach(token)

    def write(self, events: Sequence[Decoded]) -> BatchResult:
        """Write ``events`` in one transaction; return what was done.

        Raises :class:`DatabaseUnavailable` when nothing could be committed for a reason that is
        not the events' fault.
        """
        if not events:
            return BatchResult()
        with self._connection() as conn:
            try:
                return self._write(conn, events)
            except psycopg.Error as exc:
                raise _unavailable(exc) from exc

    def _write(self, conn: psycopg.Connection[Any], events: Sequence[Decoded]) -> BatchResult:
        for attempt in range(_ROLLBACK_RETRIES + 1):
            try:
                return self._write_fast(conn, events)
            except psycopg.Error as exc:
                if conn.broken:
                    raise
                if _sqlstate(exc)[:2] == "40" and attempt < _ROLLBACK_RETRIES:
                    # A deadlock with a concurrent batch (the same events in both): nothing of
                    # this batch was kept; write it again.
                    continue
                if not is_row_rejection(exc):
                    raise
                break
        with conn.transaction():
            return self._write_isolating(conn, events)

    def _write_fast(self, conn: psycopg.Connection[Any], events: Sequence[Decoded]) -> BatchResult:
        """The whole batch in one statement (its own transaction on the autocommit connection)."""
        row = conn.execute(_INGEST, (batch_document(events),)).fetchone()
        if row is None:  # pragma: no cover - the function always returns one row
            return BatchResult()
        return BatchResult(rows_inserted=int(row[0]), executions_updated=int(row[1]))

    def _rebuild(self, cur: psycopg.Cursor[Any], events: Sequence[Decoded]) -> int:
        ids = sorted({e.execution_id for e in events if e.execution_id is not None})
        if not ids:
            return 0
        cur.execute(_REBUILD, (ids,))
        row = cur.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def _write_isolating(
        self, conn: psycopg.Connection[Any], events: Sequence[Decoded]
    ) -> BatchResult:
        """Event by event under savepoints: rejected events are reported, the rest written."""
        result = BatchResult()
        good: list[Decoded] = []
        with conn.cursor() as cur:
            for index, event in enumerate(events):
                try:
                    with conn.transaction():
                        for row in event.rows:
                            result.rows_inserted += self._insert_one(cur, row)
                except psycopg.Error as exc:
                    if not is_row_rejection(exc) or conn.broken:
                        raise
                    result.rejected.append(
                        Rejected(index, type(exc).__name__, _one_line(exc))
                    )
                    continue
                good.append(event)
            result.executions_updated = self._rebuild(cur, good)
        return result

    def _insert_one(self, cur: psycopg.Cursor[Any], row: Row) -> int:
        columns = TABLE_COLUMNS[row.table]
        event_id = row.values[0]
        if isinstance(event_id, uuid.UUID) and event_id.version == 5:
            # A name-based id may come again with another time: its row is written by the
            # caller that claims it, once (migration 0010; under the caller's savepoint).
            at = next(v for name, v in zip(columns, row.values, strict=True)
                      if name in _TIME_COLUMNS)
            claimed = cur.execute(_CLAIM, (event_id, at)).fetchone()
            if not (claimed and claimed[0]):
                return 0
        query = sql.SQL(
            # No conflict target: the primary key is the event id, with the row's time where
            # the table is partitioned (migration 0008).
            "INSERT INTO {table} ({cols}) VALUES ({vals}) ON CONFLICT DO NOTHING"
        )
        cur.execute(
            query.format(
                table=sql.Identifier(row.table),
                cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
                vals=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
            ),
            _db_values(row),
        )
        return max(cur.rowcount, 0)


class _Finished:
    """A :class:`PendingWrite` settled at once."""

    def __init__(self, outcome: BatchResult | DatabaseUnavailable) -> None:
        self._outcome = outcome

    def done(self) -> bool:
        return True

    def result(self) -> BatchResult:
        if isinstance(self._outcome, DatabaseUnavailable):
            raise self._outcome
        return self._outcome


class _Channel:
    """A connection in libpq pipeline mode: batches queued on it and answered in order.

    Each batch is its statement followed by a sync point: its own implicit transaction, and an
    error ends with that sync, so the batches behind it are unaffected. Driven by the thread
    that starts and reads the batches; non-blocking, so a large batch never stalls that thread.
    """

    def __init__(self, writer: Writer, conn: psycopg.Connection[Any]) -> None:
        self._writer = writer
        self._conn = conn
        self._pgconn = conn.pgconn
        self._batches: deque[_SentBatch] = deque()
        self._results: list[pq.abc.PGresult] = []  # of the oldest batch's statement, so far
        self._unsent = False  # output still in libpq's buffer
        try:
            conn.execute(_PREPARE_INGEST)
            self._pgconn.nonblocking = 1
            self._pgconn.enter_pipeline_mode()
        except psycopg.Error as exc:
            _close_quietly(conn)
            raise _unavailable(exc) from exc

    def queued(self) -> int:
        """Batches sent and not answered yet."""
        return len(self._batches)

    def send(self, events: Sequence[Decoded]) -> _SentBatch:
        sent = _SentBatch(self._writer, events, self)
        try:
            document = batch_document(events).encode(self._conn.info.encoding)
        except UnicodeEncodeError:
            sent.settle(None)  # write() settles it, isolating what the server cannot take
            return sent
        self._batches.append(sent)
        try:
            self._pgconn.send_query_prepared(_INGEST_PREPARED, [document])
            self._pgconn.pipeline_sync()
            self._unsent = self._pgconn.flush() != 0
        except psycopg.Error:
            self.close()  # every batch queued here, this one included, goes to write()
        return sent

    def read(self) -> None:
        """Read what has arrived; settle the batches whose whole answer is in."""
        pgconn = self._pgconn
        try:
            if self._unsent:
                self._unsent = pgconn.flush() != 0
            pgconn.consume_input()
            ended = False  # the end of a statement's results seen; its sync point follows
            while self._batches and not pgconn.is_busy():
                res = pgconn.get_result()
                if res is None:
                    if ended:
                        break  # nothing more has arrived
                    ended = True
                    continue
                ended = False
                if res.status != pq.ExecStatus.PIPELINE_SYNC:
                    self._results.append(res)
                    continue
                results, self._results = self._results, []
                self._batches.popleft().settle(_answer(results))
        except psycopg.Error:
            self.close()

    def wait(self) -> None:
        """Wait (bounded) until the server has something to read or room for what is unsent."""
        sock = self._pgconn.socket
        select.select([sock], [sock] if self._unsent else [], [], _SELECT_INTERVAL_S)

    def close(self) -> None:
        """Close the connection (lost, out of step, or the writer closing).

        Its unanswered batches are settled as not clean: asked for, they go to write() (their
        statements were their own transactions, so writing them again changes nothing kept).
        """
        if self in self._writer._channels:
            self._writer._channels.remove(self)
        batches, self._batches = self._batches, deque()
        for sent in batches:
            sent.settle(None)
        _close_quietly(self._conn)


def _answer(results: list[pq.abc.PGresult]) -> BatchResult | None:
    """The batch's result from its statement's answer; None unless it ran cleanly."""
    if len(results) != 1 or results[0].status != pq.ExecStatus.TUPLES_OK:
        return None
    res = results[0]
    return BatchResult(
        rows_inserted=int(res.get_value(0, 0) or 0),
        executions_updated=int(res.get_value(0, 1) or 0),
    )


class _SentBatch:
    """A batch whose fast-path statement was sent on a :class:`_Channel`, not answered yet.

    Anything but a clean answer (an error, a lost connection) is settled by
    :meth:`Writer.write`: the statement was its own transaction, so nothing of the batch was
    kept and writing it again changes nothing that was.
    """

    def __init__(self, writer: Writer, events: Sequence[Decoded], channel: _Channel) -> None:
        self._writer = writer
        self._events = events
        self._channel: _Channel | None = channel
        self._answer: BatchResult | None = None

    def settle(self, answer: BatchResult | None) -> None:
        """Answered (None: not cleanly; write() settles the batch)."""
        self._channel = None
        self._answer = answer

    def done(self) -> bool:
        if self._channel is not None:
            self._channel.read()
        return self._channel is None

    def result(self) -> BatchResult:
        while (channel := self._channel) is not None:
            channel.read()
            if self._channel is not None:
                channel.wait()
        if self._answer is not None:
            return self._answer
        return self._writer.write(self._events)  # error, rejected row, lost connection


def _close_quietly(conn: psycopg.Connection[Any]) -> None:
    with contextlib.suppress(Exception):  # closing a broken connection may fail
        conn.close()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:500]


# Tables the writer knows, for callers that want to list or truncate them.
WRITTEN_TABLES: tuple[str, ...] = tuple(TABLE_COLUMNS)
LOG_TABLE: str = c.TABLE_EXECUTION_LOGS
