"""The skill subcommands reject bad input with one JSON line and exit code 1, before publishing."""

import json
import subprocess
import sys

import pytest

from onex_otel.cli import main


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (
            ["log-action", "--agent", "a", "--action-type", "bogus", "--action-name", "x"],
            "action type must be one of",
        ),
        (
            [
                "log-action",
                "--agent",
                "a",
                "--action-type",
                "decision",
                "--action-name",
                "x",
                "--details",
                "{bad",
            ],
            "--details is not valid JSON",
        ),
        (
            [
                "log-routing-decision",
                "--agent",
                "a",
                "--confidence",
                "1.5",
                "--strategy",
                "s",
                "--latency-ms",
                "3",
            ],
            "between 0.0 and 1.0",
        ),
        (
            ["log-performance-metrics", "--query", "q", "--duration-ms", "abc", "--candidates", "1"],
            "expected a whole number",
        ),
        (
            ["log-performance-metrics", "--query", "q", "--duration-ms", "1000", "--candidates", "1"],
            "below 1000",
        ),
        (
            [
                "log-transformation",
                "--from-agent",
                "a",
                "--to-agent",
                "b",
                "--duration-ms",
                "5",
                "--success",
                "perhaps",
            ],
            "expected true or false",
        ),
        (["log-action", "--agent", "a"], "required"),
        (
            [
                "log-action",
                "--agent",
                "a",
                "--action-type",
                "decision",
                "--action-name",
                "x",
                "--no-such-flag",
                "1",
            ],
            "unrecognized arguments: --no-such-flag 1",
        ),
    ],
)
def test_bad_input_is_one_json_line_and_exit_1(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:  # argparse-level errors exit through SystemExit
        code = main(argv)
        raise SystemExit(code)
    assert info.value.code == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["success"] is False
    assert fragment in result["error"]


def test_console_script_exit_code() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "onex_otel.cli",
            "log-action",
            "--agent",
            "a",
            "--action-type",
            "nope",
            "--action-name",
            "x",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["success"] is False


def test_details_and_correlation_id_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from onex_otel import _payload, records
    from onex_otel.conventions import TRUNCATION_MARKER
    from onex_otel.ids import correlation_uuid

    monkeypatch.setenv("ONEX_MAX_PAYLOAD_BYTES", "1024")
    _payload.set_policy(None)
    try:
        legacy_id = "legacy-" + "x" * 100_000
        payload = records.agent_action(
            agent_name="a",
            action_type="tool_call",
            action_name="read",
            action_details={"file_path": "/x.py", "text": "y" * 50_000},
            correlation_id=legacy_id,
        )
    finally:
        _payload.set_policy(None)
    details = payload["action_details"]
    original = details.pop("correlation_id_original")
    assert original.endswith(TRUNCATION_MARKER) and len(original.encode()) <= 1024
    assert payload["correlation_id"] == str(correlation_uuid(legacy_id)[0])  # the whole text
    assert details["file_path"] == "/x.py" and details["text"].endswith(TRUNCATION_MARKER)
    assert details["details_original_size"] == len(
        json.dumps({"file_path": "/x.py", "text": "y" * 50_000}, separators=(",", ":"))
    )
    assert len(json.dumps(details)) <= 1024 + 40
    small = records.agent_action(
        agent_name="a",
        action_type="decision",
        action_name="d",
        action_details={"k": "v" * 100},
        correlation_id="abc-123",
    )
    assert small["action_details"] == {"k": "v" * 100, "correlation_id_original": "abc-123"}


def test_config_masks_only_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:s3cret@db.internal:5436/omninode_bridge")
    monkeypatch.setenv("POSTGRES_PASSWORD", "other-secret")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    values = json.loads(out)
    assert values["database_url"] == "postgresql://app:***@db.internal:5436/omninode_bridge"
    assert values["postgres_password"] == "***"
    assert "s3cret" not in out and "other-secret" not in out
