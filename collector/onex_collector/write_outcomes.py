"""What a batch's write comes to: committed (with rejected events), or the database unavailable.

A row the database rejects (SQLSTATE class 22 "data exception" or 23 "integrity constraint
violation", or psycopg refusing a value such as a NUL character) is the event's fault: it goes to
the dead-letter topic. Anything else (connection lost, server shutting down, missing table) is a
:class:`DatabaseUnavailable`: nothing is committed and the caller retries the same batch later.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg

from onex_otel.errors import OnexError

__all__ = [
    "BatchResult",
    "DatabaseUnavailable",
    "Finished",
    "PendingWrite",
    "Rejected",
    "close_quietly",
    "is_row_rejection",
    "one_line",
    "sqlstate",
    "unavailable",
]

#: undefined_function, undefined_table: migrations not applied (retried: they may be under way).
_SCHEMA_MISSING = frozenset({"42883", "42P01"})


class DatabaseUnavailable(OnexError):
    """The database could not take the batch now (not the batch's fault); retry later."""


@dataclass(frozen=True)
class Rejected:
    """An event whose rows the database refused."""

    index: int  # position in the batch passed to Writer.write
    error_class: str
    message: str


@dataclass
class BatchResult:
    """What a committed batch did."""

    rows_inserted: int = 0
    executions_updated: int = 0
    rejected: list[Rejected] = field(default_factory=list)


class PendingWrite(Protocol):
    """A batch handed to :meth:`Writer.start`, being written."""

    def done(self) -> bool:
        """Whether :meth:`result` would return (or raise) without waiting."""
        ...

    def result(self) -> BatchResult:
        """Wait for the batch; what :meth:`Writer.write` returns or raises for it."""
        ...


def is_row_rejection(exc: BaseException) -> bool:
    """Whether ``exc`` is the database refusing a row's data (not an outage)."""
    if isinstance(exc, psycopg.DataError | psycopg.IntegrityError):
        return True  # also raised client-side, e.g. a NUL character psycopg cannot send
    return sqlstate(exc)[:2] in ("22", "23")


def unavailable(exc: psycopg.Error) -> DatabaseUnavailable:
    """What the collector is told when the database did not take a batch (not its fault)."""
    hint = ""
    if sqlstate(exc) in _SCHEMA_MISSING:
        hint = " (the schema is not up to date: run `onex-otel db migrate`)"
    return DatabaseUnavailable(f"PostgreSQL: {one_line(exc)}{hint}")


def sqlstate(exc: BaseException) -> str:
    """The exception's SQLSTATE ("" when it has none, e.g. a client-side error)."""
    sqlstate = getattr(exc, "sqlstate", None)
    return sqlstate if isinstance(sqlstate, str) else ""


class Finished:
    """A :class:`PendingWrite` settled at once."""

    def __init__(self, outcome: BatchResult | DatabaseUnavailable) -> None:
        self._outcome = outcome

    def done(self) -> bool:
        return True

    def result(self) -> BatchResult:
        if isinstance(self._outcome, DatabaseUnavailable):
            raise self._outcome
        return self._outcome


def close_quietly(conn: psycopg.Connection[Any]) -> None:
    """Close ``conn``, ignoring what a broken connection raises doing so."""
    with contextlib.suppress(Exception):  # closing a broken connection may fail
        conn.close()


def one_line(exc: BaseException) -> str:
    """``exc`` on one line, at most 500 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:500]
