"""Helpers for the exporter's integration tests."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from onex_exporters.kafka import OnexKafkaSpanExporter, _Message
from onex_exporters.mapping import EventRecord
from onex_otel.config import Settings, load_settings
from onex_otel.conventions import EventType
from onex_otel.envelope import OnexEnvelopeV1
from onex_otel.lifecycle import ProgressReport, notify_progress
from tests.exporters.spans import SpanFactory, progress, run_full_execution


class RecordingExporter(OnexKafkaSpanExporter):
    """The real exporter, remembering the events it sent (or spooled), in their order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.published: list[EventRecord] = []
        super().__init__(*args, **kwargs)

    def _messages(self, records: Iterable[EventRecord]) -> Iterator[_Message]:
        records = list(records)
        self.published.extend(records)
        return super()._messages(records)


def settings_for(bootstrap: str, spool_dir: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": bootstrap,
        "spool_dir": spool_dir,
        "kafka_delivery_timeout_ms": 2000,
        "spool_retry_max_s": 1.0,
        "topic_prefix": f"t{uuid.uuid4().hex[:8]}.",
        "tenant_id": "test-tenant",
    }
    values.update(overrides)
    return load_settings({}, **values)


def topics(settings: Settings) -> list[str]:
    return [f"{settings.topic_prefix}{et.value}" for et in EventType]


def run_executions(factory: SpanFactory, count: int, fail_every: int = 0) -> list[uuid.UUID]:
    """Executions with a real-time progress report each (as the core's progress() does)."""
    cids = []
    for i in range(count):
        cid = uuid.uuid4()
        fail = bool(fail_every) and i % fail_every == 0
        with factory.execution(correlation_id=cid, session_id=f"s{i}") as root:
            progress(root, "working", 50, {"i": i})
            notify_progress(ProgressReport(root, "working", 50.0, {"i": i}, datetime.now(UTC)))
        cids.append(cid)
        if not fail:
            run_full_execution(factory)  # a second, richer execution
        else:
            run_full_execution(factory, fail=True)
    return cids


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def decode(messages: Sequence[Any]) -> list[tuple[Any, OnexEnvelopeV1]]:
    """Validate every consumed message against the model; returns (message, envelope)."""
    out = []
    for m in messages:
        env = OnexEnvelopeV1.model_validate_json(m.value())
        headers = dict(m.headers() or ())
        assert m.key() == str(env.correlation_id).encode()
        assert headers["event_type"] == env.event_type.value.encode()
        assert headers["schema_ref"] == env.schema_ref.encode()
        assert headers["content-type"] == b"application/json"
        tp = headers["traceparent"].decode()
        assert tp.startswith("00-") and len(tp) == 55
        assert m.topic().endswith(env.event_type.value)
        assert json.loads(m.value())["event_id"] == str(env.event_id)
        out.append((m, env))
    return out


def order_by_key(items: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str], list[str]]:
    """(topic suffix, correlation id, event id) triples -> event ids per (topic, correlation)."""
    out: dict[tuple[str, str], list[str]] = {}
    for topic, cid, eid in items:
        out.setdefault((topic, cid), []).append(eid)
    return out
