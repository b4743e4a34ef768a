"""`onex-otel demo` with nothing configured: embedded broker and PostgreSQL, end to end."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest


def test_demo_runs_on_embedded_services(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KAFKA_", "POSTGRES_", "OTEL_")) and k != "DATABASE_URL"}
    out = tmp_path / "jaeger.json"
    proc = subprocess.run(
        [sys.executable, "-m", "onex_otel.cli", "demo", "--jaeger-json", str(out)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "[1/7] starting the embedded Kafka-compatible broker" in proc.stderr
    assert "[2/7] starting an embedded PostgreSQL" in proc.stderr
    cid = proc.stderr.strip().splitlines()[-1].rsplit(" ", 1)[-1]
    assert uuid.UUID(cid)
    assert proc.stdout.splitlines()[0].split()[3] == cid
    for name in ("routing", "transformation", "tool_call query_database", "error TimeoutError"):
        assert name in proc.stdout
    spans = json.loads(out.read_text())["data"][0]["spans"]
    assert len(spans) >= 12


def _demo_with(tmp_path: Path, **env_overrides: str) -> tuple[subprocess.CompletedProcess[str],
                                                               float]:
    import time

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KAFKA_", "POSTGRES_", "OTEL_")) and k != "DATABASE_URL"}
    env.update(env_overrides)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "onex_otel.cli", "demo", "--timeout", "3"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    return proc, time.monotonic() - started


@pytest.mark.integration
def test_demo_with_an_unreachable_broker_fails_in_one_line_within_its_timeout(
    tmp_path: Path,
) -> None:
    from tests.services.kafka import free_port

    bootstrap = f"127.0.0.1:{free_port()}"  # a stale address: nothing listens
    proc, took = _demo_with(tmp_path, KAFKA_BOOTSTRAP_SERVERS=bootstrap)
    # before: the demo waited for ever, printing connect errors
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith(f"onex-otel demo: no Kafka broker answered at {bootstrap}"
                                  " within 3s")
    assert took < 60  # the 3 s bound plus interpreter start-up, with a wide margin


@pytest.mark.integration
def test_demo_with_an_unreachable_database_fails_in_one_line(tmp_path: Path) -> None:
    proc, _ = _demo_with(tmp_path, DATABASE_URL="postgresql://postgres@127.0.0.1:1/onex")
    assert proc.returncode == 1
    # before: the embedded broker was started first, then migrations failed
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("onex-otel demo: cannot connect to PostgreSQL: ")
    assert "port 1 failed" in proc.stderr
