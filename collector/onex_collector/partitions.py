"""Partition maintenance: day partitions created ahead, old ones dropped (migration 0008).

:func:`maintain` runs once (``onex-otel db maintain``); :class:`PartitionMaintainer` runs it
in a thread of the collector every ``ONEX_PARTITION_MAINTENANCE_INTERVAL_S`` (at start too).
Several collectors may do so at once: the SQL functions take turns on an advisory lock, and
creating what exists or dropping what is gone does nothing. Each statement waits at most
``lock_timeout_ms`` for its table locks (a partition is attached or dropped under a short lock
on its table), so maintenance never queues the collectors' writes behind a long query; what
could not be done is done at the next run.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

__all__ = ["MaintenanceResult", "PartitionMaintainer", "maintain", "partitions"]

log = logging.getLogger("onex_collector")

#: Longest a maintenance statement waits for a table lock before it gives up (until next time).
LOCK_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class MaintenanceResult:
    """What one maintenance run did."""

    created: int = 0
    dropped: int = 0
    debug_deleted: int = 0


def maintain(
    conninfo: str,
    *,
    ahead_days: int,
    retention_days: int = 0,
    debug_retention_days: int = 0,
    lock_timeout_ms: int = LOCK_TIMEOUT_MS,
    connect_timeout_s: int = 5,
) -> MaintenanceResult:
    """Create partitions ``ahead_days`` ahead; drop those past ``retention_days`` (0: none).

    ``debug_retention_days`` > 0: also delete the debug-mode ``agent_actions`` older than that
    within the partitions kept (the seeds' ``cleanup_old_debug_logs``). Each step is its own
    transaction. Raises :class:`psycopg.Error` when the database refuses (not migrated, a lock
    not granted in time, unreachable).
    """
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=connect_timeout_s) as conn:
        conn.execute(sql.SQL("SET lock_timeout = {}").format(int(lock_timeout_ms)))
        created = _scalar(conn, "SELECT onex_create_partitions(make_interval(days => %s))", ahead_days)
        dropped = 0
        if retention_days > 0:
            dropped = _scalar(conn, "SELECT onex_drop_partitions(make_interval(days => %s))", retention_days)
        debug_deleted = 0
        if debug_retention_days > 0:
            debug_deleted = _scalar(conn, "SELECT cleanup_old_debug_logs(%s)", debug_retention_days)
    return MaintenanceResult(created, dropped, debug_deleted)


def partitions(conninfo: str) -> dict[str, list[str]]:
    """The partitions of each partitioned table (day partitions in order, then the default)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT t.table_name, c.relname FROM onex_partitioned_tables() AS t"
            " JOIN pg_inherits i ON i.inhparent = quote_ident(t.table_name)::regclass"
            " JOIN pg_class c ON c.oid = i.inhrelid ORDER BY 1, c.relname LIKE '%_default', 2"
        ).fetchall()
    out: dict[str, list[str]] = {}
    for table, part in rows:
        out.setdefault(str(table), []).append(str(part))
    return out


def _scalar(conn: psycopg.Connection[Any], query: str, value: int) -> int:
    row = conn.execute(query.encode(), (value,)).fetchone()  # type: ignore[arg-type]
    return int(row[0]) if row and row[0] is not None else 0


class PartitionMaintainer:
    """Runs :func:`maintain` now and every ``interval_s`` in a daemon thread until closed."""

    def __init__(
        self,
        conninfo: str,
        *,
        interval_s: float,
        ahead_days: int,
        retention_days: int = 0,
        debug_retention_days: int = 0,
    ) -> None:
        """Prepare; nothing runs before :meth:`start`."""
        self._conninfo = conninfo
        self._interval_s = interval_s
        self._kwargs: dict[str, int] = {
            "ahead_days": ahead_days,
            "retention_days": retention_days,
            "debug_retention_days": debug_retention_days,
        }
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0
        self.failures = 0
        self.last: MaintenanceResult | None = None

    def start(self) -> PartitionMaintainer:
        """Start the thread (its first run is at once)."""
        self._thread = threading.Thread(target=self._loop, name="onex-partition-maintenance", daemon=True)
        self._thread.start()
        return self

    def run_once(self) -> MaintenanceResult | None:
        """One run; a failure is logged and counted, never raised (the next run tries again)."""
        try:
            result = maintain(self._conninfo, **self._kwargs)
        except psycopg.Error as exc:
            self.failures += 1
            first = " ".join(str(exc).split())[:300] or type(exc).__name__
            log.warning("partition maintenance failed (retried in %.0fs): %s", self._interval_s, first)
            return None
        self.runs += 1
        self.last = result
        if result.created or result.dropped or result.debug_deleted:
            log.info(
                "partitions: %d created, %d dropped; %d old debug actions deleted",
                result.created,
                result.dropped,
                result.debug_deleted,
            )
        return result

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self._interval_s)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread (a run under way is waited for, bounded by ``timeout``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
