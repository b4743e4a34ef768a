"""``onex-otel trace CORRELATION_ID``: a run's timeline from PostgreSQL."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    """Add the ``trace`` subcommand."""
    p: argparse.ArgumentParser = sub.add_parser(
        "trace", help="show a run's timeline (routing, execution, actions) from PostgreSQL"
    )
    p.add_argument("correlation_id", help="the run's correlation id (= its trace id)")
    p.add_argument("--json", action="store_true", help="print the tree as JSON")
    p.add_argument(
        "--jaeger-json",
        metavar="FILE",
        help="also write a Jaeger UI upload file: a tree reconstructed from the rows "
        "(not the live spans; failed steps tagged error=true)",
    )
    p.add_argument("--database-url", help="PostgreSQL URL (default: DATABASE_URL / POSTGRES_*)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Fetch the rows, build the tree, print it (and write the Jaeger file)."""
    import psycopg

    from onex_otel import timeline
    from onex_otel.cli import CliError
    from onex_otel.cli.bounds import bounded_conninfo
    from onex_otel.config import load_settings
    from onex_otel.ids import correlation_uuid

    cid, _ = correlation_uuid(args.correlation_id)
    settings = load_settings(database_url=args.database_url)
    conninfo = bounded_conninfo(settings.postgres_conninfo(), settings.connect_timeout_s)
    try:
        with psycopg.connect(conninfo) as conn:
            rows = timeline.fetch_rows(conn, str(cid))
    except psycopg.errors.UndefinedTable:
        raise CliError("the onex-otel tables do not exist; run: onex-otel db migrate") from None
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliError(f"cannot connect to PostgreSQL: {first}") from None
    root = timeline.build_timeline(str(cid), rows)
    if root is None:
        raise CliError(f"no run with correlation id {args.correlation_id} in the database")
    if args.json:
        print(json.dumps(timeline.to_json(root), indent=2))
    else:
        print(timeline.render_text(root))
    if args.jaeger_json:
        with open(args.jaeger_json, "w", encoding="utf-8") as fh:
            json.dump(timeline.to_jaeger(root), fh, indent=1)
    return 0
