"""OpenTelemetry metric instruments of onex-otel.

- ``onex.agent.actions`` (counter, ``{action}``; agent_name, action_type, tool_name): the
  legacy ``action_log_counter``;
- ``onex.agent.action.duration`` (histogram, ``ms``; same attributes): ``action_log_duration``;
- ``onex.agent.action.errors`` (counter, ``{error}``; agent_name, error_type):
  ``action_log_errors_counter``;
- ``onex.internal.errors`` (counter, ``{error}``; kind): contained onex-otel failures (new);
- ``onex.agent.executions`` (counter, ``{execution}``; agent_name, status): ended executions by
  status (``success``, ``failed``, ``cancelled``), for failure-rate alerts (new).

They are recorded through the global MeterProvider (or the one given to ``configure()``); while
none is configured nothing is recorded and nothing is spent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from opentelemetry import metrics as _metrics_api
from opentelemetry.metrics import CallbackOptions, Observation

from onex_otel.conventions import (
    INSTRUMENTATION_NAME,
    METRIC_ACTION_DURATION,
    METRIC_ACTION_ERRORS,
    METRIC_ACTIONS,
    METRIC_ATTR_ACTION_TYPE,
    METRIC_ATTR_AGENT,
    METRIC_ATTR_ERROR_TYPE,
    METRIC_ATTR_KIND,
    METRIC_ATTR_STATUS,
    METRIC_ATTR_TOOL_NAME,
    METRIC_EXECUTIONS,
    METRIC_INTERNAL_ERRORS,
)

__all__ = ["Instruments", "count_internal_error", "instruments", "set_meter_provider"]


class _Tally:
    """Cumulative counts by attribute set, reported through an observable counter.

    Adding to a dict costs a fraction of a synchronous SDK counter's ``add``, which matters on
    the hot path of every tool call; the SDK reads the totals when it collects.
    """

    __slots__ = ("_counts", "_keys", "_lock")

    def __init__(self, keys: tuple[str, ...]) -> None:
        self._keys = keys
        self._counts: dict[tuple[str, ...], int] = {}
        self._lock = threading.Lock()

    def add(self, values: tuple[str, ...]) -> None:
        with self._lock:
            self._counts[values] = self._counts.get(values, 0) + 1

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            items = list(self._counts.items())
        keys = self._keys
        return [
            Observation(
                count, {k: v for k, v in zip(keys, values, strict=True) if v or k == METRIC_ATTR_AGENT}
            )
            for values, count in items
        ]


class Instruments:
    """The instruments made from one meter."""

    __slots__ = ("action_duration", "actions", "errors", "executions", "internal_errors")

    def __init__(self, meter: _metrics_api.Meter) -> None:
        self.actions = _Tally((METRIC_ATTR_AGENT, METRIC_ATTR_ACTION_TYPE, METRIC_ATTR_TOOL_NAME))
        self.errors = _Tally((METRIC_ATTR_AGENT, METRIC_ATTR_ERROR_TYPE))
        self.executions = _Tally((METRIC_ATTR_AGENT, METRIC_ATTR_STATUS))
        meter.create_observable_counter(
            METRIC_ACTIONS,
            callbacks=[self.actions.observe],
            unit="{action}",
            description="Agent actions (tool calls, decisions, errors, successes).",
        )
        meter.create_observable_counter(
            METRIC_ACTION_ERRORS,
            callbacks=[self.errors.observe],
            unit="{error}",
            description="Agent action errors by error type.",
        )
        meter.create_observable_counter(
            METRIC_EXECUTIONS,
            callbacks=[self.executions.observe],
            unit="{execution}",
            description="Ended agent executions by status.",
        )
        self.action_duration = meter.create_histogram(
            METRIC_ACTION_DURATION, unit="ms", description="Duration of timed agent actions."
        )
        self.internal_errors = meter.create_counter(
            METRIC_INTERNAL_ERRORS, unit="{error}", description="Contained onex-otel failures."
        )

    def action(
        self, agent: str | None, action_type: str, tool: str | None, duration_ms: float | None
    ) -> None:
        """Count one action (and record its duration when timed)."""
        kind = str(action_type)
        self.actions.add((agent or "", kind, tool or ""))
        if duration_ms is not None:
            attrs: dict[str, Any] = {METRIC_ATTR_AGENT: agent or "", METRIC_ATTR_ACTION_TYPE: kind}
            if tool:
                attrs[METRIC_ATTR_TOOL_NAME] = tool
            self.action_duration.record(duration_ms, attrs)

    def execution(self, agent: str, status: str) -> None:
        """Count one ended execution."""
        self.executions.add((agent, status))

    def error(self, agent: str | None, error_type: str) -> None:
        """Count one error."""
        self.errors.add((agent or "", error_type))


_meter_provider: _metrics_api.MeterProvider | None = None
_cached_provider: object = None
_cached: Instruments | None = None


try:  # the API's global, read directly: this runs on every traced call
    from opentelemetry.metrics import _internal as _api_internal

    _DIRECT = hasattr(_api_internal, "_METER_PROVIDER")
except ImportError:  # pragma: no cover - future API layout
    _DIRECT = False


def _global_provider() -> _metrics_api.MeterProvider | None:
    if _DIRECT:
        provider: _metrics_api.MeterProvider | None = _api_internal._METER_PROVIDER
        return provider
    found = _metrics_api.get_meter_provider()  # pragma: no cover - future API layout
    return None if type(found).__name__ == "_ProxyMeterProvider" else found


def instruments() -> Instruments | None:
    """The instruments in force, or ``None`` while no MeterProvider is configured at all.

    Instruments are made once per MeterProvider: the one given to ``configure()``, else the
    global one (a provider installed later is picked up on the next call).
    """
    global _cached_provider, _cached
    provider = _meter_provider or (_api_internal._METER_PROVIDER if _DIRECT else _global_provider())
    if provider is None:
        return None
    if provider is not _cached_provider:
        _cached = Instruments(provider.get_meter(INSTRUMENTATION_NAME))
        _cached_provider = provider
    return _cached


def is_on() -> bool:
    """Whether any MeterProvider is configured (cheap; the hot path asks before counting)."""
    return _meter_provider is not None or (
        _api_internal._METER_PROVIDER is not None if _DIRECT else _global_provider() is not None
    )


def set_meter_provider(provider: _metrics_api.MeterProvider | None) -> None:
    """Record through ``provider`` from now on (``None``: the global MeterProvider)."""
    global _meter_provider
    _meter_provider = provider


def count_internal_error(kind: str) -> None:
    """Add one to ``onex.internal.errors{kind}``."""
    current = instruments()
    if current is not None:
        current.internal_errors.add(1, {METRIC_ATTR_KIND: kind})
