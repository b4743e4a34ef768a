"""``onex-otel bridge`` on the command line, and the receiver's figures in /health and /metrics."""

from __future__ import annotations

import os
import subprocess
import sys

from onex_exporters.bridge.service import BridgeMetrics, _status


def test_without_kafka_it_says_so_in_one_line_and_exits_1() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BROKERS")}
    done = subprocess.run(
        [sys.executable, "-m", "onex_otel.cli", "bridge"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == "onex-otel bridge: KAFKA_BOOTSTRAP_SERVERS (or KAFKA_BROKERS) is not set\n"


def test_an_unreachable_broker_is_one_line_and_exit_1_within_the_connect_timeout() -> None:
    from tests.services.kafka import free_port

    bootstrap = f"127.0.0.1:{free_port()}"  # a stale address: nothing listens there
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "ONEX_CONNECT_TIMEOUT_S": "2"}
    env.pop("KAFKA_BROKERS", None)
    # before: the bridge retried for ever, the README test's block never ended
    done = subprocess.run(
        [sys.executable, "-m", "onex_otel.cli", "bridge", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"onex-otel bridge: no Kafka broker answered at {bootstrap} within 2s")
    assert done.stderr.count("\n") == 1


def test_a_bad_encoding_is_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "onex_otel.cli", "bridge", "--encoding", "xml"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "invalid choice: 'xml'" in done.stderr


class Receiver:
    """What the bridge reads of an OtlpReceiver: its health and its figures."""

    def __init__(self, status: str) -> None:
        self.status = status

    def health(self) -> dict[str, object]:
        return {"status": self.status, "grpc": "serving"}

    def metrics(self) -> dict[str, float]:
        return {"requests_accepted": 3.0, "requests_rejected": 1.0}


def test_the_receivers_health_and_figures_join_the_bridges() -> None:
    metrics = BridgeMetrics(running=True)
    health, snapshot, prometheus = _status(metrics, Receiver("healthy"))
    assert health() == {
        "status": "healthy",
        "consumer": "running",
        "receiver": {"status": "healthy", "grpc": "serving"},
    }
    assert snapshot()["receiver"] == {"requests_accepted": 3.0, "requests_rejected": 1.0}
    assert "onex_bridge_receiver_requests_accepted 3.0" in prometheus()
    health, _, _ = _status(metrics, Receiver("overloaded"))
    assert health()["status"] == "degraded"
    assert health()["reasons"] == {"receiver": "overloaded"}
