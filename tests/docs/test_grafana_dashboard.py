"""The Grafana dashboard in docs/operations/ loads, and every query names only metrics EventHive defines."""

from __future__ import annotations

import json
import re
from pathlib import Path

from eventhive_core.observability import metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "operations" / "grafana-dashboard.json"
NAME = re.compile(r"\beventhive_[a-z_]+")
SUFFIXES = ("_total", "_bucket", "_count", "_sum")


def _defined() -> set[str]:
    names = {metrics.OUTBOX_BACKLOG, metrics.OUTBOX_OLDEST_AGE}
    for metric in metrics.METRICS:
        names.update(sample.name for family in metric.collect() for sample in family.samples)
        names.update(f"{family.name}{suffix}" for family in metric.collect() for suffix in SUFFIXES)
    return names


def test_every_dashboard_query_names_metrics_we_define() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    named = {name for expr in expressions for name in NAME.findall(expr)}

    assert expressions
    assert named
    assert named <= _defined(), f"not defined: {sorted(named - _defined())}"


def test_the_dashboard_shows_every_metric() -> None:
    text = DASHBOARD.read_text(encoding="utf-8")
    families = {metrics.OUTBOX_BACKLOG, metrics.OUTBOX_OLDEST_AGE} | {metric._name for metric in metrics.METRICS}

    missing = {name for name in families if name not in text}

    assert not missing
