"""The benchmark harness's pure parts: statistics, per-round ratios, verdicts and the ratio table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


def _load() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "harness.py"
    spec = importlib.util.spec_from_file_location("bench_harness", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


h = _load()

# Three rounds; in round 2 the machine was twice as slow for both cases alike.
ROUNDS = [
    {"base": 100.0, "subj": 120.0, "other": 50.0},
    {"base": 200.0, "subj": 250.0, "other": 90.0},
    {"base": 110.0, "subj": 121.0},
]


def test_summarize_min_median_max() -> None:
    assert h.summarize([3.0, 1.0, 2.0, 10.0]) == h.Summary(1.0, 2.5, 10.0, 4)
    assert h.summarize([7.0]) == h.Summary(7.0, 7.0, 7.0, 1)
    with pytest.raises(ValueError):
        h.summarize([])


def test_ratios_are_taken_within_each_round() -> None:
    # paired by round: the slow round does not move the ratio; a case missing from a round is skipped
    assert h.round_ratios(ROUNDS, "subj", "base") == pytest.approx([1.2, 1.25, 1.1])
    assert h.round_ratios(ROUNDS, "other", "base") == pytest.approx([0.5, 0.45])
    assert h.round_ratios(ROUNDS, "subj", "missing") == []


@pytest.mark.parametrize(
    ("op", "limit", "ratio", "met"),
    [
        ("<=", 1.2, 1.2, True),
        ("<", 1.2, 1.2, False),
        ("<=", 1.2, 1.21, False),
        (">=", 2.0, 2.0, True),
        (">", 2.0, 2.0, False),
        (">=", 2.0, 1.9, False),
    ],
)
def test_target_comparison(op: str, limit: float, ratio: float, met: bool) -> None:
    assert h.Target("s", "b", op, limit).met(ratio) is met


def test_margin_is_signed_fraction_of_the_limit() -> None:
    assert h.Target("s", "b", "<=", 1.25).margin(1.0) == pytest.approx(0.2)
    assert h.Target("s", "b", "<=", 1.0).margin(1.1) == pytest.approx(-0.1)
    assert h.Target("s", "b", ">=", 2.0).margin(3.0) == pytest.approx(0.5)


def test_verdict_on_median_ratio() -> None:
    v = h.decide(h.Target("subj", "base", "<=", 1.2), ROUNDS)
    assert v.median_ratio == pytest.approx(1.2)
    assert v.instruction_ratio is None
    assert v.passed
    assert v.line().startswith("PASS  subj / base <= 1.2: median time ratio 1.200")
    assert not h.decide(h.Target("subj", "base", "<", 1.2), ROUNDS).passed


def test_verdict_needs_instruction_ratio_too_when_counted() -> None:
    target = h.Target("subj", "base", "<=", 1.3)
    passing = h.decide(target, ROUNDS, {"subj": 1200.0, "base": 1000.0})
    assert passing.instruction_ratio == pytest.approx(1.2)
    assert passing.passed
    assert "instruction ratio 1.200" in passing.line()
    # the time ratio passes, the instruction count does not: the verdict fails
    failing = h.decide(target, ROUNDS, {"subj": 1400.0, "base": 1000.0})
    assert not failing.passed
    assert failing.line().startswith("FAIL")
    # a count for only one side is no instruction ratio
    assert h.decide(target, ROUNDS, {"subj": 1400.0}).instruction_ratio is None


def test_verdict_without_paired_rounds_is_an_error() -> None:
    with pytest.raises(ValueError, match="no round"):
        h.decide(h.Target("subj", "missing", "<=", 1.0), ROUNDS)


def test_ratio_table_rows() -> None:
    lines = h.ratio_table(
        ROUNDS,
        {"base": "baseline", "subj": "subject", "other": "other", "absent": "never measured"},
        "ns/call",
        ["base"],
        {"base": 1000.0, "subj": 1500.0},
    )
    assert lines[0].split() == [
        "case",
        "min",
        "median",
        "max",
        "ns/call",
        "/",
        "base",
        "instr/call",
        "/",
        "base",
    ]
    assert len(lines) == 4  # a case measured in no round has no row
    assert lines[1].split() == ["baseline", "100", "110", "200", "1.000x", "1,000", "1.000x"]
    assert lines[2].split() == ["subject", "120", "121", "250", "1.200x", "1,500", "1.500x"]
    # median of the per-round ratios (0.5, 0.45), no instruction count
    assert lines[3].split() == ["other", "50.00", "70.00", "90.00", "0.475x"]


def test_round_lines_show_every_round() -> None:
    line = h.round_lines(ROUNDS, "subj", "base")
    assert line == ("subj / base per round (min 1.100, median 1.200, max 1.250, n=3): 1.200 1.250 1.100")


def test_time_rounds_rotates_the_order_and_measures_every_case() -> None:
    seen: list[str] = []
    cases = {name: (lambda n=name: seen.append(n)) for name in ("a", "b", "c")}
    rounds = h.time_rounds(cases, calls=2, rounds=3, slices=2)
    assert [list(r) for r in rounds] == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    assert all(v > 0 for r in rounds for v in r.values())
    # one warm-up call each, then per round two slices of one call, the cases taken in turn
    assert seen == ["a", "b", "c", *"abcabc", *"bcabca", *"cabcab"]


def test_phased_parser_shares_the_loop_options() -> None:
    parser = h.phased_parser("bench", ["one", "two"], calls=7, callgrind_calls=2)
    args = parser.parse_args(["--phase", "two", "--no-callgrind", "--rounds", "3"])
    assert (args.phase, args.calls, args.callgrind_calls, args.no_callgrind, args.rounds) == (
        "two",
        7,
        2,
        True,
        3,
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["--phase", "three"])


def test_counts_are_whole_numbers_of_at_least_one() -> None:
    parser = h.phased_parser("bench", ["one"], calls=7, callgrind_calls=2)
    assert parser.parse_args(["--calls", "3", "--processes", "1"]).calls == 3
    for bad in (["--calls", "0"], ["--rounds", "-1"], ["--processes", "x"], ["--callgrind-calls", "0"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)
