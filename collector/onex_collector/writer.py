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
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pydantic_core
from psycopg import sql

from onex_collector.rows import JSON_COLUMNS, TABLE_COLUMNS, Decoded, Row
from onex_otel import conventions as c

__all__ = [
    "BatchResult",
    "DatabaseUnavailable",
    "Rejected",
    "Writer",
    "batch_document",
    "is_row_rejection",
]


class DatabaseUnavailable(Exception):
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


def is_row_rejection(exc: BaseException) -> bool:
    """Whether ``exc`` is the database refusing a row's data (not an outage)."""
    if isinstance(exc, psycopg.DataError | psycopg.IntegrityError):
        return True  # also raised client-side, e.g. a NUL character psycopg cannot send
    return _sqlstate(exc)[:2] in ("22", "23")


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


#: The fast path: the whole batch as one JSONB document, one statement (migration 0003).
_INGEST = "SELECT rows_inserted, executions_updated FROM onex_ingest(%s::jsonb)"
_REBUILD = "SELECT onex_rebuild_execution_logs_locked(%s::uuid[])"
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
        instrument: bool = False,
        tracer_provider: Any = None,
    ):
        """Prepare a writer for ``conninfo``; connections open at the first write.

        ``instrument``: trace the connections with opentelemetry-instrumentation-psycopg (spans
        from ``tracer_provider``, default the global one).
        """
        self.conninfo = conninfo
        self.connect_timeout = connect_timeout
        self.instrument = instrument
        self.tracer_provider = tracer_provider
        self._idle: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()
        self._generation = 0  # close() retires the connections in use when they come back

    # -- connections --------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(
                self.conninfo,
                autocommit=True,  # the fast path's single statement is its own transaction
                connect_timeout=max(1, int(self.connect_timeout)),
                application_name="onex-otel-collector",
            )
        except psycopg.Error as exc:
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
        """Close the connections (a later write reconnects)."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
        for conn in idle:
            _close_quietly(conn)

    # -- writing ------------------------------------------------------------------------------
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
                hint = ""
                if _sqlstate(exc) in _SCHEMA_MISSING:
                    hint = " (the schema is not up to date: run `onex-otel db migrate`)"
                raise DatabaseUnavailable(f"PostgreSQL: {_one_line(exc)}{hint}") from exc

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
        query = sql.SQL(
            "INSERT INTO {table} ({cols}) VALUES ({vals}) ON CONFLICT ({pk}) DO NOTHING"
        )
        cur.execute(
            query.format(
                table=sql.Identifier(row.table),
                cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
                vals=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
                pk=sql.Identifier(columns[0]),
            ),
            _db_values(row),
        )
        return max(cur.rowcount, 0)


def _close_quietly(conn: psycopg.Connection[Any]) -> None:
    with contextlib.suppress(Exception):  # closing a broken connection may fail
        conn.close()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:500]


# Tables the writer knows, for callers that want to list or truncate them.
WRITTEN_TABLES: tuple[str, ...] = tuple(TABLE_COLUMNS)
LOG_TABLE: str = c.TABLE_EXECUTION_LOGS
