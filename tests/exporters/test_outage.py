"""Nothing is lost while Kafka is away: spool, re-send after restart, also across processes."""

from __future__ import annotations

import collections
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from onex_exporters.lifecycle import OnexLifecycleProcessor
from tests.exporters.helpers import (
    RecordingExporter,
    decode,
    order_by_key,
    run_executions,
    settings_for,
    wait_until,
)
from tests.exporters.spans import SpanFactory
from tests.services.kafka import Broker

ROOT = Path(__file__).resolve().parents[2]


def check_exactly_once_in_order(broker: Broker, prefix: str, expected: list[tuple[str, str, str]]) -> None:
    """Every expected event is read exactly once, in production order per topic+correlation."""
    names = [f"{prefix}{t}" for t in {e[0] for e in expected}]
    messages = broker.consume(names, len(expected), timeout=60)
    decoded = decode(messages)
    got = [(env.event_type.value, str(env.correlation_id), str(env.event_id)) for _, env in decoded]
    counts = collections.Counter(e[2] for e in got)
    assert [eid for eid, n in counts.items() if n > 1] == []
    assert sorted(counts) == sorted(e[2] for e in expected)
    # per-correlation order (Kafka orders within a partition: compare per topic + key)
    assert order_by_key(got) == order_by_key(expected)


def test_broker_outage_spools_and_resends_exactly_once(own_broker: Broker, tmp_path: Path) -> None:
    settings = settings_for(own_broker.bootstrap, str(tmp_path / "spool"), kafka_delivery_timeout_ms=1500)
    exporter = RecordingExporter(settings, attach_lifecycle=False)
    provider = TracerProvider()
    factory = SpanFactory(provider)
    provider.add_span_processor(OnexLifecycleProcessor(exporter))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=100))
    try:
        run_executions(factory, 1)
        provider.force_flush()
        assert exporter.force_flush(10_000)
        before = len(exporter.published)
        assert exporter.stats()["delivered"] == before

        logging.getLogger(__name__).debug("stopping the broker")
        own_broker.stop()  # memory-only: what it held is gone; we check what follows
        run_executions(factory, 4)
        provider.force_flush()
        during = exporter.published[before:]
        wait_until(lambda: exporter.stats()["spooled"] == len(during), 30, "timeouts to spool")
        assert exporter.stats()["spool_bytes"] > 0

        logging.getLogger(__name__).debug("starting the broker")
        own_broker.start()
        wait_until(
            lambda: exporter.stats()["spool_bytes"] == 0 and exporter.stats()["in_flight"] == 0,
            90,
            "the spool to drain",
        )
        # the broker is back: new events flow directly again, after the spooled ones
        run_executions(factory, 1)
        provider.force_flush()
        assert exporter.force_flush(10_000)
        after = exporter.published[before:]
        expected = [(r.event_type.value, r.correlation_id, r.event_id) for r in after]
        check_exactly_once_in_order(own_broker, settings.topic_prefix, expected)
        stats = exporter.stats()
        # events made just after the spool emptied may still have queued behind it
        assert stats["resent"] == stats["spooled"] >= len(during)
        assert stats["events"] == stats["delivered"] + stats["spooled"]
        assert stats["dropped"] == {}
    finally:
        provider.shutdown()


def run_proc(*args: str, timeout: float = 120) -> list[Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    done = subprocess.run(
        [sys.executable, "-m", "tests.exporters.producer_proc", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith(("[", "{"))]


def test_process_exits_while_broker_is_down_and_a_new_process_resends(
    own_broker: Broker, tmp_path: Path
) -> None:
    spool = str(tmp_path / "spool")
    prefix = f"p{uuid.uuid4().hex[:8]}."
    own_broker.stop()
    lines = run_proc("produce", own_broker.bootstrap, spool, prefix, "3")
    expected = [tuple(x) for x in lines if isinstance(x, list)]
    (first,) = [x["stats"] for x in lines if isinstance(x, dict)]
    assert first["delivered"] == 0 and first["spooled"] == len(expected) > 20
    assert first["dropped"] == {}
    assert list((tmp_path / "spool").glob("seg-*.log"))  # on disk for the next process

    own_broker.start()
    (result,) = run_proc("resend", own_broker.bootstrap, spool, prefix)
    assert result["stats"]["resent"] == len(expected)
    check_exactly_once_in_order(own_broker, prefix, expected)  # type: ignore[arg-type]
    assert not list((tmp_path / "spool").glob("seg-*.log"))


def read_all(
    broker: Broker, topics: list[str], at_least: int, quiet_s: float = 3.0, timeout: float = 60.0
) -> list[Any]:
    """Every message on ``topics``: at least ``at_least``, then until none came for ``quiet_s``."""
    from confluent_kafka import Consumer

    consumer = Consumer(broker.consumer_config())
    consumer.subscribe(topics)
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                messages.append(msg)
                last = time.monotonic()
            elif len(messages) >= at_least and time.monotonic() - last >= quiet_s:
                break
    finally:
        consumer.close()
    return messages


@pytest.mark.integration
def test_short_lived_processes_deliver_the_spool_once(own_broker: Broker, tmp_path: Path) -> None:
    """Each spooled event reaches Kafka once, however short the processes that re-send it."""
    spool = str(tmp_path / "spool")
    prefix = f"s{uuid.uuid4().hex[:8]}."
    own_broker.stop()
    lines = run_proc("produce", own_broker.bootstrap, spool, prefix, "3")
    expected = [tuple(x) for x in lines if isinstance(x, list)]
    assert [x["stats"]["spooled"] for x in lines if isinstance(x, dict)] == [len(expected)]

    own_broker.start()
    for _ in range(3):  # three short runs in a row, each publishing one execution of its own
        lines = run_proc("short", own_broker.bootstrap, spool, prefix)
        expected += [tuple(x) for x in lines if isinstance(x, list)]
    names = sorted({f"{prefix}{e[0]}" for e in expected})
    got = collections.Counter(
        str(env.event_id) for _, env in decode(read_all(own_broker, names, len(expected)))
    )
    assert {eid: n for eid, n in got.items() if n != 1} == {}
    assert sorted(got) == sorted(str(e[2]) for e in expected)
    assert not list((tmp_path / "spool").glob("seg-*.log"))
