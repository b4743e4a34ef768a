"""The agent_execution_logs rebuild of migrations 0007 and 0009 gives the rows 0001's gave.

0007 replaced the ordered aggregates of ``onex_rebuild_execution_logs`` with DISTINCT ON picks;
0009 has the ingest read only the events between the days recorded for its executions and its
own events' times. Here 0001's definition (which reads every event) is installed beside it under
another name, and both rebuild the same generated lifecycles (any mix of started / progress /
completed / failed events, some missing, some repeated, with tied timestamps; and lifecycles
spread over several days, written in batches in any order, so that a late event may be older
than everything written before): every column but ``updated_at`` must come out the same. The
ingest's plan is checked to leave out the day partitions outside its executions' days.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onex_collector.migrate import migrate
from onex_collector.rows import decode_message
from onex_collector.writer import batch_document
from onex_migrations import migration_files
from onex_otel.envelope import (
    ExecutionCompletedPayload,
    ExecutionFailedPayload,
    ExecutionProgressPayload,
    ExecutionStartedPayload,
    OnexEnvelopeV1,
)
from tests.services.postgres import Database, fresh_database

pytestmark = pytest.mark.integration

T0 = datetime(2025, 11, 6, 12, 0, tzinfo=UTC)
COLUMNS = (
    "execution_id, correlation_id, session_id, agent_name, user_prompt, status, started_at,"
    " completed_at, duration_ms, quality_score, error_message, error_type, metadata,"
    " project_path, project_name, claude_session_id, terminal_id, created_at"
)


def reference_rebuild() -> str:
    """0001's onex_rebuild_execution_logs, named ``rebuild_0001``."""
    text = next(f for f in migration_files() if f.name == "0001_legacy_tables.sql").read_text()
    match = re.search(
        r"CREATE OR REPLACE FUNCTION onex_rebuild_execution_logs\(ids UUID\[\]\).*?\n\$\$;",
        text,
        re.S,
    )
    assert match is not None
    return match.group(0).replace("onex_rebuild_execution_logs(", "rebuild_0001(", 1)


@pytest.fixture(scope="module")
def conn(migrated: Database) -> Iterator[psycopg.Connection[Any]]:
    """A connection to the migrated database with 0001's rebuild installed as ``rebuild_0001``."""
    with psycopg.connect(migrated.url, autocommit=True) as c:
        c.execute("SET TIME ZONE 'UTC'")
        c.execute(reference_rebuild())  # type: ignore[arg-type]
        yield c
        c.execute("DROP FUNCTION rebuild_0001(UUID[])")


@pytest.fixture(scope="module")
def days_conn() -> Iterator[psycopg.Connection[Any]]:
    """A connection to a new database with day partitions from the day before T0 to 6 days
    after it (the days the multi-day lifecycles use) and ``rebuild_0001``."""
    with fresh_database("onex_rebuild_days") as db:
        migrate(db.url)
        with psycopg.connect(db.url, autocommit=True) as c:
            c.execute("SET TIME ZONE 'UTC'")
            c.execute("SELECT onex_create_partitions(interval '7 days', %s)", (T0 - timedelta(days=1),))
            c.execute(reference_rebuild())  # type: ignore[arg-type]
            yield c


TIMES = st.integers(0, 3).map(lambda ms: T0 + timedelta(milliseconds=10 * ms))  # ties likely
TEXT = st.one_of(st.none(), st.sampled_from(["a", "b"]))


#: Times over five days (each a day partition of ``days_conn``), ties still possible.
DAYS = st.builds(
    lambda d, ms: T0 + timedelta(days=d, milliseconds=10 * ms), st.integers(0, 4), st.integers(0, 2)
)


@st.composite
def lifecycle(draw: st.DrawFn, times: st.SearchStrategy[datetime] = TIMES) -> list[Any]:
    """The payloads of one execution: 0-2 started, 0-3 progress, 0-2 completed, 0-2 failed."""
    corr, ex = uuid.uuid4(), uuid.uuid4()
    agent = st.sampled_from(["agent-a", "agent-b"])
    events: list[Any] = []
    for _ in range(draw(st.integers(0, 2))):
        events.append(
            ExecutionStartedPayload(
                correlation_id=corr,
                execution_id=ex,
                agent_name=draw(agent),
                user_request=draw(TEXT),
                started_at=draw(times),
                project_name=draw(TEXT),
                session_id=draw(st.one_of(st.none(), st.just(str(uuid.uuid4())))),
                context=draw(st.sampled_from([{}, {"k": 1}])),
            )
        )
    for _ in range(draw(st.integers(0, 3))):
        events.append(
            ExecutionProgressPayload(
                correlation_id=corr,
                execution_id=ex,
                agent_name=draw(agent),
                stage=draw(st.sampled_from(["x", "y"])),
                percent=draw(st.integers(0, 100)),
                reported_at=draw(times),
            )
        )
    for _ in range(draw(st.integers(0, 2))):
        events.append(
            ExecutionCompletedPayload(
                correlation_id=corr,
                execution_id=ex,
                agent_name=draw(agent),
                completed_at=draw(times),
                duration_ms=draw(st.one_of(st.none(), st.integers(0, 50))),
                quality_score=draw(st.one_of(st.none(), st.just(0.5))),
                metrics=draw(st.sampled_from([{}, {"m": 2}])),
            )
        )
    for _ in range(draw(st.integers(0, 2))):
        events.append(
            ExecutionFailedPayload(
                correlation_id=corr,
                execution_id=ex,
                agent_name=draw(agent),
                failed_at=draw(times),
                error_message=draw(st.sampled_from(["boom", ""])),
                error_type=draw(TEXT),
            )
        )
    return events


def rows(conn: psycopg.Connection[Any], ids: list[uuid.UUID]) -> list[tuple[Any, ...]]:
    return conn.execute(
        f"SELECT {COLUMNS} FROM agent_execution_logs WHERE execution_id = ANY(%s) ORDER BY execution_id",
        (ids,),
    ).fetchall()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(lifecycle().filter(bool), min_size=1, max_size=4))
def test_the_rebuild_gives_what_0001_gave(conn: psycopg.Connection[Any], lifecycles: list[list[Any]]) -> None:
    envelopes = [OnexEnvelopeV1.create(p) for events in lifecycles for p in events]
    decoded = [decode_message(e.event_type.value, e.to_json()) for e in envelopes]
    ids = sorted({d.execution_id for d in decoded if d.execution_id is not None})
    conn.execute("SELECT * FROM onex_ingest(%s::jsonb)", (batch_document(decoded),))
    rebuilt = rows(conn, ids)
    conn.execute("DELETE FROM agent_execution_logs WHERE execution_id = ANY(%s)", (ids,))
    conn.execute("SELECT rebuild_0001(%s::uuid[])", (ids,))
    assert rebuilt == rows(conn, ids)
    assert len(rebuilt) == len(ids)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(lifecycle(DAYS).filter(bool), min_size=1, max_size=3), st.data())
def test_lifecycles_over_days_written_in_any_order_give_what_0001_gave(
    days_conn: psycopg.Connection[Any], lifecycles: list[list[Any]], data: st.DataObject
) -> None:
    """Each batch (a random slice of the shuffled events of every lifecycle) is ingested, then
    the rows are compared with 0001's from every event written so far."""
    conn = days_conn
    envelopes = [OnexEnvelopeV1.create(p) for events in lifecycles for p in events]
    decoded = data.draw(st.permutations([decode_message(e.event_type.value, e.to_json()) for e in envelopes]))
    cuts = sorted(data.draw(st.lists(st.integers(1, len(decoded)), max_size=3)))
    for start, end in zip([0, *cuts], [*cuts, len(decoded)], strict=True):
        batch = decoded[start:end]
        if not batch:
            continue
        conn.execute("SELECT * FROM onex_ingest(%s::jsonb)", (batch_document(batch),))
        ids = sorted({d.execution_id for d in decoded[:end] if d.execution_id is not None})
        rebuilt = rows(conn, ids)
        conn.execute("DELETE FROM agent_execution_logs WHERE execution_id = ANY(%s)", (ids,))
        conn.execute("SELECT rebuild_0001(%s::uuid[])", (ids,))
        assert rebuilt == rows(conn, ids)
        assert len(rebuilt) == len(ids)


def started(ex: uuid.UUID, at: datetime) -> Any:
    return decode_message(
        *(lambda e: (e.event_type.value, e.to_json()))(
            OnexEnvelopeV1.create(
                ExecutionStartedPayload(
                    correlation_id=ex, execution_id=ex, agent_name="agent-d", started_at=at
                )
            )
        )
    )


def progress(ex: uuid.UUID, at: datetime) -> Any:
    return decode_message(
        *(lambda e: (e.event_type.value, e.to_json()))(
            OnexEnvelopeV1.create(
                ExecutionProgressPayload(
                    correlation_id=ex,
                    execution_id=ex,
                    agent_name="agent-d",
                    stage="s",
                    percent=1,
                    reported_at=at,
                )
            )
        )
    )


def rebuild_plans(conn: psycopg.Connection[Any], batch: list[Any]) -> list[str]:
    """The plans of the ingest's statements that read agent_execution_events."""
    notices: list[str] = []
    conn.execute("LOAD 'auto_explain'")
    for setting in ("log_min_duration = 0", "log_nested_statements = on", "log_level = notice"):
        conn.execute(f"SET auto_explain.{setting}")
    conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    conn.execute("SELECT * FROM onex_ingest(%s::jsonb)", (batch_document(batch),))
    conn.execute("SET auto_explain.log_min_duration = -1")
    return [n for n in notices if "WITH ev AS" in n]


def scanned(plan: str) -> set[str]:
    return set(re.findall(r" on (agent_execution_events_(?:p[0-9]{8}|default))\b", plan))


def test_the_ingest_reads_only_the_partitions_of_its_executions_days() -> None:
    """With 60 days of partitions, a batch of a new execution reads today's partition only; a
    late event of an execution that began 3 days ago reads those 3 days (0009)."""
    today = datetime.now(UTC).replace(microsecond=0)

    def part(days_ago: int) -> str:
        return f"agent_execution_events_p{today - timedelta(days=days_ago):%Y%m%d}"

    with fresh_database("onex_rebuild_prune") as db:
        migrate(db.url)
        with psycopg.connect(db.url, autocommit=True) as c:
            c.execute("SELECT onex_create_partitions(interval '67 days', now() - interval '60 days')")
            new, old = uuid.uuid4(), uuid.uuid4()
            c.execute(
                "SELECT * FROM onex_ingest(%s::jsonb)",
                (batch_document([started(old, today - timedelta(days=3))]),),
            )
            plans = rebuild_plans(c, [started(new, today)])
            assert len(plans) == 1 and scanned(plans[0]) == {part(0)}
            plans = rebuild_plans(c, [progress(old, today - timedelta(days=1))])
            assert len(plans) == 1 and scanned(plans[0]) == {part(d) for d in (3, 2, 1)}
            assert c.execute(
                "SELECT jsonb_array_length(metadata->'progress'), started_at FROM"
                " agent_execution_logs WHERE execution_id = %s",
                (old,),
            ).fetchall() == [(1, today - timedelta(days=3))]


def test_a_rebuild_by_ids_records_the_days_of_events_inserted_directly(
    days_conn: psycopg.Connection[Any],
) -> None:
    """Events written without the ingest (the collector's row-by-row path, other tools) and the
    one-argument rebuild: it reads them all and records their days, so a later ingest of a
    newer event still finds the older ones."""
    ex = uuid.uuid4()
    days_conn.execute(
        "INSERT INTO agent_execution_events"
        " (event_id, execution_id, correlation_id, kind, agent_name, occurred_at)"
        " VALUES (gen_random_uuid(), %s, %s, 'started', 'agent-d', %s)",
        (ex, ex, T0),
    )
    days_conn.execute("SELECT onex_rebuild_execution_logs(%s::uuid[])", ([ex],))
    assert days_conn.execute(
        "SELECT first_day, last_day FROM agent_execution_event_days WHERE execution_id = %s", (ex,)
    ).fetchall() == [(T0.replace(hour=0), T0.replace(hour=0))]
    days_conn.execute(
        "SELECT * FROM onex_ingest(%s::jsonb)", (batch_document([progress(ex, T0 + timedelta(days=3))]),)
    )
    assert days_conn.execute(
        "SELECT started_at, jsonb_array_length(metadata->'progress') FROM agent_execution_logs"
        " WHERE execution_id = %s",
        (ex,),
    ).fetchall() == [(T0, 1)]


def test_the_bound_holds_across_a_daylight_saving_change_of_the_session(
    days_conn: psycopg.Connection[Any],
) -> None:
    """The day after a recorded last day ends 24 hours later, whatever the session's time zone:
    in Paris 2025-03-30 had 23 hours, and an event at 23:30 UTC that day must still be read."""
    ex = uuid.uuid4()
    late = datetime(2025, 3, 30, 23, 30, tzinfo=UTC)
    days_conn.execute("SET TIME ZONE 'Europe/Paris'")
    try:
        days_conn.execute("SELECT * FROM onex_ingest(%s::jsonb)", (batch_document([started(ex, late)]),))
        days_conn.execute(
            "SELECT * FROM onex_ingest(%s::jsonb)",
            (batch_document([progress(ex, late - timedelta(days=1))]),),
        )
    finally:
        days_conn.execute("SET TIME ZONE 'UTC'")
    assert days_conn.execute(
        "SELECT started_at, jsonb_array_length(metadata->'progress') FROM agent_execution_logs"
        " WHERE execution_id = %s",
        (ex,),
    ).fetchall() == [(late, 1)]
