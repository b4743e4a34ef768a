"""`onex-otel demo` with nothing configured: embedded broker and PostgreSQL, end to end."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path


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
