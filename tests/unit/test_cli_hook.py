"""The shell-hook fast path: its wire format, what it forwards, and the daemon's ``skill`` op."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from onex_exporters.daemon import EmitDaemon
from onex_otel import _payload
from onex_otel.cli import _hook, _skills
from onex_otel.config import SETTINGS
from onex_otel.conventions import EventType

TRICKY = [
    'quote " and \\ backslash',
    "caf\u00e9 \u2603 \U0001f600",
    "lone \udcff surrogate",
    "new\nline\ttab\x00nul",
    "",
]


def test_request_frame_is_json_with_argv_and_only_the_settings_variables() -> None:
    environ = {
        "ONEX_SOURCE": TRICKY[1],
        "KAFKA_BOOTSTRAP_SERVERS": "k:9",
        "TENANT_ID": "t",
        "OTEL_SERVICE_NAME": TRICKY[0],
        "HOME": "/home/u",
        "AWS_SECRET_ACCESS_KEY": "s",
    }
    frame = _hook.encode_request(["log-action", *TRICKY], environ)
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    frame[4:].decode("ascii")  # every non-ASCII character escaped: always encodable
    assert json.loads(frame[4:]) == {
        "op": "skill",
        "argv": ["log-action", *TRICKY],
        "env": {
            "ONEX_SOURCE": TRICKY[1],
            "KAFKA_BOOTSTRAP_SERVERS": "k:9",
            "TENANT_ID": "t",
            "OTEL_SERVICE_NAME": TRICKY[0],
        },
    }


def test_every_setting_variable_is_forwarded() -> None:
    names = [n for s in SETTINGS for n in (s.env, *s.aliases)]
    missing = [n for n in names if not (n.startswith(_hook.FORWARDED_PREFIXES) or n in _hook.FORWARDED_NAMES)]
    assert missing == []


@pytest.mark.parametrize("output", [*TRICKY, '{"success": true}\n'])
@pytest.mark.parametrize("code", [0, 1])
def test_reply_as_the_daemon_sends_it_is_read_back(code: int, output: str) -> None:
    # the daemon's frames are json.dumps(reply, separators=(",", ":")) (onex_otel.emit.send_frame)
    body = json.dumps({"ok": True, "exit": code, "output": output}, separators=(",", ":")).encode()
    assert _hook.decode_reply(body) == (code, output)


@pytest.mark.parametrize(
    "body",
    [
        b"{\"ok\":false,\"error\":\"unknown op 'skill' (expected 'emit' or 'ping')\"}",
        b'{"ok":true,"accepted":1}',
        b'{"ok":true,"exit":0,"output":"x"',
        b'{"ok":true,"exit":0,"output":"x"}trailing',
        b'{"ok":true,"exit":0,"output":7}',
    ],
)
def test_any_other_reply_is_a_refusal(body: bytes) -> None:
    assert _hook.decode_reply(body) is None


def test_timeout_flag_bounds_the_wait() -> None:
    assert _hook._timeout(["log-action", "--timeout", "2.5"]) == 2.5
    assert _hook._timeout(["log-action", "--timeout=1"]) == 1.0
    assert _hook._timeout(["log-action", "--timeout", "soon"]) == _hook.DEFAULT_TIMEOUT
    assert _hook._timeout(["log-action"]) == _hook.DEFAULT_TIMEOUT


def test_the_skills_parser_has_exactly_the_routed_commands() -> None:
    sub = next(a for a in _skills.parser()._actions if a.dest == "command")
    assert tuple(sub.choices) == _hook.COMMANDS  # type: ignore[arg-type]


class RecordingPublisher:
    """The daemon's publisher, in memory (no Kafka here: this tests the request handling)."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    def publish_envelope(self, envelope: Any) -> None:
        self.envelopes.append(envelope)

    def stats(self) -> Mapping[str, Any]:
        return {"published": len(self.envelopes)}


ACTION = [
    "log-action",
    "--agent",
    "a",
    "--action-type",
    "tool_call",
    "--action-name",
    "Read",
    "--details",
    '{"file_path": "/x.py"}',
]


@pytest.fixture
def daemon(tmp_path: Any) -> EmitDaemon:
    _payload.set_policy(None)
    return EmitDaemon(tmp_path / "emit.sock", RecordingPublisher())


def test_daemon_runs_the_skill_with_the_hooks_settings(daemon: EmitDaemon) -> None:
    reply = daemon.handle_message(
        {"op": "skill", "argv": ACTION, "env": {"TENANT_ID": "tenant-7", "ONEX_SOURCE": "hooks"}}
    )
    assert list(reply) == ["ok", "exit", "output"]  # the order the hook reads
    assert reply["ok"] is True and reply["exit"] == 0
    line = json.loads(reply["output"])
    assert line["success"] is True and line["delivery"] == "daemon"
    [env] = daemon.publisher.envelopes  # type: ignore[attr-defined]
    assert str(env.event_id) == line["event_id"]
    assert env.event_type == EventType.AGENT_ACTION
    assert (env.tenant_id, env.source) == ("tenant-7", "hooks")
    assert env.payload.model_dump()["action_details"] == {"file_path": "/x.py"}
    assert daemon.stats()["accepted"] == 1


@pytest.mark.parametrize(
    ("argv", "env", "fragment"),
    [
        (
            ["log-action", "--agent", "a", "--action-type", "bogus", "--action-name", "x"],
            {},
            "action type must be one of",
        ),
        ([*ACTION, "--no-such-flag"], {}, "onex-otel log-action: unrecognized arguments"),
        (["log-action", "--agent", "a"], {}, "required"),
        (ACTION, {"ONEX_SPOOL_FSYNC": "sometimes"}, "ONEX_SPOOL_FSYNC"),
    ],
)
def test_daemon_reports_a_bad_skill_as_the_process_would(
    daemon: EmitDaemon, argv: list[str], env: dict[str, str], fragment: str
) -> None:
    reply = daemon.handle_message({"op": "skill", "argv": argv, "env": env})
    assert reply["ok"] is True and reply["exit"] == 1
    line = json.loads(reply["output"])
    assert line["success"] is False and fragment in line["error"]
    assert daemon.publisher.envelopes == []  # type: ignore[attr-defined]


def test_daemon_hands_back_what_it_cannot_run_as_the_hook_would(daemon: EmitDaemon) -> None:
    # a payload bound other than the daemon's: the hook must run the skill itself
    reply = daemon.handle_message({"op": "skill", "argv": ACTION, "env": {"ONEX_MAX_PAYLOAD_BYTES": "1024"}})
    assert reply["ok"] is False and "ONEX_MAX_PAYLOAD_BYTES" in reply["error"]
    assert _hook.decode_reply(json.dumps(reply, separators=(",", ":")).encode()) is None
    # switched off in the hook's environment: nothing published, as the process would say
    off = daemon.handle_message({"op": "skill", "argv": ACTION, "env": {"KAFKA_ENABLE_LOGGING": "false"}})
    assert json.loads(off["output"])["delivery"] == "disabled"
    bad = daemon.handle_message({"op": "skill", "argv": "log-action", "env": {}})
    assert bad["ok"] is False and daemon.stats()["rejected_frames"] == 1
    assert daemon.publisher.envelopes == []  # type: ignore[attr-defined]


def test_a_skill_that_cannot_finish_in_the_daemon_is_handed_back(
    daemon: EmitDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    # argparse's help (here by an abbreviation) ends in SystemExit: not the daemon's to print
    reply = daemon.handle_message({"op": "skill", "argv": ["log-action", "--hel"], "env": {}})
    assert reply["ok"] is False and "failed in the daemon" in reply["error"]
    assert daemon.publisher.envelopes == []  # type: ignore[attr-defined]
    capsys.readouterr()


def test_help_is_never_forwarded(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    forwarded: list[list[str]] = []
    monkeypatch.setattr(_hook, "forward", lambda argv, environ: forwarded.append(argv))
    for flag in ("-h", "--help", "--hel"):
        with pytest.raises(SystemExit) as info:
            _hook.run(["log-action", flag])
        assert info.value.code == 0
        assert "--action-type" in capsys.readouterr().out
    assert forwarded == []
