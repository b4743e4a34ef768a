"""OpenTelemetry metric instruments of onex-otel.

- ``onex.agent.actions`` (counter, ``{action}``; agent_name, action_type, tool_name): the
  legacy ``action_log_counter``;
- ``onex.agent.action.duration`` (histogram, ``ms``; same attributes): ``action_log_duration``;
- ``onex.agent.action.errors`` (counter, ``{error}``; agent_name, error_type):
  ``action_log_errors_counter``;
- ``onex.internal.errors`` (counter, ``{error}``; kind): contained onex-otel failures (new).

They are recorded through the global MeterProvider (or the one given to ``configure()``); while
none is configured nothing is recorded and nothing is spent.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import metrics as _metrics_api

from onex_otel.conventions import (
    INSTRUMENTATION_NAME,
    METRIC_ACTION_DURATION,
    METRIC_ACTION_ERRORS,
    METRIC_ACTIONS,
    METRIC_ATTR_ACTION_TYPE,
    METRIC_ATTR_AGENT,
    METRIC_ATTR_ERROR_TYPE,
    METRIC_ATTR_KIND,
    METRIC_ATTR_TOOL_NAME,
    METRIC_INTERNAL_ERRORS,
)

__all__ = ["Instruments", "count_internal_error", "instruments", "set_meter_provider"]


class Instruments:
    """The instruments made from one meter."""

    __slots__ = ("action_duration", "action_errors", "actions", "internal_errors")

    def __init__(self, meter: _metrics_api.Meter) -> None:
        self.actions = meter.create_counter(
            METRIC_ACTIONS, unit="{action}", description="Agent actions (tool calls, decisions)."
        )
        self.action_duration = meter.create_histogram(
            METRIC_ACTION_DURATION, unit="ms", description="Duration of timed agent actions."
        )
        self.action_errors = meter.create_counter(
            METRIC_ACTION_ERRORS, unit="{error}", description="Agent action errors by error type."
        )
        self.internal_errors = meter.create_counter(
            METRIC_INTERNAL_ERRORS, unit="{error}", description="Contained onex-otel failures."
        )

    def action(self, agent: str | None, action_type: str, tool: str | None,
               duration_ms: float | None) -> None:
        """Count one action (and record its duration when timed)."""
        attrs: dict[str, Any] = {
            METRIC_ATTR_AGENT: agent or "", METRIC_ATTR_ACTION_TYPE: str(action_type)
        }
        if tool:
            attrs[METRIC_ATTR_TOOL_NAME] = tool
        self.actions.add(1, attrs)
        if duration_ms is not None:
            self.action_duration.record(duration_ms, attrs)

    def error(self, agent: str | None, error_type: str) -> None:
        """Count one error."""
        self.action_errors.add(
            1, {METRIC_ATTR_AGENT: agent or "", METRIC_ATTR_ERROR_TYPE: error_type}
        )


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


def set_meter_provider(provider: _metrics_api.MeterProvider | None) -> None:
    """Record through ``provider`` from now on (``None``: the global MeterProvider)."""
    global _meter_provider
    _meter_provider = provider


def count_internal_error(kind: str) -> None:
    """Add one to ``onex.internal.errors{kind}``."""
    current = instruments()
    if current is not None:
        current.internal_errors.add(1, {METRIC_ATTR_KIND: kind})
