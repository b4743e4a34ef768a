"""``onex-otel emit-daemon``: one Kafka producer and spool for every short-lived hook process."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any


def register(sub: Any) -> None:
    """Add the ``emit-daemon`` subcommand."""
    p: argparse.ArgumentParser = sub.add_parser(
        "emit-daemon",
        help="serve the local emit socket (the log-* commands use it when it runs)",
    )
    p.add_argument("--socket", help="socket path (default: ONEX_EMIT_SOCKET or a per-user path)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT, then deliver (or spool) what is queued and exit 0."""
    from onex_exporters.daemon import EmitDaemon
    from onex_exporters.publish import EnvelopePublisher
    from onex_otel.cli import CliError
    from onex_otel.config import load_settings
    from onex_otel.emit import default_socket_path

    settings = load_settings()
    if not settings.kafka_enabled:
        raise CliError("Kafka is not configured: set KAFKA_BOOTSTRAP_SERVERS (or KAFKA_BROKERS)")
    path = args.socket or str(default_socket_path(settings))
    publisher = EnvelopePublisher(settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    daemon = EmitDaemon(path, publisher)
    daemon.start()
    print(
        f"onex-otel emit-daemon listening on {path} (Kafka {settings.kafka_bootstrap_servers})",
        file=sys.stderr,
        flush=True,
    )
    try:
        while not stop.wait(1.0):
            pass
    finally:
        daemon.stop()
        publisher.close()
    stats = daemon.stats()
    print(
        f"onex-otel emit-daemon stopped: accepted {stats['accepted']}, "
        f"rejected {stats['rejected_events']} events and {stats['rejected_frames']} frames, "
        f"delivered {stats['publisher'].get('delivered')}, "
        f"spooled {stats['publisher'].get('spooled')}",
        file=sys.stderr,
        flush=True,
    )
    return 0
