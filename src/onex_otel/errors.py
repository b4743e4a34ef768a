"""The one base of every exception onex-otel raises, and the errors shared across its packages.

Catch :class:`OnexError` to catch anything onex-otel itself raises. Each error keeps the builtin
base callers already catch (``ConfigError`` and ``RecordError`` are ``ValueError``s, ``EmitError``
and ``PublishError`` ``RuntimeError``s), so existing ``except`` clauses keep working. The errors of
``onex_exporters`` and ``onex_collector`` derive from :class:`OnexError` as well.

This module imports nothing: the shell hooks load it.
"""

from __future__ import annotations

__all__ = ["OnexError", "PublishError"]


class OnexError(Exception):
    """Base of every exception onex-otel, its exporters and its collector raise."""


class PublishError(OnexError, RuntimeError):
    """A publisher could neither deliver the events nor spool them.

    Raised by the publishers :func:`onex_otel.emit.emit` reaches through the entry-point group
    ``onex_otel.publishers`` (``onex_exporters.publish`` re-exports it).
    """
