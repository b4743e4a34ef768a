"""``onex-otel db maintain``: create day partitions ahead and apply the retention."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(dbsub: Any) -> None:
    """Add ``db maintain`` to the ``db`` subcommand's actions."""
    m: argparse.ArgumentParser = dbsub.add_parser(
        "maintain",
        help="create table partitions ahead, drop those past the retention (safe to re-run)",
    )
    m.add_argument("--database-url", help="PostgreSQL URL (default: DATABASE_URL / POSTGRES_*)")
    m.add_argument(
        "--ahead-days", type=int, help="days of partitions created ahead (ONEX_PARTITIONS_AHEAD_DAYS)"
    )
    m.add_argument("--retention-days", type=int, help="days of events kept, 0: all (ONEX_RETENTION_DAYS)")
    m.add_argument(
        "--debug-retention-days",
        type=int,
        help="days of debug actions kept, 0: all (ONEX_DEBUG_RETENTION_DAYS)",
    )
    m.set_defaults(func=run_maintain)


def run_maintain(args: argparse.Namespace) -> int:
    """Run the partition maintenance once; print what it did."""
    import psycopg

    from onex_collector.partitions import maintain, partitions
    from onex_otel.cli import CliError
    from onex_otel.config import ConfigError, load_settings

    try:
        settings = load_settings(
            database_url=args.database_url,
            partitions_ahead_days=args.ahead_days,
            retention_days=args.retention_days,
            debug_retention_days=args.debug_retention_days,
        )
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    conninfo = settings.postgres_conninfo()
    try:
        result = maintain(
            conninfo,
            ahead_days=settings.partitions_ahead_days,
            retention_days=settings.retention_days,
            debug_retention_days=settings.debug_retention_days,
        )
        kept = partitions(conninfo)
    except psycopg.Error as exc:
        first = " ".join(str(exc).split())[:300] or type(exc).__name__
        hint = " (run `onex-otel db migrate` first)" if "onex_" in first else ""
        raise CliError(f"partition maintenance failed: {first}{hint}") from exc
    days = {table: len([p for p in parts if not p.endswith("_default")]) for table, parts in kept.items()}
    print(
        f"{result.created} partition(s) created, {result.dropped} dropped,"
        f" {result.debug_deleted} old debug action(s) deleted;"
        f" day partitions kept: {min(days.values(), default=0)}-{max(days.values(), default=0)}"
        " per table",
        file=sys.stderr,
    )
    return 0
