"""The exercise report: one self-contained offline HTML page (figures as embedded PNG, no
scripts, no fonts or styles fetched from anywhere) that a planner can mail or archive.

Figures: map of zones, sensors, truth and tracks (run 0); GOSPA over time (mean and 95 %
interval over runs); warning time per threat type; Pd against range per sensor; the
classification confusion matrix; then the scorecard table with intervals.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from skyfence.evaluate.scorecard import Scorecard, metric_info, metric_order
from skyfence.model.classes import CLASSES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from skyfence.evaluate.montecarlo import MapData
    from skyfence.model.scenario import Scenario
    from skyfence.model.sensors import SensorRegistry
    from skyfence.model.zone import Zone

__all__ = ["FIGURES", "PAGE_CSP", "PAGE_CSS", "figure_png", "render_report", "write_report"]

#: ids of the figures every report carries, in page order.
FIGURES = ("map", "gospa", "warning", "pd_range", "confusion")

#: Nothing may be fetched: images are data: URIs, the only style is inline.
PAGE_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

PAGE_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1b1f23;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.sub{color:#555;margin-top:0} figure{margin:1rem 0}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.9rem} table{border-collapse:collapse;font-size:.9rem;width:100%}
th,td{padding:.25rem .5rem;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}
td.d,th:last-child{text-align:left;color:#555} .grid{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
"""


def figure_png(fig: Figure) -> str:
    """A figure as a ``data:`` URI of a PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(w: float = 7.0, h: float = 4.2) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), layout="constrained")


def _map(
    zones: Sequence[Zone], registry: SensorRegistry | None, map_data: MapData | None, extent_m: float | None
) -> Figure:
    fig = _figure(7.5, 7.0)
    ax = fig.add_subplot()
    for z in zones:
        ring = np.asarray(z.area_polygon())
        colour = {"protected": "tab:red", "border": "tab:purple"}.get(z.kind, "tab:orange")
        ax.fill(ring[:, 0], ring[:, 1], alpha=0.18, color=colour)
        ax.plot(np.append(ring[:, 0], ring[0, 0]), np.append(ring[:, 1], ring[0, 1]), color=colour, lw=1.2)
        c = ring.mean(axis=0)
        ax.annotate(z.name, c, fontsize=8, ha="center", color=colour)
    if map_data is not None:
        first = {"threat": True, "benign": True}
        for tid, xy in map_data.truth.items():
            role = map_data.truth_role.get(tid, "benign")
            colour = "tab:red" if role == "threat" else "tab:green"
            ax.plot(
                xy[:, 0],
                xy[:, 1],
                color=colour,
                lw=1.4,
                alpha=0.8,
                label=f"truth ({role})" if first.get(role, False) else None,
            )
            first[role] = False
        first_track = True
        for xy in map_data.tracks.values():
            ax.plot(
                xy[:, 0],
                xy[:, 1],
                color="tab:blue",
                lw=0.9,
                ls="--",
                alpha=0.9,
                label="confirmed tracks (run 0)" if first_track else None,
            )
            first_track = False
    if registry is not None:
        from matplotlib.patches import Circle

        for s in registry:
            ax.plot(s.position[0], s.position[1], marker="^", color="black", ms=7)
            ax.annotate(
                s.id, (s.position[0], s.position[1]), fontsize=7, xytext=(4, 4), textcoords="offset points"
            )
            if math.isfinite(s.max_range_m):
                ax.add_patch(
                    Circle(
                        (s.position[0], s.position[1]),
                        s.max_range_m,
                        fill=False,
                        ls=":",
                        lw=0.7,
                        color="grey",
                    )
                )
    # Frame what happened (zones, paths, sensors), not the sensors' full range circles.
    pts = [np.asarray(z.area_polygon()) for z in zones]
    if map_data is not None:
        pts += list(map_data.truth.values()) + list(map_data.tracks.values())
    if registry is not None:
        pts += [s.position[None, :2] for s in registry]
    pts = [p for p in pts if p.size]
    if extent_m is not None:
        # The scenario's own bounds: an airliner passing 30 km out must not shrink the site.
        ax.set_xlim(-extent_m, extent_m)
        ax.set_ylim(-extent_m, extent_m)
    elif pts:
        allp = np.concatenate([p[:, :2] for p in pts])
        lo, hi = allp.min(axis=0), allp.max(axis=0)
        pad = 0.08 * max(float((hi - lo).max()), 200.0)
        ax.set_xlim(lo[0] - pad, hi[0] + pad)
        ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("east (m)")
    ax.set_ylabel("north (m)")
    ax.set_title("Zones, sensors (▲, range dotted), truth and tracks")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def _gospa(card: Scorecard) -> Figure:
    fig = _figure()
    ax = fig.add_subplot()
    t = card.gospa_t
    if t.size:
        ax.plot(t, card.gospa_mean, color="tab:blue", label="mean over runs")
        low = np.where(np.isfinite(card.gospa_low), card.gospa_low, card.gospa_mean)
        high = np.where(np.isfinite(card.gospa_high), card.gospa_high, card.gospa_mean)
        ax.fill_between(t, np.maximum(low, 0.0), high, color="tab:blue", alpha=0.2, label="95 % interval")
        ax.legend(fontsize=8)
    c = card.score_config.get("gospa_c")
    ax.set_title(f"GOSPA over time (c = {c} m, p = {card.score_config.get('gospa_p')})")
    ax.set_xlabel("time since start (s)")
    ax.set_ylabel("GOSPA (m)")
    ax.grid(alpha=0.3)
    return fig


def _warning(card: Scorecard) -> Figure:
    fig = _figure()
    ax = fig.add_subplot()
    by_type: dict[str, list[float]] = {}
    for t in card.threats:
        if t.get("entered") and t.get("warning_s") is not None:
            by_type.setdefault(str(t["behaviour"]), []).append(float(t["warning_s"]))
    if by_type:
        top = max(max(v) for v in by_type.values())
        bins = np.linspace(0.0, max(top, 1.0) * 1.05, 21)
        ax.hist(list(by_type.values()), bins=bins.tolist(), label=list(by_type), stacked=True)
        ax.legend(title="threat type", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no threat entered its zone", ha="center", va="center", transform=ax.transAxes)
    m = card.score_config.get("min_warning_s")
    if m is not None:
        ax.axvline(float(m), color="tab:red", ls="--", lw=1)
        ax.annotate(
            f"minimum {m} s",
            (float(m), 0.95),
            xycoords=("data", "axes fraction"),
            fontsize=8,
            color="tab:red",
        )
    ax.set_title("Warning time before zone entry, per threat type (all runs)")
    ax.set_xlabel("warning (s)")
    ax.set_ylabel("threats")
    ax.grid(alpha=0.3)
    return fig


def _pd_range(card: Scorecard) -> Figure:
    fig = _figure()
    ax = fig.add_subplot()
    for sid, d in card.pd_range.items():
        edges = np.asarray(d["edges"], dtype=np.float64)
        hits = np.asarray(d["hits"], dtype=np.float64)
        opps = np.asarray(d["opportunities"], dtype=np.float64)
        mid = 0.5 * (edges[1:] + edges[:-1])
        with np.errstate(invalid="ignore", divide="ignore"):
            pd = np.where(opps > 0, hits / opps, np.nan)
        ax.plot(mid / 1000.0, pd, marker="o", ms=3, label=sid)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Probability of detection against range, per sensor")
    ax.set_xlabel("range (km)")
    ax.set_ylabel("Pd")
    if card.pd_range:
        ax.legend(fontsize=8, ncols=2)
    ax.grid(alpha=0.3)
    return fig


def _confusion(card: Scorecard) -> Figure:
    fig = _figure(6.0, 5.0)
    ax = fig.add_subplot()
    m = card.confusion
    # Colour by share of each true class (rows), so rare classes are as visible as birds.
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros(m.shape), where=rows > 0)
    ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j]:
                ax.text(
                    j,
                    i,
                    str(int(m[i, j])),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if share[i, j] > 0.5 else "black",
                )
    ax.set_xticks(range(len(CLASSES)), CLASSES, rotation=30)
    ax.set_yticks(range(len(CLASSES)), CLASSES)
    ax.set_xlabel("track class (final)")
    ax.set_ylabel("true class")
    ax.set_title("Classification confusion (tracks, all runs; colour: row share)")
    return fig


def _fmt(v: float | None, unit: str) -> str:
    if v is None or not math.isfinite(v):
        return "—"
    if unit == "share":
        return f"{100 * v:.1f} %"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"


def _table(card: Scorecard) -> str:
    rows = []
    for name, s in sorted(card.metrics.items(), key=lambda kv: metric_order(kv[0])):
        info = metric_info(name)
        interval = f"{_fmt(s.ci_low, info.unit)} … {_fmt(s.ci_high, info.unit)}" if s.n > 1 else "—"
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{_fmt(s.mean, info.unit)}</td><td>{interval}</td>"
            f"<td>{html.escape(info.unit)}</td><td>{s.n}</td>"
            f"<td class=d>{html.escape(info.description)}</td></tr>"
        )
    return (
        "<table id=scorecard><thead><tr><th>metric</th><th>mean</th><th>95 % interval</th><th>unit</th>"
        "<th>runs</th><th>meaning</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def render_report(
    card: Scorecard,
    *,
    zones: Sequence[Zone] = (),
    registry: SensorRegistry | None = None,
    map_data: MapData | None = None,
    extent_m: float | None = None,
) -> str:
    """The report page as an HTML string."""
    figs: dict[str, tuple[str, Figure]] = {
        "map": (
            "Map of run 0: zones, sensors, truth and confirmed tracks",
            _map(zones, registry, map_data, extent_m),
        ),
        "gospa": ("GOSPA over time", _gospa(card)),
        "warning": ("Warning-time histogram per threat type", _warning(card)),
        "pd_range": ("Pd against range per sensor", _pd_range(card)),
        "confusion": ("Classification confusion matrix", _confusion(card)),
    }
    parts = []
    for key in FIGURES:
        caption, fig = figs[key]
        parts.append(
            f'<figure><img id="fig-{key}" alt="{html.escape(caption)}" src="{figure_png(fig)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    cost = "" if card.cost is None else f" · sensor cost {card.cost:,.0f} USD"
    warn_src = "alerts" if card.assess_ran else "first confirmed FPV track (no assessor)"
    head = (
        f"<h1>Exercise report: {html.escape(card.scenario)}</h1>"
        f"<p class=sub>{card.runs} run(s) from seed {card.base_seed}{cost} · "
        f"warning measured from {warn_src} · "
        "means with 95 % Student-t intervals over runs</p>"
    )
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>skyfence exercise report: {html.escape(card.scenario)}</title>"
        f'<meta http-equiv=Content-Security-Policy content="{PAGE_CSP}">'
        f"<style>{PAGE_CSS}</style></head><body>{head}"
        f"{parts[0]}<h2>Tracking</h2>{parts[1]}<h2>Warning</h2>{parts[2]}"
        f"<h2>Detection and classification</h2><div class=grid>{parts[3]}{parts[4]}</div>"
        f"<h2>Scorecard</h2>{_table(card)}</body></html>\n"
    )


def write_report(
    card: Scorecard,
    path: str | Path,
    *,
    scenario: Scenario | None = None,
    map_data: MapData | None = None,
) -> Path:
    """Write the report for ``card``; zones and sensors come from ``scenario`` when given."""
    zones: Sequence[Zone] = ()
    registry = None
    if scenario is not None:
        from skyfence.simulate import scenario_zones, sensor_registry

        zones = scenario_zones(scenario)
        registry = sensor_registry(scenario)
    p = Path(path)
    extent = None if scenario is None else float(scenario.extent_m)
    page = render_report(card, zones=zones, registry=registry, map_data=map_data, extent_m=extent)
    p.write_text(page, encoding="utf-8")
    return p
