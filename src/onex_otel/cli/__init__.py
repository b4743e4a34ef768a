"""The ``onex-otel`` command line.

Each subcommand lives in its own module and exposes ``register(subparsers)``, which adds its
parser and sets ``func`` (a callable taking the parsed namespace and returning the exit code). The
core's commands (config, the skills, trace, schemas) are modules of this package; the services'
commands (emit-daemon, bridge, db, collect, replay, demo) live in the packages that own them and
reach this parser through the entry-point group :data:`COMMAND_GROUP` (``pyproject.toml``), so the
core imports neither ``onex_exporters`` nor ``onex_collector``. A command that cannot be loaded
(a broken install) answers with one sentence and exit code 1; the others still work. Modules are
imported only when their command runs, except for their tiny ``register`` functions, so
``onex-otel --help`` starts quickly. The shell-hook commands (the skills) take a shorter way
still: :mod:`._hook` hands them to the emit daemon when it runs, and this module imports nothing
else at the top, so a hook process loads no ``argparse``, no ``typing``, no settings module, no
entry points (``benchmarks/bench_hook.py`` measures it against ``python -c pass``).

Errors reach the user as one clear sentence on stderr and exit code 1 (2 for usage errors);
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys

from onex_otel.cli import _hook
from onex_otel.errors import OnexError

TYPE_CHECKING = False  # not typing's: a hook process does not import typing
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any

__all__ = ["COMMAND_GROUP", "CliError", "main"]

#: The entry-point group of the commands other packages add: each entry is named after its
#: command and points at a ``register(subparsers)`` function.
COMMAND_GROUP = "onex_otel.commands"

#: Help order: modules of this package (a leading dot) and entry-point names of
#: :data:`COMMAND_GROUP`; entries not listed here follow, by name.
COMMAND_ORDER: tuple[str, ...] = (
    "._config",
    "._skills",
    "._trace",
    "emit-daemon",
    "demo",
    "._schemas",
    "db",
    "collect",
    "replay",
    "bridge",
)


class CliError(OnexError):
    """An error to show the user as one sentence, exit code 1."""


def _plugin_commands() -> dict[str, Any]:
    """The entry points of :data:`COMMAND_GROUP`, by name (the first of a name wins)."""
    from importlib.metadata import entry_points

    found: dict[str, Any] = {}
    for entry in entry_points(group=COMMAND_GROUP):
        found.setdefault(entry.name, entry)
    return found


def _register_plugin(sub: Any, entry: Any) -> None:
    """Add an entry point's command; one that cannot load still answers, with one sentence."""
    try:
        entry.load()(sub)
    except Exception as exc:
        message = (
            f"the {entry.name!r} command cannot be loaded from {entry.value}: {type(exc).__name__}: {exc}"
        )

        def unavailable(_args: object) -> int:
            print(f"onex-otel {entry.name}: {message}", file=sys.stderr)
            return 1

        def usage_error(_message: str) -> None:  # whatever flags were given: the same sentence
            raise SystemExit(unavailable(None))

        try:
            p = sub.add_parser(entry.name, help=f"(unavailable: {type(exc).__name__})", add_help=False)
        except Exception:  # it failed after adding its parser: that one stays
            return
        p.set_defaults(func=unavailable, usage_error=usage_error)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    import argparse
    import importlib

    parser = argparse.ArgumentParser(
        prog="onex-otel",
        description="OpenTelemetry observability for AI agents: tools, collector and demo.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    plugins = _plugin_commands()
    for name in COMMAND_ORDER:
        if name.startswith("."):
            importlib.import_module(name, __name__).register(sub)
        elif name in plugins:
            _register_plugin(sub, plugins.pop(name))
    for name in sorted(plugins):
        _register_plugin(sub, plugins[name])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((i for i, arg in enumerate(argv) if not arg.startswith("-")), None)
    if command is not None and argv[command] in _hook.COMMANDS:
        return _hook.run(argv[command:], debug="--debug" in argv[:command])
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # reported by the subcommand's own parser: the skills answer in JSON
        usage_error = getattr(args, "usage_error", None) or parser.error
        usage_error(f"unrecognized arguments: {' '.join(unknown)}")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print("onex-otel: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        message = str(exc) or type(exc).__name__
        print(f"onex-otel {args.command}: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
