"""Collectors in one consumer group on multi-partition topics: kill -9, join and leave mid-stream.

Every event id sent is in PostgreSQL exactly once, and the execution-log rows rebuilt from
lifecycle events written by different collectors (before and after a rebalance) are complete.
"""

from __future__ import annotations

import collections
import re
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from onex_collector.rows import default_topic_types
from onex_otel import conventions as c
from onex_otel.envelope import (
    AgentActionPayload,
    ExecutionCompletedPayload,
    ExecutionStartedPayload,
    OnexEnvelopeV1,
)
from tests.collector.conftest import query, wait_for
from tests.collector.test_process import _metrics, procs, start_collector  # noqa: F401
from tests.services.kafka import Broker, running_broker
from tests.services.postgres import Database

pytestmark = pytest.mark.integration

PARTITIONS = 6


@pytest.fixture
def group_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker of this test's own (or the external one): its group coordinator serves no other test.

    In a whole-suite run the session's broker has served hundreds of groups and topics by the
    time these tests run; a rebalance that such a broker once failed to start would read as a
    collector losing events.
    """
    home = tmp_path / "kafka"
    home.mkdir()
    with running_broker(home) as b:
        yield b


def create_partitioned_topics(broker: Broker, prefix: str) -> None:
    """Every event topic under ``prefix``, with :data:`PARTITIONS` partitions each."""
    names = [t for t in default_topic_types(prefix) if t not in c.LEGACY_TOPICS]
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futures = admin.create_topics(
        [NewTopic(t, num_partitions=PARTITIONS, replication_factor=1) for t in names],
        operation_timeout=10,
    )
    for fut in futures.values():
        fut.result(15)
    meta = admin.list_topics(timeout=10)
    assert all(len(meta.topics[t].partitions) == PARTITIONS for t in names)


class Stream:
    """Publishes actions and execution lifecycles at a steady rate, in a thread of its own.

    Each execution's started event goes out in the first tenth of the stream and its completed
    event in the last tenth, so the two are written before and after the faults.
    """

    def __init__(self, broker: Broker, prefix: str, actions: int, executions: int, rate: float) -> None:
        self.prefix = prefix
        self.correlations = [uuid.uuid4() for _ in range(24)]  # spread over the partitions
        self.action_ids: list[uuid.UUID] = []
        self.executions: dict[uuid.UUID, uuid.UUID] = {}
        self._broker = broker
        self._rate = rate
        self._plan: list[OnexEnvelopeV1] = []
        self._errors: list[object] = []
        base = datetime.now(UTC) - timedelta(minutes=1)
        started: list[OnexEnvelopeV1] = []
        completed: list[OnexEnvelopeV1] = []
        for i in range(executions):
            corr, ex = self.correlations[i % len(self.correlations)], uuid.uuid4()
            self.executions[ex] = corr
            started.append(
                OnexEnvelopeV1.create(
                    ExecutionStartedPayload(
                        correlation_id=corr,
                        execution_id=ex,
                        agent_name="agent-g",
                        started_at=base + timedelta(milliseconds=i),
                    )
                )
            )
            completed.append(
                OnexEnvelopeV1.create(
                    ExecutionCompletedPayload(
                        correlation_id=corr,
                        execution_id=ex,
                        agent_name="agent-g",
                        completed_at=base + timedelta(seconds=30, milliseconds=i),
                    )
                )
            )
        for i in range(actions):
            env = OnexEnvelopeV1.create(
                AgentActionPayload(
                    correlation_id=self.correlations[i % len(self.correlations)],
                    agent_name="agent-g",
                    action_type="tool_call",
                    action_name=f"a{i}",
                )
            )
            self.action_ids.append(env.event_id)
            self._plan.append(env)
        tenth = max(1, actions // 10)
        self._plan[tenth:tenth] = started
        self._plan[-tenth:-tenth] = completed
        self.sent = 0
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="stream")

    def start(self) -> Stream:
        self._thread.start()
        return self

    def _run(self) -> None:
        producer = Producer(self._broker.producer_config(**{"linger.ms": 5}))

        def delivered(err: object, _msg: object) -> None:
            if err is not None:
                self._errors.append(err)

        begun = time.monotonic()
        try:
            for i, env in enumerate(self._plan):
                ahead = begun + i / self._rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
                producer.produce(
                    f"{self.prefix}{env.event_type.value}",
                    env.to_json(),
                    key=str(env.correlation_id).encode(),
                    on_delivery=delivered,
                )
                producer.poll(0)
                self.sent = i + 1
            assert producer.flush(60) == 0
        finally:
            self.done.set()

    def join(self) -> None:
        assert self.done.wait(120), "the stream did not finish"
        self._thread.join(10)
        assert not self._errors, self._errors[:3]


def _port(log: Path) -> int | None:
    match = re.search(rb"/metrics on http://127\.0\.0\.1:(\d+)", log.read_bytes())
    return int(match.group(1)) if match else None


@pytest.mark.parametrize("members", [2, 3])
def test_collectors_killed_joining_and_leaving_mid_stream_write_every_event_once(
    members: int,
    group_broker: Broker,
    migrated: Database,
    tmp_path: Path,
    procs: list[subprocess.Popen[bytes]],  # noqa: F811
) -> None:
    broker = group_broker
    prefix = f"grp{uuid.uuid4().hex[:6]}."
    create_partitioned_topics(broker, prefix)
    group = f"group-{prefix}"
    env = {"ONEX_TOPIC_PREFIX": prefix, "BATCH_SIZE": "20", "BATCH_TIMEOUT_MS": "100"}

    def start(name: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = tmp_path / f"{name}.log"
        proc = start_collector(broker, migrated, group, log, **env)
        procs.append(proc)
        return proc, log

    first = [start(f"c{i}") for i in range(members)]
    stream = Stream(broker, prefix, actions=6000, executions=60, rate=300.0)
    corrs = stream.correlations

    def landed() -> int:
        return int(
            query(migrated, "SELECT count(*) FROM agent_actions WHERE correlation_id = ANY(%s)", (corrs,))[0][
                0
            ]
        )

    def lifecycle(kind: str) -> set[uuid.UUID]:
        return {
            r[0]
            for r in query(
                migrated,
                "SELECT execution_id FROM agent_execution_events WHERE execution_id = ANY(%s) AND kind = %s",
                (list(stream.executions), kind),
            )
        }

    stream.start()
    wait_for(lambda: landed() >= 900, timeout=90, interval=0.05, what="the first rows")
    victim, _ = first[0]
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    at_kill = landed()
    started_by_first = lifecycle("started")  # written by the first members only
    joiner, joiner_log = start("joiner")
    wait_for(lambda: landed() >= 3000, timeout=90, interval=0.05, what="rows after the kill")
    leaver, leaver_log = first[1]
    leaver.send_signal(signal.SIGTERM)
    assert leaver.wait(40) == 0, leaver_log.read_text()[-2000:]
    at_leave = landed()
    completed_before_leave = lifecycle("completed")
    stream.join()
    assert at_kill < len(stream.action_ids) and at_leave < len(stream.action_ids), (
        "the stream was over before the faults; the test proved nothing"
    )

    try:
        wait_for(lambda: landed() >= len(stream.action_ids), timeout=120)
    except AssertionError:
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted(tmp_path.glob("*.log")))
        raise AssertionError(
            f"{landed()} of {len(stream.action_ids)} actions landed within 120 s "
            f"(at the kill {at_kill}, at the leave {at_leave}); the collectors said:\n{logs}"
        ) from None
    ids = [
        r[0] for r in query(migrated, "SELECT id FROM agent_actions WHERE correlation_id = ANY(%s)", (corrs,))
    ]
    twice = [i for i, n in collections.Counter(ids).items() if n > 1]
    assert not twice, f"{len(twice)} events written twice"
    assert set(ids) == set(stream.action_ids)

    # Executions begun before the kill and ended after the leave: with two members at start,
    # begun by one of them and ended by the joiner (the only collector left by then).
    assert started_by_first - completed_before_leave, "no execution spans the faults"
    executions = list(stream.executions)
    wait_for(
        lambda: (
            query(
                migrated,
                "SELECT count(*) FROM agent_execution_logs WHERE"
                " execution_id = ANY(%s) AND status = 'success'",
                (executions,),
            )[0][0]
            == len(executions)
        ),
        timeout=60,
        what="every execution completed",
    )
    assert query(
        migrated, "SELECT count(*) FROM agent_execution_events WHERE execution_id = ANY(%s)", (executions,)
    ) == [(2 * len(executions),)]
    rows = query(
        migrated,
        "SELECT count(*) FROM agent_execution_logs"
        " WHERE execution_id = ANY(%s) AND started_at < completed_at"
        " AND duration_ms = 30000 AND agent_name = 'agent-g'",
        (executions,),
    )
    assert rows == [(len(executions),)]

    # The collector that joined took partitions over and wrote its share.
    port = wait_for(lambda: _port(joiner_log), timeout=30, what="the joiner's HTTP port")
    assert _metrics(port)["messages_inserted"] > 0
    joiner.send_signal(signal.SIGTERM)
    assert joiner.wait(40) == 0, joiner_log.read_text()[-2000:]
    for proc, log in first[2:]:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(40) == 0, log.read_text()[-2000:]


def test_a_collector_whose_database_is_away_drops_its_unfinished_work_at_a_rebalance(
    broker: Broker,
    migrated: Database,
) -> None:
    """Revoked partitions' unwritten messages are left to their new owner, not waited on."""
    from onex_collector.consumer import Collector
    from tests.collector.conftest import options, produce, running
    from tests.services.proxy import TcpProxy

    prefix = f"rev{uuid.uuid4().hex[:6]}."
    create_partitioned_topics(broker, prefix)
    topics = default_topic_types(prefix)
    group = f"group-{prefix}"
    corrs = [uuid.uuid4() for _ in range(24)]
    envs = [
        OnexEnvelopeV1.create(
            AgentActionPayload(
                correlation_id=corrs[i % len(corrs)],
                agent_name="agent-r",
                action_type="tool_call",
                action_name=f"r{i}",
            )
        )
        for i in range(600)
    ]

    def landed() -> int:
        return int(
            query(migrated, "SELECT count(*) FROM agent_actions WHERE correlation_id = ANY(%s)", (corrs,))[0][
                0
            ]
        )

    with TcpProxy(migrated.host, migrated.port) as proxy:
        away = migrated.url.replace(f"port={migrated.port}", f"port={proxy.port}")
        # A gathers one big batch (due in a minute) and its database goes away meanwhile.
        holder = Collector(
            options(
                broker,
                migrated,
                conninfo=away,
                group_id=group,
                topic_types=topics,
                batch_size=1_000_000,
                batch_timeout_ms=300_000,  # never due while the test runs: only a rebalance moves it
                eager_batches=False,
                shutdown_timeout_s=20.0,
            )
        )
        with running(holder):
            produce(broker, [(f"{prefix}{e.event_type.value}", e.to_json()) for e in envs])
            wait_for(
                lambda: holder.metrics.snapshot()["messages_pending"] >= len(envs),
                timeout=60,
                what="every message read and held",
            )
            proxy.cut()
            joiner = Collector(options(broker, migrated, group_id=group, topic_types=topics))
            with running(joiner):
                # The rebalance completes without the holder's database: the joiner writes its
                # partitions' share (a group's join takes seconds on a loaded machine; the bound
                # stays far below the holder's batch timeout, which never comes).
                try:
                    wait_for(lambda: landed() > 0, timeout=60, what="the joiner's first rows")
                except AssertionError as exc:
                    raise AssertionError(
                        f"{exc}; joiner assigned {sorted(joiner._assigned)}, "
                        f"joiner {joiner.metrics.snapshot()}, holder {holder.metrics.snapshot()}"
                    ) from None
                assert holder.metrics.snapshot()["messages_revoked"] >= len(envs)
                proxy.restore()
            # The joiner left: the holder reads the rest again; its drain writes it.
            wait_for(
                lambda: landed() + holder.metrics.snapshot()["messages_pending"] >= len(envs),
                timeout=60,
                what="the rest read again",
            )
    assert landed() == len(envs)
    ids = [
        r[0] for r in query(migrated, "SELECT id FROM agent_actions WHERE correlation_id = ANY(%s)", (corrs,))
    ]
    assert sorted(ids) == sorted(e.event_id for e in envs)
