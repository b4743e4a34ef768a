"""Correlation id = trace id: an IdGenerator that hands out the pending correlation id.

Before the core starts the root span of an execution (or the short span of a router event with a
given correlation id) it sets the *pending* trace id to the correlation UUID's 128-bit value; the
SDK asks the tracer's id generator for a trace id only when it starts a root span, and this
generator answers with the pending value. Every other request goes to the generator it wraps (the
SDK's random one, or whatever ``OTEL_PYTHON_ID_GENERATOR`` installed).
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator

from onex_otel._context import _pending

__all__ = ["OnexIdGenerator", "install_id_generator"]


class OnexIdGenerator(IdGenerator):
    """Yields the pending correlation id as trace id; delegates everything else."""

    def __init__(self, fallback: IdGenerator | None = None) -> None:
        self.fallback: IdGenerator = fallback or RandomIdGenerator()
        self._fallback_trace_id = self.fallback.generate_trace_id
        random_check = getattr(self.fallback, "is_trace_id_random", None)
        self._fallback_random = bool(random_check()) if callable(random_check) else False
        # Span ids never involve a correlation id: hand the wrapped generator's method out directly
        # (an instance attribute, one call level less on every span start).
        self.generate_span_id = self.fallback.generate_span_id  # type: ignore[method-assign]

    def generate_span_id(self) -> int:
        """A span id from the wrapped generator."""
        return self.fallback.generate_span_id()

    def generate_trace_id(self) -> int:
        """The pending correlation id if one is set, else a trace id from the wrapped generator."""
        pending = _pending.get()
        if pending:
            return pending
        return self._fallback_trace_id()

    def is_trace_id_random(self) -> bool:
        """A correlation id given by the caller is not W3C-random; generated ones defer."""
        return self._fallback_random and not _pending.get()


def install_id_generator(target: Any) -> bool:
    """Wrap ``target.id_generator`` (an SDK TracerProvider or Tracer) with :class:`OnexIdGenerator`.

    Idempotent; returns whether ``target`` now uses it (False for objects without an id generator).
    """
    current = getattr(target, "id_generator", None)
    if current is None:
        return False
    if not isinstance(current, OnexIdGenerator):
        target.id_generator = OnexIdGenerator(current)
    return True
