"""A name-based (uuid5) event id lands one row whatever its times and whoever writes it (0010).

Since 0008 the partitioned tables' keys hold the row's time, so the same id with two times would
be two rows; migration 0010 claims version-5 ids in ``onex_named_event_ids`` (its key is the id
alone). Checked on every path: one batch holding both, two batches, two concurrent transactions
(the second waits for the first: it commits, the second adds nothing; it rolls back, the second
writes the row), the writer's row-by-row path, and retention.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from onex_collector.migrate import migrate
from onex_collector.rows import TABLE_COLUMNS, Decoded, decode_message
from onex_collector.writer import Writer, batch_document
from onex_otel.conventions import ActionType
from onex_otel.envelope import AgentActionPayload, ExecutionStartedPayload, OnexEnvelopeV1
from tests.collector.conftest import query
from tests.services.postgres import Database, fresh_database

pytestmark = pytest.mark.integration

T1 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
T2 = T1 + timedelta(days=1, seconds=3)  # another clock, another day partition


def action(event_id: uuid.UUID, at: datetime, name: str = "Bash") -> Decoded:
    """A tool_call action with the given (name-based) event id and time."""
    env = json.loads(
        OnexEnvelopeV1.create(
            AgentActionPayload(
                correlation_id=uuid.uuid4(),
                agent_name="claude-code",
                action_type=ActionType.TOOL_CALL,
                action_name=name,
                duration_ms=5,
            )
        ).to_json()
    )
    env["event_id"] = str(event_id)
    env["payload"]["timestamp"] = at.isoformat()
    return decode_message(env["event_type"], json.dumps(env).encode())


def started(event_id: uuid.UUID, execution_id: uuid.UUID, at: datetime) -> Decoded:
    env = json.loads(
        OnexEnvelopeV1.create(
            ExecutionStartedPayload(
                correlation_id=uuid.uuid4(),
                execution_id=execution_id,
                agent_name="claude-code",
                user_request="fix it",
                started_at=at,
            )
        ).to_json()
    )
    env["event_id"] = str(event_id)
    return decode_message(env["event_type"], json.dumps(env).encode())


def named() -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"claude_code.tool|toolu_{uuid.uuid4().hex}|action")


def rows_of(db: Database, event_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return query(db, "SELECT action_name, created_at FROM agent_actions WHERE id = %s", (event_id,))


def ingest(conn: psycopg.Connection[Any], events: list[Decoded]) -> int:
    row = conn.execute(
        "SELECT rows_inserted FROM onex_ingest(%s::jsonb)", (batch_document(events),)
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_one_batch_or_two_keep_the_first_row_of_a_named_id(migrated: Database) -> None:
    in_one, in_two = named(), named()
    with psycopg.connect(migrated.url, autocommit=True) as conn:
        assert ingest(conn, [action(in_one, T1, "span"), action(in_one, T2, "log")]) == 1
        assert ingest(conn, [action(in_two, T2, "log")]) == 1
        assert ingest(conn, [action(in_two, T1, "span")]) == 0
        assert ingest(conn, [action(in_two, T2, "log")]) == 0  # plain redelivery
    assert rows_of(migrated, in_one) == [("span", T1)]
    assert rows_of(migrated, in_two) == [("log", T2)]


def test_an_execution_started_twice_with_two_times_is_one_event_and_one_log_row(
    migrated: Database,
) -> None:
    eid, execution = named(), uuid.uuid4()
    with psycopg.connect(migrated.url, autocommit=True) as conn:
        assert ingest(conn, [started(eid, execution, T2)]) == 1
        assert ingest(conn, [started(eid, execution, T1)]) == 0
    assert query(migrated, "SELECT occurred_at FROM agent_execution_events WHERE event_id = %s", (eid,)) == [
        (T2,)
    ]
    assert query(
        migrated, "SELECT started_at FROM agent_execution_logs WHERE execution_id = %s", (execution,)
    ) == [(T2,)]


def test_uuid7_ids_are_not_claimed(migrated: Database) -> None:
    """The common path does not touch the id table (its ids carry their time)."""
    events = [
        decode_message(e.event_type.value, e.to_json())
        for e in (
            OnexEnvelopeV1.create(
                AgentActionPayload(
                    correlation_id=uuid.uuid4(),
                    agent_name="a",
                    action_type=ActionType.TOOL_CALL,
                    action_name="x",
                )
            )
            for _ in range(3)
        )
    ]
    with psycopg.connect(migrated.url, autocommit=True) as conn:
        assert ingest(conn, events) == 3
    ids = [uuid.UUID(str(e.event_id)) for e in events]  # (the fast path keeps the id's text)
    assert {i.version for i in ids} == {7}
    assert query(migrated, "SELECT count(*) FROM onex_named_event_ids WHERE id = ANY(%s)", (ids,)) == [(0,)]


@pytest.mark.parametrize("first_commits", [True, False], ids=["commit", "rollback"])
def test_two_concurrent_transactions_with_one_named_id_land_one_row(
    migrated: Database,
    first_commits: bool,
) -> None:
    """The second transaction waits on the id until the first ends (bounded by a lock timeout)."""
    eid = named()
    second: dict[str, Any] = {}
    with psycopg.connect(migrated.url) as first, psycopg.connect(migrated.url, autocommit=True) as other:
        other.execute("SET lock_timeout = '20s'")
        assert ingest(first, [action(eid, T1, "first")]) == 1  # not committed yet

        def run() -> None:
            try:
                second["inserted"] = ingest(other, [action(eid, T2, "second")])
            except BaseException as exc:  # reported below
                second["error"] = exc

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query LIKE '%%onex_ingest%%'"
        )
        with psycopg.connect(migrated.url, autocommit=True) as probe:
            for _ in range(200):  # up to 10 s for the second one to block on the id
                row = probe.execute(waiting).fetchone()
                if row and row[0]:
                    break
                threading.Event().wait(0.05)
            else:
                raise AssertionError("the second transaction never waited for the first")
        if first_commits:
            first.commit()
        else:
            first.rollback()
        thread.join(30)
        assert not thread.is_alive(), "the second transaction did not finish within 30 s"
    assert "error" not in second, second.get("error")
    if first_commits:
        assert second["inserted"] == 0
        assert rows_of(migrated, eid) == [("first", T1)]
    else:
        assert second["inserted"] == 1
        assert rows_of(migrated, eid) == [("second", T2)]


def test_the_row_by_row_path_claims_named_ids_too(migrated: Database) -> None:
    """A batch with a rejected row is written event by event; a named id already written with
    another time adds nothing there either."""
    eid, fresh_id = named(), named()
    refused = action(uuid.uuid4(), T1, "refused")
    values = list(refused.rows[0].values)
    values[TABLE_COLUMNS["agent_actions"].index("duration_ms")] = 2**40  # out of integer range
    refused = refused._replace(rows=(refused.rows[0]._replace(values=tuple(values)),))
    writer = Writer(migrated.url)
    try:
        writer.write([action(eid, T1, "span")])
        result = writer.write(
            [action(eid, T2, "log"), refused, action(fresh_id, T2, "new"), action(fresh_id, T1, "again")]
        )
    finally:
        writer.close()
    assert [r.index for r in result.rejected] == [1]
    assert result.rows_inserted == 1
    assert rows_of(migrated, eid) == [("span", T1)]
    assert rows_of(migrated, fresh_id) == [("new", T2)]


def test_retention_forgets_the_ids_of_the_rows_it_deletes(migrated: Database) -> None:
    old, kept = named(), named()
    now = datetime.now(UTC)
    with psycopg.connect(migrated.url, autocommit=True) as conn:
        ingest(conn, [action(old, now - timedelta(days=400)), action(kept, now)])
        conn.execute("SELECT onex_drop_partitions(interval '300 days')")
    assert query(migrated, "SELECT id FROM onex_named_event_ids WHERE id = ANY(%s)", ([old, kept],)) == [
        (kept,)
    ]
    assert rows_of(migrated, old) == []


def test_the_migration_records_the_named_ids_already_stored() -> None:
    before, uuid7 = named(), action(uuid.uuid4(), T1)
    with fresh_database("onex_named_ids") as db:
        migrate(db.url, target="0009")
        with psycopg.connect(db.url, autocommit=True) as conn:
            ingest(conn, [action(before, T2, "before"), uuid7])
        assert [m.version for m in migrate(db.url, target="0010")] == ["0010"]
        assert query(db, "SELECT id, at FROM onex_named_event_ids") == [(before, T2)]
        with psycopg.connect(db.url, autocommit=True) as conn:
            assert ingest(conn, [action(before, T1, "after")]) == 0
        assert rows_of(db, before) == [("before", T2)]


@pytest.mark.parametrize("pipelined", [False, True], ids=["write", "pipelined"])
def test_two_writers_claiming_named_ids_in_opposite_orders_deadlock_and_both_land(
    migrated: Database, pipelined: bool
) -> None:
    """A deadlock between two batches (the same facts, opposite orders) is retried: each id once.

    Two paths can report the same facts in different orders (a Claude Code tool use as a span and
    as a log event, in two partitions). Made to happen: a third transaction holds the claim of C
    while one batch claims B then waits for C, the other claims A then waits for C; once C is
    free, one of them takes it and then waits for the other's A, which waits for its C.
    PostgreSQL aborts one (deadlock_timeout, 1 s by default); the writer writes that batch again
    (``pipelined``: sent as the collector sends its batches, the failed answer settled by a write).
    """
    a, b, c = named(), named(), named()
    batches = {
        "one": [action(b, T1, "one"), action(c, T1, "one"), action(a, T1, "one")],
        "two": [action(a, T2, "two"), action(c, T2, "two"), action(b, T2, "two")],
    }
    results: dict[str, Any] = {}
    deadlocks = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
    before = query(migrated, deadlocks)[0][0]
    with psycopg.connect(migrated.url) as holder:
        assert ingest(holder, [action(c, T1, "holder")]) == 1  # not committed yet

        def run(name: str) -> None:
            try:
                writer = Writer(migrated.url)
                if pipelined:
                    results[name] = writer.start(batches[name], writers=1).result().rows_inserted
                else:
                    results[name] = writer.write(batches[name]).rows_inserted
                writer.close()
            except BaseException as exc:  # reported below
                results[name] = exc

        threads = [threading.Thread(target=run, args=(name,), daemon=True) for name in batches]
        for thread in threads:
            thread.start()
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query LIKE '%%onex_ingest%%'"
        )
        with psycopg.connect(migrated.url, autocommit=True) as probe:
            for _ in range(200):  # up to 10 s for both batches to wait on C
                row = probe.execute(waiting).fetchone()
                if row and row[0] == 2:
                    break
                threading.Event().wait(0.05)
            else:
                raise AssertionError("the two batches never both waited on the held id")
        holder.rollback()
        for thread in threads:
            thread.join(30)
            assert not thread.is_alive(), "a batch did not finish within 30 s"
    assert not [r for r in results.values() if isinstance(r, BaseException)], results
    assert results["one"] + results["two"] == 3  # every id written once, by one batch or the other
    for event_id in (a, b, c):
        assert len(rows_of(migrated, event_id)) == 1
    assert query(migrated, "SELECT count(*) FROM onex_named_event_ids WHERE id = ANY(%s)", ([a, b, c],)) == [
        (3,)
    ]
    # statistics reach pg_stat_database at the end of a transaction; give them a moment
    for _ in range(50):
        if query(migrated, deadlocks)[0][0] > before:
            break
        threading.Event().wait(0.1)
    assert query(migrated, deadlocks)[0][0] > before, "no deadlock happened: the test proved nothing"
