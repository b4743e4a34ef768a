"""Containment of onex-otel's own failures.

Telemetry never breaks the agent: every failure inside onex-otel while recording is caught,
counted per kind, logged at most once per kind, and swallowed. Under pytest (``PYTEST_VERSION`` in
the environment) the error is re-raised instead, so the project's own tests see their bugs;
:func:`contained` turns that off for tests of the containment itself.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["contained", "degraded", "internal_error", "internal_error_counts"]

_log = logging.getLogger("onex_otel")

_counts: Counter[str] = Counter()
_logged: set[str] = set()
_lock = threading.Lock()
_force_contain = 0


def internal_error(kind: str) -> None:
    """Record the exception being handled as an internal failure of kind ``kind``.

    Call from an ``except`` block. Counts the failure, logs it (with traceback) the first time this
    kind occurs, adds one to the ``onex.internal.errors`` metric and returns, unless running under
    pytest, where the exception is re-raised.
    """
    with _lock:
        _counts[kind] += 1
        first = kind not in _logged
        _logged.add(kind)
    if first:
        _log.warning("onex-otel internal error (%s); telemetry continues", kind, exc_info=True)
    try:
        from onex_otel._metrics import count_internal_error

        count_internal_error(kind)
    except Exception:  # the metric itself must not fail the caller either
        pass
    if _force_contain == 0 and os.environ.get("PYTEST_VERSION"):
        raise


def degraded(kind: str, message: str, *args: object) -> None:
    """Record that onex-otel cannot do its job in some respect (not an exception: a situation).

    Counted like an internal error (``internal_error_counts()``, the ``onex.internal.errors``
    metric) under ``kind``; ``message`` is logged as a WARNING the first time this kind occurs.
    Never raises.
    """
    with _lock:
        _counts[kind] += 1
        first = kind not in _logged
        _logged.add(kind)
    if first:
        _log.warning(message, *args)
    try:
        from onex_otel._metrics import count_internal_error

        count_internal_error(kind)
    except Exception:
        pass


def internal_error_counts() -> dict[str, int]:
    """How many internal failures of each kind were contained so far in this process."""
    with _lock:
        return dict(_counts)


@contextmanager
def contained() -> Iterator[None]:
    """Contain internal errors even under pytest (for tests of the containment)."""
    global _force_contain
    with _lock:
        _force_contain += 1
    try:
        yield
    finally:
        with _lock:
            _force_contain -= 1
