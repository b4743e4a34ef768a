"""Exit with Kafka unreachable is bounded by the delivery timeout; Ctrl-C twice ends it at once.

The bounds asserted here are the feature itself (the documented exit bound), with generous
margins, not performance figures.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from onex_exporters.kafka import EXIT_MARGIN_S
from tests.services.kafka import free_port

ROOT = Path(__file__).resolve().parents[2]

#: An agent process: configure(), one execution with a tool call, then a normal exit (or, with
#: ``wait``, a pause that a first Ctrl-C ends).
AGENT = """
import signal, sys, time, uuid
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even if inherited
from onex_otel import agent_execution, configure, tool_call
configure(service_name="exit-test")
with agent_execution("exit-test", correlation_id=uuid.uuid4()):
    with tool_call("noop"):
        pass
try:  # the test's first Ctrl-C may come as soon as the line is out, before print() returns
    print(f"exiting {time.time()}", flush=True)
    if sys.argv[1:] == ["wait"]:
        time.sleep(120)
except KeyboardInterrupt:
    print("interrupted", file=sys.stderr, flush=True)
"""


def agent_env(tmp_path: Path, delivery_timeout_ms: int) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        # nothing listens there: every connection is refused
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "ONEX_KAFKA_DELIVERY_TIMEOUT_MS": str(delivery_timeout_ms),
        "ONEX_SPOOL_DIR": str(tmp_path / "spool"),
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
    }
    # no exporter list: KAFKA_BOOTSTRAP_SERVERS alone turns the Kafka exporter on
    env.pop("OTEL_TRACES_EXPORTER", None)
    env.pop("KAFKA_BROKERS", None)
    return env


def spooled_segments(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "spool").glob("seg-*.log"))


@pytest.mark.integration
def test_exit_with_kafka_unreachable_is_bounded_by_the_delivery_timeout(tmp_path: Path) -> None:
    timeout_s = 12.0
    done = subprocess.run(
        [sys.executable, "-c", AGENT],
        cwd=ROOT,
        env=agent_env(tmp_path, int(timeout_s * 1000)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    ended = time.time()
    assert done.returncode == 0, done.stderr[-3000:]
    exiting = float(done.stdout.split("exiting ")[1].split()[0])
    # the documented bound: the delivery timeout, plus the margin to spool what is left
    # (before, a flush at exit and then the shutdown each waited: ~17 s here)
    assert ended - exiting <= timeout_s + EXIT_MARGIN_S
    assert "event(s) spooled at exit (Kafka did not take them in time)" in done.stderr
    assert spooled_segments(tmp_path)
    assert "Traceback" not in done.stderr


@pytest.mark.integration
def test_a_second_ctrl_c_ends_the_exit_at_once_and_says_what_was_spooled(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", AGENT, "wait"],
        cwd=ROOT,
        env=agent_env(tmp_path, 120_000),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("exiting")
        proc.send_signal(signal.SIGINT)  # ends the agent's work: the exit begins
        time.sleep(3.0)
        assert proc.poll() is None  # waiting for Kafka (up to the 120 s delivery timeout)
        second = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        took = time.monotonic() - second
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, stderr[-3000:]
    assert took <= EXIT_MARGIN_S + 5.0  # far below the delivery timeout
    assert "event(s) spooled at exit (interrupted)" in stderr
    assert "Traceback" not in stderr
    assert spooled_segments(tmp_path)


@pytest.mark.integration
def test_ctrl_c_during_an_explicit_shutdown_spools_then_raises(tmp_path: Path) -> None:
    """Outside the interpreter's exit, the interrupt reaches the caller, after the spooling."""
    import threading

    from onex_exporters.kafka import OnexKafkaSpanExporter
    from tests.exporters.helpers import run_executions, settings_for
    from tests.exporters.spans import SpanFactory

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    settings = settings_for(
        f"127.0.0.1:{free_port()}", str(tmp_path / "spool"), kafka_delivery_timeout_ms=120_000
    )
    exporter = OnexKafkaSpanExporter(settings, attach_lifecycle=False)
    factory = SpanFactory()
    run_executions(factory, 1)
    exporter.export(factory.finished())
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            exporter.shutdown()
    finally:
        timer.cancel()
    assert time.monotonic() - started < 1.0 + EXIT_MARGIN_S + 5.0  # not the 120 s timeout
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    stats = exporter.stats()
    assert stats["spooled"] == stats["events"] > 0 and stats["dropped"] == {}
    assert spooled_segments(tmp_path)
