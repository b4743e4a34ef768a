"""The collector's own spans: each batch write is a span linked to the traces that produced it.

The producers put a W3C ``traceparent`` header on every message; the batch span carries one link
per producing trace among its messages (to the span that produced the first of them; at most
:data:`MAX_LINKS`), so a trace viewer shows the database writes next to the agent run. psycopg's
own spans (opentelemetry-instrumentation-psycopg) are children of the batch span. Without tracing
configured (the batch span does not record) no header is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from opentelemetry import trace
from opentelemetry.trace import SpanContext, TraceFlags

from onex_otel.conventions import HEADER_TRACEPARENT

__all__ = ["MAX_LINKS", "parse_traceparent", "producing_traces", "tracer"]

MAX_LINKS = 128


def tracer(provider: trace.TracerProvider | None = None) -> trace.Tracer:
    """The collector's tracer (from ``provider``, default the global tracer provider)."""
    return trace.get_tracer("onex_collector", tracer_provider=provider)


def parse_traceparent(value: str | bytes | None) -> SpanContext | None:
    """A remote SpanContext from a W3C ``traceparent`` value, or None if it is not valid."""
    if value is None:
        return None
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    parts = text.strip().split("-")
    if len(parts) < 4 or len(parts[0]) != 2 or parts[0] == "ff":
        return None
    version, trace_hex, span_hex, flags_hex = parts[:4]
    if len(trace_hex) != 32 or len(span_hex) != 16 or len(flags_hex) != 2:
        return None
    if version == "00" and len(parts) != 4:
        return None
    try:
        trace_id, span_id, flags = int(trace_hex, 16), int(span_hex, 16), int(flags_hex, 16)
    except ValueError:
        return None
    if trace_id == 0 or span_id == 0:
        return None
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags & 0x01))


def producing_traces(
    headers_list: Iterable[Sequence[tuple[str, bytes | None]] | None],
) -> list[SpanContext]:
    """The producing span of the first message of each distinct trace (at most MAX_LINKS).

    A ``traceparent`` whose trace id (its characters 3 to 35) was already seen is not parsed
    again: a batch holds many messages of few traces.
    """
    seen: set[bytes | str] = set()
    traces: set[int] = set()
    contexts: list[SpanContext] = []
    for headers in headers_list:
        if not headers:
            continue
        for key, value in headers:
            if key != HEADER_TRACEPARENT or value is None or value[3:35] in seen:
                continue
            ctx = parse_traceparent(value)
            if ctx is None:
                continue
            seen.add(value[3:35])
            if ctx.trace_id in traces:
                continue
            traces.add(ctx.trace_id)
            contexts.append(ctx)
            if len(contexts) >= MAX_LINKS:
                return contexts
    return contexts
