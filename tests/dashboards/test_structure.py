"""The dashboards, their provisioning and the compose services, checked as structures.

Grafana and Prometheus do not run here; what they would load is checked instead: the JSON is
what the generator writes, ids are unique, every data source a panel names is provisioned, every
variable a query or link uses is defined (and every defined one used), every panel is titled and
described, and the compose file mounts what the configs expect where they expect it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.dashboards import grafana

ROOT = grafana.ROOT
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
COMPOSE = ROOT / "collector" / "docker-compose.yml"


def _yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def _datasources() -> dict[str, str]:
    """uid -> type of every provisioned data source."""
    found: dict[str, str] = {}
    for path in (PROVISIONING / "datasources").glob("*.yaml"):
        for ds in _yaml(path)["datasources"]:
            assert ds["uid"] not in found, f"data source uid {ds['uid']} twice"
            found[ds["uid"]] = ds["type"]
    return found


def _strings(value: Any) -> list[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _referenced(texts: list[str]) -> set[str]:
    return {next(g for g in m.groups() if g) for t in texts for m in grafana.VARIABLE_REF.finditer(t)}


def test_the_json_is_what_the_generator_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "grafana" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_four_dashboards_with_unique_uids_and_titles() -> None:
    dashboards = grafana.load_dashboards()
    assert set(dashboards) == {"agent-executions.json", "agent-actions.json", "router.json", "pipeline.json"}
    uids = [d["uid"] for d in dashboards.values()]
    titles = [d["title"] for d in dashboards.values()]
    assert len(set(uids)) == len(uids) and len(set(titles)) == len(titles)
    for d in dashboards.values():
        assert d["time"]["from"].startswith("now-") and d["time"]["to"] == "now"
        assert d["description"]


def test_panels_have_unique_ids_titles_descriptions_and_fit_the_grid() -> None:
    for name, dashboard in grafana.load_dashboards().items():
        panels = list(grafana.panels(dashboard))
        ids = [p["id"] for p in panels]
        assert len(set(ids)) == len(ids), f"{name}: duplicate panel ids"
        titles = [p["title"] for p in panels]
        assert len(set(titles)) == len(titles), f"{name}: duplicate panel titles"
        for panel in panels:
            assert panel["title"].strip() and panel["description"].strip(), (name, panel["id"])
            pos = panel["gridPos"]
            assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, (name, panel["title"])
            refs = [t["refId"] for t in panel["targets"]]
            assert refs and len(set(refs)) == len(refs), (name, panel["title"])


def test_every_data_source_reference_resolves() -> None:
    datasources = _datasources()
    assert set(datasources) == {"onex-postgres", "onex-prometheus"}
    for name, dashboard in grafana.load_dashboards().items():
        refs = [v["datasource"] for v in dashboard["templating"]["list"] if "datasource" in v]
        for panel in grafana.panels(dashboard):
            refs.append(panel["datasource"])
            refs += [t["datasource"] for t in panel["targets"]]
        for ref in refs:
            assert datasources.get(ref["uid"]) == ref["type"], f"{name}: {ref} not provisioned"


def test_queries_are_complete() -> None:
    for target in grafana.targets():
        t = target.target
        if target.datasource_uid == "onex-postgres":
            assert t["rawQuery"] is True and t["format"] in ("table", "time_series"), target.name
            assert t["rawSql"].lstrip().upper().startswith("SELECT"), target.name
        else:
            assert t["expr"].strip() and t["legendFormat"], target.name


def test_variables_used_exist_and_variables_defined_are_used() -> None:
    for name, dashboard in grafana.load_dashboards().items():
        defined = {v["name"] for v in dashboard["templating"]["list"]}
        texts = _strings(list(grafana.panels(dashboard)))
        texts += [v.get("query", "") for v in dashboard["templating"]["list"]]
        used = _referenced(texts)
        undefined = used - defined - grafana.MACROS
        assert undefined <= grafana.BUILTIN_VARIABLES, f"{name}: undefined {undefined}"
        assert defined <= used, f"{name}: unused variables {defined - used}"


def test_agent_tool_and_time_variables() -> None:
    dashboards = grafana.load_dashboards()
    names = {f: {v["name"] for v in d["templating"]["list"]} for f, d in dashboards.items()}
    assert {"agent", "stuck_minutes", "jaeger_url"} <= names["agent-executions.json"]
    assert {"agent", "tool", "correlation_id", "jaeger_url"} <= names["agent-actions.json"]
    assert "agent" in names["router.json"]
    for dashboard in dashboards.values():
        for var in dashboard["templating"]["list"]:
            if var["type"] == "query":
                assert var["multi"] and var["includeAll"] and "allValue" not in var


def test_recent_runs_link_to_jaeger() -> None:
    executions = grafana.load_dashboards()["agent-executions.json"]
    (recent,) = [p for p in executions["panels"] if p["title"] == "Recent runs"]
    links = {
        o["matcher"]["options"]: o["properties"][0]["value"][0]["url"]
        for o in recent["fieldConfig"]["overrides"]
    }
    assert links["trace_id"] == "${jaeger_url}/trace/${__value.raw}"
    # the correlation id opens the run's actions (the drill-down variable of the actions board)
    actions = grafana.load_dashboards()["agent-actions.json"]
    target, _, query = links["correlation_id"].partition("?")
    assert target == f"/d/{actions['uid']}/agent-actions"
    assert query.startswith("var-correlation_id=${__value.raw}&")
    assert "correlation_id" in {v["name"] for v in actions["templating"]["list"]}


def test_grafana_provisioning_matches_the_compose_mounts() -> None:
    compose = _yaml(COMPOSE)["services"]
    grafana_svc, prometheus_svc = compose["grafana"], compose["prometheus"]
    mounts = {v.split(":")[1]: (COMPOSE.parent / v.split(":")[0]).resolve() for v in grafana_svc["volumes"]}
    assert mounts["/etc/grafana/provisioning"] == PROVISIONING
    (provider,) = _yaml(PROVISIONING / "dashboards" / "onex-otel.yaml")["providers"]
    assert provider["folder"] == "onex-otel"
    assert mounts[provider["options"]["path"]] == grafana.DASHBOARDS
    home = grafana_svc["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    folder, _, file = home.rpartition("/")
    assert folder == provider["options"]["path"] and (grafana.DASHBOARDS / file).is_file()
    # the data sources point at the compose services
    sources = {ds["uid"]: ds for ds in _yaml(PROVISIONING / "datasources" / "onex-otel.yaml")["datasources"]}
    pg = compose["postgres"]["environment"]
    assert sources["onex-postgres"]["url"] == "postgres:5432"
    assert sources["onex-postgres"]["jsonData"]["database"] == pg["POSTGRES_DB"]
    assert sources["onex-postgres"]["user"] == pg["POSTGRES_USER"]
    assert sources["onex-prometheus"]["url"] == "http://prometheus:9090"
    assert "9090:9090" in prometheus_svc["ports"] and "3000:3000" in grafana_svc["ports"]


def test_prometheus_config_matches_the_compose_mounts() -> None:
    compose = _yaml(COMPOSE)["services"]
    prometheus_svc = compose["prometheus"]
    mounts = {
        v.split(":")[1]: (COMPOSE.parent / v.split(":")[0]).resolve() for v in prometheus_svc["volumes"]
    }
    config = _yaml(ROOT / "deploy" / "prometheus" / "prometheus.yml")
    assert mounts["/etc/prometheus/prometheus.yml"] == ROOT / "deploy" / "prometheus" / ("prometheus.yml")
    (rules_glob,) = config["rule_files"]
    rules_dir, _, pattern = rules_glob.rpartition("/")
    assert list(mounts[rules_dir].glob(pattern)), "no rule file where prometheus.yml looks"
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    collector = jobs["onex-collector"]
    assert collector["params"] == {"format": ["prometheus"]}
    (target,) = collector["static_configs"][0]["targets"]
    host, _, port = target.partition(":")
    assert host in compose and f"{port}:{port}" in compose[host]["ports"]
    assert jobs["onex-agents"]["static_configs"][0]["targets"] == ["host.docker.internal:9464"]
