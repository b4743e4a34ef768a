"""The services' commands reach the CLI through the ``onex_otel.commands`` entry points."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pytest

from onex_otel import cli
from onex_otel.emit import PUBLISHER_GROUP

SERVICE_COMMANDS = {"emit-daemon", "bridge", "demo", "db", "collect", "replay"}


def test_the_service_commands_are_registered_by_their_packages() -> None:
    found = {e.name: e.value for e in entry_points(group=cli.COMMAND_GROUP)}
    assert set(found) == SERVICE_COMMANDS
    assert all(v.startswith(("onex_exporters.", "onex_collector.")) for v in found.values())
    (publisher,) = entry_points(group=PUBLISHER_GROUP)
    assert publisher.value == "onex_exporters.publish:publish_envelope_dicts"


def test_help_lists_them_in_the_documented_order(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    order = [
        "config",
        "log-action",
        "trace",
        "emit-daemon",
        "demo",
        "schemas",
        "db",
        "collect",
        "replay",
        "bridge",
    ]
    positions = [out.index(f"\n    {name} ") for name in order]
    assert positions == sorted(positions)


def _only(monkeypatch: pytest.MonkeyPatch, entry: EntryPoint) -> None:
    monkeypatch.setattr(cli, "_plugin_commands", lambda: {entry.name: entry})


def test_a_broken_command_is_one_sentence_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _only(monkeypatch, EntryPoint("broken", "no_such_module_xyz:register", cli.COMMAND_GROUP))
    assert cli.main(["broken"]) == 1
    with pytest.raises(SystemExit) as exited:
        cli.main(["broken", "--any", "flag"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.count("cannot be loaded") == 2
    assert err.startswith(
        "onex-otel broken: the 'broken' command cannot be loaded from "
        "no_such_module_xyz:register: ModuleNotFoundError"
    )
    assert "Traceback" not in err
    assert cli.main(["config"]) == 0  # the others still work


def test_an_extra_command_is_added_after_the_known_ones(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _only(monkeypatch, EntryPoint("zzz-extra", f"{__name__}:register_extra", cli.COMMAND_GROUP))
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "zzz-extra" in out
    assert out.index("zzz-extra") > out.index("schemas")
    assert cli.main(["zzz-extra"]) == 7


def register_extra(sub: Any) -> None:
    """A third party's command."""
    sub.add_parser("zzz-extra", help="an extra command").set_defaults(func=lambda _args: 7)
