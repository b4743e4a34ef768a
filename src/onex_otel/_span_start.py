"""Whether an action's span may be started bare and given its attributes right after.

``Tracer.start_span(attributes=...)`` hands the attributes to the sampler, then copies them into
the span one by one through the SDK's generic checks (type, key, length, count) before the span
processors' ``on_start`` sees the span: for the five attributes of a tool call that is about as
much work as the rest of the span's start. The attributes of an action are known to be valid (str
keys, str or int values), so when nothing between the start and the first attribute could tell
the difference, the span is started without them and they are put on it right afterwards (see
:func:`onex_otel._invocation.put_fresh_attributes`, which keeps the limits' drops and cuts).

Nothing can tell the difference when the tracer is the SDK's and

* its sampler is one of the SDK's samplers that decide on the trace id and parent alone
  (always on/off, trace id ratio, parent based over those: the exact classes, not subclasses);
* every span processor's ``on_start`` reads no attribute of an action's span: the SDK's batch and
  simple processors, any processor that keeps the base class's ``on_start``, a processor whose
  class declares it (:data:`ACTION_ATTRIBUTES_UNREAD`; the Kafka exporter's lifecycle processor,
  which looks for executions only) and onex-otel's own processor while no framework run is
  being followed. Inside an execution that processor looks for the execution's
  attributes; the action puts them on with the others, and says so for the start
  (:data:`onex_otel._context.stamp_follows`).

The answer for a tracer is worked out once per (tracer, sampler, processors) and kept; a provider
given another processor later is seen (the SDK replaces its tuple of processors).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from onex_otel._internal import internal_error

__all__ = ["ACTION_ATTRIBUTES_UNREAD", "attributes_unread"]

#: A span processor class with this attribute set to ``True`` declares that its ``on_start`` does
#: the same for an action's span (``execute_tool``/``decision``, onex-otel's tracer) whether the
#: span carries its attributes yet or not.
ACTION_ATTRIBUTES_UNREAD = "onex_action_attributes_unread"


class _Sdk(NamedTuple):
    """The SDK classes the check compares with."""

    tracer: type[Any]
    multi_processor: type[Any]
    samplers: tuple[type, ...]  # that decide without the attributes
    processors: tuple[type, ...]  # whose on_start reads nothing
    base_on_start: Any  # SpanProcessor.on_start: a processor keeping it reads nothing
    onex_processor: type[Any]


def _sdk_types() -> _Sdk | None:
    """The SDK classes; ``None`` when the SDK is not importable in the expected layout."""
    try:
        from opentelemetry.sdk.trace import SpanProcessor, SynchronousMultiSpanProcessor, Tracer
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.sampling import (
            ParentBased,
            ParentBasedTraceIdRatio,
            StaticSampler,
            TraceIdRatioBased,
        )

        from onex_otel._processor import ExecutionAttributesProcessor

        return _Sdk(
            Tracer,
            SynchronousMultiSpanProcessor,
            (StaticSampler, TraceIdRatioBased, ParentBased, ParentBasedTraceIdRatio),
            (BatchSpanProcessor, SimpleSpanProcessor),
            SpanProcessor.on_start,
            ExecutionAttributesProcessor,
        )
    except Exception:
        return None


_SDK = _sdk_types()
_PARENT_BASED_DELEGATES = (
    "_root",
    "_remote_parent_sampled",
    "_remote_parent_not_sampled",
    "_local_parent_sampled",
    "_local_parent_not_sampled",
)


def _sampler_blind(sampler: Any, blind: tuple[type, ...]) -> bool:
    """Whether ``sampler`` decides without looking at attributes (and passes them on unchanged)."""
    if type(sampler) not in blind:
        return False
    delegates = [getattr(sampler, name, None) for name in _PARENT_BASED_DELEGATES]
    return all(d is None or _sampler_blind(d, blind) for d in delegates)


def _followers(tracer: Any) -> tuple[Any, ...] | None:
    """The framework-run trackers that must be idle, or ``None`` when attributes may be read."""
    if _SDK is None:
        return None
    sdk = _SDK
    if type(tracer) is not sdk.tracer or type(tracer.span_processor) is not sdk.multi_processor:
        return None
    if not _sampler_blind(tracer.sampler, sdk.samplers):
        return None
    runs = []
    for processor in tracer.span_processor._span_processors:
        kind = type(processor)
        if kind is sdk.onex_processor:
            runs.append(processor.runs)
        elif (
            kind not in sdk.processors
            and kind.on_start is not sdk.base_on_start
            and getattr(kind, ACTION_ATTRIBUTES_UNREAD, False) is not True
        ):
            return None
    return tuple(runs)


#: (tracer, its sampler, its processors) last checked and the answer: replaced as one value, so
#: threads checking different tracers at once never pair one's key with another's answer.
_checked: tuple[tuple[object, object, object], tuple[Any, ...] | None] = ((None, None, None), None)


def attributes_unread(tracer: Any) -> bool:
    """Whether a span started on ``tracer`` now would have its attributes read by nobody.

    When true, the span may start without attributes and take them directly afterwards; the
    span, its processors and its exporters see exactly what they would have seen otherwise.
    """
    global _checked
    try:
        key = (tracer, tracer.sampler, tracer.span_processor._span_processors)
    except AttributeError:
        return False
    checked = _checked
    if key == checked[0]:
        runs = checked[1]
    else:
        try:
            runs = _followers(tracer)
        except Exception:
            internal_error("span_start.check")
            runs = None
        _checked = (key, runs)
    if runs is None:
        return False
    for tracker in runs:  # noqa: SIM110 - all() over a generator costs more, on every call
        if tracker.nodes:
            return False
    return True
