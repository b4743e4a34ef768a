"""The writer's two paths write the same rows: one statement per batch, and row by row.

The fast path sends a batch as one JSONB document to ``onex_ingest`` (migration 0003), whose
column lists are written out in SQL; the isolating path (used when the database rejects a row)
inserts each row with bound parameters from :data:`TABLE_COLUMNS`. Every column of every table
must come out the same either way, so a column the SQL function forgot, or a value the JSON
document carries differently (a timestamp's microseconds, a numeric, Unicode, nested JSON), fails
here.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from onex_collector.migrate import migrate
from onex_collector.rows import TABLE_COLUMNS, Decoded, decode_message
from onex_collector.writer import Writer, batch_document
from onex_otel.envelope import (
    AgentActionPayload,
    ExecutionCompletedPayload,
    ExecutionFailedPayload,
    ExecutionProgressPayload,
    ExecutionStartedPayload,
    OnexEnvelopeV1,
)
from tests.collector.conftest import query
from tests.collector.test_pipeline import T0, full_run
from tests.services.postgres import Database, fresh_database

pytestmark = pytest.mark.integration

LOG_COLUMNS = (
    "execution_id, correlation_id, session_id, agent_name, user_prompt, status, started_at,"
    " completed_at, duration_ms, quality_score, error_message, error_type, metadata,"
    " project_path, project_name, claude_session_id, terminal_id, created_at"
)


def batch() -> list[Decoded]:
    corr, execution = uuid.uuid4(), uuid.uuid4()
    envelopes = full_run(corr, execution)
    envelopes.append(
        OnexEnvelopeV1.create(
            ExecutionFailedPayload(
                correlation_id=corr,
                execution_id=uuid.uuid4(),
                agent_name="agent-ü ✓ \U0001f600",
                status="cancelled",
                failed_at=T0,
                duration_ms=2_000_000_000,
                error_message='é\n"q"\t',
                error_type=None,
                partial_results={"nested": [1, 2.5, None, {"k": "v"}], "big": 2**53},
            )
        )
    )
    decoded = [decode_message(e.event_type.value, e.to_json()) for e in envelopes]
    legacy = {
        "correlation_id": "legacy-" + corr.hex[:8],
        "agent_name": "polymorphic-agent",
        "action_type": "decision",
        "action_name": "route",
        "action_details": {"x": [1, {}]},
        "debug_mode": False,
        "duration_ms": 0,
        "timestamp": "2025-11-06T10:00:00.000001+02:00",
    }
    decoded.append(decode_message("agent-actions", json.dumps(legacy).encode()))
    return decoded


def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    with psycopg.connect(db.url) as conn:
        for table, columns in TABLE_COLUMNS.items():
            out[table] = conn.execute(
                f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1"  # type: ignore[arg-type]
            ).fetchall()
        out["agent_execution_logs"] = conn.execute(
            f"SELECT {LOG_COLUMNS} FROM agent_execution_logs ORDER BY 1"  # type: ignore[arg-type]
        ).fetchall()
    return out


@pytest.fixture(scope="module")
def two_databases() -> Iterator[tuple[Database, Database]]:
    with fresh_database("onex_fast") as fast, fresh_database("onex_slow") as slow:
        migrate(fast.url)
        migrate(slow.url)
        yield fast, slow


def write_row_by_row(db: Database, events: Sequence[Decoded]) -> None:
    writer = Writer(db.url)
    with writer._connection() as conn, conn.transaction():
        result = writer._write_isolating(conn, events)
    writer.close()
    assert not result.rejected


def test_both_paths_write_every_column_alike(two_databases: tuple[Database, Database]) -> None:
    fast, slow = two_databases
    events = batch()
    writer = Writer(fast.url)
    result = writer.write(events)
    writer.close()
    assert not result.rejected
    assert result.rows_inserted == len(events)
    assert result.executions_updated == 2
    write_row_by_row(slow, events)
    fast_rows, slow_rows = dump(fast), dump(slow)
    assert {t: len(r) for t, r in fast_rows.items()} == {
        "agent_actions": 2,
        "agent_routing_decisions": 1,
        "agent_transformation_events": 1,
        "router_performance_metrics": 1,
        "agent_detection_failures": 1,
        "agent_execution_events": 4,
        "agent_execution_logs": 2,
    }
    assert fast_rows == slow_rows


def test_batch_document_has_every_column() -> None:
    document = json.loads(batch_document(batch()))
    assert set(document) == set(TABLE_COLUMNS)
    for table, rows in document.items():
        for row in rows:
            assert len(row) == len(TABLE_COLUMNS[table])


def test_redelivery_inserts_nothing_and_rebuilds_nothing(
    two_databases: tuple[Database, Database],
) -> None:
    fast, _ = two_databases
    events = batch()
    writer = Writer(fast.url)
    first = writer.write(events)
    before = dump(fast)
    again = writer.write(events)
    writer.close()
    assert first.rows_inserted == len(events)
    assert (again.rows_inserted, again.executions_updated) == (0, 0)
    assert dump(fast) == before


def test_concurrent_batches_of_one_execution_assemble_the_whole_log(migrated: Database) -> None:
    """Started and completed events of the same executions, written at the same moment by two
    writers (two collectors, or two batches in flight): each log row still sees both."""

    rounds, per_round = 15, 8
    executions: list[uuid.UUID] = []
    writers = [Writer(migrated.url), Writer(migrated.url)]
    for _ in range(rounds):
        started, completed = [], []
        for _ in range(per_round):
            corr, execution = uuid.uuid4(), uuid.uuid4()
            executions.append(execution)
            started.append(
                OnexEnvelopeV1.create(
                    ExecutionStartedPayload(
                        correlation_id=corr,
                        execution_id=execution,
                        agent_name="a",
                        user_request="both halves",
                        started_at=T0,
                    )
                )
            )
            completed.append(
                OnexEnvelopeV1.create(
                    ExecutionCompletedPayload(
                        correlation_id=corr,
                        execution_id=execution,
                        agent_name="a",
                        completed_at=T0 + timedelta(seconds=1),
                        quality_score=0.5,
                    )
                )
            )
        gate = threading.Barrier(2)
        errors: list[BaseException] = []

        def write(
            writer: Writer,
            envelopes: list[OnexEnvelopeV1],
            gate: threading.Barrier,
            errors: list[BaseException],
        ) -> None:
            events = [decode_message(e.event_type.value, e.to_json()) for e in envelopes]
            gate.wait(10)
            try:
                writer.write(events)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [
            threading.Thread(target=write, args=(w, envs, gate, errors))
            for w, envs in zip(writers, (started, completed), strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors
    for writer in writers:
        writer.close()
    with psycopg.connect(migrated.url) as conn:
        rows = conn.execute(
            "SELECT status, user_prompt, started_at, completed_at FROM agent_execution_logs"
            " WHERE execution_id = ANY(%s)",
            (executions,),
        ).fetchall()
    assert len(rows) == rounds * per_round
    assert set(rows) == {("success", "both halves", T0, T0 + timedelta(seconds=1))}


def test_timestamps_land_as_instants_without_offset_meaning_utc() -> None:
    """A payload timestamp without an offset is UTC and one with an offset is that instant, in
    a database whose default time zone is neither, through every writing path."""
    from datetime import UTC, datetime

    corr = uuid.uuid4()

    def action(name: str, timestamp: str, duration_ms: int = 1) -> Decoded:
        env = json.loads(
            OnexEnvelopeV1.create(
                AgentActionPayload(
                    correlation_id=corr,
                    agent_name="a",
                    action_type="tool_call",
                    action_name=name,
                    duration_ms=duration_ms,
                )
            ).to_json()
        )
        env["payload"]["timestamp"] = timestamp
        return decode_message(env["event_type"], json.dumps(env).encode())

    expected = {
        "started": datetime(2025, 11, 6, 10, 0, tzinfo=UTC),  # fast path, start()
        "written": datetime(2025, 11, 6, 4, 30, tzinfo=UTC),  # fast path, write()
        "isolated": datetime(2025, 11, 6, 10, 0, tzinfo=UTC),  # row by row (a row rejected)
    }
    with fresh_database("onex_time_zone") as db:
        migrate(db.url)
        with psycopg.connect(db.url, autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE {db.name} SET timezone = 'America/New_York'")
        writer = Writer(db.url)
        try:
            writer.start([action("started", "2025-11-06T10:00:00")]).result()
            writer.write([action("written", "2025-11-06T10:00:00+05:30")])
            result = writer.write(
                [action("isolated", "2025-11-06T10:00:00"), action("refused", "2025-11-06T10:00:00", 2**40)]
            )
        finally:
            writer.close()
        assert [r.index for r in result.rejected] == [1]
        with psycopg.connect(db.url) as conn:
            assert conn.execute("SHOW timezone").fetchone() == ("America/New_York",)
            rows: dict[str, Any] = dict(
                conn.execute(  # type: ignore[arg-type]
                    "SELECT action_name, created_at FROM agent_actions"
                ).fetchall()
            )
    assert rows == expected


def test_a_batch_with_some_events_already_written_adds_only_the_new_ones(
    migrated: Database,
) -> None:
    """onex_ingest (0004) tries plain INSERTs; an event already there sends the batch through
    the idempotent statements, which add the new rows once and leave the others alone."""
    events = batch()
    ids = [str(e.event_id) for e in events]
    writer = Writer(migrated.url)
    try:
        first = writer.write(events[:3])
        mixed = writer.write(events)
        again = writer.write(events)
    finally:
        writer.close()
    assert first.rows_inserted == 3
    assert mixed.rows_inserted == len(events) - 3
    assert (again.rows_inserted, again.executions_updated) == (0, 0)
    stored = query(
        migrated,
        "SELECT id::text FROM agent_actions UNION ALL"
        " SELECT event_id::text FROM agent_execution_events UNION ALL"
        " SELECT id::text FROM agent_routing_decisions UNION ALL"
        " SELECT id::text FROM agent_transformation_events UNION ALL"
        " SELECT id::text FROM router_performance_metrics UNION ALL"
        " SELECT id::text FROM agent_detection_failures",
    )
    assert sorted(r[0] for r in stored if r[0] in ids) == sorted(ids)


def test_the_fresh_ingest_is_the_idempotent_one_without_on_conflict(migrated: Database) -> None:
    def definition(name: str) -> str:
        rows = query(migrated, "SELECT pg_get_functiondef(%s::regprocedure)", (f"{name}(jsonb)",))
        return str(rows[0][0])

    idempotent, fresh = definition("onex_ingest_idempotent"), definition("onex_ingest_fresh")
    assert idempotent.count("ON CONFLICT") == 6 and "ON CONFLICT" not in fresh
    for clause in (
        "ON CONFLICT (id, created_at) DO NOTHING",
        "ON CONFLICT (event_id, occurred_at) DO NOTHING",
    ):
        idempotent = idempotent.replace(clause, "")
    assert fresh == idempotent.replace("onex_ingest_idempotent(", "onex_ingest_fresh(")


def test_the_rebuild_finds_its_events_by_index_even_in_a_new_database() -> None:
    """Plans made while agent_execution_events is small must not scan the whole table (the
    collector's connections keep them while it grows)."""
    with fresh_database("onex_rebuild_plan") as db:
        migrate(db.url)
        with psycopg.connect(db.url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO agent_execution_events"
                " (event_id, execution_id, correlation_id, kind, agent_name, occurred_at)"
                " SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'started', 'a',"
                " now() FROM generate_series(1, 300)"
            )
            ids = [r[0] for r in conn.execute("SELECT execution_id FROM agent_execution_events").fetchall()]
            conn.execute("LOAD 'auto_explain'")
            conn.execute("SET auto_explain.log_min_duration = 0")
            conn.execute("SET auto_explain.log_nested_statements = on")
            conn.execute("SET auto_explain.log_level = notice")
            notices: list[str] = []
            conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
            for i in range(0, 300, 100):  # three batches of 100 executions, twice
                for _ in range(2):
                    conn.execute("SELECT onex_rebuild_execution_logs(%s::uuid[])", (ids[i : i + 100],))
    plans = [n for n in notices if "FROM agent_execution_events" in n]
    assert len(plans) == 6
    assert not [p for p in plans if "Seq Scan on agent_execution_events" in p]


def test_progress_updates_of_execution_logs_stay_on_their_pages(migrated: Database) -> None:
    """Rows written together fill pages; progress reports for them afterwards update many of
    them in place (HOT), not through every index (migration 0006). (In one transaction the old
    versions cannot be pruned yet, so only some fit: on full pages none would.)"""
    executions = [uuid.uuid4() for _ in range(300)]
    corr = uuid.uuid4()

    def decoded(payloads: list[Any]) -> list[Decoded]:
        envelopes = [OnexEnvelopeV1.create(p) for p in payloads]
        return [decode_message(e.event_type.value, e.to_json()) for e in envelopes]

    started = decoded(
        [
            ExecutionStartedPayload(
                correlation_id=corr,
                execution_id=e,
                agent_name="agent-x",
                user_request="u" * 40,
                project_path="/p/" + "x" * 40,
            )
            for e in executions
        ]
    )
    progress = decoded(
        [
            ExecutionProgressPayload(
                correlation_id=corr, execution_id=e, agent_name="agent-x", stage="s", percent=50
            )
            for e in executions
        ]
    )
    with psycopg.connect(migrated.url) as conn:
        for events in (started, progress):
            conn.execute("SELECT * FROM onex_ingest(%s::jsonb)", (batch_document(events),))
        hot = conn.execute(
            "SELECT pg_stat_get_xact_tuples_hot_updated('agent_execution_logs'::regclass)"
        ).fetchone()
        conn.rollback()
    assert hot is not None and hot[0] >= 30
