"""CLI skills and the emit daemon against the real broker: direct, through the daemon, spooled."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from onex_otel.conventions import EventType
from onex_otel.emit import recv_frame, send_frame
from onex_otel.envelope import OnexEnvelopeV1
from tests.services.kafka import Broker, free_port

SKILLS: list[tuple[EventType, list[str]]] = [
    (
        EventType.AGENT_ACTION,
        [
            "log-action",
            "--agent",
            "polymorphic-agent",
            "--action-type",
            "tool_call",
            "--action-name",
            "read_file",
            "--details",
            '{"file_path": "/x.py", "lines_read": 150}',
            "--duration-ms",
            "12",
        ],
    ),
    (
        EventType.ROUTING_DECISION,
        [
            "log-routing-decision",
            "--agent",
            "agent-performance",
            "--confidence",
            "0.92",
            "--strategy",
            "enhanced_fuzzy_matching",
            "--latency-ms",
            "45",
            "--user-request",
            "optimize my queries",
            "--reasoning",
            "triggers",
        ],
    ),
    (
        EventType.TRANSFORMATION,
        [
            "log-transformation",
            "--from-agent",
            "polymorphic-agent",
            "--to-agent",
            "agent-performance",
            "--success",
            "true",
            "--duration-ms",
            "85",
            "--reason",
            "match",
            "--confidence",
            "0.92",
        ],
    ),
    (
        EventType.ROUTER_PERFORMANCE,
        [
            "log-performance-metrics",
            "--query",
            "optimize",
            "--duration-ms",
            "45",
            "--cache-hit",
            "false",
            "--candidates",
            "5",
            "--strategy",
            "fuzzy",
        ],
    ),
]


def _env(tmp_path: Path, bootstrap: str, prefix: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        ONEX_TOPIC_PREFIX=prefix,
        ONEX_SPOOL_DIR=str(tmp_path / "spool"),
        ONEX_EMIT_SOCKET=str(tmp_path / "emit.sock"),
        ONEX_SPOOL_RETRY_MAX_S="1",
    )
    env.pop("KAFKA_BROKERS", None)
    return env


def _skill(argv: list[str], env: dict[str, str], cid: str, timeout: str = "10") -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "onex_otel.cli", *argv, "--correlation-id", cid, "--timeout", timeout],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    result: dict[str, object] = json.loads(lines[0])
    assert result["success"] is True
    return result


def _read(broker: Broker, prefix: str, expected: dict[str, EventType]) -> dict[str, OnexEnvelopeV1]:
    topics = sorted({prefix + et.value for et in expected.values()})
    messages = broker.consume(topics, len(expected), timeout=60)
    out: dict[str, OnexEnvelopeV1] = {}
    for msg in messages:
        env = OnexEnvelopeV1.model_validate_json(msg.value())
        assert msg.key() == str(env.correlation_id).encode()
        headers = dict(msg.headers())
        assert headers["event_type"] == env.event_type.value.encode()
        assert headers["traceparent"].decode().split("-")[1] == env.correlation_id.hex
        out[str(env.event_id)] = env
    return out


def test_skills_publish_directly_without_a_daemon(broker: Broker, tmp_path: Path) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    env = _env(tmp_path, broker.bootstrap, prefix)
    cid = str(uuid.uuid4())
    expected = {}
    for event_type, argv in SKILLS:
        result = _skill(argv, env, cid)
        assert result["delivery"] == "delivered"
        expected[str(result["event_id"])] = event_type
    got = _read(broker, prefix, expected)
    assert {k: v.event_type for k, v in got.items()} == expected
    assert {str(v.correlation_id) for v in got.values()} == {cid}
    action = next(v for v in got.values() if v.event_type == EventType.AGENT_ACTION)
    assert action.payload.model_dump()["action_details"] == {"file_path": "/x.py", "lines_read": 150}


def _start_daemon(env: dict[str, str], sock: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "onex_otel.cli", "emit-daemon"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not sock.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "daemon did not create its socket"
        time.sleep(0.05)
    return proc


def _stop_daemon(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err


def test_skills_go_through_the_daemon(broker: Broker, tmp_path: Path) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    env = _env(tmp_path, broker.bootstrap, prefix)
    sock = tmp_path / "emit.sock"
    daemon = _start_daemon(env, sock)
    try:
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        cid = "abc-123-def-456"  # a legacy id: mapped to a UUID, original kept
        expected = {}
        for event_type, argv in SKILLS:
            result = _skill(argv, env, cid)
            assert result["delivery"] == "daemon"
            expected[str(result["event_id"])] = event_type
    finally:
        err = _stop_daemon(daemon)
    assert "accepted 4" in err
    assert not sock.exists()
    got = _read(broker, prefix, expected)
    assert set(got) == set(expected)
    assert len({v.correlation_id for v in got.values()}) == 1
    assert next(iter(got.values())).correlation_id.version == 5


def test_daemon_rejects_bad_frames_and_keeps_serving(broker: Broker, tmp_path: Path) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    env = _env(tmp_path, broker.bootstrap, prefix)
    sock_path = tmp_path / "emit.sock"
    daemon = _start_daemon(env, sock_path)

    def conn() -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(str(sock_path))
        return s

    try:
        with conn() as s:  # not JSON
            s.sendall(struct.pack(">I", 5) + b"nope!")
            reply = recv_frame(s)
            assert reply["ok"] is False and "bad frame" in reply["error"]
        with conn() as s:  # oversized length
            s.sendall(struct.pack(">I", 2**31))
            assert recv_frame(s)["ok"] is False
        with conn() as s:  # unknown op, then an invalid envelope, on one connection
            send_frame(s, {"op": "explode"})
            assert "unknown op" in recv_frame(s)["error"]
            send_frame(s, {"op": "emit", "events": [{"event_type": "nope"}]})
            reply = recv_frame(s)
            assert reply["ok"] is False and "event 0 is not a valid envelope" in reply["error"]
            send_frame(s, {"op": "ping"})
            stats = recv_frame(s)["stats"]
            assert stats["rejected_frames"] >= 3 and stats["rejected_events"] == 1
        with conn() as s:  # half a frame, then hang up
            s.sendall(struct.pack(">I", 100) + b"{")
        result = _skill(SKILLS[0][1], env, str(uuid.uuid4()))
        assert result["delivery"] == "daemon"
        assert daemon.poll() is None
    finally:
        _stop_daemon(daemon)


def test_broker_down_spools_then_next_publish_resends(broker: Broker, tmp_path: Path) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    cid = str(uuid.uuid4())
    started = time.monotonic()
    down = _skill(SKILLS[0][1], _env(tmp_path, dead, prefix), cid, timeout="1")
    assert down["delivery"] == "spooled"
    assert time.monotonic() - started < 60  # bounded: never hangs (generous, not a benchmark)
    assert any((tmp_path / "spool").iterdir())
    up = _skill(SKILLS[1][1], _env(tmp_path, broker.bootstrap, prefix), cid)
    assert up["delivery"] == "delivered"
    expected = {str(down["event_id"]): SKILLS[0][0], str(up["event_id"]): SKILLS[1][0]}
    got = _read(broker, prefix, expected)
    assert set(got) == set(expected)


def test_unconfigured_kafka_is_a_clear_failure(tmp_path: Path) -> None:
    env = _env(tmp_path, "", "p.")
    env.pop("KAFKA_BOOTSTRAP_SERVERS")
    proc = subprocess.run(
        [sys.executable, "-m", "onex_otel.cli", *SKILLS[0][1]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "KAFKA_BOOTSTRAP_SERVERS" in json.loads(proc.stdout)["error"]


@pytest.mark.parametrize("kafka_enable_logging", ["false"])
def test_publishing_switched_off(tmp_path: Path, kafka_enable_logging: str) -> None:
    env = _env(tmp_path, "127.0.0.1:1", "p.")
    env["KAFKA_ENABLE_LOGGING"] = kafka_enable_logging
    proc = subprocess.run(
        [sys.executable, "-m", "onex_otel.cli", *SKILLS[0][1]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["delivery"] == "disabled"


#: What a hook process through the daemon must not load (the cost is in benchmarks/bench_hook.py).
HEAVY = (
    "argparse",
    "typing",
    "dataclasses",
    "json",
    "uuid",
    "onex_otel.config",
    "onex_otel.records",
    "onex_otel.cli._skills",
    "onex_otel.emit",
    "pydantic",
    "confluent_kafka",
    "opentelemetry",
)


def test_a_hook_through_the_daemon_imports_only_light_modules(broker: Broker, tmp_path: Path) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    env = _env(tmp_path, broker.bootstrap, prefix)
    daemon = _start_daemon(env, tmp_path / "emit.sock")
    argv = [*SKILLS[0][1], "--correlation-id", str(uuid.uuid4())]
    code = f"""
import sys
before = set(sys.modules)
from onex_otel.cli import main
status = main({argv!r})
loaded = sorted(set(sys.modules) - before)
print(repr(loaded))
sys.exit(status)
"""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        line, loaded_repr = proc.stdout.strip().splitlines()
        assert json.loads(line)["delivery"] == "daemon"
        loaded = eval(loaded_repr)  # a list of module names printed by repr
        assert [m for m in loaded if m.split(".")[0] in HEAVY or m in HEAVY] == []
        # a bad command line is answered by the daemon as the process would: one line, exit 1
        bad = subprocess.run(
            [
                sys.executable,
                "-m",
                "onex_otel.cli",
                "log-action",
                "--agent",
                "a",
                "--action-type",
                "bogus",
                "--action-name",
                "x",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert bad.returncode == 1
        assert "action type must be one of" in json.loads(bad.stdout)["error"]
    finally:
        err = _stop_daemon(daemon)
    assert "accepted 1," in err  # the bad one was not published
    got = _read(broker, prefix, {json.loads(line)["event_id"]: SKILLS[0][0]})
    assert len(got) == 1
