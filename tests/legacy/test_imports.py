"""The legacy names are importable from onex_otel itself, loaded only when first used."""

from __future__ import annotations

import subprocess
import sys

import pytest

import onex_otel
from onex_otel import legacy


def test_import_onex_otel_does_not_load_the_legacy_apis() -> None:
    code = (
        "import sys, onex_otel\n"
        "assert 'onex_otel.legacy' not in sys.modules\n"
        "from onex_otel import ActionLogger, log_agent_execution\n"
        "assert 'onex_otel.legacy' in sys.modules\n"
        "assert ActionLogger.__module__ == 'onex_otel.legacy._action_logger'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def test_every_legacy_name_is_exported() -> None:
    for name in legacy.__all__:
        if name in ("ToolCallContext", "ToolCallFailed"):
            continue
        assert name in onex_otel.__all__
        assert getattr(onex_otel, name) is getattr(legacy, name)
        assert name in dir(onex_otel)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        onex_otel.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
