"""`onex-otel db migrate` and `onex-otel replay` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import pytest

from onex_collector.migrate import available_migrations
from onex_otel.envelope import AgentActionPayload, OnexEnvelopeV1
from tests.collector.conftest import produce, query
from tests.services.kafka import Broker, free_port
from tests.services.postgres import Database, fresh_database

pytestmark = pytest.mark.integration


def cli(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "onex_otel.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_db_migrate_applies_once_and_records_versions() -> None:
    with fresh_database("onex_migrate") as db:
        first = cli("db", "migrate", "--database-url", db.url)
        assert first.returncode == 0, first.stderr
        assert "applying 0001_legacy_tables" in first.stderr
        assert f"applied {len(available_migrations())} migration(s)" in first.stderr
        schema = query(
            db, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
        )
        again = cli("db", "migrate", "--database-url", db.url)
        assert again.returncode == 0 and "nothing to apply" in again.stderr
        assert (
            query(
                db,
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
            )
            == schema
        )
        assert [r[0] for r in query(db, "SELECT version FROM schema_migrations ORDER BY 1")] == [
            m.version for m in available_migrations()
        ]
        listed = cli("db", "migrate", "--list", "--database-url", db.url)
        assert listed.returncode == 0 and listed.stdout == ""


def test_db_migrate_error_is_one_sentence() -> None:
    result = cli(
        "db", "migrate", "--database-url", "host=127.0.0.1 port=1 user=postgres dbname=x connect_timeout=2"
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("onex-otel db: cannot connect to PostgreSQL")


def test_collect_without_kafka_is_a_clear_error() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
    result = subprocess.run(
        [sys.executable, "-m", "onex_otel.cli", "collect"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "onex-otel collect: KAFKA_BOOTSTRAP_SERVERS (or KAFKA_BROKERS) is not set"
    )


def replay(broker: Broker, db: Database, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli(
        "replay",
        "--bootstrap-servers",
        broker.bootstrap,
        "--database-url",
        db.url,
        "--idle-seconds",
        "1",
        *extra,
        ONEX_DLQ_TOPIC="onex.dlq.test",
    )


def test_replay_rebuilds_the_tables_idempotently(
    broker: Broker, topics: list[str], migrated: Database
) -> None:
    corr = uuid.uuid4()
    early = [
        OnexEnvelopeV1.create(
            AgentActionPayload(
                correlation_id=corr, agent_name="r", action_type="success", action_name=f"early{i}"
            )
        )
        for i in range(3)
    ]
    produce(broker, early)
    time.sleep(0.05)
    since = datetime.now(UTC)
    time.sleep(0.05)
    late = [
        OnexEnvelopeV1.create(
            AgentActionPayload(
                correlation_id=corr, agent_name="r", action_type="success", action_name=f"late{i}"
            )
        )
        for i in range(2)
    ]
    produce(broker, late)
    with fresh_database("onex_replay") as db:
        assert cli("db", "migrate", "--database-url", db.url).returncode == 0
        first = replay(broker, db)
        assert first.returncode == 0, first.stderr
        assert "replay done:" in first.stderr
        names = sorted(
            r[0]
            for r in query(db, "SELECT action_name FROM agent_actions WHERE correlation_id = %s", (corr,))
        )
        assert names == ["early0", "early1", "early2", "late0", "late1"]
        snapshot = query(db, "SELECT * FROM agent_actions ORDER BY id")
        logs = query(db, "SELECT * FROM agent_execution_logs ORDER BY execution_id")
        second = replay(broker, db)
        assert second.returncode == 0, second.stderr
        assert " 0 new row(s)" in second.stderr
        assert query(db, "SELECT * FROM agent_actions ORDER BY id") == snapshot
        assert [r[:-1] for r in query(db, "SELECT * FROM agent_execution_logs ORDER BY execution_id")] == [
            r[:-1] for r in logs
        ]  # all but updated_at
    with fresh_database("onex_replay_since") as db:
        assert cli("db", "migrate", "--database-url", db.url).returncode == 0
        result = replay(broker, db, "--since", since.isoformat())
        assert result.returncode == 0, result.stderr
        assert sorted(
            r[0]
            for r in query(db, "SELECT action_name FROM agent_actions WHERE correlation_id = %s", (corr,))
        ) == ["late0", "late1"]


def unreachable_kafka() -> str:
    return f"127.0.0.1:{free_port()}"  # nothing listens: every connection is refused


@pytest.mark.parametrize("command", [["replay"], ["collect", "--port", "0"]])
def test_unreachable_kafka_is_a_one_line_error_within_the_connect_timeout(
    command: list[str], migrated: Database
) -> None:
    bootstrap = unreachable_kafka()
    started = time.monotonic()
    # before: replay and collect retried for ever (the subprocess timeout ended them)
    result = cli(
        *command,
        "--bootstrap-servers",
        bootstrap,
        "--database-url",
        migrated.url,
        timeout=90,
        ONEX_CONNECT_TIMEOUT_S="3",
    )
    took = time.monotonic() - started
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"onex-otel {command[0]}: no Kafka broker answered at {bootstrap} within 3s")
    assert took < 60  # the 3 s bound plus interpreter start-up, with a wide margin


@pytest.mark.parametrize("command", [["replay"], ["collect", "--port", "0"], ["trace", "x-1"]])
def test_unreachable_postgres_is_a_one_line_error(command: list[str], broker: Broker) -> None:
    url = "postgresql://postgres@127.0.0.1:1/onex"
    extra = [] if command[0] == "trace" else ["--bootstrap-servers", broker.bootstrap]
    result = cli(*command, *extra, "--database-url", url, timeout=90, ONEX_CONNECT_TIMEOUT_S="3")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"onex-otel {command[0]}: cannot connect to PostgreSQL")


def test_replay_on_a_cluster_without_the_topics_ends_at_once(own_broker: Broker, migrated: Database) -> None:
    # before: no partition was ever assigned, so "caught up" never came: it ran for ever
    result = cli(
        "replay",
        "--bootstrap-servers",
        own_broker.bootstrap,
        "--database-url",
        migrated.url,
        "--idle-seconds",
        "1",
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    assert "topics exists on" in result.stderr and "nothing to read" in result.stderr
    assert "replay done: 0 message(s) read" in result.stderr
