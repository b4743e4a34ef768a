"""Helpers of the bridge tests: a bridge in a thread, OTLP messages on a topic, events read back."""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from onex_exporters.bridge.service import Bridge, options_from_settings
from onex_otel.config import Settings
from tests.exporters.helpers import settings_for
from tests.services.kafka import Broker


def bridge_settings(broker: Broker, spool: Path, **overrides: Any) -> Settings:
    """Settings of a bridge with topics of the test's own (OTLP topics and onex topics)."""
    tag = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "bridge_spans_topic": f"otlp_spans.{tag}",
        "bridge_logs_topic": f"otlp_logs.{tag}",
        "bridge_group_id": f"bridge-{tag}",
        "bridge_dlq_topic": f"dlq.{tag}",
    }
    values.update(overrides)
    return settings_for(broker.bootstrap, str(spool), **values)


@contextlib.contextmanager
def running_bridge(settings: Settings, **overrides: Any) -> Iterator[Bridge]:
    """A bridge consuming in a thread; stopped (drained) and joined on exit."""
    bridge = Bridge(options_from_settings(settings, **overrides), settings)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            bridge.run()
        except BaseException as exc:  # surfaced by the test
            errors.append(exc)

    thread = threading.Thread(target=run, name="test-bridge", daemon=True)
    thread.start()
    try:
        yield bridge
    finally:
        bridge.request_stop()
        thread.join(40)
        assert not thread.is_alive(), "the bridge did not stop within 40 s"
    assert not errors, errors


def produce_values(broker: Broker, topic: str, values: Sequence[bytes], key: bytes | None = None) -> None:
    """Write message values as the Collector's Kafka exporter does (no key by default)."""
    producer = Producer(broker.producer_config(**{"linger.ms": 5}))
    failures: list[Any] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(err)

    for value in values:
        producer.produce(topic, value, key, on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(20) == 0 and not failures, failures


def event_ids(messages: Sequence[Any]) -> list[str]:
    return [str(json.loads(m.value())["event_id"]) for m in messages]


def read_exactly(
    broker: Broker, topics: Sequence[str], count: int, timeout: float = 20.0, settle: float = 1.0
) -> list[Any]:
    """Every message of ``topics`` from the beginning: waits for ``count`` (bounded by ``timeout``),
    then ``settle`` seconds more so that one too many shows. Partitions are assigned, not
    subscribed: no group join to wait for."""
    import time

    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(broker.consumer_config(f"read-{uuid.uuid4().hex[:8]}"))
    try:
        meta = consumer.list_topics(timeout=10)
        parts = [
            TopicPartition(t, p, OFFSET_BEGINNING)
            for t in topics
            if t in meta.topics
            for p in meta.topics[t].partitions
        ]
        consumer.assign(parts)
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        extra: float | None = None
        while time.monotonic() < (extra or deadline):
            for msg in consumer.consume(500, 0.2):
                if msg.error() is None:
                    out.append(msg)
            if len(out) >= count and extra is None:
                extra = time.monotonic() + settle
        return out
    finally:
        consumer.close()
