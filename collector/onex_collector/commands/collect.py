"""``onex-otel collect``: consume the event topics into the legacy PostgreSQL tables."""

from __future__ import annotations

import argparse
import logging
from typing import Any


def add_common(p: argparse.ArgumentParser) -> None:
    """Options shared by ``collect`` and ``replay``."""
    p.add_argument("--bootstrap-servers", help="Kafka bootstrap servers (KAFKA_BOOTSTRAP_SERVERS)")
    p.add_argument("--database-url", help="PostgreSQL URL (DATABASE_URL / POSTGRES_*)")
    p.add_argument("--batch-size", type=int, help="events per transaction (BATCH_SIZE)")
    p.add_argument("--batch-timeout-ms", type=int, help="longest batch wait (BATCH_TIMEOUT_MS)")
    p.add_argument("--port", type=int, help="HTTP port of /health and /metrics; 0: off")


def register(sub: Any) -> None:
    """Add the ``collect`` subcommand."""
    p: argparse.ArgumentParser = sub.add_parser(
        "collect",
        help="run the collector: Kafka events -> PostgreSQL tables (until SIGTERM); "
        "fails at once if Kafka or PostgreSQL does not answer within ONEX_CONNECT_TIMEOUT_S",
    )
    add_common(p)
    p.add_argument("--group", help="consumer group (KAFKA_GROUP_ID)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every retry and DLQ write")
    p.set_defaults(func=run)


def settings_from(args: argparse.Namespace) -> Any:
    """The settings with the command line's overrides applied."""
    from onex_otel.config import load_settings

    return load_settings(
        kafka_bootstrap_servers=args.bootstrap_servers,
        database_url=args.database_url,
        batch_size=args.batch_size,
        batch_timeout_ms=args.batch_timeout_ms,
        http_port=args.port,
    )


def run(args: argparse.Namespace) -> int:
    """Run the collector in the foreground; exit 0 after a SIGTERM/SIGINT drain."""
    from onex_collector.service import options_from_settings, run_service
    from onex_otel.cli import CliError
    from onex_otel.cli.bounds import require_services

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = settings_from(args)
    try:
        options = options_from_settings(settings, group_id=args.group)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    require_services(settings, options.conninfo)
    try:
        run_service(options, settings, progress_prefix="collect")
    except OSError as exc:
        raise CliError(f"cannot serve /health and /metrics: {exc.strerror or exc}") from exc
    return 0
