"""The collector's in-progress probe: the figures behind the stuck-runs alert."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from onex_collector.metrics import CollectorMetrics, render_prometheus
from onex_collector.migrate import migrate
from onex_collector.probe import InProgressProbe
from onex_collector.rows import decode_message
from onex_collector.writer import Writer
from onex_otel.envelope import ExecutionCompletedPayload, ExecutionStartedPayload, OnexEnvelopeV1
from tests.services.postgres import fresh_database

pytestmark = pytest.mark.integration


def _started(agent: str, at: datetime, execution: uuid.UUID) -> OnexEnvelopeV1:
    return OnexEnvelopeV1.create(
        ExecutionStartedPayload(
            correlation_id=uuid.uuid4(), execution_id=execution, agent_name=agent, started_at=at
        )
    )


def test_probe_counts_runs_in_progress_and_the_oldest_age() -> None:
    now = datetime.now(UTC)
    done = uuid.uuid4()
    events = [
        _started("a", now - timedelta(hours=2), uuid.uuid4()),  # stuck
        _started("a", now - timedelta(minutes=1), uuid.uuid4()),  # running
        _started("b", now - timedelta(hours=5), done),  # finished: not counted
        OnexEnvelopeV1.create(
            ExecutionCompletedPayload(
                correlation_id=uuid.uuid4(),
                execution_id=done,
                agent_name="b",
                completed_at=now - timedelta(hours=4),
            )
        ),
    ]
    with fresh_database("onex_probe") as db:
        metrics = CollectorMetrics()
        probe = InProgressProbe(db.url, metrics)
        probe.probe_once()  # tables not there yet: the figures are unknown, not 0
        assert metrics.snapshot()["executions_in_progress"] is None
        assert "in_progress" not in render_prometheus(metrics)

        migrate(db.url)
        probe.probe_once()
        assert metrics.snapshot()["executions_in_progress"] == 0
        assert metrics.snapshot()["oldest_in_progress_seconds"] == 0.0

        writer = Writer(db.url)
        writer.write([decode_message(e.event_type.value, e.to_json()) for e in events])
        writer.close()
        probe.probe_once()
        snap = metrics.snapshot()
        assert snap["executions_in_progress"] == 2
        assert 7200 - 5 < snap["oldest_in_progress_seconds"] < 7200 + 120
        text = render_prometheus(metrics)
        assert "onex_collector_executions_in_progress 2.0" in text
        assert "# TYPE onex_collector_oldest_in_progress_seconds gauge" in text
        probe.close()
        assert probe._conn is None  # closed, so the database can be dropped

    # the database is gone: the figures are cleared (not reported stale), nothing raises
    probe.probe_once()
    assert metrics.snapshot()["executions_in_progress"] is None


def test_probe_thread_refreshes_and_stops_promptly() -> None:
    with fresh_database("onex_probe") as db:
        migrate(db.url)
        metrics = CollectorMetrics()
        with InProgressProbe(db.url, metrics, every_s=0.1):
            deadline = time.monotonic() + 10
            while metrics.snapshot()["executions_in_progress"] is None:
                assert time.monotonic() < deadline, "the probe never ran"
                time.sleep(0.05)
            writer = Writer(db.url)
            writer.write(
                [
                    decode_message(e.event_type.value, e.to_json())
                    for e in [_started("a", datetime.now(UTC), uuid.uuid4())]
                ]
            )
            writer.close()
            while metrics.snapshot()["executions_in_progress"] != 1:
                assert time.monotonic() < deadline, "the probe did not refresh"
                time.sleep(0.05)
            started = time.monotonic()
        assert time.monotonic() - started < 2
