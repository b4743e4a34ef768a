"""The skill subcommands reject bad input with one JSON line and exit code 1, before publishing."""

import json
import subprocess
import sys

import pytest

from onex_otel.cli import main


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["log-action", "--agent", "a", "--action-type", "bogus", "--action-name", "x"],
         "action type must be one of"),
        (["log-action", "--agent", "a", "--action-type", "decision", "--action-name", "x",
          "--details", "{bad"], "--details is not valid JSON"),
        (["log-routing-decision", "--agent", "a", "--confidence", "1.5", "--strategy", "s",
          "--latency-ms", "3"], "between 0.0 and 1.0"),
        (["log-performance-metrics", "--query", "q", "--duration-ms", "abc",
          "--candidates", "1"], "expected a whole number"),
        (["log-performance-metrics", "--query", "q", "--duration-ms", "1000",
          "--candidates", "1"], "below 1000"),
        (["log-transformation", "--from-agent", "a", "--to-agent", "b", "--duration-ms", "5",
          "--success", "perhaps"], "expected true or false"),
        (["log-action", "--agent", "a"], "required"),
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
        [sys.executable, "-m", "onex_otel.cli", "log-action", "--agent", "a",
         "--action-type", "nope", "--action-name", "x"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["success"] is False
