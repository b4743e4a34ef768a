"""Apply the versioned SQL migrations of ``onex_migrations``, each in its own transaction.

Applied versions are recorded in ``schema_migrations`` (version, name, checksum, applied_at);
running :func:`migrate` again applies nothing. A migration whose file changed after it was
applied is reported (its checksum differs), never re-run silently.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from onex_migrations import migration_files
from onex_otel.conventions import TABLE_SCHEMA_MIGRATIONS
from onex_otel.errors import OnexError

__all__ = ["Migration", "MigrationError", "available_migrations", "migrate", "pending_migrations"]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Serialises concurrent `db migrate` runs against the same database.
_LOCK_KEY = 0x6F6E6578_6D696772 & 0x7FFF_FFFF_FFFF_FFFF


class MigrationError(OnexError):
    """The migrations cannot be applied as they are (bad file name, changed file, failing SQL)."""


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file's text."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    """Every migration shipped with the package, in version order."""
    out: list[Migration] = []
    for f in migration_files():
        m = _NAME.match(f.name)
        if m is None:
            raise MigrationError(f"migration file {f.name!r} is not named NNNN_name.sql")
        out.append(Migration(m.group(1), m.group(2), f.read_text(encoding="utf-8")))
    versions = [m.version for m in out]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return out


def _ensure_table(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {t} ("
            " version TEXT PRIMARY KEY,"
            " name TEXT NOT NULL,"
            " checksum TEXT NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        ).format(t=sql.Identifier(TABLE_SCHEMA_MIGRATIONS))
    )


def _applied(conn: psycopg.Connection[Any]) -> dict[str, str]:
    rows = conn.execute(
        sql.SQL("SELECT version, checksum FROM {t}").format(t=sql.Identifier(TABLE_SCHEMA_MIGRATIONS))
    ).fetchall()
    return {str(v): str(cs) for v, cs in rows}


def pending_migrations(conninfo: str) -> list[Migration]:
    """The migrations not yet applied to the database at ``conninfo``."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        _ensure_table(conn)
        applied = _applied(conn)
    return [m for m in available_migrations() if m.version not in applied]


def migrate(
    conninfo: str,
    *,
    progress: Callable[[str], None] | None = None,
    target: str | None = None,
) -> list[Migration]:
    """Apply every pending migration, each in its own transaction; return the ones applied.

    ``target``: apply only the versions up to this one (e.g. "0007"), not those after it.
    """
    say = progress or (lambda _msg: None)
    migrations = [m for m in available_migrations() if target is None or m.version <= target]
    done: list[Migration] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            _ensure_table(conn)
            applied = _applied(conn)
            for m in migrations:
                if m.version in applied:
                    if applied[m.version] != m.checksum:
                        raise MigrationError(f"migration {m.version}_{m.name} changed after it was applied")
                    continue
                say(f"applying {m.version}_{m.name}")
                try:
                    with conn.transaction():
                        conn.execute(m.sql.encode())
                        conn.execute(
                            sql.SQL("INSERT INTO {t} (version, name, checksum) VALUES (%s, %s, %s)").format(
                                t=sql.Identifier(TABLE_SCHEMA_MIGRATIONS)
                            ),
                            (m.version, m.name, m.checksum),
                        )
                except psycopg.Error as exc:
                    first = " ".join(str(exc).split())
                    raise MigrationError(f"migration {m.version}_{m.name} failed: {first}") from exc
                done.append(m)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return done
