"""Writer.start: a batch is sent and the caller goes on; its answer is read later.

The collector's loop starts batches this way (``db_writers`` connections in pipeline mode, each
with up to BATCHES_PER_CONNECTION batches queued) and decodes the next ones meanwhile. What a
started batch writes, and how it settles a rejected row, a lost connection or an unreachable
database, must be what :meth:`Writer.write` does, whatever is queued beside it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from onex_collector.consumer import Collector
from onex_collector.migrate import migrate
from onex_collector.rows import Decoded, decode_message
from onex_collector.writer import BatchResult, DatabaseUnavailable, Writer
from onex_otel.envelope import AgentActionPayload, OnexEnvelopeV1, RoutingDecisionPayload
from tests.collector.conftest import options, query, running, wait_for
from tests.collector.test_writer import batch, dump
from tests.services.kafka import Broker
from tests.services.postgres import Database, fresh_database

pytestmark = pytest.mark.integration


def actions(corr: uuid.UUID, *durations: int) -> list[Decoded]:
    envelopes = [
        OnexEnvelopeV1.create(
            AgentActionPayload(
                correlation_id=corr,
                agent_name="a",
                action_type="tool_call",
                action_name=f"step-{i}",
                duration_ms=d,
            )
        )
        for i, d in enumerate(durations)
    ]
    return [decode_message(e.event_type.value, e.to_json()) for e in envelopes]


def decision(corr: uuid.UUID) -> list[Decoded]:
    env = OnexEnvelopeV1.create(
        RoutingDecisionPayload(
            correlation_id=corr,
            selected_agent="agent-x",
            confidence_score=0.5,
            routing_strategy="s",
            routing_time_ms=1,
        )
    )
    return [decode_message(env.event_type.value, env.to_json())]


@contextmanager
def table_locked(db: Database, table: str) -> Iterator[psycopg.Connection]:
    """Hold a lock that makes every INSERT into ``table`` wait until the block ends."""
    with psycopg.connect(db.url) as conn:
        conn.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")  # type: ignore[arg-type]
        yield conn
        conn.commit()


def patient_writer(db: Database) -> Writer:
    """A writer whose statements give up on a lock after 10 s (a hung test fails instead)."""
    return Writer(make_conninfo(db.url, options="-c lock_timeout=10000"))


def count(db: Database, corr: uuid.UUID) -> int:
    rows = query(db, "SELECT count(*) FROM agent_actions WHERE correlation_id = %s", (corr,))
    return int(rows[0][0])


def test_a_started_batch_writes_what_write_writes() -> None:
    events = batch()
    with fresh_database("onex_started") as started, fresh_database("onex_written") as written:
        migrate(started.url)
        migrate(written.url)
        a, b = Writer(started.url), Writer(written.url)
        try:
            assert a.start(events).result() == b.write(events)
        finally:
            a.close()
            b.close()
        assert dump(started) == dump(written)


def test_start_returns_before_the_batch_is_written(migrated: Database) -> None:
    """A batch waiting in the database does not hold up the caller, nor a later batch."""
    corr = uuid.uuid4()
    writer = patient_writer(migrated)
    try:
        with table_locked(migrated, "agent_actions"):
            began = time.monotonic()
            first = writer.start(actions(corr, 1, 2, 3))
            second = writer.start(decision(corr))  # another table: not held up
            assert time.monotonic() - began < 5
            assert second.result().rows_inserted == 1
            for _ in range(5):
                assert not first.done()
                time.sleep(0.05)
            assert count(migrated, corr) == 0
        assert first.result().rows_inserted == 3
        assert first.done()
        assert count(migrated, corr) == 3
    finally:
        writer.close()


def test_a_rejected_row_in_a_started_batch_is_isolated(migrated: Database) -> None:
    corr = uuid.uuid4()
    writer = Writer(migrated.url)
    try:
        # Valid for the models; duration_ms overflows the INTEGER column.
        result = writer.start(actions(corr, 5, 2**40, 7)).result()
    finally:
        writer.close()
    assert [r.index for r in result.rejected] == [1]
    assert result.rows_inserted == 2
    assert query(
        migrated,
        "SELECT duration_ms FROM agent_actions WHERE correlation_id = %s ORDER BY duration_ms",
        (corr,),
    ) == [(5,), (7,)]


def test_a_connection_lost_in_flight_is_settled_by_writing_again(migrated: Database) -> None:
    corr = uuid.uuid4()
    writer = patient_writer(migrated)
    try:
        with table_locked(migrated, "agent_actions") as locker:
            pending = writer.start(actions(corr, 1, 2))
            waiting = wait_for(
                lambda: query(
                    migrated,
                    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND application_name = 'onex-otel-collector'",
                ),
                what="the blocked batch",
            )
            locker.execute("SELECT pg_terminate_backend(%s)", (waiting[0][0],))
        result = pending.result()
    finally:
        writer.close()
    assert result.rows_inserted == 2
    assert count(migrated, corr) == 2


def test_a_started_batch_against_an_unreachable_database_is_unavailable() -> None:
    writer = Writer("postgresql://postgres@127.0.0.1:9/none", connect_timeout=1)
    pending = writer.start(actions(uuid.uuid4(), 1))
    assert pending.done()
    with pytest.raises(DatabaseUnavailable, match="cannot connect"):
        pending.result()
    writer.close()


def test_a_started_batch_against_an_unmigrated_database_says_to_migrate() -> None:
    with fresh_database("onex_unmigrated") as db:
        writer = Writer(db.url)
        pending = writer.start(actions(uuid.uuid4(), 1))
        with pytest.raises(DatabaseUnavailable, match="run `onex-otel db migrate`"):
            pending.result()
        writer.close()


def test_a_batch_stuck_behind_a_lock_is_cancelled_and_counts_as_unavailable(
    migrated: Database,
) -> None:
    corr = uuid.uuid4()
    # (A lock timeout far beyond the statement timeout: without the latter the test fails, on
    # the lock's message, instead of waiting for a lock it holds itself.)
    writer = Writer(make_conninfo(migrated.url, options="-c lock_timeout=20000"), statement_timeout_ms=300)
    with table_locked(migrated, "agent_actions"):
        pending = writer.start(actions(corr, 1))  # pipelined, then written again by write()
        with pytest.raises(DatabaseUnavailable, match="statement timeout"):
            pending.result()
        with pytest.raises(DatabaseUnavailable, match="statement timeout"):
            writer.write(actions(corr, 2))
    assert count(migrated, corr) == 0
    assert writer.write(actions(corr, 3)).rows_inserted == 1  # the lock gone: written
    writer.close()


def test_connections_keep_tcp_alive_and_time_statements_out(migrated: Database) -> None:
    def settings(writer: Writer) -> tuple[dict[bytes, bytes | None], str]:
        with writer._connection() as conn:
            options = {o.keyword: o.val for o in conn.pgconn.info}
            row = conn.execute("SHOW statement_timeout").fetchone()
        writer.close()
        assert row is not None
        return options, str(row[0])

    options, timeout = settings(Writer(migrated.url))
    assert options[b"keepalives_idle"] == b"30" and options[b"tcp_user_timeout"] == b"60000"
    assert timeout == "1min"
    options, timeout = settings(
        Writer(make_conninfo(migrated.url, keepalives_idle=7), statement_timeout_ms=0)
    )
    assert options[b"keepalives_idle"] == b"7"  # the connection string's own setting kept
    assert options[b"keepalives_count"] == b"3"
    assert timeout == "0"


def collector_backends(db: Database) -> int:
    rows = query(
        db,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name = 'onex-otel-collector'",
    )
    return int(rows[0][0])


def test_batches_queue_on_the_connections_in_order(migrated: Database) -> None:
    """More batches than connections: they queue (pipeline mode) and are answered in order,
    each in its own transaction."""
    corr = uuid.uuid4()
    writer = patient_writer(migrated)
    try:
        with table_locked(migrated, "agent_actions"):
            started = [writer.start(actions(corr, i, i + 100), writers=2) for i in range(4)]
            wait_for(
                lambda: (
                    query(
                        migrated,
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE wait_event_type = 'Lock'"
                        " AND application_name = 'onex-otel-collector'",
                    )[0][0]
                    == 2
                ),
                what="one batch waiting on each connection",
            )
            assert collector_backends(migrated) == 2
            assert not any(p.done() for p in started)
        assert [p.result() for p in started] == [BatchResult(rows_inserted=2)] * 4
        assert collector_backends(migrated) == 2
    finally:
        writer.close()
    assert count(migrated, corr) == 8


def test_a_failing_batch_leaves_the_batch_queued_behind_it_alone(
    migrated: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On one connection, a batch the database refuses is settled by write(); the next batch,
    queued behind it, still commits through its own statement."""
    corr = uuid.uuid4()
    writer = Writer(migrated.url)
    written: list[int] = []
    write = writer.write

    def counting_write(events: list[Decoded]) -> BatchResult:
        written.append(len(events))
        return write(events)

    monkeypatch.setattr(writer, "write", counting_write)
    try:
        refused = writer.start(actions(corr, 5, 2**40, 7), writers=1)
        behind = writer.start(decision(corr), writers=1)
        assert behind.result() == BatchResult(rows_inserted=1)
        assert [r.index for r in refused.result().rejected] == [1]
    finally:
        writer.close()
    assert written == [3]  # only the refused batch went through write()
    assert count(migrated, corr) == 2


def test_every_batch_queued_on_a_lost_connection_is_written_once(migrated: Database) -> None:
    corr = uuid.uuid4()
    writer = patient_writer(migrated)
    try:
        with table_locked(migrated, "agent_actions") as locker:
            first = writer.start(actions(corr, 1, 2), writers=1)
            second = writer.start(actions(corr, 3), writers=1)
            waiting = wait_for(
                lambda: query(
                    migrated,
                    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND application_name = 'onex-otel-collector'",
                ),
                what="the blocked batch",
            )
            locker.execute("SELECT pg_terminate_backend(%s)", (waiting[0][0],))
        assert first.result().rows_inserted == 2
        assert second.result().rows_inserted == 1
    finally:
        writer.close()
    assert count(migrated, corr) == 3


def test_open_makes_the_pipelined_connections_before_the_first_batch() -> None:
    corr = uuid.uuid4()
    with fresh_database("onex_open") as db:
        migrate(db.url)
        writer = Writer(db.url)
        try:
            assert collector_backends(db) == 0
            writer.open(2)
            assert collector_backends(db) == 2
            writer.open(2)  # already open: nothing more
            assert collector_backends(db) == 2
            assert writer.start(actions(corr, 1, 2)).result().rows_inserted == 2
            assert collector_backends(db) == 2  # the batch took an open one
        finally:
            writer.close()
        assert count(db, corr) == 2


def test_open_raises_when_the_database_is_unreachable() -> None:
    writer = Writer("postgresql://postgres@127.0.0.1:9/none", connect_timeout=1)
    with pytest.raises(DatabaseUnavailable, match="cannot connect"):
        writer.open(2)
    writer.close()


def test_a_collector_opens_its_connections_before_its_partitions_come(broker: Broker) -> None:
    """The first batches of a collector wait for no connection: they are open once it joined."""
    with fresh_database("onex_open_collector") as db:
        migrate(db.url)
        collector = Collector(options(broker, db, topic_types={f"open-{uuid.uuid4().hex[:8]}": "x"}))
        broker.create_topics(*collector.options.topic_types)
        with running(collector):
            wait_for(lambda: collector._assigned, what="the collector's partitions")
            assert collector_backends(db) == collector.options.db_writers
