"""Compare sensor layouts: the same threats and the same seeds against each layout, ranked,
with warning time and false alerts plotted against cost (the frontier a planner buys on).

Layout ``i`` is a full scenario file; every layout runs with the seeds of the first one (or
``base_seed``), so run ``k`` of every layout sees the same world apart from its sensors.
A layout's cost is the sum of its sensors' ``cost:`` (USD; missing costs count as 0 and the
layout is marked ``cost_complete: false``). Ranking: most mean warning time first, then
fewest false alerts per hour, then lowest cost.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from skyfence.errors import ConfigError
from skyfence.evaluate.metrics import ScoreConfig
from skyfence.evaluate.montecarlo import Progress, aggregate, execute, load_score_config, make_tasks
from skyfence.evaluate.scorecard import Scorecard

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from rich.table import Table

__all__ = ["LayoutResult", "compare_layouts", "compare_table", "frontier"]


@dataclass(frozen=True, slots=True, eq=False)
class LayoutResult:
    name: str
    path: str
    cost: float
    cost_complete: bool
    scorecard: Scorecard

    def summary(self) -> dict[str, Any]:
        def stat(name: str) -> dict[str, float | None]:
            s = self.scorecard.metrics.get(name)
            if s is None:
                return {"mean": None, "ci_low": None, "ci_high": None}
            d = s.as_dict()
            return {"mean": d["mean"], "ci_low": d["ci_low"], "ci_high": d["ci_high"]}

        return {
            "name": self.name,
            "path": self.path,
            "cost": self.cost,
            "cost_complete": self.cost_complete,
            "sensors": len(self.scorecard.sensors),
            "warning_time_s": stat("warning_time_s"),
            "warning_share_min": stat("warning_share_min"),
            "false_alerts_per_hour": stat("false_alerts_per_hour"),
            "gospa": stat("gospa"),
            "pd": stat("pd"),
        }


def _key(r: LayoutResult) -> tuple[float, float, float]:
    w = r.scorecard.mean("warning_time_s")
    f = r.scorecard.mean("false_alerts_per_hour")
    return (-(w if math.isfinite(w) else -math.inf), f if math.isfinite(f) else math.inf, r.cost)


def frontier(costs: Sequence[float], values: Sequence[float], higher_is_better: bool = True) -> list[int]:
    """Indices of the layouts no other layout beats on both cost (lower) and value, by cost."""
    idx = sorted(range(len(costs)), key=lambda i: (costs[i], -values[i] if higher_is_better else values[i]))
    out: list[int] = []
    best = -math.inf if higher_is_better else math.inf
    for i in idx:
        v = values[i]
        if not math.isfinite(v):
            continue
        if (higher_is_better and v > best) or (not higher_is_better and v < best):
            out.append(i)
            best = v
    return out


def compare_layouts(
    scenario_paths: Sequence[str | Path],
    runs: int,
    out_dir: str | Path,
    *,
    workers: int | None = None,
    ray_address: str | None = None,
    score_config: ScoreConfig | str | Path | None = None,
    base_seed: int | None = None,
    on_progress: Progress | None = None,
) -> list[LayoutResult]:
    """Run every layout with the same seeds; write ``DIR/<layout>/scorecard.json`` and
    ``report.html``, ``DIR/compare.json`` and ``DIR/compare.html``; return them ranked."""
    import os

    from skyfence.evaluate.report import write_report
    from skyfence.simulate import load_scenario

    if len(scenario_paths) < 1:
        raise ConfigError("give at least one layout scenario")
    score = score_config if isinstance(score_config, ScoreConfig) else load_score_config(score_config)
    scenarios = [load_scenario(p) for p in scenario_paths]
    seed = scenarios[0].seed if base_seed is None else base_seed
    threats0 = [t.model_dump() for t in scenarios[0].targets]
    for p, sc in zip(scenario_paths[1:], scenarios[1:], strict=True):
        if [t.model_dump() for t in sc.targets] != threats0:
            raise ConfigError(
                f"layout has other targets than {scenario_paths[0]}; a comparison needs the same threats",
                path=p,
                field="targets",
            )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = _names(scenario_paths)
    all_tasks = []
    for li, sc in enumerate(scenarios):
        for t in make_tasks(sc, runs, score, base_seed=seed):
            all_tasks.append((li, t))
    # One pool for every layout's runs: the slowest layout does not idle the other workers.
    from dataclasses import replace

    tasks = [replace(t, run=li * runs + t.run) for li, t in all_tasks]
    n_workers = (os.cpu_count() or 1) if workers is None else workers
    results = execute(tasks, n_workers, ray_address, on_progress)
    layouts = []
    for li, (path, sc) in enumerate(zip(scenario_paths, scenarios, strict=True)):
        mine = [replace(r, run=r.run - li * runs) for r in results[li * runs : (li + 1) * runs]]
        card = aggregate(sc, str(path), mine, score)
        sub = out / names[li]
        sub.mkdir(parents=True, exist_ok=True)
        card.write(sub / "scorecard.json")
        write_report(card, sub / "report.html", scenario=sc, map_data=mine[0].map)
        costs = [s.cost for s in sc.sensors]
        layouts.append(
            LayoutResult(
                names[li],
                str(path),
                float(sum(c or 0.0 for c in costs)),
                all(c is not None for c in costs),
                card,
            )
        )
    ranked = sorted(layouts, key=_key)
    doc = {
        "schema": "skyfence-compare/1",
        "runs": runs,
        "seed": seed,
        "ranking": [r.summary() for r in ranked],
        "frontier": {
            "warning_time_s": [ranked[i].name for i in _front(ranked, "warning_time_s", True)],
            "false_alerts_per_hour": [ranked[i].name for i in _front(ranked, "false_alerts_per_hour", False)],
        },
    }
    (out / "compare.json").write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    (out / "compare.html").write_text(_page(ranked, runs), encoding="utf-8")
    return ranked


def _names(paths: Sequence[str | Path]) -> list[str]:
    names: list[str] = []
    for p in paths:
        stem = Path(p).stem
        name = stem
        k = 2
        while name in names:
            name = f"{stem}-{k}"
            k += 1
        names.append(name)
    return names


def _front(ranked: Sequence[LayoutResult], metric: str, higher: bool) -> list[int]:
    return frontier([r.cost for r in ranked], [r.scorecard.mean(metric) for r in ranked], higher)


def _plot(ranked: Sequence[LayoutResult]) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), layout="constrained")
    costs = np.array([r.cost for r in ranked]) / 1000.0
    for k, (metric, label, higher) in enumerate(
        [
            ("warning_time_s", "mean warning time (s)", True),
            ("false_alerts_per_hour", "false alerts per hour", False),
        ]
    ):
        ax = fig.add_subplot(1, 2, k + 1)
        vals = np.array([r.scorecard.mean(metric) for r in ranked])
        lo = np.array(
            [r.scorecard.metrics[metric].ci_low if metric in r.scorecard.metrics else np.nan for r in ranked]
        )
        hi = np.array(
            [r.scorecard.metrics[metric].ci_high if metric in r.scorecard.metrics else np.nan for r in ranked]
        )
        err = np.vstack([np.nan_to_num(vals - lo), np.nan_to_num(hi - vals)])
        ax.errorbar(costs, vals, yerr=np.abs(err), fmt="o", capsize=3, color="tab:blue")
        for r, c, v in zip(ranked, costs, vals, strict=True):
            ax.annotate(r.name, (c, v), fontsize=8, xytext=(4, 4), textcoords="offset points")
        front = _front(ranked, metric, higher)
        if front:
            ax.plot(costs[front], vals[front], color="tab:red", lw=1.2, label="frontier")
            ax.legend(fontsize=8)
        ax.set_xlabel("layout cost (thousand USD)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    fig.suptitle("What each layout buys: warning and false alerts against cost")
    return fig


def _page(ranked: Sequence[LayoutResult], runs: int) -> str:
    from skyfence.evaluate.report import PAGE_CSP, PAGE_CSS, figure_png

    def f(v: float, share: bool = False) -> str:
        if not math.isfinite(v):
            return "—"
        return f"{100 * v:.1f} %" if share else f"{v:.1f}"

    rows = []
    for k, r in enumerate(ranked, start=1):
        sc = r.scorecard
        rows.append(
            f"<tr><td>{k}. {html.escape(r.name)}</td><td>{r.cost:,.0f}{'' if r.cost_complete else '*'}</td>"
            f"<td>{f(sc.mean('warning_time_s'))}</td><td>{f(sc.mean('warning_share_min'), True)}</td>"
            f"<td>{f(sc.mean('false_alerts_per_hour'))}</td><td>{f(sc.mean('pd'), True)}</td>"
            f"<td>{f(sc.mean('gospa'))}</td>"
            f'<td><a href="{html.escape(r.name)}/report.html">report</a></td></tr>'
        )
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>skyfence layout comparison</title>"
        f'<meta http-equiv=Content-Security-Policy content="{PAGE_CSP}">'
        f"<style>{PAGE_CSS}</style></head><body>"
        f"<h1>Sensor layouts compared</h1><p class=sub>{len(ranked)} layouts × {runs} run(s), "
        "same threats and seeds; ranked by mean warning time, then false alerts. "
        "* some sensors have no cost.</p>"
        f'<figure><img id="fig-frontier" alt="frontier" src="{figure_png(_plot(ranked))}"></figure>'
        "<table id=ranking><thead><tr><th>layout</th><th>cost (USD)</th><th>warning (s)</th>"
        "<th>≥ minimum warning</th><th>false alerts/h</th><th>Pd</th><th>GOSPA (m)</th><th></th></tr></thead>"
        "<tbody>" + "".join(rows) + "</tbody></table></body></html>\n"
    )


def compare_table(ranked: Sequence[LayoutResult]) -> Table:
    """The ranking as a rich table."""
    from rich.table import Table

    t = Table(title="Sensor layouts, best first (mean over runs)", title_justify="left")
    for col in ("layout", "cost (USD)", "warning (s)", "≥ min warning", "false alerts/h", "Pd", "GOSPA (m)"):
        t.add_column(col, justify="left" if col == "layout" else "right")
    for k, r in enumerate(ranked, start=1):
        sc = r.scorecard

        def f(v: float, share: bool = False) -> str:
            if not math.isfinite(v):
                return "—"
            return f"{100 * v:.1f} %" if share else f"{v:.1f}"

        t.add_row(
            f"{k}. {r.name}",
            f"{r.cost:,.0f}" + ("" if r.cost_complete else "*"),
            f(sc.mean("warning_time_s")),
            f(sc.mean("warning_share_min"), True),
            f(sc.mean("false_alerts_per_hour")),
            f(sc.mean("pd"), True),
            f(sc.mean("gospa")),
        )
    return t
