"""``onex-otel schemas``: the JSON Schema of every event type, for consumers in any language."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add the ``schemas`` subcommand."""
    p: argparse.ArgumentParser = sub.add_parser(
        "schemas",
        help="print the JSON Schemas of the events (or write one file per event type)",
        description="Print the JSON Schema of every OnexEnvelopeV1 event type as one JSON "
        "object keyed by event type, or write <event type>.schema.json files to a directory.",
    )
    p.add_argument("-o", "--output", metavar="DIR", help="write one file per event type here")
    p.add_argument(
        "-t",
        "--event-type",
        metavar="TYPE",
        help="only this event type (e.g. omninode.agent.execution.started.v1)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print or write the schemas."""
    from onex_otel.cli import CliError
    from onex_otel.conventions import EventType
    from onex_otel.envelope import event_json_schema

    known = [et.value for et in EventType]
    if args.event_type and args.event_type not in known:
        raise CliError(f"unknown event type {args.event_type!r}; known: {', '.join(known)}")
    types = [args.event_type] if args.event_type else known
    schemas = {t: event_json_schema(t) for t in types}
    if not args.output:
        value = schemas[types[0]] if args.event_type else schemas
        print(json.dumps(value, indent=2, sort_keys=True))
        return 0
    out = Path(args.output)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, schema in schemas.items():
            (out / f"{name}.schema.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        raise CliError(f"cannot write schemas to {out}: {exc.strerror or exc}") from None
    print(f"wrote {len(schemas)} schemas to {out}")
    return 0
