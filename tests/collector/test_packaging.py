"""The migrations ship inside the distribution, so `onex-otel db migrate` works when installed."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from onex_migrations import migration_files

ROOT = Path(__file__).resolve().parents[2]


def test_migrations_are_found_through_the_package() -> None:
    names = [f.name for f in migration_files()]
    assert names == sorted(p.name for p in (ROOT / "migrations" / "onex_migrations").glob("*.sql"))
    assert names[0].startswith("0001_")


@pytest.mark.integration  # pip builds in an isolated environment: the build backend from the index
def test_wheel_contains_migrations_and_collector(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("onex_otel-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in migration_files():
        assert f"onex_migrations/{f.name}" in names
    assert "onex_migrations/__init__.py" in names
    expected = {"onex_collector/consumer.py", "onex_collector/py.typed", "onex_collector/commands/db.py"}
    assert expected <= names
