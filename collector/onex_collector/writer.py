"""Write decoded events to PostgreSQL: one transaction per batch, the fast way.

Fast path: in one pipelined round trip, per table one
``INSERT INTO t (cols) SELECT * FROM unnest(<one binary array per column>) ON CONFLICT (id) DO
NOTHING`` (idempotent: a redelivered event adds nothing), then the recomputation of the
``agent_execution_logs`` rows of the executions the batch touched; then COMMIT. Never a round trip
per row.

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
import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from onex_collector.rows import JSON_COLUMNS, TABLE_COLUMNS, Decoded, Row
from onex_otel import conventions as c

__all__ = ["BatchResult", "DatabaseUnavailable", "Rejected", "Writer", "is_row_rejection"]


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
    sqlstate = getattr(exc, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in ("22", "23")


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


#: PostgreSQL type of each column the writer fills (text when not listed).
_COLUMN_TYPES: dict[str, str] = {
    "id": "uuid", "event_id": "uuid", "execution_id": "uuid", "correlation_id": "uuid",
    "created_at": "timestamptz", "occurred_at": "timestamptz",
    "debug_mode": "boolean", "cache_hit": "boolean", "success": "boolean",
    "duration_ms": "integer", "routing_time_ms": "integer", "transformation_duration_ms": "integer",
    "routing_duration_ms": "integer", "candidates_evaluated": "integer",
    "detection_duration_ms": "integer", "confidence_score": "numeric",
    "best_confidence": "numeric",
}


@functools.cache
def _unnest_insert(table: str) -> sql.Composed:
    """The idempotent insert of a whole batch of ``table`` rows, one binary array per column."""
    columns = TABLE_COLUMNS[table]
    arrays = sql.SQL(", ").join(
        sql.SQL("%b::{}[]").format(
            sql.SQL("jsonb" if name in JSON_COLUMNS[table] else _COLUMN_TYPES.get(name, "text"))
        )
        for name in columns
    )
    return sql.SQL(
        "INSERT INTO {table} ({cols}) SELECT * FROM unnest({arrays}) ON CONFLICT ({pk}) DO NOTHING"
    ).format(
        table=sql.Identifier(table),
        cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
        arrays=arrays,
        pk=sql.Identifier(columns[0]),
    )


class Writer:
    """Writes batches of :class:`Decoded` events over one connection (reconnects on demand)."""

    def __init__(
        self,
        conninfo: str,
        *,
        connect_timeout: float = 5.0,
        instrument: bool = False,
        tracer_provider: Any = None,
    ):
        """Prepare a writer for ``conninfo``; the connection opens at the first write.

        ``instrument``: trace the connection with opentelemetry-instrumentation-psycopg (spans
        from ``tracer_provider``, default the global one).
        """
        self.conninfo = conninfo
        self.connect_timeout = connect_timeout
        self.instrument = instrument
        self.tracer_provider = tracer_provider
        self._conn: psycopg.Connection[Any] | None = None

    # -- connection ---------------------------------------------------------------------------
    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self.close()
        try:
            conn = psycopg.connect(
                self.conninfo,
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
        self._conn = conn
        return conn

    def ping(self) -> bool:
        """Whether the database answers a trivial query now."""
        try:
            conn = self._connection()
            conn.execute("SELECT 1")
            conn.rollback()
            return True
        except (psycopg.Error, DatabaseUnavailable):
            self.close()
            return False

    def close(self) -> None:
        """Close the connection (a later write reconnects)."""
        if self._conn is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may fail
                self._conn.close()
            self._conn = None

    # -- writing ------------------------------------------------------------------------------
    def write(self, events: Sequence[Decoded]) -> BatchResult:
        """Write ``events`` in one transaction; return what was done.

        Raises :class:`DatabaseUnavailable` when nothing could be committed for a reason that is
        not the events' fault.
        """
        if not events:
            return BatchResult()
        conn = self._connection()
        try:
            try:
                with conn.transaction():
                    return self._write_fast(conn, events)
            except psycopg.Error as exc:
                if not is_row_rejection(exc) or conn.broken:
                    raise
            with conn.transaction():
                return self._write_isolating(conn, events)
        except psycopg.Error as exc:
            if conn.broken or conn.closed:
                self.close()
            raise DatabaseUnavailable(f"PostgreSQL: {_one_line(exc)}") from exc

    def _write_fast(self, conn: psycopg.Connection[Any], events: Sequence[Decoded]) -> BatchResult:
        """One pipelined round trip: per table an INSERT ... SELECT FROM unnest(arrays)."""
        by_table: dict[str, list[Row]] = {}
        for event in events:
            for row in event.rows:
                by_table.setdefault(row.table, []).append(row)
        result = BatchResult()
        cursors: list[psycopg.Cursor[Any]] = []
        ids = sorted({e.execution_id for e in events if e.execution_id is not None})
        with conn.pipeline():
            for table, rows in by_table.items():
                cur = conn.cursor()
                cursors.append(cur)
                columns = list(zip(*(_db_values(row) for row in rows), strict=True))
                cur.execute(_unnest_insert(table), [list(col) for col in columns])
            rebuild = conn.cursor()
            if ids:
                rebuild.execute("SELECT onex_rebuild_execution_logs(%s::uuid[])", (ids,))
        for cur in cursors:
            result.rows_inserted += max(cur.rowcount, 0)
            cur.close()
        if ids:
            counted = rebuild.fetchone()
            result.executions_updated = (
                int(counted[0]) if counted and counted[0] is not None else 0
            )
        rebuild.close()
        return result

    def _rebuild(self, cur: psycopg.Cursor[Any], events: Sequence[Decoded]) -> int:
        ids = sorted({e.execution_id for e in events if e.execution_id is not None})
        if not ids:
            return 0
        cur.execute("SELECT onex_rebuild_execution_logs(%s::uuid[])", (ids,))
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


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:500]


# Tables the writer knows, for callers that want to list or truncate them.
WRITTEN_TABLES: tuple[str, ...] = tuple(TABLE_COLUMNS)
LOG_TABLE: str = c.TABLE_EXECUTION_LOGS
