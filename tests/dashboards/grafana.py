"""Reading the provisioned dashboards, and expanding their SQL the way Grafana does.

Grafana's PostgreSQL data source rewrites a panel's SQL before sending it: macros become SQL and
template variables become their values. The dashboards use only these, expanded here as Grafana
documents them for PostgreSQL:

- ``$__timeFilter(col)`` -> ``col BETWEEN '<from>' AND '<to>'`` (RFC 3339 UTC instants);
- ``$__timeGroupAlias(col, 'N{s|m|h}')`` -> ``floor(extract(epoch from col)/S)*S AS "time"``
  (S the interval in seconds);
- ``${name:sqlstring}`` -> each value single-quoted (quotes doubled), joined by commas;
- ``$name`` / ``${name}`` -> the value as is.

A multi-value query variable set to "All" (as the dashboards are by default) takes every value
its own query returns, as Grafana does when the variable has no custom "all" value. Anything
else that looks like a macro or variable is an error, so a panel using a macro this expander
does not know fails the suite instead of being sent half-expanded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"

#: Variables Grafana defines itself (data links, time range), never declared by a dashboard.
BUILTIN_VARIABLES = frozenset(
    {
        "__value",
        "__data",
        "__field",
        "__series",
        "__from",
        "__to",
        "__interval",
        "__interval_ms",
        "__rate_interval",
        "__range",
        "__dashboard",
        "__user",
        "__org",
        "__url_time_range",
    }
)

#: The SQL macros the dashboards use (and :func:`expand` expands).
MACROS = frozenset({"__timeFilter", "__timeGroupAlias"})

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TIME_FILTER = re.compile(r"\$__timeFilter\(\s*([^)]+?)\s*\)")
_TIME_GROUP_ALIAS = re.compile(r"\$__timeGroupAlias\(\s*([^,]+?)\s*,\s*'(\d+)([smhd])'\s*\)")
_FORMATTED = re.compile(r"\$\{(\w+):(\w+)\}")
_BRACED = re.compile(r"\$\{(\w+)\}")
_PLAIN = re.compile(r"\$(\w+)")
#: Every variable reference in any text: $name, ${name}, ${name:format}, ${name.path...}
VARIABLE_REF = re.compile(r"\$\{(\w+)(?:[.:][^}]*)?\}|\$(\w+)|\[\[(\w+)\]\]")


@dataclass(frozen=True)
class Target:
    """One query of one panel."""

    dashboard: str
    panel_id: int
    panel_title: str
    panel_type: str
    target: Mapping[str, Any]

    @property
    def name(self) -> str:
        return f"{self.dashboard} / {self.panel_title} / {self.target['refId']}"

    @property
    def datasource_uid(self) -> str:
        return str(self.target["datasource"]["uid"])


def load_dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON of every provisioned dashboard."""
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def targets(uid: str | None = None) -> list[Target]:
    """Every query of every panel of every dashboard (of one data source uid, if given)."""
    found = []
    for name, dashboard in load_dashboards().items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                t = Target(name, panel["id"], panel["title"], panel["type"], target)
                if uid is None or t.datasource_uid == uid:
                    found.append(t)
    return found


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _rfc3339(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def expand(
    sql: str, *, time_from: datetime, time_to: datetime, variables: Mapping[str, Sequence[str]]
) -> str:
    """The SQL Grafana would send for ``sql`` over [time_from, time_to] with these values."""
    between = f"BETWEEN '{_rfc3339(time_from)}' AND '{_rfc3339(time_to)}'"
    out = _TIME_FILTER.sub(lambda m: f"{m.group(1)} {between}", sql)

    def group(m: re.Match[str]) -> str:
        seconds = int(m.group(2)) * _UNITS[m.group(3)]
        return f'floor(extract(epoch from {m.group(1)})/{seconds})*{seconds} AS "time"'

    out = _TIME_GROUP_ALIAS.sub(group, out)
    if "$__" in out:
        raise ValueError(f"a Grafana macro the test expander does not know: {out}")

    def values(name: str) -> Sequence[str]:
        if name not in variables:
            raise KeyError(f"variable ${name} is not defined")
        return variables[name]

    def formatted(m: re.Match[str]) -> str:
        name, fmt = m.group(1), m.group(2)
        if fmt != "sqlstring":
            raise ValueError(f"format {fmt!r} of ${name} is not expanded by the test")
        return ",".join(sql_string(v) for v in values(name))

    def raw(m: re.Match[str]) -> str:
        vals = values(m.group(1))
        if len(vals) != 1:
            raise ValueError(f"${m.group(1)} used raw with {len(vals)} values")
        return vals[0]

    out = _FORMATTED.sub(formatted, out)
    out = _BRACED.sub(raw, out)
    # '$1'-style placeholders do not occur; anything left that looks like $name is a variable
    return _PLAIN.sub(raw, out)


def variable_values(
    dashboard: Mapping[str, Any],
    run: Callable[[str], list[tuple[Any, ...]]],
    overrides: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, list[str]]:
    """The values of every template variable at its default ("All": its query's values)."""
    values: dict[str, list[str]] = {}
    for var in dashboard.get("templating", {}).get("list", []):
        name = var["name"]
        if overrides and name in overrides:
            values[name] = list(overrides[name])
        elif var["type"] == "query":
            values[name] = [str(r[0]) for r in run(var["query"])]
        else:
            current = var["current"]["value"]
            values[name] = [str(v) for v in current] if isinstance(current, list) else [str(current)]
    return values
