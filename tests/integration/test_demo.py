"""`onex-otel demo` with nothing configured: embedded broker and PostgreSQL, end to end."""

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _cli(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "onex_otel.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_demo_runs_on_embedded_services_and_leaves_a_way_on(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KAFKA_", "POSTGRES_", "OTEL_")) and k != "DATABASE_URL"
    }
    data = tmp_path / "demo-data"
    proc = _cli("demo", "--keep", "--data-dir", str(data), env=env, cwd=tmp_path)
    try:
        assert proc.returncode == 0, proc.stderr
        assert "[1/7] starting the embedded Kafka-compatible broker" in proc.stderr
        assert f"[2/7] starting an embedded PostgreSQL on {data / 'pgdata'} (kept)" in proc.stderr
        cid = proc.stderr.strip().splitlines()[-1].rsplit(" ", 1)[-1]
        assert uuid.UUID(cid)
        out = proc.stdout
        assert out.splitlines()[0].split()[3] == cid
        for name in ("routing", "transformation", "tool_call query_database", "error TimeoutError"):
            assert name in out
        # The tool call that raised is failed in the tree, the outcome row listed last.
        assert re.search(r"tool_call flaky_search  \[\d+ms, FAILED\]  TimeoutError", out)
        tree = [line for line in out.splitlines() if line.startswith("+")]
        assert "success agent_execution_completed" in tree[-1]

        # Its files are in the data directory it names; nothing in the working directory.
        jaeger_file = data / f"trace-{cid}.json"
        assert str(jaeger_file) in out
        assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-data"]
        (trace,) = json.loads(jaeger_file.read_text())["data"]
        assert trace["traceID"] == uuid.UUID(cid).hex
        spans = {s["spanID"]: s for s in trace["spans"]}
        by_name: dict[str, list[dict[str, object]]] = {}
        for span in spans.values():
            by_name.setdefault(str(span["operationName"]), []).append(span)
        assert len(by_name["execute_tool flaky_search"]) == 2
        failed = [
            s
            for s in by_name["execute_tool flaky_search"]
            if {"key": "error", "type": "bool", "value": True} in s["tags"]  # type: ignore[operator]
        ]
        assert len(failed) == 1
        # The real psycopg query span, under the tool span that made the query.
        (tool,) = by_name["execute_tool query_database"]
        queries = [
            s
            for s in spans.values()
            if {"key": "otel.scope.name", "type": "string", "value": "opentelemetry.instrumentation.psycopg"}
            in s["tags"]
        ]
        assert queries and all(
            q["references"]
            == [{"refType": "CHILD_OF", "traceID": trace["traceID"], "spanID": tool["spanID"]}]
            for q in queries
        )
        assert trace["processes"]["p1"]["serviceName"] == "onex-example-agent"

        # The next commands it prints work as printed.
        match = re.search(r"export DATABASE_URL='([^']+)'", out)
        assert match, out
        assert f"onex-otel trace {cid}" in out and "SELECT" in out
        assert "jaegertracing/all-in-one" in out and "JSON File" in out
        again = _cli("trace", cid, env=dict(env, DATABASE_URL=match.group(1)), cwd=tmp_path, timeout=60)
        assert again.returncode == 0, again.stderr
        assert again.stdout.splitlines()[0].split()[3] == cid
        assert "FAILED" in again.stdout
    finally:
        stop = _cli("demo", "--stop", "--data-dir", str(data), env=env, cwd=tmp_path, timeout=60)
    assert stop.returncode == 0, stop.stderr
    assert not (data / "pgdata" / "postmaster.pid").exists()


def _demo_with(tmp_path: Path, **env_overrides: str) -> tuple[subprocess.CompletedProcess[str], float]:
    import time

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KAFKA_", "POSTGRES_", "OTEL_")) and k != "DATABASE_URL"
    }
    env.update(env_overrides)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "onex_otel.cli", "demo", "--timeout", "3"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
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
    assert proc.stderr.startswith(f"onex-otel demo: no Kafka broker answered at {bootstrap} within 3s")
    assert took < 60  # the 3 s bound plus interpreter start-up, with a wide margin


@pytest.mark.integration
def test_demo_with_an_unreachable_database_fails_in_one_line(tmp_path: Path) -> None:
    proc, _ = _demo_with(tmp_path, DATABASE_URL="postgresql://postgres@127.0.0.1:1/onex")
    assert proc.returncode == 1
    # before: the embedded broker was started first, then migrations failed
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("onex-otel demo: cannot connect to PostgreSQL: ")
    assert "port 1 failed" in proc.stderr
