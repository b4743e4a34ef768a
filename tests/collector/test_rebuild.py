"""The agent_execution_logs rebuild of migration 0007 gives the rows 0001's definition gave.

0007 replaced the ordered aggregates of ``onex_rebuild_execution_logs`` with DISTINCT ON picks.
Here 0001's definition is installed beside it under another name, and both rebuild the same
generated lifecycles (any mix of started / progress / completed / failed events, some missing,
some repeated, with tied timestamps): every column but ``updated_at`` must come out the same.
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
from tests.services.postgres import Database

pytestmark = pytest.mark.integration

T0 = datetime(2025, 11, 6, 12, 0, tzinfo=UTC)
COLUMNS = (
    "execution_id, correlation_id, session_id, agent_name, user_prompt, status, started_at,"
    " completed_at, duration_ms, quality_score, error_message, error_type, metadata,"
    " project_path, project_name, claude_session_id, terminal_id, created_at"
)


@pytest.fixture(scope="module")
def conn(migrated: Database) -> Iterator[psycopg.Connection[Any]]:
    """A connection to the migrated database with 0001's rebuild installed as ``rebuild_0001``."""
    text = next(f for f in migration_files() if f.name == "0001_legacy_tables.sql").read_text()
    match = re.search(
        r"CREATE OR REPLACE FUNCTION onex_rebuild_execution_logs\(ids UUID\[\]\).*?\n\$\$;",
        text, re.S,
    )
    assert match is not None
    reference = match.group(0).replace("onex_rebuild_execution_logs(", "rebuild_0001(", 1)
    with psycopg.connect(migrated.url, autocommit=True) as c:
        c.execute("SET TIME ZONE 'UTC'")
        c.execute(reference)  # type: ignore[arg-type]
        yield c
        c.execute("DROP FUNCTION rebuild_0001(UUID[])")


TIMES = st.integers(0, 3).map(lambda ms: T0 + timedelta(milliseconds=10 * ms))  # ties likely
TEXT = st.one_of(st.none(), st.sampled_from(["a", "b"]))


@st.composite
def lifecycle(draw: st.DrawFn) -> list[Any]:
    """The payloads of one execution: 0-2 started, 0-3 progress, 0-2 completed, 0-2 failed."""
    corr, ex = uuid.uuid4(), uuid.uuid4()
    agent = st.sampled_from(["agent-a", "agent-b"])
    events: list[Any] = []
    for _ in range(draw(st.integers(0, 2))):
        events.append(ExecutionStartedPayload(
            correlation_id=corr, execution_id=ex, agent_name=draw(agent),
            user_request=draw(TEXT), started_at=draw(TIMES), project_name=draw(TEXT),
            session_id=draw(st.one_of(st.none(), st.just(str(uuid.uuid4())))),
            context=draw(st.sampled_from([{}, {"k": 1}]))))
    for _ in range(draw(st.integers(0, 3))):
        events.append(ExecutionProgressPayload(
            correlation_id=corr, execution_id=ex, agent_name=draw(agent),
            stage=draw(st.sampled_from(["x", "y"])), percent=draw(st.integers(0, 100)),
            reported_at=draw(TIMES)))
    for _ in range(draw(st.integers(0, 2))):
        events.append(ExecutionCompletedPayload(
            correlation_id=corr, execution_id=ex, agent_name=draw(agent),
            completed_at=draw(TIMES), duration_ms=draw(st.one_of(st.none(), st.integers(0, 50))),
            quality_score=draw(st.one_of(st.none(), st.just(0.5))),
            metrics=draw(st.sampled_from([{}, {"m": 2}]))))
    for _ in range(draw(st.integers(0, 2))):
        events.append(ExecutionFailedPayload(
            correlation_id=corr, execution_id=ex, agent_name=draw(agent),
            failed_at=draw(TIMES), error_message=draw(st.sampled_from(["boom", ""])),
            error_type=draw(TEXT)))
    return events


def rows(conn: psycopg.Connection[Any], ids: list[uuid.UUID]) -> list[tuple[Any, ...]]:
    return conn.execute(
        f"SELECT {COLUMNS} FROM agent_execution_logs WHERE execution_id = ANY(%s)"
        " ORDER BY execution_id", (ids,)).fetchall()


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(lifecycle().filter(bool), min_size=1, max_size=4))
def test_the_rebuild_gives_what_0001_gave(
    conn: psycopg.Connection[Any], lifecycles: list[list[Any]]
) -> None:
    envelopes = [OnexEnvelopeV1.create(p) for events in lifecycles for p in events]
    decoded = [decode_message(e.event_type.value, e.to_json()) for e in envelopes]
    ids = sorted({d.execution_id for d in decoded if d.execution_id is not None})
    conn.execute("SELECT * FROM onex_ingest(%s::jsonb)", (batch_document(decoded),))
    rebuilt = rows(conn, ids)
    conn.execute("DELETE FROM agent_execution_logs WHERE execution_id = ANY(%s)", (ids,))
    conn.execute("SELECT rebuild_0001(%s::uuid[])", (ids,))
    assert rebuilt == rows(conn, ids)
    assert len(rebuilt) == len(ids)
