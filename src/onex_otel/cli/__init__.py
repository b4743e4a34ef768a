"""The ``onex-otel`` command line.

Each subcommand lives in its own module of this package and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` (a callable taking the parsed namespace and returning the
exit code). Modules are imported only when their command runs, except for their tiny ``register``
functions, so ``onex-otel --help`` starts quickly. The shell-hook commands (the skills) take a
shorter way still: :mod:`._hook` hands them to the emit daemon when it runs, and this module imports
nothing else at the top, so a hook process loads no ``argparse``, no ``typing``, no settings module
(``benchmarks/bench_hook.py`` measures it against ``python -c pass``).

Errors reach the user as one clear sentence on stderr and exit code 1 (2 for usage errors);
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys

from onex_otel.cli import _hook

TYPE_CHECKING = False  # not typing's: a hook process does not import typing
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

__all__ = ["CliError", "main"]

#: Modules (relative to this package) whose ``register`` adds a subcommand, in help order.
COMMAND_MODULES: tuple[str, ...] = (
    "._config",
    "._skills",
    "._trace",
    "._emit_daemon",
    "._demo",
    "._schemas",
    "._db",
    "._collect",
    "._replay",
    "._bridge",
)


class CliError(Exception):
    """An error to show the user as one sentence, exit code 1."""


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
    for name in COMMAND_MODULES:
        importlib.import_module(name, __name__).register(sub)
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
