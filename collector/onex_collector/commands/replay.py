"""``onex-otel replay``: rebuild the tables from the topics (the seeds' full replay capability)."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any


def register(sub: Any) -> None:
    """Add the ``replay`` subcommand."""
    from onex_collector.commands.collect import add_common

    p: argparse.ArgumentParser = sub.add_parser(
        "replay",
        help="re-read the topics from the beginning (or a time) into the tables; idempotent",
    )
    add_common(p)
    p.add_argument(
        "--since",
        help="start at this time (ISO 8601, e.g. 2025-11-06T10:00:00Z) instead of the beginning",
    )
    p.add_argument("--group", help="consumer group of the replay (default: a new one per run)")
    p.add_argument(
        "--idle-seconds",
        type=float,
        default=3.0,
        help="stop once every partition is read and nothing came for this long (default 3)",
    )
    p.set_defaults(func=run)


def parse_since(text: str) -> datetime:
    """Parse ``--since``: ISO 8601; a time without zone is UTC."""
    from onex_otel.cli import CliError

    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"--since {text!r} is not an ISO 8601 time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def run(args: argparse.Namespace) -> int:
    """Replay the topics into the tables, then exit."""
    import logging
    import sys

    from onex_collector.commands.collect import settings_from
    from onex_collector.service import options_from_settings, run_service
    from onex_otel.cli import CliError
    from onex_otel.cli.bounds import require_services

    logging.basicConfig(level=logging.WARNING)
    if args.port is None:
        args.port = 0  # a replay runs beside the service: no HTTP unless asked
    settings = settings_from(args)
    start: str | datetime = parse_since(args.since) if args.since else "beginning"
    group = args.group or f"{settings.kafka_group_id}-replay-{int(time.time())}"
    try:
        options = options_from_settings(
            settings, group_id=group, start=start, stop_when_idle_s=args.idle_seconds
        )
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    require_services(settings, options.conninfo)
    print(
        f"replay: group {group}, from {start if isinstance(start, str) else start.isoformat()}",
        file=sys.stderr,
        flush=True,
    )
    metrics = run_service(options, settings, progress_prefix="replay", progress_every_s=2.0)
    snap = metrics.snapshot()
    print(
        f"replay done: {snap['messages_consumed']} message(s) read, {snap['rows_inserted']} new"
        f" row(s), {snap['messages_failed']} dead-lettered",
        file=sys.stderr,
    )
    return 0
