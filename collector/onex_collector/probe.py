"""A periodic look at the executions still in progress: the figures behind the stuck-runs alert.

A run that started long ago and never finished (its agent died, its end event was lost) is only
visible in the database. Every ``every_s`` seconds a daemon thread counts the
``agent_execution_logs`` rows still ``in_progress`` and the age of the oldest one (one indexed
query on ``status``; in-progress rows are few), and stores both in :class:`CollectorMetrics`:
``onex_collector_executions_in_progress`` and ``onex_collector_oldest_in_progress_seconds``.
While the query fails (database away, schema not migrated) the figures are left out of
``/metrics`` rather than reported stale, and the failure is logged once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from onex_collector.metrics import CollectorMetrics

__all__ = ["IN_PROGRESS_SQL", "InProgressProbe"]

_log = logging.getLogger(__name__)

#: Executions in progress and the age in seconds of the oldest (NULL when there is none).
IN_PROGRESS_SQL = (
    "SELECT count(*), extract(epoch FROM now() - min(started_at))::float8 "
    "FROM agent_execution_logs WHERE status = 'in_progress'"
)
#: How often the probe runs, seconds (Prometheus scrapes every 15 s by default).
DEFAULT_EVERY_S = 15.0
#: Longest the probe's connection attempt or query may take, seconds.
TIMEOUT_S = 5


class InProgressProbe:
    """A daemon thread that refreshes the in-progress figures of a :class:`CollectorMetrics`."""

    def __init__(self, conninfo: str, metrics: CollectorMetrics, every_s: float = DEFAULT_EVERY_S) -> None:
        """Probe the database at ``conninfo`` every ``every_s`` seconds once started."""
        self.conninfo = conninfo
        self.metrics = metrics
        self.every_s = every_s
        self._stop = threading.Event()
        self._conn: Any = None
        self._failing = False
        self._thread = threading.Thread(target=self._run, name="onex-collector-probe", daemon=True)

    def start(self) -> InProgressProbe:
        """Probe now, then every ``every_s`` seconds, in the background."""
        self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread (waits at most ``timeout`` seconds) and close its connection."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self._close_conn()

    def __enter__(self) -> InProgressProbe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def probe_once(self) -> None:
        """Run the query once and store its result (or clear the figures on failure)."""
        import psycopg

        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(
                    self.conninfo,
                    autocommit=True,
                    connect_timeout=TIMEOUT_S,
                    options=f"-c statement_timeout={TIMEOUT_S * 1000}",
                )
            count, oldest = self._conn.execute(IN_PROGRESS_SQL).fetchone()
        except Exception as exc:
            self.metrics.set_in_progress(None, None)
            self._close_conn()
            if not self._failing:
                _log.warning("onex-collector: cannot count the executions in progress: %s", exc)
            self._failing = True
            return
        self._failing = False
        self.metrics.set_in_progress(int(count), float(oldest) if oldest is not None else 0.0)

    def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                conn.close()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.probe_once()
                self._stop.wait(self.every_s)
        finally:
            self._close_conn()
