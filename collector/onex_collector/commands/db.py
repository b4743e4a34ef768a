"""``onex-otel db migrate``: create or update the collector's PostgreSQL tables."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    """Add the ``db`` subcommand (``db migrate``, ``db maintain``)."""
    p: argparse.ArgumentParser = sub.add_parser("db", help="manage the collector's database")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    m = dbsub.add_parser("migrate", help="apply the pending SQL migrations (safe to re-run)")
    m.add_argument("--database-url", help="PostgreSQL URL (default: DATABASE_URL / POSTGRES_*)")
    m.add_argument("--list", action="store_true", help="only list the pending migrations")
    m.set_defaults(func=run_migrate)
    from onex_collector.commands import db_maintain

    db_maintain.register(dbsub)


def run_migrate(args: argparse.Namespace) -> int:
    """Apply (or list) the pending migrations."""
    import psycopg

    from onex_collector.migrate import MigrationError, migrate, pending_migrations
    from onex_otel.cli import CliError
    from onex_otel.cli.bounds import bounded_conninfo
    from onex_otel.config import load_settings

    settings = load_settings(database_url=args.database_url)
    conninfo = bounded_conninfo(settings.postgres_conninfo(), settings.connect_timeout_s)
    try:
        if args.list:
            pending = pending_migrations(conninfo)
            for m in pending:
                print(f"{m.version}_{m.name}")
            print(f"{len(pending)} pending migration(s)", file=sys.stderr)
            return 0
        applied = migrate(conninfo, progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    except MigrationError as exc:
        raise CliError(str(exc)) from exc
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliError(f"cannot connect to PostgreSQL: {first}") from exc
    if applied:
        print(f"applied {len(applied)} migration(s); the database is up to date", file=sys.stderr)
    else:
        print("nothing to apply; the database is up to date", file=sys.stderr)
    return 0
