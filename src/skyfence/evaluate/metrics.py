"""Exercise metrics from one :class:`~skyfence.evaluate.record.RunRecord`.

Scoring association: at each step the scored tracks (confirmed or coasting) are assigned to
the truth points by ``linear_sum_assignment`` on horizontal (or 3-D) distance with the
cut-off ``assoc_cutoff_m``; a track is *of* the target it is assigned to most often. Every
metric below reads those per-step pairs; definitions are in ``docs/scorecard.md``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import shapely
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from skyfence.evaluate.gospa import gospa, ospa
from skyfence.evaluate.record import RunRecord
from skyfence.model.classes import CLASSES, N_CLASSES, TargetClass
from skyfence.model.tracks import TrackStatus
from skyfence.model.zone import Zone

__all__ = [
    "Association",
    "RunScore",
    "ScoreConfig",
    "ThreatOutcome",
    "associate",
    "macro_f1",
    "score_run",
]

FPV = int(TargetClass.FPV)


class ScoreConfig(BaseModel):
    """How a run is scored (all distances in metres, times in seconds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: GOSPA/OSPA cut-off c, order p and alpha.
    gospa_c: float = Field(100.0, gt=0)
    gospa_p: float = Field(1.0, ge=1)
    gospa_alpha: float = Field(2.0, gt=0, le=2)
    #: 2: score on the horizontal plane (2-D sensors leave height unobserved); 3: in 3-D.
    dims: Literal[2, 3] = 2
    #: Largest truth-to-track distance that still counts as tracking that target.
    assoc_cutoff_m: float = Field(100.0, gt=0)
    #: Warning a threat should get before it enters its zone.
    min_warning_s: float = Field(30.0, ge=0)
    #: Engagement ring: distance from a zone within which a threat could be engaged.
    engagement_ring_m: float = Field(1000.0, gt=0)
    #: A track whose ``rf_silent`` probability reaches this is flagged RF-silent.
    rf_silent_threshold: float = Field(0.5, gt=0, le=1)
    #: Bins of the Pd-against-range curve per sensor (over 0 .. max range).
    pd_range_bins: int = Field(10, ge=1, le=100)
    #: The Pd-against-range curve stops at the sensor's range or here, whichever is nearer.
    pd_range_max_m: float = Field(20_000.0, gt=0)


@dataclass(frozen=True, slots=True, eq=False)
class Association:
    """Per-step truth↔track pairs: pair ``j`` puts truth row ``truth_row[j]`` with track row
    ``track_row[j]`` at step ``step[j]``. ``track_of`` maps a track id to the target it is
    most often paired with."""

    step: NDArray[np.int64]
    truth_row: NDArray[np.int64]
    track_row: NDArray[np.int64]
    target: NDArray[np.int64]
    track: NDArray[np.int64]
    track_of: dict[int, int]
    gospa_total: NDArray[np.float64]
    gospa_parts: NDArray[np.float64]
    ospa_total: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ThreatOutcome:
    """One threat target's exercise outcome (``nan`` where it does not apply)."""

    target: int
    name: str
    behaviour: str
    cls: str
    group: int | None
    entered: bool
    entry_t: float
    first_warning_t: float
    warning_s: float
    engagement_window_s: float
    engagement_after_warning_s: float


@dataclass(frozen=True, slots=True, eq=False)
class RunScore:
    """The scalars of one run (``metrics``; ``nan`` where a metric does not apply, e.g. no
    swarm) and the details the report draws."""

    metrics: dict[str, float]
    gospa_t: NDArray[np.float64]
    gospa_total: NDArray[np.float64]
    threats: tuple[ThreatOutcome, ...]
    confusion: NDArray[np.int64]
    pd_range_edges: dict[str, NDArray[np.float64]]
    pd_range_hits: dict[str, NDArray[np.int64]]
    pd_range_opportunities: dict[str, NDArray[np.int64]]
    extra: dict[str, Any] = field(default_factory=dict)


def _xy(x: NDArray[np.float64], dims: int) -> NDArray[np.float64]:
    return x[:, :dims]


def _scored(rec: RunRecord) -> NDArray[np.bool_]:
    out: NDArray[np.bool_] = (rec.track_status == TrackStatus.CONFIRMED) | (
        rec.track_status == TrackStatus.COASTING
    )
    return out


def _bounds(step: NDArray[np.int64], n_steps: int) -> NDArray[np.int64]:
    """Row ranges per step for rows sorted by step (the recorder writes them so)."""
    out: NDArray[np.int64] = np.searchsorted(step, np.arange(n_steps + 1)).astype(np.int64)
    return out


def associate(rec: RunRecord, cfg: ScoreConfig) -> Association:
    """Per-step assignment of scored tracks to truth points, and GOSPA/OSPA per step."""
    scored = _scored(rec)
    tb = _bounds(rec.truth_step, rec.n_steps)
    kb = _bounds(rec.track_step, rec.n_steps)
    steps: list[NDArray[np.int64]] = []
    truth_rows: list[NDArray[np.int64]] = []
    track_rows: list[NDArray[np.int64]] = []
    g_total = np.zeros(rec.n_steps)
    g_parts = np.zeros((rec.n_steps, 3))
    o_total = np.zeros(rec.n_steps)
    previous: dict[int, int] = {}  # target id -> track id at its last tracked step
    for k in range(rec.n_steps):
        ti = np.arange(tb[k], tb[k + 1])
        ki = np.arange(kb[k], kb[k + 1])
        ki = ki[scored[ki]]
        x = _xy(rec.truth_x[ti], cfg.dims)
        y = _xy(rec.track_x[ki], cfg.dims)
        g = gospa(x, y, cfg.gospa_c, cfg.gospa_p, cfg.gospa_alpha)
        g_total[k] = g.total
        g_parts[k] = (g.localisation, g.missed, g.false)
        o_total[k] = ospa(x, y, cfg.gospa_c, cfg.gospa_p).total
        assign = _match(x, y, rec.truth_target[ti], rec.track_id[ki], previous, cfg.assoc_cutoff_m)
        hit = assign >= 0
        previous.update(
            zip(rec.truth_target[ti[hit]].tolist(), rec.track_id[ki[assign[hit]]].tolist(), strict=True)
        )
        steps.append(np.full(int(hit.sum()), k, dtype=np.int64))
        truth_rows.append(ti[hit])
        track_rows.append(ki[assign[hit]])
    step = np.concatenate(steps) if steps else np.zeros(0, np.int64)
    truth_row = np.concatenate(truth_rows).astype(np.int64) if truth_rows else np.zeros(0, np.int64)
    track_row = np.concatenate(track_rows).astype(np.int64) if track_rows else np.zeros(0, np.int64)
    target = rec.truth_target[truth_row]
    track = rec.track_id[track_row]
    counts = Counter(zip(track.tolist(), target.tolist(), strict=True))
    track_of: dict[int, int] = {}
    best: dict[int, int] = {}
    # Ties go to the lower target id so the mapping does not depend on dict order.
    for (trk, tgt), n in sorted(counts.items()):
        if n > best.get(trk, 0):
            best[trk] = n
            track_of[trk] = tgt
    return Association(step, truth_row, track_row, target, track, track_of, g_total, g_parts, o_total)


def _match(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    targets: NDArray[np.int64],
    tracks: NDArray[np.int64],
    previous: dict[int, int],
    cutoff: float,
) -> NDArray[np.int64]:
    """Truth→track index (−1: none) at one step, CLEAR-MOT style: a pair from the previous
    step that is still within ``cutoff`` is kept (so two tracks crossing a dense flock do
    not count as switches just because the optimum flips); the rest is assigned optimally."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    out = np.full(x.shape[0], -1, dtype=np.int64)
    if x.shape[0] == 0 or y.shape[0] == 0:
        return out
    d = cdist(x, y)
    col_of = {int(t): j for j, t in enumerate(tracks.tolist())}
    used = np.zeros(y.shape[0], dtype=bool)
    for i, tgt in enumerate(targets.tolist()):
        j = col_of.get(previous.get(tgt, -1), -1)
        if j >= 0 and not used[j] and d[i, j] < cutoff:
            out[i] = j
            used[j] = True
    free_r = np.flatnonzero(out < 0)
    free_c = np.flatnonzero(~used)
    if free_r.size and free_c.size:
        sub = np.minimum(d[np.ix_(free_r, free_c)], cutoff)
        r, c = linear_sum_assignment(sub)
        ok = sub[r, c] < cutoff
        out[free_r[r[ok]]] = free_c[c[ok]]
    return out


def macro_f1(confusion: NDArray[np.int64]) -> float:
    """Mean F1 over the classes that occur in truth or in the predictions (rows: truth)."""
    tp = np.diag(confusion).astype(np.float64)
    fp = confusion.sum(axis=0) - tp
    fn = confusion.sum(axis=1) - tp
    present = (confusion.sum(axis=0) + confusion.sum(axis=1)) > 0
    if not present.any():
        return math.nan
    f1 = 2 * tp[present] / np.maximum(2 * tp[present] + fp[present] + fn[present], 1e-300)
    return float(f1.mean())


def _nanmean(values: list[float] | NDArray[np.float64]) -> float:
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else math.nan


def _zone_polys(zones: tuple[Zone, ...]) -> dict[str, Any]:
    return {z.id: shapely.polygons(z.area_polygon()) for z in zones}


def _inside(zone: Zone, poly: Any, x: NDArray[np.float64]) -> NDArray[np.bool_]:
    if x.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    flat: NDArray[np.bool_] = shapely.intersects_xy(poly, x[:, 0], x[:, 1])
    return flat & (x[:, 2] >= zone.floor_m) & (x[:, 2] <= zone.ceiling_m)


def _step_dt(times: NDArray[np.float64]) -> NDArray[np.float64]:
    if times.shape[0] < 2:
        return np.ones_like(times)
    d = np.diff(times)
    return np.append(d, d[-1])


def score_run(rec: RunRecord, cfg: ScoreConfig | None = None) -> RunScore:
    """Every metric of one run (see ``docs/scorecard.md`` for the definitions)."""
    cfg = cfg or ScoreConfig()
    a = associate(rec, cfg)
    m: dict[str, float] = {}
    n = rec.n_steps
    m["gospa"] = float(a.gospa_total.mean()) if n else math.nan
    m["gospa_localisation"] = float(a.gospa_parts[:, 0].mean()) if n else math.nan
    m["gospa_missed"] = float(a.gospa_parts[:, 1].mean()) if n else math.nan
    m["gospa_false"] = float(a.gospa_parts[:, 2].mean()) if n else math.nan
    m["ospa"] = float(a.ospa_total.mean()) if n else math.nan

    target_ids = np.array(sorted({ti.id for ti in rec.targets} | set(rec.truth_target.tolist())), np.int64)
    first_det = _first_detection(rec, target_ids)
    first_track = _first_time(rec.times[a.step], a.target, target_ids)
    m.update(_continuity(rec, a, target_ids, first_det, first_track))
    pd_edges, pd_hits, pd_opps, det_metrics = _detection(rec, cfg, target_ids, first_det, first_track)
    m.update(det_metrics)
    threats, warn_metrics = _warning(rec, cfg, a)
    m.update(warn_metrics)
    confusion, cls_metrics = _classification(rec, cfg, a)
    m.update(cls_metrics)
    return RunScore(
        metrics=m,
        gospa_t=rec.times.copy(),
        gospa_total=a.gospa_total,
        threats=threats,
        confusion=confusion,
        pd_range_edges=pd_edges,
        pd_range_hits=pd_hits,
        pd_range_opportunities=pd_opps,
    )


def _first_time(
    t: NDArray[np.float64], who: NDArray[np.int64], ids: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Earliest ``t`` per id in ``ids`` (``nan`` when the id never occurs)."""
    out = np.full(ids.shape[0], np.inf)
    if who.shape[0] and ids.shape[0]:
        idx = np.searchsorted(ids, who)
        ok = (idx < ids.shape[0]) & (ids[np.minimum(idx, ids.shape[0] - 1)] == who)
        np.minimum.at(out, idx[ok], t[ok])
    out[np.isinf(out)] = np.nan
    return out


def _first_detection(rec: RunRecord, ids: NDArray[np.int64]) -> NDArray[np.float64]:
    real = rec.det_source >= 0
    return _first_time(rec.det_t[real], rec.det_source[real], ids)


def _continuity(
    rec: RunRecord,
    a: Association,
    ids: NDArray[np.int64],
    first_det: NDArray[np.float64],
    first_track: NDArray[np.float64],
) -> dict[str, float]:
    # Per target, the assigned track id at each step the target exists (-1: not tracked).
    # Counted for every target and, separately, for threats alone: a flock of birds
    # swapping ids among themselves would otherwise hide what happens to the threats.
    switches = fragments = threat_switches = threat_fragments = 0
    threats = {ti.id for ti in rec.targets if ti.role == "threat"}
    key_pairs = {(int(s), int(g)): int(k) for s, g, k in zip(a.step, a.target, a.track, strict=True)}
    for tgt in ids.tolist():
        present = np.unique(rec.truth_step[rec.truth_target == tgt])
        seq = np.array([key_pairs.get((int(s), tgt), -1) for s in present], dtype=np.int64)
        got = seq[seq >= 0]
        sw = int((got[1:] != got[:-1]).sum())
        tracked = seq >= 0
        # A fragmentation: tracking stops and later resumes.
        stops = np.flatnonzero(tracked[:-1] & ~tracked[1:])
        fr = 0
        if stops.size:
            later = np.flatnonzero(tracked)
            fr = int((stops[:, None] < later[None, :]).any(axis=1).sum())
        switches += sw
        fragments += fr
        if tgt in threats:
            threat_switches += sw
            threat_fragments += fr
    scored = _scored(rec)
    purity = []
    for trk, tgt in a.track_of.items():
        life = int((scored & (rec.track_id == trk)).sum())
        own = int(((a.track == trk) & (a.target == tgt)).sum())
        purity.append(own / life if life else math.nan)
    latency = first_track - first_det
    return {
        "id_switches": float(switches),
        "fragmentations": float(fragments),
        "id_switches_threat": float(threat_switches),
        "fragmentations_threat": float(threat_fragments),
        "track_purity": _nanmean(purity),
        "track_latency_s": _nanmean(latency[latency >= 0]),
    }


def _detection(
    rec: RunRecord,
    cfg: ScoreConfig,
    ids: NDArray[np.int64],
    first_det: NDArray[np.float64],
    first_track: NDArray[np.float64],
) -> tuple[
    dict[str, NDArray[np.float64]],
    dict[str, NDArray[np.int64]],
    dict[str, NDArray[np.int64]],
    dict[str, float],
]:
    sensors = rec.sensors.sensors
    n_s = len(sensors)
    out: dict[str, float] = {}
    edges: dict[str, NDArray[np.float64]] = {}
    hits: dict[str, NDArray[np.int64]] = {}
    opps: dict[str, NDArray[np.int64]] = {}
    n = rec.truth_x.shape[0]
    if n_s == 0 or n == 0:
        out["pd"] = math.nan
        out["time_to_first_detection_s"] = math.nan
        out["time_to_confirmed_track_s"] = math.nan
        return edges, hits, opps, out
    pos = np.stack([s.position for s in sensors])
    rng = np.linalg.norm(rec.truth_x[:, None, :3] - pos[None, :, :], axis=2)  # [N, S]
    max_r = np.array([s.max_range_m for s in sensors])
    in_cov = rng <= max_r[None, :]
    # A sensor can only ever see what its modality senses: RF direction finders hear
    # emitting targets, Remote ID and ADS-B receivers hear broadcasters; range, line of
    # sight and field of view are left in Pd (they are what a layout buys).
    info = {ti.id: ti for ti in rec.targets}
    serial = np.array([info[t].serial is not None if t in info else False for t in rec.truth_target.tolist()])
    icao = np.array([info[t].icao is not None if t in info else False for t in rec.truth_target.tolist()])
    for s, sensor in enumerate(sensors):
        if sensor.type == "rf":
            in_cov[:, s] &= rec.truth_emitting
        elif sensor.type == "remote_id":
            in_cov[:, s] &= serial
        elif sensor.type == "adsb":
            in_cov[:, s] &= icao
    opp = in_cov & rec.scanned[rec.truth_step]
    # Detected: some row of sensor s at the truth point's step came from that target.
    real = rec.det_source >= 0
    t_max = int(max(int(ids.max(initial=0)), int(rec.det_source.max(initial=0)))) + 1
    det_key = np.unique((rec.det_step[real] * n_s + rec.det_sensor[real]) * t_max + rec.det_source[real])
    truth_key = (rec.truth_step[:, None] * n_s + np.arange(n_s)[None, :]) * t_max + rec.truth_target[:, None]
    detected = np.isin(truth_key, det_key) & opp
    total_opp = int(opp.sum())
    out["pd"] = float(detected.sum() / total_opp) if total_opp else math.nan
    for s, sensor in enumerate(sensors):
        o = int(opp[:, s].sum())
        out[f"pd_sensor.{sensor.id}"] = float(detected[:, s].sum() / o) if o else math.nan
        # Fixed edges (same in every run, so runs add up); far ranges beyond the cap are left
        # out of the curve (an ADS-B receiver's 150 km would squash everyone else's).
        e = np.linspace(0.0, float(min(max_r[s], cfg.pd_range_max_m)), cfg.pd_range_bins + 1)
        b = np.clip(np.searchsorted(e, rng[:, s], side="right") - 1, 0, cfg.pd_range_bins - 1)
        near = rng[:, s] <= e[-1]
        edges[sensor.id] = e
        hits[sensor.id] = np.bincount(b[detected[:, s] & near], minlength=cfg.pd_range_bins).astype(np.int64)
        opps[sensor.id] = np.bincount(b[opp[:, s] & near], minlength=cfg.pd_range_bins).astype(np.int64)
    cls_of = {ti.id: ti.cls for ti in rec.targets}
    row_cls = np.array([cls_of.get(int(t), "unknown") for t in rec.truth_target.tolist()])
    for name in CLASSES:
        sel = row_cls == name
        o = int(opp[sel].sum())
        if o:
            out[f"pd_class.{name}"] = float(detected[sel].sum() / o)
    # Coverage entry: first time any sensor could see the target.
    covered = in_cov.any(axis=1)
    entry = _first_time(rec.times[rec.truth_step[covered]], rec.truth_target[covered], ids)
    out["time_to_first_detection_s"] = _nanmean(np.maximum(first_det - entry, 0.0))
    out["time_to_confirmed_track_s"] = _nanmean(np.maximum(first_track - entry, 0.0))
    return edges, hits, opps, out


def _warning(
    rec: RunRecord, cfg: ScoreConfig, a: Association
) -> tuple[tuple[ThreatOutcome, ...], dict[str, float]]:
    polys = _zone_polys(rec.zones)
    zones = {z.id: z for z in rec.zones}
    protected = [z for z in rec.zones if z.kind == "protected"] or list(rec.zones)
    border = [z for z in rec.zones if z.kind == "border"]
    dt = _step_dt(rec.times)
    # Tracks (and swarm groups) of each target, for alerts.
    tracks_of: dict[int, set[int]] = {}
    for trk, tgt in a.track_of.items():
        tracks_of.setdefault(tgt, set()).add(trk)
    groups_of_track: dict[int, set[int]] = {}
    grouped = rec.track_group >= 0
    for trk, grp in zip(rec.track_id[grouped].tolist(), rec.track_group[grouped].tolist(), strict=True):
        groups_of_track.setdefault(trk, set()).add(grp)
    alert_first: dict[int, float] = {}  # track id -> first alert time
    group_alert_first: dict[int, float] = {}
    for al in rec.alerts:
        if al.track_id >= 0:
            alert_first[al.track_id] = min(alert_first.get(al.track_id, math.inf), al.t)
        if al.group_id >= 0:
            group_alert_first[al.group_id] = min(group_alert_first.get(al.group_id, math.inf), al.t)
    # Without an assessor: first confirmed FPV-class track paired with the target.
    fpv_pair = (rec.track_status[a.track_row] == TrackStatus.CONFIRMED) & (
        np.argmax(rec.track_cls_prob[a.track_row], axis=1) == FPV
    )

    def first_warning(tgt: int) -> float:
        if not rec.assess_ran:
            sel = fpv_pair & (a.target == tgt)
            return float(rec.times[a.step[sel]].min()) if sel.any() else math.nan
        best = math.inf
        for trk in tracks_of.get(tgt, ()):
            best = min(best, alert_first.get(trk, math.inf))
            for grp in groups_of_track.get(trk, ()):
                best = min(best, group_alert_first.get(grp, math.inf))
        return best if math.isfinite(best) else math.nan

    outcomes: list[ThreatOutcome] = []
    inside_by_target: dict[int, tuple[NDArray[np.int64], NDArray[np.bool_]]] = {}
    for ti in rec.targets:
        if ti.role != "threat":
            continue
        rows = np.flatnonzero(rec.truth_target == ti.id)
        if rows.size == 0:
            continue
        x = rec.truth_x[rows]
        goal = [zones[ti.zone]] if ti.zone in zones else protected
        inside = np.zeros(rows.size, dtype=bool)
        dist = np.full(rows.size, np.inf)
        for z in goal:
            inside |= _inside(z, polys[z.id], x)
            dist = np.minimum(dist, shapely.distance(polys[z.id], shapely.points(x[:, :2])))
        inside_by_target[ti.id] = (rec.truth_step[rows], inside)
        t_rows = rec.times[rec.truth_step[rows]]
        entered = bool(inside.any())
        entry_t = float(t_rows[inside].min()) if entered else math.nan
        warn_t = first_warning(ti.id)
        if entered:
            warning = max(entry_t - warn_t, 0.0) if math.isfinite(warn_t) else 0.0
            before = t_rows < entry_t
            ring = before & ~inside & (dist <= cfg.engagement_ring_m)
            window = float(dt[rec.truth_step[rows]][ring].sum())
            after = ring & (t_rows >= warn_t) if math.isfinite(warn_t) else np.zeros_like(ring)
            window_after = float(dt[rec.truth_step[rows]][after].sum())
        else:
            warning = window = window_after = math.nan
        outcomes.append(
            ThreatOutcome(
                ti.id,
                ti.name,
                ti.behaviour,
                ti.cls,
                ti.group,
                entered,
                entry_t,
                warn_t,
                warning,
                window,
                window_after,
            )
        )
    m: dict[str, float] = {}
    entered_o = [o for o in outcomes if o.entered]
    m["threats"] = float(len(outcomes))
    m["threats_entered"] = float(len(entered_o))
    m["warning_time_s"] = _nanmean([o.warning_s for o in entered_o])
    m["warning_share_min"] = (
        float(np.mean([o.warning_s >= cfg.min_warning_s for o in entered_o])) if entered_o else math.nan
    )
    m["threats_warned_share"] = (
        float(
            np.mean([math.isfinite(o.first_warning_t) and o.first_warning_t <= o.entry_t for o in entered_o])
        )
        if entered_o
        else math.nan
    )
    m["engagement_window_s"] = _nanmean([o.engagement_window_s for o in entered_o])
    m["engagement_after_warning_s"] = _nanmean([o.engagement_after_warning_s for o in entered_o])
    m.update(_swarms(rec, outcomes, inside_by_target, border, polys))
    m["false_alerts_per_hour"] = _false_alerts(rec, a, groups_of_track)
    return tuple(outcomes), m


def _swarms(
    rec: RunRecord,
    outcomes: list[ThreatOutcome],
    inside_by_target: dict[int, tuple[NDArray[np.int64], NDArray[np.bool_]]],
    border: list[Zone],
    polys: dict[str, Any],
) -> dict[str, float]:
    groups: dict[int, list[ThreatOutcome]] = {}
    for o in outcomes:
        if o.group is not None:
            groups.setdefault(o.group, []).append(o)
    if not groups:
        return {
            "swarm_first_member_s": math.nan,
            "swarm_saturation": math.nan,
            "swarm_saturation_share": math.nan,
        }
    first_member = []
    saturation = []
    share = []
    for members in groups.values():
        warn = min((o.first_warning_t for o in members if math.isfinite(o.first_warning_t)), default=math.nan)
        # Time the group's first member reaches the border line (or its zone, with no border).
        cross = math.inf
        for o in members:
            rows = np.flatnonzero(rec.truth_target == o.target)
            t_rows = rec.times[rec.truth_step[rows]]
            if border:
                hit = np.zeros(rows.size, dtype=bool)
                for z in border:
                    hit |= _inside(z, polys[z.id], rec.truth_x[rows])
                if hit.any():
                    cross = min(cross, float(t_rows[hit].min()))
            elif o.entered:
                cross = min(cross, o.entry_t)
        if math.isfinite(cross):
            first_member.append(max(cross - warn, 0.0) if math.isfinite(warn) else 0.0)
        per_step = np.zeros(rec.n_steps, dtype=np.int64)
        for o in members:
            steps, inside = inside_by_target.get(o.target, (np.zeros(0, np.int64), np.zeros(0, bool)))
            np.add.at(per_step, steps[inside], 1)
        saturation.append(float(per_step.max(initial=0)))
        share.append(float(per_step.max(initial=0)) / len(members))
    return {
        "swarm_first_member_s": _nanmean(first_member),
        "swarm_saturation": float(np.mean(saturation)),
        "swarm_saturation_share": float(np.mean(share)),
    }


def _false_alerts(rec: RunRecord, a: Association, groups_of_track: dict[int, set[int]]) -> float:
    threat_ids = {ti.id for ti in rec.targets if ti.role == "threat"}
    true_groups: set[int] = set()
    for trk, grps in groups_of_track.items():
        if a.track_of.get(trk) in threat_ids:
            true_groups |= grps
    seen: set[str] = set()
    false = 0
    for al in rec.alerts:
        if al.id in seen:
            continue
        seen.add(al.id)
        of_threat = a.track_of.get(al.track_id) in threat_ids if al.track_id >= 0 else False
        if al.group_id >= 0 and al.group_id in true_groups:
            of_threat = True
        false += not of_threat
    duration = float(rec.times[-1] - rec.times[0]) + float(_step_dt(rec.times)[-1]) if rec.n_steps else 0.0
    if not rec.assess_ran:
        return math.nan
    return false / (duration / 3600.0) if duration > 0 else math.nan


def _classification(
    rec: RunRecord, cfg: ScoreConfig, a: Association
) -> tuple[NDArray[np.int64], dict[str, float]]:
    confusion = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
    scored = _scored(rec)
    cls_of = {ti.id: CLASSES.index(ti.cls) if ti.cls in CLASSES else N_CLASSES - 1 for ti in rec.targets}
    for trk, tgt in a.track_of.items():
        rows = np.flatnonzero(scored & (rec.track_id == trk))
        if rows.size == 0 or tgt not in cls_of:
            continue
        last = rows[-1]  # the track's final class
        confusion[cls_of[tgt], int(np.argmax(rec.track_cls_prob[last]))] += 1
    m: dict[str, float] = {"macro_f1": macro_f1(confusion)}
    total = confusion.sum()
    m["class_accuracy"] = float(np.trace(confusion) / total) if total else math.nan
    # RF-silent: recall on fiber (or flagged rf_silent) FPVs, false-flag rate on the other FPVs.
    silent = {
        ti.id for ti in rec.targets if ti.cls == "fpv" and (ti.link == "fiber" or "rf_silent" in ti.flags)
    }
    loud = {ti.id for ti in rec.targets if ti.cls == "fpv"} - silent
    flagged = set(a.target[rec.track_rf_silent[a.track_row] >= cfg.rf_silent_threshold].tolist())
    tracked = set(a.target.tolist())
    m["rf_silent_recall"] = len(silent & flagged) / len(silent) if silent else math.nan
    m["rf_silent_false_rate"] = len(loud & flagged) / len(loud & tracked) if loud & tracked else math.nan
    m["swarm_grouping_accuracy"] = _grouping(rec, a)
    return confusion, m


def _grouping(rec: RunRecord, a: Association) -> float:
    """Pairwise agreement, over steps, between truth swarm membership and track group ids,
    on pairs of tracked targets where either side says "swarm"."""
    group_of = {ti.id: -1 if ti.group is None else ti.group for ti in rec.targets}
    if all(g < 0 for g in group_of.values()):
        return math.nan
    agree = 0
    pairs = 0
    bounds = np.searchsorted(a.step, np.arange(rec.n_steps + 1))
    for k in range(rec.n_steps):
        sl = slice(bounds[k], bounds[k + 1])
        tg = np.array([group_of.get(int(t), -1) for t in a.target[sl].tolist()], dtype=np.int64)
        kg = rec.track_group[a.track_row[sl]]
        if tg.size < 2:
            continue
        iu = np.triu_indices(tg.size, 1)
        same_t = (tg[iu[0]] == tg[iu[1]]) & (tg[iu[0]] >= 0)
        same_k = (kg[iu[0]] == kg[iu[1]]) & (kg[iu[0]] >= 0)
        relevant = (tg[iu[0]] >= 0) | (tg[iu[1]] >= 0) | (kg[iu[0]] >= 0) | (kg[iu[1]] >= 0)
        agree += int((same_t == same_k)[relevant].sum())
        pairs += int(relevant.sum())
    return agree / pairs if pairs else math.nan
