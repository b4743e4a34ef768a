"""Re-sending the spool: oldest first, each batch acknowledged once Kafka confirmed it.

The exporter's I/O thread calls :meth:`SpoolResender.drain_once` while the spool holds events
and the backoff allows; a short process's ``shutdown()`` calls :meth:`SpoolResender.drain_at_exit`.
A re-sent batch is committed in the spool segment by segment, each segment's delivered prefix, so
an event is never re-sent after Kafka confirmed it (exactly-once spool delivery, at least once
overall). A broker that answers but takes nothing three times in a row gets a fresh producer.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from onex_exporters.kafka_settings import permanent
from onex_exporters.routing import Route
from onex_otel.backoff import Backoff
from onex_otel.conventions import OUTCOME_RESENT

if TYPE_CHECKING:
    from onex_exporters.kafka import OnexKafkaSpanExporter

__all__ = ["SpoolResender"]

_log = logging.getLogger("onex_exporters.kafka")


class SpoolResender:
    """Re-sends an exporter's spool through its producer (on one thread at a time)."""

    def __init__(self, exporter: OnexKafkaSpanExporter, backoff: Backoff) -> None:
        """Re-send ``exporter``'s spool, waiting ``backoff`` after a failed attempt."""
        self.exporter = exporter
        self.backoff = backoff
        #: spool positions Kafka confirmed that are not committed yet (a segment's gap before)
        self.ok: set[tuple[str, int]] = set()
        #: messages of the batch in hand still in the producer (not the exporter's own)
        self.inflight = 0
        #: batches in a row the broker answered but took nothing of
        self.failures = 0

    def halted(self) -> bool:
        """Whether a re-send in hand must give up now (shutdown out of time, or aborted)."""
        ex = self.exporter
        return ex._abort.is_set() or (ex._stop.is_set() and time.monotonic() >= ex._stop_deadline)

    def broker_reachable(self) -> bool:
        ex = self.exporter
        wait = min(1.0, ex._stop_deadline - time.monotonic())
        if wait <= 0.05:
            return False
        try:
            ex._producer.list_topics(timeout=wait)
            return True
        except Exception:
            return False

    def drain_once(self) -> None:
        ex = self.exporter
        spool = ex.spool
        assert spool is not None
        if ex._state.holding:  # outstanding direct messages first
            return
        batch = spool.read(max_records=1000)
        if not batch.records:
            with ex._route_lock:
                if spool.is_empty():
                    ex._state.advance(Route.SPOOLING, Route.DIRECT)
                    ex._spool_check = False
            self.ok.clear()
            return
        if not self.broker_reachable():
            self.backoff.failed()
            ex._warn.warning(
                "drain",
                "onex-otel: Kafka unreachable, %d+ events wait in the spool %s",
                len(batch.records),
                spool.path,
            )
            return
        failed: set[int] = set()
        rejected: set[int] = set()

        def on_delivery(index: int) -> Any:
            def callback(err: Any, _msg: Any) -> None:
                if err is not None:  # successes report nothing (delivery.report.only.error)
                    if permanent(err):
                        rejected.add(index)
                        return
                    failed.add(index)
                    ex._warn.warning("resend", "onex-otel spool re-send failed: %s", err)

            return callback

        producer = ex._producer
        needed = sum(1 for pos in batch.positions if pos not in self.ok)
        sent: list[int] = []
        for i, (record, pos) in enumerate(zip(batch.records, batch.positions, strict=True)):
            if pos in self.ok:
                continue
            try:
                producer.produce(
                    record.topic,
                    record.value,
                    record.key,
                    headers=list(record.headers),
                    on_delivery=on_delivery(i),
                )
                sent.append(i)
            except BufferError:
                break
            except Exception as exc:
                if permanent(exc.args[0] if exc.args else None):
                    rejected.add(i)
                    continue
                ex._fatal = True
                break
        self.inflight = len(sent)
        # Shutdown does not cut a re-send short (that would send the batch again next time): it
        # gets until the shutdown's own deadline (``_stop_deadline``) to be confirmed.
        deadline = min(time.monotonic() + ex._delivery_timeout_s + 2.0, ex._stop_deadline)
        complete = False
        while time.monotonic() < deadline and not self.halted():
            if ex._fatal:  # rebuild now: purged messages report as failed to `failed`
                complete = ex._rebuild_producer()
                break
            try:
                if producer.flush(0.1) == 0:
                    complete = True  # every message has its outcome; failures reported
                    break
            except Exception:  # a fatal producer error
                ex._fatal = True
        self.inflight = 0
        _log.debug(
            "onex-otel spool re-send: %d read, %d sent, %d failed, complete=%s, fatal=%s",
            len(batch.records),
            len(sent),
            len(failed),
            complete,
            ex._fatal,
        )
        ok = 0
        for i in rejected:  # never deliverable: acknowledged as dropped, so the spool flows
            ex._reject("refused for good")
            self.ok.add(batch.positions[i])
        if complete:
            for i in sent:
                if i not in failed and i not in rejected:
                    self.ok.add(batch.positions[i])
                    ok += 1
        needed -= len(rejected)
        ex._count(OUTCOME_RESENT, ok)
        # acknowledge each segment's delivered prefix
        commit: list[tuple[str, int]] = []
        blocked: set[str] = set()
        for pos in batch.positions:
            seg = pos[0]
            if seg in blocked:
                continue
            if pos in self.ok:
                commit.append(pos)
            else:
                blocked.add(seg)
        spool.commit(commit)
        self.ok.difference_update(commit)
        if ok < needed:
            self.backoff.failed()
            self.failures += 1
            if self.failures >= 3:  # the broker answers but takes nothing: start afresh
                self.failures = 0
                ex._fatal = True
        else:
            self.failures = 0
            self.backoff.succeeded()

    def drain_at_exit(self, deadline: float) -> None:
        """Keep re-sending the spool while Kafka takes it and time is left (a short process)."""
        ex = self.exporter
        spool = ex.spool
        thread = ex._thread
        if (
            spool is None or not ex._state.direct or ex._fatal or (thread is not None and thread.is_alive())
        ):  # one re-sender at a time
            return
        while not self.halted() and deadline - time.monotonic() > 0.2:
            try:
                if spool.is_empty():
                    return
                committed = spool.stats.committed
                self.drain_once()
            except Exception:
                _log.debug("onex-otel: re-sending the spool at exit failed", exc_info=True)
                return
            if spool.stats.committed == committed:  # no progress: leave it to a later process
                return
