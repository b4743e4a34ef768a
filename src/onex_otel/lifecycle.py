"""The old name of :mod:`onex_otel.execution_listeners`, kept so its imports keep working."""

from __future__ import annotations

from onex_otel.execution_listeners import (
    LifecycleListener,
    ProgressReport,
    add_listener,
    notify_progress,
    notify_started,
    remove_listener,
)

__all__ = [
    "LifecycleListener",
    "ProgressReport",
    "add_listener",
    "notify_progress",
    "notify_started",
    "remove_listener",
]
