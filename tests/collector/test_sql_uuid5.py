"""The schema's own SHA-1 / uuid v5 (no extension needed) agree with Python's."""

import hashlib
import uuid

import psycopg

from onex_otel.conventions import CORRELATION_ID_NAMESPACE
from onex_otel.ids import correlation_uuid
from tests.services.postgres import Database


def test_sha1_and_correlation_ids_match_python(migrated: Database) -> None:
    messages = [b"", b"abc", b"a" * 55, b"a" * 56, b"a" * 64, bytes(range(256)) * 3]
    names = ["abc-123", "abc-123-def-456", "ünïcode ✓", "00000000-0000-0000-0000-000000000000"]
    with psycopg.connect(migrated.url) as conn:
        for msg in messages:
            (got,) = conn.execute("SELECT onex_sha1(%s)", (msg,)).fetchone()  # type: ignore[misc]
            assert bytes(got) == hashlib.sha1(msg).digest()
        for name in names:
            (got,) = conn.execute("SELECT onex_correlation_id(%s)", (name,)).fetchone()  # type: ignore[misc]
            assert got == correlation_uuid(name)[0] == uuid.uuid5(CORRELATION_ID_NAMESPACE, name)
        real = uuid.uuid4()
        (got,) = conn.execute("SELECT onex_correlation_id(%s)", (str(real),)).fetchone()  # type: ignore[misc]
        assert got == real
