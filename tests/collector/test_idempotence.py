"""Duplicates and out-of-order lifecycle events: the rows depend only on the set of events."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from onex_collector.consumer import Collector
from onex_collector.rows import Decoded, decode_message
from onex_collector.writer import Writer
from onex_otel.envelope import (
    AgentActionPayload,
    ExecutionCompletedPayload,
    ExecutionProgressPayload,
    ExecutionStartedPayload,
    OnexEnvelopeV1,
)
from tests.collector.conftest import options, produce, query, running, wait_for
from tests.services.kafka import Broker
from tests.services.postgres import Database

pytestmark = pytest.mark.integration

T0 = datetime(2025, 11, 6, 12, 0, tzinfo=UTC)
LOG_COLUMNS = (
    "session_id, agent_name, user_prompt, status, started_at, completed_at, duration_ms,"
    " quality_score, error_message, error_type, metadata, project_path, project_name"
)


def lifecycle(corr: uuid.UUID, execution: uuid.UUID) -> list[OnexEnvelopeV1]:
    """started, progress 25 %, progress 75 %, completed (in time order)."""
    return [
        OnexEnvelopeV1.create(
            ExecutionStartedPayload(
                correlation_id=corr,
                execution_id=execution,
                agent_name="agent-router-service",
                user_request="route me",
                started_at=T0,
                project_name="p",
            )
        ),
        OnexEnvelopeV1.create(
            ExecutionProgressPayload(
                correlation_id=corr,
                execution_id=execution,
                agent_name="agent-router-service",
                stage="routing_analysis",
                percent=25,
                metadata={"max_recommendations": 5},
                reported_at=T0 + timedelta(milliseconds=10),
            )
        ),
        OnexEnvelopeV1.create(
            ExecutionProgressPayload(
                correlation_id=corr,
                execution_id=execution,
                agent_name="agent-router-service",
                stage="routing_completed",
                percent=75,
                metadata={"routing_time_ms": 8},
                reported_at=T0 + timedelta(milliseconds=20),
            )
        ),
        OnexEnvelopeV1.create(
            ExecutionCompletedPayload(
                correlation_id=corr,
                execution_id=execution,
                agent_name="agent-router-service",
                completed_at=T0 + timedelta(milliseconds=30),
                quality_score=0.8,
                metrics={"selected_agent": "agent-x"},
            )
        ),
    ]


def normalised(db: Database, execution: uuid.UUID) -> tuple[Any, ...]:
    (row,) = query(
        db, f"SELECT {LOG_COLUMNS} FROM agent_execution_logs WHERE execution_id = %s", (execution,)
    )
    metadata = dict(row[10])
    metadata.pop("started_event_id", None)
    metadata["progress"] = [
        {k: v for k, v in p.items() if k != "event_id"} for p in metadata.get("progress", [])
    ]
    return (*row[:10], metadata, *row[11:])


def decoded(envs: list[OnexEnvelopeV1]) -> list[Decoded]:
    return [decode_message(e.event_type.value, e.to_json()) for e in envs]


def test_every_arrival_order_and_redelivery_gives_the_same_row(migrated: Database) -> None:
    writer = Writer(migrated.url)
    results: list[tuple[Any, ...]] = []
    for order in itertools.permutations(range(4)):
        corr, execution = uuid.uuid4(), uuid.uuid4()
        envs = lifecycle(corr, execution)
        for i in order:  # one batch per event, in this arrival order
            writer.write(decoded([envs[i]]))
        writer.write(decoded([envs[order[0]], envs[order[1]]]))  # redelivered
        results.append(normalised(migrated, execution))
    writer.close()
    assert len(results) == 24 and all(r == results[0] for r in results)
    row = results[0]
    assert row == (
        None,
        "agent-router-service",
        "route me",
        "success",
        T0,
        T0 + timedelta(milliseconds=30),
        30,
        0.8,
        None,
        None,
        {
            "metrics": {"selected_agent": "agent-x"},
            "progress": [
                {
                    "stage": "routing_analysis",
                    "percent": 25.0,
                    "metadata": {"max_recommendations": 5},
                    "reported_at": "2025-11-06T12:00:00.010000Z",
                },
                {
                    "stage": "routing_completed",
                    "percent": 75.0,
                    "metadata": {"routing_time_ms": 8},
                    "reported_at": "2025-11-06T12:00:00.020000Z",
                },
            ],
        },
        None,
        "p",
    )


def test_partial_lifecycles(migrated: Database) -> None:
    writer = Writer(migrated.url)
    corr, execution = uuid.uuid4(), uuid.uuid4()
    envs = lifecycle(corr, execution)
    writer.write(decoded([envs[2]]))  # only a progress so far: an in-progress row
    row = normalised(migrated, execution)
    assert (row[3], row[4], row[5], row[6]) == ("in_progress", T0 + timedelta(milliseconds=20), None, None)
    writer.write(decoded([envs[3]]))  # completed without started: start time provisional
    row = normalised(migrated, execution)
    assert (row[3], row[5], row[6]) == ("success", T0 + timedelta(milliseconds=30), None)
    writer.write(decoded([envs[0]]))  # started arrives last: start time and duration settle
    row = normalised(migrated, execution)
    assert (row[2], row[4], row[6]) == ("route me", T0, 30)
    writer.close()


def test_duplicates_through_kafka_add_nothing(broker: Broker, topics: list[str], migrated: Database) -> None:
    corr, execution = uuid.uuid4(), uuid.uuid4()
    envs = lifecycle(corr, execution)
    actions = [
        OnexEnvelopeV1.create(
            AgentActionPayload(
                correlation_id=corr,
                agent_name="a",
                action_type="tool_call",
                action_name=f"t{i}",
                timestamp=T0,
            )
        )
        for i in range(5)
    ]
    # Out of order, every event twice, spread over batches of 3.
    sent = [
        envs[3],
        actions[0],
        envs[1],
        *actions,
        envs[0],
        envs[2],
        envs[3],
        envs[1],
        envs[0],
        envs[2],
        *actions,
    ]
    # Sentinels after them on each topic used: once they are written, so is everything before
    # (one partition per topic, batches committed in order).
    sentinel_corr, sentinel_exe = uuid.uuid4(), uuid.uuid4()
    sentinels = [
        *lifecycle(sentinel_corr, sentinel_exe),
        OnexEnvelopeV1.create(
            AgentActionPayload(
                correlation_id=sentinel_corr, agent_name="a", action_type="success", action_name="end"
            )
        ),
    ]
    produce(broker, [*sent, *sentinels])
    with running(Collector(options(broker, migrated, batch_size=3))):
        wait_for(
            lambda: (
                query(
                    migrated,
                    "SELECT count(*) FROM agent_execution_events WHERE execution_id = %s",
                    (sentinel_exe,),
                )[0][0]
                == 4
                and query(migrated, "SELECT 1 FROM agent_actions WHERE correlation_id = %s", (sentinel_corr,))
            ),
            what="the sentinels",
        )
    assert query(migrated, "SELECT count(*) FROM agent_actions WHERE correlation_id = %s", (corr,)) == [(5,)]
    assert query(
        migrated, "SELECT count(*) FROM agent_execution_events WHERE execution_id = %s", (execution,)
    ) == [(4,)]
    row = normalised(migrated, execution)
    assert row[3] == "success" and row[6] == 30
    assert [p["stage"] for p in row[10]["progress"]] == ["routing_analysis", "routing_completed"]
