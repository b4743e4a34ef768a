"""Drop-in: an unchanged legacy agent, imports switched to onex_otel, publishes to a real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest

from onex_otel.conventions import CORRELATION_ID_NAMESPACE, EventType
from onex_otel.envelope import OnexEnvelopeV1
from tests.services.kafka import Broker

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_legacy_process_publishes_every_event(broker: Broker, tmp_path: Path) -> None:
    cid = str(uuid.uuid4())
    prefix = f"legacy{uuid.uuid4().hex[:8]}."
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ONEX_", "KAFKA_"))}
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "ONEX_TOPIC_PREFIX": prefix,
            "ONEX_SPOOL_DIR": str(tmp_path / "spool"),
            "ONEX_KAFKA_DELIVERY_TIMEOUT_MS": "5000",
        }
    )
    env.pop("PYTEST_VERSION", None)
    done = subprocess.run(
        [sys.executable, "-m", "tests.legacy.dropin_proc", cid],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [True] * 6

    expected = 12
    messages = broker.consume([prefix + et.value for et in EventType], expected, timeout=60)
    envelopes = [OnexEnvelopeV1.model_validate_json(m.value()) for m in messages]
    for message, envelope in zip(messages, envelopes, strict=True):
        assert message.key() == str(envelope.correlation_id).encode()
    assert len(envelopes) == expected, [e.event_type for e in envelopes]

    def mapped(text: str) -> uuid.UUID:
        return uuid.uuid5(CORRELATION_ID_NAMESPACE, text)

    by_cid = Counter((e.correlation_id, e.event_type.value) for e in envelopes)
    action = EventType.AGENT_ACTION.value
    assert by_cid == Counter(
        {
            (mapped("legacy-" + cid), action): 2,
            (uuid.UUID(cid), EventType.EXECUTION_STARTED.value): 1,
            (uuid.UUID(cid), EventType.EXECUTION_PROGRESS.value): 1,
            (uuid.UUID(cid), EventType.EXECUTION_COMPLETED.value): 1,
            (uuid.UUID(cid), action): 3,
            (mapped("router-" + cid), EventType.EXECUTION_STARTED.value): 1,
            (mapped("router-" + cid), EventType.EXECUTION_FAILED.value): 1,
            (mapped("router-" + cid), action): 2,
        }
    )
    actions = sorted(
        (e.payload.agent_name, e.payload.action_type, e.payload.action_name)  # type: ignore[union-attr]
        for e in envelopes
        if e.event_type.value == action
    )
    assert actions == sorted(
        [
            ("agent-hook", "tool_call", "Read"),
            ("agent-hook", "decision", "select_agent"),
            ("agent-researcher", "decision", "agent_execution_started"),
            ("agent-researcher", "tool_call", "Grep"),
            ("agent-researcher", "success", "agent_execution_completed"),
            ("agent-router-service", "decision", "agent_execution_started"),
            ("agent-router-service", "error", "agent_execution_failed"),
        ]
    )


def test_legacy_process_with_kafka_down_still_succeeds_and_spools(tmp_path: Path) -> None:
    from tests.services.kafka import free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ONEX_", "KAFKA_"))}
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",  # nothing listens there
            "ONEX_SPOOL_DIR": str(tmp_path / "spool"),
            "ONEX_KAFKA_DELIVERY_TIMEOUT_MS": "1000",
        }
    )
    env.pop("PYTEST_VERSION", None)
    done = subprocess.run(
        [sys.executable, "-m", "tests.legacy.dropin_proc", str(uuid.uuid4())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [True] * 6
    spooled = sum(
        p.stat().st_size
        for p in (tmp_path / "spool").rglob("*")
        if p.is_file() and p.name not in ("cursor.json", ".lock")
    )
    assert spooled > 0, sorted(p.name for p in (tmp_path / "spool").rglob("*"))
