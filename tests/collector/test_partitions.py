"""The partitioned layout (migration 0008) against real PostgreSQL: migration of a populated
database, partitions created ahead (taking rows over from the default partition), retention."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from onex_collector.migrate import migrate
from onex_collector.partitions import PartitionMaintainer, maintain, partitions
from onex_collector.rows import decode_message
from onex_collector.writer import Writer
from onex_otel.cli import main
from onex_otel.envelope import (
    AgentActionPayload,
    DetectionFailurePayload,
    ExecutionCompletedPayload,
    ExecutionProgressPayload,
    ExecutionStartedPayload,
    OnexEnvelopeV1,
    RouterPerformancePayload,
    RoutingDecisionPayload,
    TransformationPayload,
)
from tests.collector.conftest import query, wait_for
from tests.collector.test_process import procs, start_collector  # noqa: F401
from tests.services.kafka import Broker
from tests.services.postgres import Database, fresh_database

pytestmark = pytest.mark.integration

TABLES = [
    "agent_actions",
    "agent_routing_decisions",
    "agent_transformation_events",
    "router_performance_metrics",
    "agent_detection_failures",
    "agent_execution_events",
]
NOW = datetime.now(UTC).replace(microsecond=0)
CORR = uuid.uuid4()


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def day(when: datetime) -> datetime:
    """The start of the UTC day holding ``when``."""
    return when.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def day_name(table: str, when: datetime) -> str:
    return f"{table}_p{when.astimezone(UTC):%Y%m%d}"


def action(when: datetime, name: str, debug: bool = True) -> OnexEnvelopeV1:
    return OnexEnvelopeV1.create(
        AgentActionPayload(
            correlation_id=CORR,
            agent_name="agent-p",
            action_type="tool_call",
            action_name=name,
            debug_mode=debug,
            duration_ms=5,
            timestamp=when,
        )
    )


def lifecycle(started: datetime, ended: datetime) -> list[OnexEnvelopeV1]:
    ex = uuid.uuid4()
    return [
        OnexEnvelopeV1.create(
            ExecutionStartedPayload(
                correlation_id=CORR, execution_id=ex, agent_name="agent-p", started_at=started
            )
        ),
        OnexEnvelopeV1.create(
            ExecutionCompletedPayload(
                correlation_id=CORR, execution_id=ex, agent_name="agent-p", completed_at=ended
            )
        ),
    ]


def write(db: Database, envs: list[OnexEnvelopeV1]) -> int:
    writer = Writer(db.url)
    try:
        result = writer.write([decode_message(e.event_type.value, e.to_json()) for e in envs])
    finally:
        writer.close()
    assert not result.rejected
    return result.rows_inserted


def populated() -> list[OnexEnvelopeV1]:
    """Rows of every partitioned table over several days (one 40 days old, one tomorrow)."""
    envs = [action(ago(d), f"a{d}") for d in (40, 3, 2, 0, -1)]
    envs += lifecycle(ago(3), ago(2)) + lifecycle(ago(0.01), NOW)
    envs += [
        OnexEnvelopeV1.create(
            RoutingDecisionPayload(
                correlation_id=CORR,
                selected_agent="agent-p",
                confidence_score=0.5,
                routing_strategy="fuzzy",
                routing_time_ms=3,
                timestamp=ago(2),
            )
        ),
        OnexEnvelopeV1.create(
            TransformationPayload(
                correlation_id=CORR,
                source_agent="poly",
                target_agent="agent-p",
                confidence_score=0.5,
                transformation_duration_ms=4,
                timestamp=ago(1),
            )
        ),
        OnexEnvelopeV1.create(
            RouterPerformancePayload(
                correlation_id=CORR,
                query_text="q",
                routing_duration_ms=3,
                cache_hit=True,
                candidates_evaluated=2,
                timestamp=ago(1),
            )
        ),
        OnexEnvelopeV1.create(
            DetectionFailurePayload(
                correlation_id=CORR, user_request="?", failure_reason="no_match", timestamp=ago(5)
            )
        ),
    ]
    return envs


def snapshot(db: Database) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for table in [*TABLES, "agent_execution_logs"]:
        rows = query(db, f"SELECT to_jsonb(t) FROM {table} AS t")
        out[table] = sorted(json.dumps(r[0], sort_keys=True) for r in rows)
    return out


def index_names(db: Database, table: str) -> set[str]:
    return {r[0] for r in query(db, "SELECT indexname FROM pg_indexes WHERE tablename = %s", (table,))}


def partition_of(db: Database, table: str, name: str) -> str:
    return str(
        query(db, f"SELECT tableoid::regclass::text FROM {table} WHERE action_name = %s", (name,))[0][0]
    )


@pytest.fixture
def fresh() -> Iterator[Database]:
    with fresh_database("onex_part") as db:
        yield db


def test_migrating_a_populated_unpartitioned_database_keeps_every_row(fresh: Database) -> None:
    migrate(fresh.url, target="0007")
    envs = populated()
    assert write(fresh, envs) > 0
    with psycopg.connect(fresh.url, autocommit=True) as conn:  # a row another tool wrote
        conn.execute(
            "INSERT INTO agent_routing_decisions (correlation_id, selected_agent,"
            " confidence_score, routing_strategy, routing_time_ms, created_at)"
            " VALUES (%s, 'x', 0.1, 's', 1, NULL)",
            (CORR,),
        )
    before = snapshot(fresh)
    indexes = {t: index_names(fresh, t) for t in TABLES}
    assert query(fresh, "SELECT count(*) FROM pg_partitioned_table") == [(0,)]

    applied = migrate(fresh.url, target="0008")
    assert [m.version for m in applied] == ["0008"]

    after = snapshot(fresh)
    before["agent_routing_decisions"] = sorted(
        r.replace('"created_at": null', '"created_at": "-infinity"')
        for r in before["agent_routing_decisions"]
    )
    assert after == before
    assert sum(len(v) for v in after.values()) >= len(envs) + 2
    partitioned = {r[0] for r in query(fresh, "SELECT partrelid::regclass::text FROM pg_partitioned_table")}
    assert partitioned == set(TABLES)
    for table in TABLES:
        assert index_names(fresh, table) == indexes[table], table
    kept = partitions(fresh.url)
    assert day_name("agent_actions", ago(40)) in kept["agent_actions"]
    assert day_name("agent_actions", ago(-7)) in kept["agent_actions"]  # created ahead
    assert partition_of(fresh, "agent_actions", "a40") == day_name("agent_actions", ago(40))
    assert query(fresh, "SELECT count(*) FROM agent_actions_default") == [(0,)]

    # 0009 recorded the days of every execution's events.
    assert [m.version for m in migrate(fresh.url, target="0009")] == ["0009"]
    assert query(
        fresh, "SELECT execution_id, first_day, last_day FROM agent_execution_event_days ORDER BY 1"
    ) == query(
        fresh,
        "SELECT execution_id, onex_partition_day(min(occurred_at)),"
        " onex_partition_day(max(occurred_at)) FROM agent_execution_events GROUP BY 1 ORDER BY 1",
    )
    assert len(query(fresh, "SELECT * FROM agent_execution_event_days")) == 2

    # Still idempotent on the new keys, and the log rebuild still follows new events (reading
    # the events written before the migration: the started one is 3 days old).
    assert write(fresh, envs) == 0
    ex, started_at = query(
        fresh, "SELECT execution_id, started_at FROM agent_execution_logs ORDER BY started_at LIMIT 1"
    )[0]
    assert (
        write(
            fresh,
            [
                OnexEnvelopeV1.create(
                    ExecutionProgressPayload(
                        correlation_id=CORR,
                        execution_id=ex,
                        agent_name="agent-p",
                        stage="s",
                        percent=50,
                        reported_at=ago(2.5),
                    )
                )
            ],
        )
        == 1
    )
    assert query(
        fresh,
        "SELECT jsonb_array_length(metadata->'progress'), started_at, status"
        " FROM agent_execution_logs WHERE execution_id = %s",
        (ex,),
    ) == [(1, started_at, "success")]


def test_partitions_created_ahead_take_over_rows_from_the_default_partition(
    fresh: Database,
) -> None:
    migrate(fresh.url)
    early = action(ago(-20), "early")
    assert write(fresh, [early, action(NOW, "now")]) == 2
    assert partition_of(fresh, "agent_actions", "early") == "agent_actions_default"
    assert partition_of(fresh, "agent_actions", "now") == day_name("agent_actions", NOW)

    result = maintain(fresh.url, ahead_days=21)
    assert result.created == len(TABLES) * 14  # days 8..21 ahead (0..7 came with the migration)
    assert partition_of(fresh, "agent_actions", "early") == day_name("agent_actions", ago(-20))
    assert query(fresh, "SELECT count(*) FROM agent_actions") == [(2,)]
    assert maintain(fresh.url, ahead_days=21).created == 0
    assert write(fresh, [early]) == 0  # redelivered: still idempotent


def test_retention_drops_whole_old_days_and_the_debug_cleanup_works_within_the_rest(
    fresh: Database,
) -> None:
    migrate(fresh.url)
    write(
        fresh,
        [
            action(ago(40), "old"),
            action(ago(35), "old-in-default"),
            action(ago(10), "debug-10"),
            action(ago(10), "kept-10", debug=False),
            action(NOW, "now"),
            *lifecycle(ago(40), ago(39.9)),
            *lifecycle(ago(1), NOW),
        ],
    )
    with psycopg.connect(fresh.url, autocommit=True) as conn:  # the day 40 days ago only
        conn.execute("SELECT onex_create_partitions(interval '0', %s)", (ago(40),))
    assert partition_of(fresh, "agent_actions", "old") == day_name("agent_actions", ago(40))
    assert partition_of(fresh, "agent_actions", "old-in-default") == "agent_actions_default"

    result = maintain(fresh.url, ahead_days=7, retention_days=30, debug_retention_days=5)
    assert result.dropped == len(TABLES)
    assert result.debug_deleted == 1
    names = sorted(r[0] for r in query(fresh, "SELECT action_name FROM agent_actions"))
    assert names == ["kept-10", "now"]
    assert all(day_name(t, ago(40)) not in p for t, p in partitions(fresh.url).items())
    assert query(fresh, "SELECT count(*) FROM agent_execution_events") == [(2,)]
    assert query(fresh, "SELECT count(*) FROM agent_execution_logs") == [(1,)]
    assert query(fresh, "SELECT first_day, last_day FROM agent_execution_event_days") == [
        (day(ago(1)), day(NOW))
    ]  # the execution 40 days old is gone with its events
    with pytest.raises(psycopg.errors.RaiseException):
        maintain(fresh.url, ahead_days=-1)


def test_db_maintain_command(fresh: Database, capsys: pytest.CaptureFixture[str]) -> None:
    migrate(fresh.url)
    assert main(["db", "maintain", "--database-url", fresh.url, "--ahead-days", "9"]) == 0
    assert "partition(s) created" in capsys.readouterr().err
    assert day_name("agent_actions", ago(-9)) in partitions(fresh.url)["agent_actions"]
    assert main(["db", "maintain", "--database-url", fresh.url, "--retention-days", "-1"]) == 1
    assert "ONEX_RETENTION_DAYS" in capsys.readouterr().err


def test_maintainer_failure_is_counted_not_raised(fresh: Database) -> None:
    migrate(fresh.url, target="0007")  # no partition functions yet
    maintainer = PartitionMaintainer(fresh.url, interval_s=60, ahead_days=1)
    assert maintainer.run_once() is None and maintainer.failures == 1


def test_the_collector_creates_partitions_ahead(
    broker: Broker,
    fresh: Database,
    tmp_path: Path,
    procs: list[subprocess.Popen[bytes]],  # noqa: F811
) -> None:
    migrate(fresh.url)
    far = day_name("agent_actions", ago(-12))
    assert far not in partitions(fresh.url)["agent_actions"]
    proc = start_collector(broker, fresh, "maint", tmp_path / "c.log", ONEX_PARTITIONS_AHEAD_DAYS="12")
    procs.append(proc)
    wait_for(
        lambda: far in partitions(fresh.url)["agent_actions"], timeout=30, what="partitions 12 days ahead"
    )
    proc.terminate()
    assert proc.wait(30) == 0
