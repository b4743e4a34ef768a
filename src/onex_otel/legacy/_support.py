"""What every legacy call shares: never raising, argument checks, tracing bootstrap, scopes.

A legacy call returns ``True`` or ``False`` and never raises:

- invalid arguments (a ``ValueError`` from the checks here or from the core) give ``False`` and are
  counted and logged once per kind as ``legacy.<call>.invalid`` internal errors (never re-raised,
  not even under pytest: they are the caller's mistake, not onex-otel's);
- any other failure inside onex-otel gives ``False`` and is contained by
  :func:`onex_otel._internal.internal_error` (re-raised under pytest so the suite sees its bugs).

Where an action is recorded (its *scope*) follows from the correlation id:

1. the execution active in the current context has that correlation id: record there, exactly as
   the new API would;
2. an execution opened by a legacy call (``publish_execution_started``, ``log_agent_execution``)
   is open under that correlation id: its context is made current for the duration of the call,
   so the action lands in it exactly as if the code ran inside ``agent_execution(...)``;
3. otherwise the action is *standalone*: its span carries the legacy identity (correlation id,
   agent name, project fields, debug mode) and, when no span is current, its trace id is the
   correlation id.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ParamSpec

from opentelemetry import context as _context_api
from opentelemetry import trace as _trace_api
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.util.types import Attributes

from onex_otel import _context
from onex_otel._internal import contained, internal_error
from onex_otel.config import SETTINGS, ConfigError
from onex_otel.conventions import (
    ONEX_AGENT_NAME,
    ONEX_CORRELATION_ID,
    ONEX_CORRELATION_ID_ORIGINAL,
    ONEX_DEBUG_MODE,
    ONEX_PROJECT_NAME,
    ONEX_PROJECT_PATH,
    ONEX_WORKING_DIRECTORY,
)
from onex_otel.ids import correlation_uuid
from onex_otel.legacy import _registry
from onex_otel.limits import SCORE_MAX, SCORE_MIN

__all__ = [
    "Identity",
    "ProxyTracer",
    "check_correlation_id",
    "check_mapping",
    "check_millis",
    "check_name",
    "check_optional_text",
    "check_score",
    "ensure_tracer",
    "kafka_logging_enabled",
    "never_raises",
    "reject",
    "scope",
    "show",
]

_log = logging.getLogger("onex_otel.legacy")

P = ParamSpec("P")

_KAFKA_ENABLE_LOGGING = next(s for s in SETTINGS if s.attr == "kafka_enable_logging")


# ------------------------------------------------------------------------------------------------
# Never raising
# ------------------------------------------------------------------------------------------------
def reject(kind: str) -> None:
    """Count and log (once per kind) the invalid argument being handled; never re-raise."""
    with contained():
        internal_error(kind)


def never_raises(
    kind: str,
) -> Callable[[Callable[P, Awaitable[bool]]], Callable[P, Awaitable[bool]]]:
    """Make an async legacy call return ``False`` instead of raising (see the module docs)."""

    def decorate(fn: Callable[P, Awaitable[bool]]) -> Callable[P, Awaitable[bool]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> bool:
            try:
                return await fn(*args, **kwargs)
            except ValueError:
                reject(f"legacy.{kind}.invalid")
            except Exception:
                internal_error(f"legacy.{kind}")
            return False

        return wrapper

    return decorate


# ------------------------------------------------------------------------------------------------
# Argument checks (ValueError, so never_raises counts them as invalid arguments)
# ------------------------------------------------------------------------------------------------
def check_name(fn: str, field: str, value: object) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{fn}: {field} must be a non-empty string, got {show(value)}")
    return value


def check_optional_text(fn: str, field: str, value: object) -> str | None:
    """A string or ``None``."""
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{fn}: {field} must be a string or None, got {show(value)}")
    return value


def check_correlation_id(fn: str, value: object) -> str | uuid.UUID | None:
    """A correlation id: ``None``, a string or a UUID."""
    if value is None or isinstance(value, (str, uuid.UUID)):
        return value
    raise ValueError(f"{fn}: correlation_id must be a string or UUID, got {show(value)}")


def check_millis(fn: str, field: str, value: object) -> float | None:
    """``None`` or a finite, non-negative number of milliseconds."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{fn}: {field} must be a non-negative number, got {show(value)}")
    return float(value)


def check_score(fn: str, field: str, value: object) -> float | None:
    """``None`` or a number between 0 and 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not SCORE_MIN <= value <= SCORE_MAX:
        raise ValueError(
            f"{fn}: {field} must be a number between {SCORE_MIN:g} and {SCORE_MAX:g}, got {show(value)}"
        )
    return float(value)


def check_mapping(fn: str, field: str, value: object) -> dict[str, Any] | None:
    """``None`` or a mapping (copied into a plain dict)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"{fn}: {field} must be a mapping or None, got {show(value)}")
    return dict(value)


def show(value: object) -> str:
    """A short repr of `value` that never raises."""
    try:
        text = repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


# ------------------------------------------------------------------------------------------------
# Tracing bootstrap and the Kafka switch
# ------------------------------------------------------------------------------------------------
_bootstrap_lock = threading.Lock()
_bootstrapped = False


def ensure_tracer(bootstrap_servers: str | None = None) -> _trace_api.Tracer | None:
    """Our tracer; on first need, ``configure()`` onex-otel from the environment.

    Legacy code never called ``configure()``: when no SDK TracerProvider is installed, the first
    legacy call configures one (OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, Kafka when
    ``KAFKA_BOOTSTRAP_SERVERS`` or ``bootstrap_servers`` is given). A provider installed by the
    application or ``opentelemetry-instrument`` is used as it is. Returns ``None`` when tracing
    cannot be set up (the legacy calls then return ``False``).
    """
    global _bootstrapped
    tracer = _context.tracer()
    if tracer is not None or _bootstrapped:
        return tracer
    with _bootstrap_lock:
        if not _bootstrapped:
            _bootstrapped = True
            try:
                from onex_otel._configure import configure

                configure(kafka_bootstrap_servers=bootstrap_servers or None)
            except ConfigError:
                reject("legacy.configure.invalid")
            except Exception:
                internal_error("legacy.configure")
    return _context.tracer()


def kafka_logging_enabled() -> bool:
    """``KAFKA_ENABLE_LOGGING`` (default true); an unparsable value counts as an error: false."""
    try:
        return bool(_KAFKA_ENABLE_LOGGING.read(os.environ))
    except ConfigError:
        reject("legacy.kafka_enable_logging.invalid")
        return False


# ------------------------------------------------------------------------------------------------
# Identity of standalone actions and the tracer that stamps it
# ------------------------------------------------------------------------------------------------
class Identity:
    """Who a legacy action belongs to: correlation id, agent, project fields, debug mode."""

    __slots__ = ("agent_name", "attributes", "correlation_id", "trace_id")

    def __init__(
        self,
        agent_name: str,
        correlation_id: str | uuid.UUID | None,
        *,
        project_path: str | None = None,
        project_name: str | None = None,
        working_directory: str | None = None,
        debug_mode: bool = True,
    ) -> None:
        cid, original = correlation_uuid(correlation_id)
        self.agent_name = agent_name
        self.correlation_id = str(cid)
        self.trace_id = cid.int
        attrs: dict[str, Any] = {
            ONEX_CORRELATION_ID: self.correlation_id,
            ONEX_AGENT_NAME: agent_name,
            ONEX_DEBUG_MODE: bool(debug_mode),
        }
        if original is not None:
            attrs[ONEX_CORRELATION_ID_ORIGINAL] = original
        for key, value in (
            (ONEX_PROJECT_PATH, project_path),
            (ONEX_PROJECT_NAME, project_name),
            (ONEX_WORKING_DIRECTORY, working_directory),
        ):
            if value is not None:
                attrs[key] = value
        self.attributes = attrs


class ProxyTracer(_trace_api.Tracer):
    """A tracer that adds attributes, a start time and a root trace id to the spans it starts.

    Used with the core's :class:`~onex_otel._invocation.ActionInvocation` so that legacy actions reuse
    the core's span building: ``start_time`` back-dates a span whose duration the caller measured,
    ``attributes`` add the identity of a standalone action, ``trace_id`` (non-zero) makes a root
    span's trace id the correlation id.
    """

    def __init__(
        self,
        inner: _trace_api.Tracer,
        *,
        start_time: int | None = None,
        attributes: Mapping[str, Any] | None = None,
        trace_id: int = 0,
    ) -> None:
        self._inner = inner
        self._start_time = start_time
        self._attributes = dict(attributes or {})
        self._trace_id = trace_id

    def start_span(
        self,
        name: str,
        context: _context_api.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        """Start a span on the wrapped tracer with the proxy's additions."""
        merged = {**self._attributes, **dict(attributes or {})}
        parent = _trace_api.get_current_span(context).get_span_context()
        token = _context.set_pending(0 if parent.is_valid else self._trace_id)
        try:
            return self._inner.start_span(
                name,
                context,
                kind,
                merged,
                links,
                start_time or self._start_time,
                record_exception,
                set_status_on_exception,
            )
        finally:
            _context.reset_pending(token)

    @contextmanager
    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: _context_api.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[Span]:
        """Start a span as in :meth:`start_span` and make it current."""
        span = self.start_span(
            name, context, kind, attributes, links, start_time, record_exception, set_status_on_exception
        )
        with _trace_api.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ):
            yield span


def back_dated(duration_ms: float | None) -> int | None:
    """The start time (ns since the epoch) of an action of ``duration_ms`` that ends now."""
    if not duration_ms:
        return None
    return time.time_ns() - int(duration_ms * 1_000_000)


# ------------------------------------------------------------------------------------------------
# Scopes
# ------------------------------------------------------------------------------------------------
@contextmanager
def scope(identity: Identity) -> Iterator[bool]:
    """Make the right context current for an action of ``identity``; yields "standalone?".

    See the module docs for the three cases. In the standalone case with an execution of another
    correlation id current, that execution is hidden from the action (the parent span is kept),
    so the action is not stamped with the other execution's correlation id.
    """
    current = _context.current_execution()
    if current is not None and current.correlation_id == identity.correlation_id:
        yield False
        return
    opened = _registry.find(identity.correlation_id)
    if opened is not None and opened.execution is current:
        yield False
        return
    if opened is not None:
        token = _context_api.attach(opened.otel_context)
        standalone = False
    elif current is not None:
        token = _context_api.attach(_context_api.set_value(_context.EXECUTION_KEY, None))
        standalone = True
    else:
        token, standalone = None, True
    try:
        yield standalone
    finally:
        if token is not None:
            _context_api.detach(token)
