"""Batches sent on connections in libpq's pipeline mode and answered while the caller goes on.

:meth:`~onex_collector.writer.Writer.start` sends a batch's fast-path statement on one of up to
``writers`` connections, each holding up to :data:`BATCHES_PER_CONNECTION` statements, each
followed by a sync point: one transaction per batch, and a failing batch does not touch the next;
the server starts a connection's next batch as soon as it has finished one. Anything but a clean
answer (a rejected row, a deadlock, a lost connection) is settled by
:meth:`~onex_collector.writer.Writer.write` when the result is asked for.
"""

from __future__ import annotations

import select
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import pq

from onex_collector.ingest import INGEST_PREPARED, PREPARE_INGEST, batch_document
from onex_collector.tables import Decoded
from onex_collector.write_outcomes import BatchResult, close_quietly, unavailable

if TYPE_CHECKING:
    from onex_collector.writer import Writer

__all__ = ["BATCHES_PER_CONNECTION", "Channel", "SentBatch"]

#: Batches :meth:`Writer.start` queues on one connection (libpq pipeline mode).
BATCHES_PER_CONNECTION = 2
_SELECT_INTERVAL_S = 0.2


class Channel:
    """A connection in libpq pipeline mode: batches queued on it and answered in order.

    Each batch is its statement followed by a sync point: its own implicit transaction, and an
    error ends with that sync, so the batches behind it are unaffected. Driven by the thread
    that starts and reads the batches; non-blocking, so a large batch never stalls that thread.
    """

    def __init__(self, writer: Writer, conn: psycopg.Connection[Any]) -> None:
        self._writer = writer
        self._conn = conn
        self._pgconn = conn.pgconn
        self._batches: deque[SentBatch] = deque()
        self._results: list[pq.abc.PGresult] = []  # of the oldest batch's statement, so far
        self._unsent = False  # output still in libpq's buffer
        try:
            conn.execute(PREPARE_INGEST)
            self._pgconn.nonblocking = 1
            self._pgconn.enter_pipeline_mode()
        except psycopg.Error as exc:
            close_quietly(conn)
            raise unavailable(exc) from exc

    def queued(self) -> int:
        """Batches sent and not answered yet."""
        return len(self._batches)

    def send(self, events: Sequence[Decoded]) -> SentBatch:
        sent = SentBatch(self._writer, events, self)
        try:
            document = batch_document(events).encode(self._conn.info.encoding)
        except UnicodeEncodeError:
            sent.settle(None)  # write() settles it, isolating what the server cannot take
            return sent
        self._batches.append(sent)
        try:
            self._pgconn.send_query_prepared(INGEST_PREPARED, [document])
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
        close_quietly(self._conn)


def _answer(results: list[pq.abc.PGresult]) -> BatchResult | None:
    """The batch's result from its statement's answer; None unless it ran cleanly."""
    if len(results) != 1 or results[0].status != pq.ExecStatus.TUPLES_OK:
        return None
    res = results[0]
    return BatchResult(
        rows_inserted=int(res.get_value(0, 0) or 0),
        executions_updated=int(res.get_value(0, 1) or 0),
    )


class SentBatch:
    """A batch whose fast-path statement was sent on a :class:`Channel`, not answered yet.

    Anything but a clean answer (an error, a lost connection) is settled by
    :meth:`Writer.write`: the statement was its own transaction, so nothing of the batch was
    kept and writing it again changes nothing that was.
    """

    def __init__(self, writer: Writer, events: Sequence[Decoded], channel: Channel) -> None:
        self._writer = writer
        self._events = events
        self._channel: Channel | None = channel
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
