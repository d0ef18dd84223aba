"""`Scorecard`: the Monte Carlo aggregate of an exercise, as planners read it.

Each metric is summarised over the runs where it applies (``nan`` runs are left out and
counted in ``n``) by its mean and a 95 % Student-t interval ``mean ± t(0.975, n-1)·s/√n``
(``s`` the sample standard deviation); one run gives no interval. The JSON form is
``scorecard.json`` (schema: ``scorecard.schema.json`` beside this module, documented in
``docs/scorecard.md``); it holds no wall-clock figures so equal seeds give equal bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from skyfence.model.classes import CLASSES

if TYPE_CHECKING:
    from rich.table import Table

__all__ = [
    "METRICS",
    "SCHEMA_ID",
    "MetricInfo",
    "MetricSummary",
    "Scorecard",
    "metric_info",
    "metric_order",
    "scorecard_schema",
    "scorecard_table",
    "summarise",
]

SCHEMA_ID = "skyfence-scorecard/1"


@dataclass(frozen=True, slots=True)
class MetricInfo:
    unit: str
    better: str  # "higher" | "lower" | "none"
    description: str


#: Every fixed metric name with its unit, direction and meaning (``docs/scorecard.md``).
METRICS: dict[str, MetricInfo] = {
    "warning_time_s": MetricInfo("s", "higher", "mean warning before a threat enters its zone (0 if none)"),
    "warning_share_min": MetricInfo(
        "share", "higher", "share of entering threats warned at least min_warning_s"
    ),
    "threats_warned_share": MetricInfo("share", "higher", "share of entering threats warned before entry"),
    "false_alerts_per_hour": MetricInfo("1/h", "lower", "alerts whose track is not of a threat, per hour"),
    "gospa": MetricInfo("m", "lower", "mean GOSPA distance per step"),
    "gospa_localisation": MetricInfo("m^p", "lower", "mean GOSPA localisation part per step"),
    "gospa_missed": MetricInfo("m^p", "lower", "mean GOSPA missed-target part per step"),
    "gospa_false": MetricInfo("m^p", "lower", "mean GOSPA false-track part per step"),
    "ospa": MetricInfo("m", "lower", "mean OSPA distance per step"),
    "id_switches": MetricInfo("count", "lower", "changes of the track id following a target"),
    "fragmentations": MetricInfo("count", "lower", "times tracking of a target stopped and resumed"),
    "id_switches_threat": MetricInfo("count", "lower", "id switches of threat targets only"),
    "fragmentations_threat": MetricInfo("count", "lower", "fragmentations of threat targets only"),
    "track_purity": MetricInfo("share", "higher", "mean share of a track's life spent on its own target"),
    "track_latency_s": MetricInfo("s", "lower", "first detection to first confirmed track, per target"),
    "pd": MetricInfo("share", "higher", "detections per opportunity (target in range of a scanning sensor)"),
    "time_to_first_detection_s": MetricInfo("s", "lower", "coverage entry to first detection, per target"),
    "time_to_confirmed_track_s": MetricInfo(
        "s", "lower", "coverage entry to first confirmed track, per target"
    ),
    "threats": MetricInfo("count", "none", "threat targets in the run"),
    "threats_entered": MetricInfo("count", "lower", "threats that entered their zone"),
    "engagement_window_s": MetricInfo(
        "s", "higher", "time a threat spent inside the engagement ring before entry"
    ),
    "engagement_after_warning_s": MetricInfo("s", "higher", "... of it after the first warning"),
    "swarm_first_member_s": MetricInfo(
        "s", "higher", "first warning to the first swarm member at the border"
    ),
    "swarm_saturation": MetricInfo("count", "lower", "most swarm members inside the zone at once"),
    "swarm_saturation_share": MetricInfo("share", "lower", "... as a share of the swarm"),
    "macro_f1": MetricInfo("share", "higher", "macro F1 of track classes against truth"),
    "class_accuracy": MetricInfo("share", "higher", "share of tracks with the right final class"),
    "rf_silent_recall": MetricInfo("share", "higher", "fiber / RF-silent FPVs flagged rf_silent"),
    "rf_silent_false_rate": MetricInfo("share", "lower", "RF-emitting FPVs wrongly flagged rf_silent"),
    "swarm_grouping_accuracy": MetricInfo(
        "share", "higher", "pairwise agreement of track groups with swarms"
    ),
}


def metric_info(name: str) -> MetricInfo:
    if name in METRICS:
        return METRICS[name]
    if name.startswith("pd_sensor."):
        return MetricInfo("share", "higher", f"Pd of sensor {name.split('.', 1)[1]}")
    if name.startswith("pd_class."):
        return MetricInfo("share", "higher", f"Pd on {name.split('.', 1)[1]} targets")
    return MetricInfo("", "none", name)


def metric_order(name: str) -> tuple[int, str]:
    """Sort key: the fixed metrics in :data:`METRICS` order, then the rest by name."""
    keys = list(METRICS)
    if name in METRICS:
        return keys.index(name), name
    return len(keys), name


@dataclass(frozen=True, slots=True)
class MetricSummary:
    """Mean and 95 % interval of one metric over the ``n`` runs where it applies."""

    mean: float
    std: float
    ci_low: float
    ci_high: float
    n: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "mean": _num(self.mean),
            "std": _num(self.std),
            "ci_low": _num(self.ci_low),
            "ci_high": _num(self.ci_high),
            "n": self.n,
        }


#: Range of values per unit: a share lies in [0, 1], counts, times and distances are >= 0.
UNIT_RANGE: dict[str, tuple[float, float]] = {
    "share": (0.0, 1.0),
    "count": (0.0, math.inf),
    "s": (0.0, math.inf),
    "1/h": (0.0, math.inf),
    "m": (0.0, math.inf),
}


def summarise(
    values: Sequence[float] | NDArray[np.float64], bounds: tuple[float, float] | None = None
) -> MetricSummary:
    """Mean and Student-t 95 % interval of the finite ``values``; the interval is clipped
    to ``bounds`` (the metric's possible range: a share's interval never passes 100 %)."""
    from scipy import stats

    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    n = int(arr.size)
    if n == 0:
        return MetricSummary(math.nan, math.nan, math.nan, math.nan, 0)
    mean = float(math.fsum(arr.tolist()) / n)
    if n == 1:
        return MetricSummary(mean, math.nan, math.nan, math.nan, 1)
    std = float(np.std(arr, ddof=1))
    half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    lo, hi = bounds if bounds is not None else (-math.inf, math.inf)
    return MetricSummary(mean, std, max(mean - half, lo), min(mean + half, hi), n)


def _num(v: float) -> float | None:
    return None if not math.isfinite(v) else float(v)


@dataclass(frozen=True, slots=True, eq=False)
class Scorecard:
    """The aggregate of ``runs`` runs of one scenario (see the module docstring)."""

    scenario: str
    scenario_path: str
    base_seed: int
    seeds: tuple[int, ...]
    score_config: Mapping[str, Any]
    metrics: Mapping[str, MetricSummary]
    per_run: tuple[Mapping[str, float], ...]
    confusion: NDArray[np.int64]
    pd_range: Mapping[str, Mapping[str, list[float] | list[int]]]
    threats: tuple[Mapping[str, Any], ...]
    gospa_t: NDArray[np.float64]
    gospa_mean: NDArray[np.float64]
    gospa_low: NDArray[np.float64]
    gospa_high: NDArray[np.float64]
    sensors: tuple[Mapping[str, Any], ...]
    cost: float | None
    assess_ran: bool
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def runs(self) -> int:
        return len(self.seeds)

    def mean(self, name: str) -> float:
        s = self.metrics.get(name)
        return math.nan if s is None else s.mean

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_ID,
            "scenario": {"name": self.scenario, "path": self.scenario_path, "seed": self.base_seed},
            "runs": self.runs,
            "seeds": list(self.seeds),
            "interval": {"method": "student-t", "level": 0.95},
            "warning_source": "alerts" if self.assess_ran else "first_confirmed_fpv_track",
            "score_config": dict(self.score_config),
            "cost": self.cost,
            "sensors": [dict(s) for s in self.sensors],
            "metrics": {
                name: {**s.as_dict(), **_info_dict(name)}
                for name, s in sorted(self.metrics.items(), key=lambda kv: metric_order(kv[0]))
            },
            "per_run": [
                {"run": k, "seed": self.seeds[k], "metrics": {n: _num(v) for n, v in m.items()}}
                for k, m in enumerate(self.per_run)
            ],
            "confusion": {"classes": list(CLASSES), "matrix": self.confusion.tolist()},
            "pd_range": {sid: dict(v) for sid, v in self.pd_range.items()},
            "threats": [dict(t) for t in self.threats],
            "gospa_over_time": {
                "t": [float(v) for v in self.gospa_t],
                "mean": [_num(float(v)) for v in self.gospa_mean],
                "ci_low": [_num(float(v)) for v in self.gospa_low],
                "ci_high": [_num(float(v)) for v in self.gospa_high],
            },
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n"

    def write(self, path: str | Path) -> Path:
        p = Path(path)
        p.write_text(self.to_json(), encoding="utf-8")
        return p


def _info_dict(name: str) -> dict[str, str]:
    info = metric_info(name)
    return {"unit": info.unit, "better": info.better, "description": info.description}


def scorecard_schema() -> dict[str, Any]:
    """The JSON Schema of ``scorecard.json``."""
    text = (Path(__file__).with_name("scorecard.schema.json")).read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def _fmt(v: float, unit: str) -> str:
    if not math.isfinite(v):
        return "—"
    if unit == "share":
        return f"{100 * v:.1f} %"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"


HEADLINE = (
    "warning_time_s",
    "warning_share_min",
    "false_alerts_per_hour",
    "gospa",
    "pd",
    "time_to_confirmed_track_s",
    "track_latency_s",
    "id_switches",
    "id_switches_threat",
    "fragmentations",
    "track_purity",
    "macro_f1",
    "rf_silent_recall",
    "swarm_first_member_s",
    "swarm_saturation",
    "swarm_grouping_accuracy",
    "engagement_window_s",
)


def scorecard_table(scorecard: Scorecard, *, full: bool = False) -> Table:
    """A rich table of the scorecard: metric, mean, 95 % interval, runs it applied to."""
    from rich.table import Table

    table = Table(
        title=f"{scorecard.scenario}: {scorecard.runs} run(s), mean and 95 % interval",
        title_justify="left",
    )
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("95 % interval", justify="right")
    table.add_column("unit")
    table.add_column("n", justify="right")
    names = list(scorecard.metrics) if full else [n for n in HEADLINE if n in scorecard.metrics]
    if not full:
        names += sorted(n for n in scorecard.metrics if n.startswith("pd_sensor."))
    for name in sorted(names, key=metric_order) if full else names:
        s = scorecard.metrics[name]
        info = metric_info(name)
        interval = f"{_fmt(s.ci_low, info.unit)} … {_fmt(s.ci_high, info.unit)}" if s.n > 1 else "—"
        table.add_row(
            name, _fmt(s.mean, info.unit), interval, "" if info.unit == "share" else info.unit, str(s.n)
        )
    return table
