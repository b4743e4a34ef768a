"""The old name of :mod:`onex_otel.execution_listeners`, kept so its imports keep working."""

from __future__ import annotations

from onex_otel import execution_listeners as _listeners
from onex_otel.execution_listeners import *  # noqa: F403 - the same names, listed once

__all__ = _listeners.__all__
