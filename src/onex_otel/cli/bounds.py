"""Bounded startup checks of the commands that talk to Kafka or PostgreSQL.

Each check waits at most the given time (``ONEX_CONNECT_TIMEOUT_S`` by default) and turns an
unreachable service into one :class:`~onex_otel.cli.CliError` sentence naming it, so a command
with a stale address ends quickly with exit code 1 instead of retrying for ever. Public: the
service commands of ``onex_exporters.commands`` and ``onex_collector.commands`` use them.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = [
    "bounded_conninfo",
    "require_configured",
    "require_kafka",
    "require_postgres",
    "require_services",
]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def require_kafka(bootstrap: str, timeout: float) -> None:
    """Raise ``CliError`` unless a broker at ``bootstrap`` answers a metadata request in time."""
    from confluent_kafka.cimpl import Producer  # the C class: never instrumented

    from onex_otel.cli import CliError

    errors: list[str] = []

    def on_error(err: Any) -> None:
        errors.append(str(err.str()))

    class _Quiet:  # librdkafka's own log lines: the error says it all
        def log(self, *_args: Any) -> None:
            return

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "error_cb": on_error,
            "logger": _Quiet(),
            "socket.connection.setup.timeout.ms": max(1000, int(timeout * 1000)),
            "reconnect.backoff.max.ms": 500,
        }
    )
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            try:
                producer.list_topics(timeout=max(0.1, min(1.0, left)))
                return
            except Exception as exc:
                last = _first_line(exc)
            producer.poll(0)  # serves error_cb
            if time.monotonic() >= deadline:
                break
    finally:
        producer.flush(0)
    reason = errors[-1] if errors else last
    raise CliError(
        f"no Kafka broker answered at {bootstrap} within {timeout:g}s ({reason}); "
        "check KAFKA_BOOTSTRAP_SERVERS"
    )


def bounded_conninfo(conninfo: str, timeout: float) -> str:
    """``conninfo`` with ``connect_timeout`` set to ``timeout`` (unless it sets its own)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    if "connect_timeout" in conninfo_to_dict(conninfo):
        return conninfo
    return make_conninfo(conninfo, connect_timeout=max(1, round(timeout)))


def require_postgres(conninfo: str, timeout: float) -> None:
    """Raise ``CliError`` unless PostgreSQL at ``conninfo`` accepts a connection in time."""
    import psycopg

    from onex_otel.cli import CliError

    try:
        with psycopg.connect(bounded_conninfo(conninfo, timeout)):
            return
    except psycopg.Error as exc:
        raise CliError(f"cannot connect to PostgreSQL: {_first_line(exc)}") from None


def require_services(settings: Any, conninfo: str | None = None) -> None:
    """Both checks of a command that consumes Kafka into PostgreSQL (collect, replay)."""
    require_kafka(settings.kafka_bootstrap_servers or "", settings.connect_timeout_s)
    require_postgres(conninfo or settings.postgres_conninfo(), settings.connect_timeout_s)


def require_configured(settings: Any, timeout: float, *, postgres: bool) -> None:
    """The checks of the services a user configured (``demo``: the others it starts itself)."""
    if settings.kafka_bootstrap_servers:
        require_kafka(settings.kafka_bootstrap_servers, timeout)
    if postgres:
        require_postgres(settings.postgres_conninfo(), timeout)
