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
meanwhile, without writer threads contending for the GIL; the connections in libpq's pipeline mode
this takes are :mod:`onex_collector.pipeline`'s. A traced writer (psycopg instrumentation) and a
subclass that overrides :meth:`Writer.write` run ``write`` on a small thread pool instead, so
their spans and behaviour are the same. The statement and its document: :mod:`onex_collector.ingest`;
what a write comes to and how a rejected row is told from an outage:
:mod:`onex_collector.write_outcomes`.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final

import psycopg
from opentelemetry import context as context_api
from opentelemetry.context import Context
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from onex_collector.ingest import INGEST, batch_document, db_values
from onex_collector.pipeline import BATCHES_PER_CONNECTION, Channel
from onex_collector.tables import TABLE_COLUMNS, Decoded, Row
from onex_collector.write_outcomes import (
    BatchResult,
    DatabaseUnavailable,
    Finished,
    PendingWrite,
    Rejected,
    close_quietly,
    is_row_rejection,
    one_line,
    sqlstate,
    unavailable,
)
from onex_otel import conventions as c

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

#: The name :func:`~onex_collector.ingest.db_values` had before the split (benchmarks use it).
_db_values = db_values

#: libpq's TCP keepalive settings of the writer's connections, unless the conninfo sets them:
#: a server gone silent is given up after about a minute (not the kernel's 2 hours or more).
TCP_KEEPALIVES: Final[dict[str, int]] = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,  # ms unacknowledged data may wait
}
_REBUILD = "SELECT onex_rebuild_execution_logs_locked(%s::uuid[])"
_CLAIM = "SELECT onex_claim_event_id(%s, %s)"
#: The column holding a row's time, in each table (its partition key, migration 0008).
_TIME_COLUMNS = frozenset({"created_at", "occurred_at"})
_ROLLBACK_RETRIES = 3


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
        """Prepare a writer for ``conninfo``; connections open at the first write (or :meth:`open`).

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
        self._channels: list[Channel] = []  # pipelined connections of start()

    # -- connections --------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = None
        try:
            given = conninfo_to_dict(self.conninfo)
            # A server that vanished (no FIN, no RST) is noticed instead of waited for.
            keepalives: dict[str, Any] = {k: v for k, v in TCP_KEEPALIVES.items() if k not in given}
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
                conn.execute(sql.SQL("SET statement_timeout = {}").format(int(self.statement_timeout_ms)))
        except psycopg.Error as exc:
            if conn is not None:
                close_quietly(conn)
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {one_line(exc)}") from exc
        if self.instrument:
            from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

            conn = PsycopgInstrumentor.instrument_connection(conn, tracer_provider=self.tracer_provider)
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
                close_quietly(conn)

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
            close_quietly(conn)

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
            return Finished(BatchResult())
        try:
            channel = self._channel(writers)
        except DatabaseUnavailable as exc:
            return Finished(exc)
        return channel.send(events)

    def open(self, writers: int = 2) -> None:
        """Open :meth:`start`'s pipelined connections now, up to ``writers``, not at the first batches.

        A collector opens them before its partitions come, so its first batches wait for no
        connection (about 25 ms each). Raises :class:`DatabaseUnavailable` when one cannot be
        opened; those already open stay, and :meth:`start` opens the rest when it needs them.
        Nothing to do where :meth:`start` writes on threads (psycopg instrumentation, or a
        subclass's :meth:`write`): their connections open with each thread's first write.
        """
        if self.instrument or type(self).write is not Writer.write:
            return
        while len(self._channels) < max(1, writers):
            self._channels.append(Channel(self, self._connect()))

    def _channel(self, writers: int) -> Channel:
        """The pipelined connection with the fewest batches queued (a new one while allowed)."""
        channel = min(self._channels, key=Channel.queued, default=None)
        if channel is None or (channel.queued() and len(self._channels) < max(1, writers)):
            channel = Channel(self, self._connect())
            self._channels.append(channel)
        return channel

    def _start_threaded(self, events: Sequence[Decoded], writers: int) -> PendingWrite:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(max(1, writers), thread_name_prefix="onex-collector-db")
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
                raise unavailable(exc) from exc

    def _write(self, conn: psycopg.Connection[Any], events: Sequence[Decoded]) -> BatchResult:
        for attempt in range(_ROLLBACK_RETRIES + 1):
            try:
                return self._write_fast(conn, events)
            except psycopg.Error as exc:
                if conn.broken:
                    raise
                if sqlstate(exc)[:2] == "40" and attempt < _ROLLBACK_RETRIES:
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
        row = conn.execute(INGEST, (batch_document(events),)).fetchone()
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

    def _write_isolating(self, conn: psycopg.Connection[Any], events: Sequence[Decoded]) -> BatchResult:
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
                    result.rejected.append(Rejected(index, type(exc).__name__, one_line(exc)))
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
            at = next(v for name, v in zip(columns, row.values, strict=True) if name in _TIME_COLUMNS)
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
            db_values(row),
        )
        return max(cur.rowcount, 0)


# Tables the writer knows, for callers that want to list or truncate them.
WRITTEN_TABLES: tuple[str, ...] = tuple(TABLE_COLUMNS)
LOG_TABLE: str = c.TABLE_EXECUTION_LOGS
