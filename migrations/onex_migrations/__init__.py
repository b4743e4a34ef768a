"""The versioned plain-SQL migrations of the legacy tables, shipped as package data.

Each ``NNNN_name.sql`` file of this package is one migration; ``onex-otel db migrate`` applies the
pending ones in version order, each in its own transaction (see ``onex_collector.migrate``).
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

__all__ = ["migration_files"]


def migration_files() -> list[Traversable]:
    """Every ``*.sql`` migration file of this package, sorted by name (= version order)."""
    return sorted(
        (f for f in files(__name__).iterdir() if f.name.endswith(".sql")),
        key=lambda f: f.name,
    )
