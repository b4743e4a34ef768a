"""A benchmark harness whose verdict does not depend on the minute it runs in.

A single timed pass compares two figures taken at different moments; on a shared machine the
moment decides. Here every figure is taken many times, baseline and subject side by side:

* **Rounds across processes.** :func:`run_processes` starts the calling script ``processes`` times
  as a fresh worker (``--worker``); each worker calls :func:`time_rounds`, which measures every
  case once per round, the order rotated from round to round, and prints its figures as one JSON
  line. A ratio is taken within a round (same process, same second), so drift of the machine hits
  baseline and subject alike; :func:`time_commands` does the same for whole processes (a shell
  hook), alternating the commands run after run.
* **Instruction counts.** Where a figure is CPU-bound, :func:`count_instructions` runs the worker
  under ``valgrind --tool=callgrind`` with collection off at start; :func:`callgrind_worker` runs
  each case's loop inside ``sys.call_tracing``, whose C function ``_PyEval_CallTracing`` toggles
  collection on and dumps the count when it returns, so interpreter start-up, imports and setup
  are excluded. Instructions are deterministic: machine drift does not move them.
  :func:`process_instructions` counts a whole process instead (start-up included, which is the
  point for a hook).
* **Report.** :func:`report` prints min/median/max of every case, every round's ratio of each
  subject to its baseline, and a verdict line per target: pass when the median ratio meets the
  target AND, where counted, so does the instruction ratio.

The statistics, the verdict and the table are pure functions (tested in
``tests/unit/test_bench_harness.py``); the rest is thin process handling.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "RESULT_MARKER",
    "Rounds",
    "Summary",
    "Target",
    "Verdict",
    "callgrind_worker",
    "count_instructions",
    "decide",
    "machine",
    "process_instructions",
    "ratio_table",
    "report",
    "round_ratios",
    "run_processes",
    "summarize",
    "time_commands",
    "time_rounds",
    "valgrind_available",
]

#: One round: a figure per case name (ns per call, ms per process, events/s...).
Rounds = list[dict[str, float]]

#: Prefix of the line a worker prints its figures on (anything else on stdout is ignored).
RESULT_MARKER = "@@bench-rounds "

#: The C function callgrind toggles collection on: ``sys.call_tracing`` runs the measured loop.
CALLGRIND_TOGGLE = "_PyEval_CallTracing"


@dataclass(frozen=True)
class Summary:
    """Minimum, median and maximum of a series of figures."""

    min: float
    median: float
    max: float
    n: int


def summarize(values: Sequence[float]) -> Summary:
    """The min/median/max of ``values`` (at least one)."""
    if not values:
        raise ValueError("no figures to summarize")
    return Summary(min(values), statistics.median(values), max(values), len(values))


def round_ratios(rounds: Rounds, subject: str, baseline: str) -> list[float]:
    """``subject / baseline`` within each round (rounds lacking either are skipped)."""
    return [r[subject] / r[baseline] for r in rounds if subject in r and r.get(baseline)]


@dataclass(frozen=True)
class Target:
    """A stated target for ``subject / baseline``.

    ``op`` is how the ratio must compare with ``limit``: ``"<="`` / ``"<"`` for costs (time,
    instructions per call), ``">="`` / ``">"`` for rates (events per second).
    """

    subject: str
    baseline: str
    op: Literal["<=", "<", ">=", ">"]
    limit: float

    def met(self, ratio: float) -> bool:
        """Whether ``ratio`` meets the target."""
        if self.op == "<=":
            return ratio <= self.limit
        if self.op == "<":
            return ratio < self.limit
        if self.op == ">=":
            return ratio >= self.limit
        return ratio > self.limit

    def margin(self, ratio: float) -> float:
        """How far inside the target ``ratio`` is, as a fraction of the limit (negative: outside)."""
        if self.op in ("<=", "<"):
            return (self.limit - ratio) / self.limit
        return (ratio - self.limit) / self.limit


@dataclass(frozen=True)
class Verdict:
    """The decision on one target: pass only if every figure that was measured meets it."""

    target: Target
    median_ratio: float
    instruction_ratio: float | None

    @property
    def passed(self) -> bool:
        """Median time ratio meets the target, and so does the instruction ratio where counted."""
        if not self.target.met(self.median_ratio):
            return False
        return self.instruction_ratio is None or self.target.met(self.instruction_ratio)

    def line(self) -> str:
        """One line: ``PASS``/``FAIL``, the target and both ratios with their margins."""
        t = self.target
        text = (
            f"{'PASS' if self.passed else 'FAIL'}  {t.subject} / {t.baseline} {t.op} "
            f"{t.limit:g}: median time ratio {self.median_ratio:.3f} "
            f"(margin {t.margin(self.median_ratio):+.0%})"
        )
        if self.instruction_ratio is not None:
            text += (
                f", instruction ratio {self.instruction_ratio:.3f} "
                f"(margin {t.margin(self.instruction_ratio):+.0%})"
            )
        return text


def decide(target: Target, rounds: Rounds, instructions: Mapping[str, float] | None = None) -> Verdict:
    """The verdict on ``target`` from the rounds' median ratio and, if given, instruction counts."""
    ratios = round_ratios(rounds, target.subject, target.baseline)
    if not ratios:
        raise ValueError(f"no round measured both {target.subject!r} and {target.baseline!r}")
    instr = None
    if instructions and target.subject in instructions and instructions.get(target.baseline):
        instr = instructions[target.subject] / instructions[target.baseline]
    return Verdict(target, statistics.median(ratios), instr)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def ratio_table(
    rounds: Rounds,
    labels: Mapping[str, str],
    unit: str,
    baselines: Sequence[str],
    instructions: Mapping[str, float] | None = None,
) -> list[str]:
    """Lines of a table: per case min/median/max, the median ratio to each baseline, instructions.

    The ratio columns are medians of the per-round ratios (not ratios of medians).
    """
    width = max(len(text) for text in labels.values())
    head = f"{'case':<{width}}  {'min':>9} {'median':>9} {'max':>9} {unit:<8}"
    head += "".join(f" {'/ ' + b:>10}" for b in baselines)
    if instructions:
        head += f" {'instr/call':>11}" + "".join(f" {'/ ' + b:>10}" for b in baselines)
    lines = [head]
    for key, label in labels.items():
        values = [r[key] for r in rounds if key in r]
        if not values:
            continue
        s = summarize(values)
        line = f"{label:<{width}}  {_fmt(s.min):>9} {_fmt(s.median):>9} {_fmt(s.max):>9} {'':<8}"
        for b in baselines:
            ratios = round_ratios(rounds, key, b)
            line += f" {statistics.median(ratios):>9.3f}x" if ratios else f" {'':>10}"
        if instructions:
            count = instructions.get(key)
            line += f" {_fmt(count):>11}" if count is not None else f" {'':>11}"
            for b in baselines:
                base = instructions.get(b)
                line += f" {count / base:>9.3f}x" if count is not None and base else f" {'':>10}"
        lines.append(line)
    return lines


def round_lines(rounds: Rounds, subject: str, baseline: str) -> str:
    """Every round's ratio of ``subject`` to ``baseline``, with their min/median/max."""
    ratios = round_ratios(rounds, subject, baseline)
    s = summarize(ratios)
    return (
        f"{subject} / {baseline} per round (min {s.min:.3f}, median {s.median:.3f}, "
        f"max {s.max:.3f}, n={s.n}): " + " ".join(f"{r:.3f}" for r in ratios)
    )


def report(
    title: str,
    rounds: Rounds,
    labels: Mapping[str, str],
    unit: str,
    baselines: Sequence[str],
    targets: Sequence[Target],
    instructions: Mapping[str, float] | None = None,
    pairs: Sequence[tuple[str, str]] = (),
) -> list[Verdict]:
    """Print the table, every round's ratio for each target (and ``pairs``), and the verdicts."""
    print(f"== {title}  ({len(rounds)} rounds)")
    for line in ratio_table(rounds, labels, unit, baselines, instructions):
        print(line)
    shown: list[tuple[str, str]] = []
    for pair in [(t.subject, t.baseline) for t in targets] + list(pairs):
        if pair not in shown:
            shown.append(pair)
            print(round_lines(rounds, *pair))
    verdicts = [decide(t, rounds, instructions) for t in targets]
    for v in verdicts:
        print(v.line())
    return verdicts


def machine() -> str:
    """The CPU model and the number of cores this process may use (for the README's table)."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {cores()} cores, Python {sys.version.split()[0]}"


def cores() -> int:
    """The number of cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def own_cpu_s() -> float:
    """CPU seconds (user + system, every thread) this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) process ``pid`` has used so far; None where ``/proc`` cannot
    tell (the process is gone, or runs on another host, e.g. a remote PostgreSQL's backend)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


# ------------------------------------------------------------------------------------------------
# Time rounds
# ------------------------------------------------------------------------------------------------
def _time_loop(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - start) / calls


def time_rounds(
    cases: Mapping[str, Callable[[], object]],
    calls: int,
    rounds: int,
    between: Callable[[], object] | None = None,
    slices: int = 10,
) -> Rounds:
    """ns per call of each case, ``rounds`` times, the case order rotated every round.

    Within a round each case's ``calls`` are made in ``slices`` loops taken in turn with the
    other cases' (ABCABC...), so a burst of load on the machine falls on every case of the round
    alike. Each case is warmed once first; ``between`` (if given) runs after every loop, outside
    the timing (e.g. a span processor's flush).
    """
    names = list(cases)
    for name in names:
        _time_loop(cases[name], max(1, calls // 10))
    if between is not None:
        between()
    per_slice = max(1, calls // slices)
    out: Rounds = []
    for i in range(rounds):
        order = names[i % len(names) :] + names[: i % len(names)]
        totals = dict.fromkeys(order, 0.0)
        gc.collect()
        for _ in range(slices):
            for name in order:
                totals[name] += _time_loop(cases[name], per_slice)
                if between is not None:
                    between()
        out.append({name: total / slices for name, total in totals.items()})
    return out


def emit_rounds(rounds: Rounds) -> None:
    """Print a worker's rounds for :func:`run_processes` to read."""
    print(RESULT_MARKER + json.dumps(rounds), flush=True)


def _read_rounds(stdout: str) -> Rounds:
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            rounds: Rounds = json.loads(line[len(RESULT_MARKER) :])
            return rounds
    raise RuntimeError("the worker printed no figures")


def run_processes(
    argv: Sequence[str], processes: int, timeout: float = 600, env: Mapping[str, str] | None = None
) -> Rounds:
    """Run the worker ``argv`` ``processes`` times, one after another, and pool their rounds."""
    rounds: Rounds = []
    for _ in range(processes):
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=None if env is None else dict(env),
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"worker {list(argv)[:3]} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
            )
        rounds.extend(_read_rounds(proc.stdout))
    return rounds


def time_commands(
    commands: Mapping[str, Sequence[str]],
    rounds: int,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    check: Callable[[str, subprocess.CompletedProcess[bytes]], None] | None = None,
) -> Rounds:
    """ms of wall time of each whole command, ``rounds`` times, the order rotated every round."""
    names = list(commands)
    out: Rounds = []
    for i in range(rounds):
        order = names[i % len(names) :] + names[: i % len(names)]
        figures: dict[str, float] = {}
        for name in order:
            start = time.perf_counter()
            proc = subprocess.run(
                list(commands[name]),
                capture_output=True,
                timeout=timeout,
                env=None if env is None else dict(env),
                check=False,
            )
            figures[name] = (time.perf_counter() - start) * 1000
            if proc.returncode != 0:
                raise RuntimeError(f"{name} failed ({proc.returncode}): {proc.stdout!r} {proc.stderr!r}")
            if check is not None:
                check(name, proc)
        out.append(figures)
    return out


# ------------------------------------------------------------------------------------------------
# Instruction counts
# ------------------------------------------------------------------------------------------------
def valgrind_available() -> bool:
    """Whether ``valgrind --version`` runs here."""
    exe = shutil.which("valgrind")
    if exe is None:
        return False
    try:
        return (
            subprocess.run([exe, "--version"], capture_output=True, timeout=30, check=False).returncode == 0
        )
    except (OSError, subprocess.SubprocessError):
        return False


def _loop(fn: Callable[[], object], calls: int) -> None:
    for _ in range(calls):
        fn()


def callgrind_worker(cases: Mapping[str, Callable[[], object]], calls: int) -> None:
    """In the worker under callgrind: each case's loop inside ``sys.call_tracing`` (one dump each).

    Each case is warmed first (outside collection); the case order is printed for the parent.
    """
    names = list(cases)
    for name in names:
        _loop(cases[name], max(1, calls // 10))
    for name in names:
        gc.collect()
        sys.call_tracing(_loop, (cases[name], calls))
    print(RESULT_MARKER + json.dumps([{"order": names}]), flush=True)


def _callgrind_total(path: Path) -> int:
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(("totals:", "summary:")):
                return int(line.split(":", 1)[1].split()[0])
    raise RuntimeError(f"no totals in {path.name}")


def count_instructions(
    argv: Sequence[str], calls: int, timeout: float = 900, env: Mapping[str, str] | None = None
) -> dict[str, float]:
    """Instructions per call of each case of a worker calling :func:`callgrind_worker`.

    ``argv`` is the worker's command (its interpreter first); it runs under
    ``valgrind --tool=callgrind --collect-atstart=no``, collection toggled on only inside
    ``sys.call_tracing`` (the measured loops), one profile dumped per loop.
    """
    with tempfile.TemporaryDirectory(prefix="onex-callgrind-") as tmp:
        out = Path(tmp) / "cg.out"
        cmd = [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            f"--toggle-collect={CALLGRIND_TOGGLE}",
            f"--dump-after={CALLGRIND_TOGGLE}",
            f"--callgrind-out-file={out}",
            *argv,
        ]
        run_env = dict(os.environ if env is None else env, PYTHONHASHSEED="0")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=run_env, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"callgrind worker failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        names: list[str] = _read_rounds(proc.stdout)[0]["order"]  # type: ignore[assignment]
        dumps = sorted(Path(tmp).glob("cg.out.*"), key=lambda p: int(p.suffix[1:]))
        if len(dumps) != len(names):
            raise RuntimeError(f"{len(dumps)} callgrind dumps for {len(names)} cases")
        return {name: _callgrind_total(d) / calls for name, d in zip(names, dumps, strict=True)}


def process_instructions(
    argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 600
) -> int:
    """Instructions of a whole process (start-up included) under callgrind."""
    with tempfile.TemporaryDirectory(prefix="onex-callgrind-") as tmp:
        out = Path(tmp) / "cg.out"
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv]
        run_env = dict(os.environ if env is None else env, PYTHONHASHSEED="0")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=run_env, check=False)
        if proc.returncode != 0:
            raise RuntimeError(
                f"{argv[:2]} under callgrind failed ({proc.returncode}): "
                f"{proc.stdout.strip()[-500:]} {proc.stderr.strip()[-1500:]}"
            )
        return _callgrind_total(out)


def count(text: str) -> int:
    """An argument that counts something (processes, rounds, calls, spans): a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def worker_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every harness benchmark shares."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--processes", type=count, default=3, help="fresh worker processes")
    parser.add_argument("--rounds", type=count, default=5, help="rounds per worker process")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--callgrind-worker", action="store_true", help=argparse.SUPPRESS)
    return parser


def phased_parser(
    description: str, phases: Sequence[str], calls: int, callgrind_calls: int, unit: str = "calls"
) -> argparse.ArgumentParser:
    """:func:`worker_parser` with the options of a benchmark of phases of timed loops."""
    parser = worker_parser(description)
    parser.add_argument("--calls", type=count, default=calls, help=f"{unit} per timed loop")
    parser.add_argument(
        "--callgrind-calls", type=count, default=callgrind_calls, help=f"{unit} per loop under callgrind"
    )
    parser.add_argument("--no-callgrind", action="store_true", help="skip instruction counts")
    parser.add_argument("--phase", choices=phases, help="(worker) the phase to measure")
    return parser
