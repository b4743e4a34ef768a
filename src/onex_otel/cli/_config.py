"""``onex-otel config``: show the settings in force, or the reference table."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    """Add the ``config`` subcommand."""
    p: argparse.ArgumentParser = sub.add_parser(
        "config", help="show the configuration in force (or --markdown: the reference table)"
    )
    p.add_argument("--markdown", action="store_true", help="print the reference as Markdown")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the resolved settings as JSON (passwords masked) or the reference table."""
    from dataclasses import asdict

    from onex_otel.config import load_settings, mask_conninfo, reference_markdown

    if args.markdown:
        print(reference_markdown())
        return 0
    values = asdict(load_settings())
    values.pop("extra", None)
    if values.get("postgres_password"):
        values["postgres_password"] = "***"
    if values.get("database_url"):
        values["database_url"] = mask_conninfo(values["database_url"])
    print(json.dumps(values, indent=2, default=list))
    return 0
