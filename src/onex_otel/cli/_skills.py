"""The seed 004 "skills" as subcommands for shell hooks.

``log-action``, ``log-routing-decision``, ``log-transformation`` and ``log-performance-metrics``
take the legacy skills' flags, validate them like the legacy tables' CHECK constraints, publish one
OnexEnvelopeV1 event and print one JSON line::

    {"success": true, "event_id": "...", "correlation_id": "...", "topic": "...", "delivery": "daemon"}

Exit code 0 on success, 1 on failure (with ``{"success": false, "error": "..."}``). They never hang:
publishing is bounded by ``--timeout`` seconds, and an event Kafka does not take in time goes to the
durable spool (``"delivery": "spooled"``), from where it is re-sent later.

:func:`run_skill` is the whole of a skill, from the command line to the line it prints; when the
local emit daemon (``onex-otel emit-daemon``) runs, the hook process hands it the command line
(:mod:`onex_otel.cli._hook`) and the daemon runs :func:`run_skill` with the process's settings, so
the hook imports neither this module nor the Kafka client.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from onex_otel.errors import OnexError

_BOOL_TRUE = {"true", "1", "yes", "y", "on"}
_BOOL_FALSE = {"false", "0", "no", "n", "off"}


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in _BOOL_TRUE:
        return True
    if value in _BOOL_FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


class UsageError(OnexError):
    """A skill's command line is wrong (reported like every other failure, as a JSON line)."""


def _common(p: argparse.ArgumentParser) -> None:
    p.error = _json_error(p)  # type: ignore[method-assign,assignment]
    p.set_defaults(usage_error=p.error)  # unknown flags are found by the top-level parser
    p.add_argument("--correlation-id", help="trace id of the run (UUID; other text is mapped)")
    p.add_argument("--timeout", type=_float, default=5.0, help="seconds to wait for delivery (default 5)")


def _json_error(p: argparse.ArgumentParser) -> Callable[[str], Any]:
    """Usage errors as the skills report every failure: one JSON line, exit code 1."""

    def error(message: str) -> Any:
        raise UsageError(f"{p.prog}: {message}")

    return error


def register(sub: Any) -> None:
    """Add the four skill subcommands."""
    # the names are onex_otel.cli._hook.COMMANDS, in order (a test checks)
    p = sub.add_parser("log-action", help="publish an agent action (tool_call/decision/...)")
    p.add_argument("--agent", required=True, help="agent performing the action")
    p.add_argument("--action-type", required=True, help="tool_call | decision | error | success")
    p.add_argument("--action-name", required=True, help="specific action name")
    p.add_argument("--details", help="JSON object with action-specific data")
    p.add_argument("--duration-ms", type=_int, help="action duration in ms")
    p.add_argument("--debug-mode", type=_bool, default=True, help="true (default) or false")
    p.add_argument("--project-path")
    p.add_argument("--project-name")
    p.add_argument("--working-directory")
    _common(p)

    p = sub.add_parser("log-routing-decision", help="publish a routing decision")
    p.add_argument("--agent", required=True, help="selected agent")
    p.add_argument("--confidence", type=_float, required=True, help="confidence 0.0-1.0")
    p.add_argument("--strategy", required=True, help="routing strategy")
    p.add_argument("--latency-ms", type=_int, required=True, help="routing time in ms")
    p.add_argument("--user-request", help="the original user request")
    p.add_argument("--reasoning", help="why this agent was selected")
    p.add_argument("--alternatives", help="JSON array of alternative agents")
    p.add_argument("--context", help="JSON object with additional context")
    _common(p)

    p = sub.add_parser("log-transformation", help="publish an agent transformation")
    p.add_argument("--from-agent", required=True, help="source agent")
    p.add_argument("--to-agent", required=True, help="target agent")
    p.add_argument("--success", type=_bool, default=True, help="true (default) or false")
    p.add_argument("--duration-ms", type=_int, required=True, help="transformation time in ms")
    p.add_argument("--reason", help="why the transformation happened")
    p.add_argument("--confidence", type=_float, help="routing confidence 0.0-1.0")
    _common(p)

    p = sub.add_parser("log-performance-metrics", help="publish router performance metrics")
    p.add_argument("--query", required=True, help="the user request text")
    p.add_argument("--duration-ms", type=_int, required=True, help="routing time 0-999 ms")
    p.add_argument("--cache-hit", type=_bool, default=False, help="true or false (default)")
    p.add_argument("--candidates", type=_int, required=True, help="agents evaluated")
    p.add_argument("--strategy", help="trigger match strategy")
    p.add_argument("--components", help="JSON object: confidence components")
    _common(p)


def _action(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    from onex_otel import records
    from onex_otel.conventions import EventType

    return EventType.AGENT_ACTION, records.agent_action(
        agent_name=args.agent,
        action_type=args.action_type,
        action_name=args.action_name,
        action_details=records.parse_json_object("--details", args.details),
        correlation_id=args.correlation_id,
        duration_ms=args.duration_ms,
        debug_mode=args.debug_mode,
        project_path=args.project_path,
        project_name=args.project_name,
        working_directory=args.working_directory,
    )


def _routing(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    from onex_otel import records
    from onex_otel.conventions import EventType

    return EventType.ROUTING_DECISION, records.routing_decision(
        selected_agent=args.agent,
        confidence_score=args.confidence,
        routing_strategy=args.strategy,
        routing_time_ms=args.latency_ms,
        user_request=args.user_request,
        alternatives=records.parse_json_array("--alternatives", args.alternatives),
        reasoning=args.reasoning,
        context=records.parse_json_object("--context", args.context),
        correlation_id=args.correlation_id,
    )


def _transformation(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    from onex_otel import records
    from onex_otel.conventions import EventType

    return EventType.TRANSFORMATION, records.transformation(
        source_agent=args.from_agent,
        target_agent=args.to_agent,
        transformation_duration_ms=args.duration_ms,
        success=args.success,
        transformation_reason=args.reason,
        confidence_score=args.confidence,
        correlation_id=args.correlation_id,
    )


def _performance(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    from onex_otel import records
    from onex_otel.conventions import EventType

    return EventType.ROUTER_PERFORMANCE, records.router_performance(
        query_text=args.query,
        routing_duration_ms=args.duration_ms,
        candidates_evaluated=args.candidates,
        cache_hit=args.cache_hit,
        trigger_match_strategy=args.strategy,
        confidence_components=records.parse_json_object("--components", args.components),
        correlation_id=args.correlation_id,
    )


def _line(result: dict[str, Any]) -> str:
    return json.dumps(result) + "\n"


#: How a skill publishes: :func:`onex_otel.emit.emit`, or the daemon's own queue.
Emit = Callable[..., Any]

_BUILDERS: dict[str, Callable[[argparse.Namespace], tuple[Any, dict[str, Any]]]] = {
    "log-action": _action,
    "log-routing-decision": _routing,
    "log-transformation": _transformation,
    "log-performance-metrics": _performance,
}


def parser() -> argparse.ArgumentParser:
    """A parser of the skill subcommands alone."""
    top = argparse.ArgumentParser(prog="onex-otel")
    register(top.add_subparsers(dest="command", metavar="COMMAND"))
    return top


_parser: argparse.ArgumentParser | None = None
_parser_lock = threading.Lock()


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Parse ``argv`` with the process's one parser, one command line at a time.

    Building the parser costs more than the rest of a skill, and the emit daemon runs a skill for
    every hook.
    """
    global _parser
    with _parser_lock:
        if _parser is None:
            _parser = parser()
        return _parser.parse_known_args(argv)


def run_skill(
    argv: list[str], environ: Mapping[str, str], emit: Emit, *, debug: bool = False
) -> tuple[int, str]:
    """Run one skill command line: ``(exit code, the JSON line to print)``.

    ``environ`` supplies the settings (the hook process's, when the daemon runs it); ``emit``
    publishes, with the signature of :func:`onex_otel.emit.emit`. Every failure is a JSON line and
    exit code 1 (``debug``: unexpected errors raise instead).
    """
    from onex_otel import records
    from onex_otel.config import ConfigError, load_settings
    from onex_otel.emit import EmitError

    try:
        args, unknown = _parse(argv)
        if unknown:
            args.usage_error(f"unrecognized arguments: {' '.join(unknown)}")
        settings = load_settings(environ)
        event_type, payload = _BUILDERS[args.command](args)
        env = records.envelope(event_type, payload, tenant_id=settings.tenant_id, source=settings.source)
    except (UsageError, records.RecordError, ConfigError) as exc:
        return 1, _line({"success": False, "error": str(exc)})
    try:
        outcome = emit([env], settings=settings, timeout=args.timeout)
    except EmitError as exc:
        return 1, _line({"success": False, "error": str(exc), "event_id": env["event_id"]})
    except Exception as exc:
        if debug:
            raise
        return 1, _line(
            {"success": False, "error": str(exc) or type(exc).__name__, "event_id": env["event_id"]}
        )
    return 0, _line(
        {
            "success": True,
            "event_id": env["event_id"],
            "correlation_id": env["correlation_id"],
            "event_type": env["event_type"],
            "delivery": outcome.delivery,
        }
    )
