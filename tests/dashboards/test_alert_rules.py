"""The Prometheus alert rules: valid, each proven to fire and to stay quiet, on real metric names.

``promtool`` comes from Debian's ``prometheus`` package (``.ci/run`` installs it); these tests
fail, not skip, without it. The metric and label names the rules and the dashboards' Prometheus
panels use are checked against real scrapes: the agent process's metrics through
OpenTelemetry's Prometheus exporter and the collector's ``/metrics?format=prometheus``
(``conftest.py``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.dashboards import grafana
from tests.dashboards.conftest import STUCK_AGE, Stack

ROOT = grafana.ROOT
RULES = ROOT / "deploy" / "prometheus" / "rules" / "onex-otel.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "tests" / "onex-otel-test.yml"
RUNBOOK = ROOT / "docs" / "runbook.md"

#: Series Prometheus makes itself, and labels it adds to every scraped one.
SYNTHETIC_METRICS = frozenset({"up"})
TARGET_LABELS = frozenset({"job", "instance"})

_SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\}?[^}]*\}|\[)")
_MATCHER = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, (
        "promtool is missing: install Debian's prometheus package "
        "(apt-get install prometheus), as .ci/run does"
    )
    return path


def alerts() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULES.read_text())
    return [rule for group in data["groups"] for rule in group["rules"] if "alert" in rule]


def promql() -> Iterator[tuple[str, str]]:
    """(where, expression) of every alert rule and every Prometheus panel query."""
    for rule in alerts():
        yield f"rule {rule['alert']}", rule["expr"]
    for target in grafana.targets("onex-prometheus"):
        yield target.name, target.target["expr"]


def selectors(expr: str) -> Iterator[tuple[str, set[str]]]:
    """(metric name, label names matched) of every series selector in ``expr``."""
    for match in _SELECTOR.finditer(expr):
        name, rest = match.group(1), match.group(2)
        if name in ("by", "without", "on", "ignoring", "group_left", "group_right"):
            continue
        if rest == "[" and not (name.startswith("onex_") or name in SYNTHETIC_METRICS):
            continue  # a function's range argument, e.g. rate(x[5m]) is matched at x
        yield name, set(_MATCHER.findall(rest)) if rest != "[" else set()


def exported(*texts: str) -> dict[str, set[str]]:
    """Sample name -> label names, from Prometheus exposition texts."""
    found: dict[str, set[str]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                found.setdefault(sample.name, set()).update(sample.labels)
    return found


def slug(heading: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")


# ----------------------------------------------------------------------------------------------
def test_promtool_check_rules() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


def test_promtool_test_rules() -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_firing_and_quiet() -> None:
    cases = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in cases:
        for check in case.get("alert_rule_test", []):
            (fires if check["exp_alerts"] else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names <= fires, "alerts never shown to fire: " + str(names - fires)
    assert names <= quiet, "alerts never shown to stay quiet: " + str(names - quiet)


def test_every_alert_has_a_summary_and_a_runbook_section() -> None:
    anchors = {
        slug(line.lstrip("#").strip()) for line in RUNBOOK.read_text().splitlines() if line.startswith("### ")
    }
    for rule in alerts():
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        url = rule["annotations"]["runbook_url"]
        page, _, anchor = url.partition("#")
        assert page == "docs/runbook.md" and anchor == rule["alert"].lower(), url
        assert anchor in anchors, f"no runbook section for {rule['alert']}"


def test_selector_parser_sees_names_and_labels() -> None:
    expr = (
        'sum by (agent_name) (rate(onex_agent_executions_total{status="failed", '
        'agent_name=~"${agent:regex}"}[5m])) / up{job="x"} + onex_export_pending'
    )
    assert list(selectors(expr)) == [
        ("onex_agent_executions_total", {"status", "agent_name"}),
        ("up", {"job"}),
    ]
    assert "onex_export_pending" in expr  # bare names are found by name, below


@pytest.mark.integration
def test_metric_and_label_names_are_the_exported_ones(stack: Stack) -> None:
    series = exported(stack.agent_metrics, stack.collector_metrics)
    checked = 0
    for where, expr in promql():
        names = set(re.findall(r"\bonex_[a-z0-9_]+\b", expr))
        for name in names:
            assert name in series, f"{where}: {name} is not exported"
            checked += 1
        for name, labels in selectors(expr):
            if name in SYNTHETIC_METRICS:
                continue
            assert name.startswith("onex_"), f"{where}: unexpected metric {name}"
            missing = labels - series[name] - TARGET_LABELS
            assert not missing, f"{where}: {name} has no label {missing}"
    assert checked >= 30


@pytest.mark.integration
def test_execution_counter_and_in_progress_gauges_report_the_runs(stack: Stack) -> None:
    agent = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(stack.agent_metrics)
        for s in f.samples
    }
    executions = {
        dict(labels)["agent_name"] + ":" + dict(labels)["status"]: value
        for (name, labels), value in agent.items()
        if name == "onex_agent_executions_total"
    }
    assert executions == {"agent-alpha:success": 1.0, "agent-beta:failed": 1.0}
    collector = {
        s.name: s.value for f in text_string_to_metric_families(stack.collector_metrics) for s in f.samples
    }
    assert collector["onex_collector_executions_in_progress"] == 2.0
    oldest = collector["onex_collector_oldest_in_progress_seconds"]
    assert STUCK_AGE.total_seconds() - 60 < oldest < STUCK_AGE.total_seconds() + 600
    assert stack.collector_json["executions_in_progress"] == 2


def test_dashboard_promql_parses(tmp_path: Path) -> None:
    """Every Prometheus panel query is valid PromQL (checked by promtool as recording rules)."""
    rules = [
        {"record": f"onex_dashboard_check:{i}", "expr": re.sub(r"\$\{\w+:regex\}", ".*", expr)}
        for i, (_, expr) in enumerate(promql())
    ]
    path = tmp_path / "dashboards.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout
