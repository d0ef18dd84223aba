"""The tracker: takes sensor batches in time order, returns every live track.

Track state is struct-of-arrays (``x``, ``P`` per IMM mode, counters, identity, the time
each sensor last saw each track), never a Python object per track. One step per
(sensor, time) batch: predict all tracks, gate, assign (GNN or JPDA), update, start new
tracks (one-point, or triangulated bearings), then confirm (M of N), coast and delete.
Batches wait in a small heap for ``latency_s`` so late arrivals within the window are
processed in time order; anything older than what was already processed is counted and
dropped, exact duplicates are ignored.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyfence.geo import Site
from skyfence.model._arrays import frozen_attrs
from skyfence.model.classes import N_CLASSES
from skyfence.model.detections import Detections, invalid_rows
from skyfence.model.sensors import Sensor, SensorRegistry
from skyfence.model.terrain import Terrain
from skyfence.model.tracks import Tracks, TrackStatus
from skyfence.model.zone import Zone
from skyfence.track.admit import has_repeat, quick_check
from skyfence.track.assign import gnn, jpda
from skyfence.track.columns import TrackColumns, manage_rows
from skyfence.track.config import InvalidDetectionError, TrackerConfig, UnknownSensorError
from skyfence.track.filters import combine, mixture_update, predict
from skyfence.track.gate import DENSE_PAIRS_LINEAR, gate, gate_threshold
from skyfence.track.initiate import BearingPool, apparent_size_ranges, point_states, triangulate
from skyfence.track.linear_gnn import linear_gnn_step
from skyfence.track.motion import mode_count, mode_matrices, mode_transition
from skyfence.track.view import AssocBatch, Inference, InferResult, TrackView, uniform_result

__all__ = ["MISS_SENSOR_TYPES", "Tracker", "TrackerStats"]

#: Sensor types that see every target in range, so silence from them counts as a miss.
#: RF, Remote ID and ADS-B only hear cooperative or emitting targets.
MISS_SENSOR_TYPES = frozenset({"radar", "position", "eo", "ir", "acoustic"})

_TENTATIVE = np.int8(TrackStatus.TENTATIVE)
_CONFIRMED = np.int8(TrackStatus.CONFIRMED)
_COASTING = np.int8(TrackStatus.COASTING)


@dataclass(slots=True)
class TrackerStats:
    """Counters since the tracker was made."""

    detections: int = 0
    dropped_late: int = 0
    duplicates: int = 0
    invalid: int = 0
    out_of_band: int = 0
    tracks_started: int = 0
    tracks_deleted: int = 0


@dataclass(frozen=True, slots=True)
class _SensorInfo:
    index: int
    position: NDArray[np.float64]
    max_range: float
    counts_misses: bool
    #: A camera's instantaneous field of view (rad per pixel), NaN for other sensors.
    ifov: float = math.nan


def _camera_ifov(s: Sensor) -> float:
    """Radians per pixel of a camera whose params give ``hfov_deg`` and ``pixels_h``."""
    try:
        hfov, px = float(s.params["hfov_deg"]), float(s.params["pixels_h"])
    except (KeyError, TypeError, ValueError):
        return math.nan
    return math.radians(hfov) / px if hfov > 0 and px > 0 else math.nan


def _identity_of(det: Detections) -> NDArray[np.str_] | None:
    """Hard identity per row: Remote ID serial or ADS-B ICAO ("" where absent)."""
    for key in ("serial", "icao"):
        col = det.attrs.get(key)
        if col is not None:
            vals = np.asarray(col)
            if vals.dtype.kind not in "US":
                vals = np.array(["" if v is None else str(v) for v in vals.tolist()], dtype=str)
            return vals.astype(str)
    return None


def _frozen(a: NDArray[Any], dtype: Any) -> NDArray[Any]:
    if a.dtype == dtype and a.flags.owndata and not a.flags.writeable:
        return a  # already a read-only array of its own: nobody can change it
    out = a.copy() if a.dtype == dtype else np.array(a, dtype=dtype)
    out.flags.writeable = False
    return out


_UNIFORM: dict[int, InferResult] = {}


def _uniform(n: int) -> InferResult:
    """Uniform classes and no flags for ``n`` tracks: read-only, so shared between
    snapshots of the same size."""
    res = _UNIFORM.get(n)
    if res is None:
        res = uniform_result(n)
        for arr in (res.cls_prob, res.rf_silent, res.relay, res.relay_id, res.group_id):
            arr.flags.writeable = False
        if len(_UNIFORM) > 256:
            _UNIFORM.clear()
        _UNIFORM[n] = res
    return res


def _ro(a: NDArray[Any]) -> NDArray[Any]:
    """A read-only copy of (live rows of) a state column."""
    out = a.copy()
    out.flags.writeable = False
    return out


def _kernel_input(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """``a`` as the compiled kernels take their inputs: C-contiguous float64, read-only
    (numba compiles one specialisation per layout and mutability)."""
    if a.flags.c_contiguous and not a.flags.writeable and a.dtype == np.float64:
        return a
    return _ro(np.ascontiguousarray(a, dtype=np.float64))


def _make_tracks(
    t: float,
    c: dict[str, NDArray[Any]],
    x: NDArray[np.float64],
    P: NDArray[np.float64],
    names: tuple[str, ...],
    infer: InferResult | None,
    height_observed: NDArray[np.bool_],
) -> Tracks:
    """A :class:`Tracks` from arrays whose shapes the tracker guarantees: the same fields
    ``Tracks.__init__`` fills, without re-validating each one every scan (this runs once
    per update and would otherwise be a sizeable part of a small scan's cost). ``x``,
    ``P``, ``height_observed`` and ``c['identity']`` are already read-only copies; the
    other columns of ``c`` are live state and are copied here."""
    n = x.shape[0]
    attrs: dict[str, NDArray[Any]] = {
        "height_observed": height_observed,
        "rid_pos": _ro(c["rid"]),
        "operator_pos": _ro(c["op"]),
    }
    if infer is None:
        # No inference: uniform classes, no flags, shared read-only arrays.
        infer = _uniform(n)
    else:
        for name, arr, shape in (
            ("cls_prob", infer.cls_prob, (n, N_CLASSES)),
            ("rf_silent", infer.rf_silent, (n,)),
            ("relay", infer.relay, (n,)),
            ("group_id", infer.group_id, (n,)),
            ("relay_id", infer.relay_id, (n,)),
        ):
            if np.shape(arr) != shape:
                raise ValueError(f"inference returned {name} of shape {np.shape(arr)}, expected {shape}")
        if infer.attrs:
            attrs.update(frozen_attrs(infer.attrs, n, "Tracks"))
    tr = object.__new__(Tracks)
    setattr_ = object.__setattr__
    setattr_(tr, "t", float(t))
    setattr_(tr, "id", _ro(c["id"]))
    setattr_(tr, "x", x)
    setattr_(tr, "P", P)
    setattr_(tr, "cls_prob", _frozen(infer.cls_prob, np.float64))
    setattr_(tr, "status", _ro(c["status"]))
    setattr_(tr, "sensors", _ro(c["mask"]))
    setattr_(tr, "sensor_names", names)
    setattr_(tr, "rf_silent", _frozen(infer.rf_silent, np.float64))
    setattr_(tr, "relay", _frozen(infer.relay, np.bool_))
    setattr_(tr, "spoofed", _ro(c["spoof"]))
    setattr_(tr, "identity", c["identity"])
    setattr_(tr, "group_id", _frozen(infer.group_id, np.int64))
    setattr_(tr, "relay_id", _frozen(infer.relay_id, np.int64))
    setattr_(tr, "attrs", attrs)
    return tr


class Tracker:
    """Multi-sensor multi-target tracker.

    >>> tracker = Tracker(TrackerConfig(), sensors)          # doctest: +SKIP
    >>> for batch in batches:                                # doctest: +SKIP
    ...     tracks = tracker.update(batch)

    ``inference`` replaces the default ``skyfence.track.infer.TrackInference`` (anything
    with ``update(view) -> InferResult``); ``zones`` (border lines for relay recognition)
    and ``terrain`` (RF line of sight, heights above ground) are passed to the default.
    """

    def __init__(
        self,
        config: TrackerConfig | None = None,
        sensors: SensorRegistry | None = None,
        *,
        inference: Inference | None = None,
        zones: Sequence[Zone] | None = None,
        terrain: Terrain | None = None,
    ) -> None:
        self.config = config if config is not None else TrackerConfig()
        self.sensors = sensors
        self.terrain = terrain
        self.stats = TrackerStats()
        self._M = mode_count(self.config.motion)
        mu0 = np.ones(self._M) if self._M == 1 else np.array([0.7, 0.1, 0.1, 0.1])
        status0 = _CONFIRMED if self.config.management.confirm_m <= 1 else _TENTATIVE
        self._store = TrackColumns(self._M, 0, mu0, int(status0))
        self._names: list[str] = []
        self._info: dict[str, _SensorInfo] = {}
        self._auto: list[Sensor] = []
        if sensors is not None:
            for s in sensors:
                self._register(s)
        self._t = -math.inf
        self._newest = -math.inf
        self._next_id = 1
        self._heap: list[tuple[float, int, Detections]] = []
        self._seq = 0
        self._seen_t = -math.inf
        self._seen: dict[str, list[NDArray[np.float64]]] = {}
        self._pool = BearingPool.empty()
        self._assoc: list[tuple[str, NDArray[np.int64], Detections]] = []
        self._dirty = True
        self._last: Tracks | None = None
        self._no_q = _ro(np.zeros((6, 6)))
        #: Compiled whole-step paths where a batch allows one (tests turn them off to
        #: compare with the general step).
        self._fast_paths = True
        mc = self.config.management
        self._manage_args = (
            mc.confirm_m,
            mc.confirm_n,
            mc.delete_misses,
            mc.min_coast_s,
            mc.max_coast_s,
            mc.max_position_sigma_m**2,
            mc.floor_m,
            mc.ceiling_m,
        )
        self._motion_dt = math.nan
        self._motion: tuple[NDArray[np.float64], ...] = ()
        self._infer: Inference | None = inference
        if inference is None and self.config.run_inference:
            try:
                from skyfence.track.infer import TrackInference
            except ImportError:  # a build without track inference: uniform classes
                self._infer = None
            else:
                self._infer = TrackInference(self.config.infer, sensors, zones=zones, terrain=terrain)

    # -- public surface -------------------------------------------------------------

    @property
    def t(self) -> float:
        """Time of the last processed batch (``-inf`` before the first)."""
        return self._t

    def __len__(self) -> int:
        return self._store.n

    def update(self, detections: Detections | Sequence[Detections]) -> Tracks:
        """Take one or more batches; return every live track at the latest processed time."""
        batches = [detections] if isinstance(detections, Detections) else list(detections)
        for b in batches:
            self._admit(b)
        self._release(self._newest - self.config.latency_s)
        return self._snapshot()

    def flush(self) -> Tracks:
        """Process everything still waiting in the latency window."""
        self._release(math.inf)
        return self._snapshot()

    # -- sensors --------------------------------------------------------------------

    def _register(self, s: Sensor) -> _SensorInfo:
        counts = s.params.get("counts_misses")
        info = _SensorInfo(
            len(self._names),
            _ro(np.ascontiguousarray(s.position, dtype=np.float64)),
            float(s.max_range_m),
            bool(counts) if counts is not None else s.type in MISS_SENSOR_TYPES,
            _camera_ifov(s) if s.kind == "bearing" else math.nan,
        )
        self._names.append(s.id)
        self._info[s.id] = info
        self._store.add_sensor()
        return info

    def _sensor(self, det: Detections) -> _SensorInfo | None:
        info = self._info.get(det.sensor_id)
        if info is not None:
            return info
        t0 = float(det.t[0])
        if self.sensors is not None:
            msg = (
                f"sensor {det.sensor_id!r} at t={t0!r}: not in the sensor registry "
                f"(known: {', '.join(self._names) or 'none'})"
            )
        elif det.kind in ("polar", "bearing"):
            msg = (
                f"sensor {det.sensor_id!r} at t={t0!r}: {det.kind} detections need the sensor's "
                "position; pass a SensorRegistry"
            )
        else:
            # Position reports carry their own frame: accept an unregistered sensor.
            s = Sensor(
                det.sensor_id, "position", det.kind, np.zeros(3), 1.0, math.inf, {"counts_misses": True}
            )
            self._auto.append(s)
            return self._register(s)
        if self.config.skip_invalid:
            return None
        raise UnknownSensorError(msg)

    def _registry(self) -> SensorRegistry:
        if self.sensors is not None and not self._auto:
            return self.sensors
        site = self.sensors.site if self.sensors is not None else Site(0.0, 0.0)
        base = tuple(self.sensors) if self.sensors is not None else ()
        return SensorRegistry(site, (*base, *self._auto))

    # -- admission and release --------------------------------------------------------

    def _admit(self, det: Detections) -> None:
        if len(det) == 0:
            return
        if self._sensor(det) is None:
            self.stats.invalid += len(det)
            return
        ok, lo, hi = quick_check(det.t, det.z, det.R)
        if ok:
            bad = None
        else:
            bad, reasons = invalid_rows(det)
            if not bad.any():
                bad = None
                lo, hi = float(det.t.min()), float(det.t.max())
        if bad is not None:
            if not self.config.skip_invalid:
                more = f" (and {int(bad.sum()) - 1} more rows)" if bad.sum() > 1 else ""
                raise InvalidDetectionError(reasons[0] + more)
            self.stats.invalid += int(bad.sum())
            det = det.take(~bad)
            if len(det) == 0:
                return
            lo, hi = float(det.t.min()), float(det.t.max())
        t = det.t
        if lo == hi:
            parts = [det]
        else:
            parts = [det.take(t == u) for u in np.unique(t)]
        for p in parts:
            heapq.heappush(self._heap, (float(p.t[0]), self._seq, p))
            self._seq += 1
        self._newest = max(self._newest, hi)

    def _release(self, cutoff: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= cutoff:
            _, _, det = heapq.heappop(heap)
            self._step(det)

    def _dedupe(self, det: Detections, t: float) -> Detections:
        """Drop rows equal (same sensor, t, z) to one already taken at this time."""
        z = det.z
        k = len(det)
        if t != self._seen_t:
            self._seen_t = t
            self._seen = {}
        prior = self._seen.get(det.sensor_id)
        # Rows can only repeat if some first coordinate does (cheap test, the usual case).
        if (k > 1 and has_repeat(z[:, 0])) or prior:
            keep = np.ones(k, dtype=bool)
            if k > 1:
                order = np.lexsort(z.T[::-1])
                zs = z[order]
                same = np.all(zs[1:] == zs[:-1], axis=1)
                keep[order[1:][same]] = False
            if prior:
                old = np.concatenate(prior)
                if old.shape[1] == z.shape[1]:
                    hit = (z[:, None, :] == old[None, :, :]).all(axis=2).any(axis=1)
                    keep &= ~hit
            n_dup = int(k - keep.sum())
            if n_dup:
                self.stats.duplicates += n_dup
                det = det.take(keep)
        self._seen.setdefault(det.sensor_id, []).append(det.z)
        return det

    # -- state columns ----------------------------------------------------------------

    def _append(
        self,
        x: NDArray[np.float64],
        P: NDArray[np.float64],
        t: float,
        sensor: _SensorInfo,
        identity: NDArray[np.str_] | None,
        cls_lik: NDArray[np.float64] | None,
    ) -> NDArray[np.int64]:
        """Start ``len(x)`` tracks; the store's spare rows already hold every other
        starting value (status, mode probabilities, counters, no identity)."""
        k = x.shape[0]
        ids = np.arange(self._next_id, self._next_id + k, dtype=np.int64)
        self._next_id += k
        store = self._store
        store.reserve(k)
        b, lo = store.buf, store.n
        hi = lo + k
        b["id"][lo:hi] = ids
        b["xm"][lo:hi] = x[:, None, :]
        b["Pm"][lo:hi] = P[:, None, :, :]
        b["born"][lo:hi] = t
        b["last"][lo:hi] = t
        b["seen"][lo:hi, sensor.index] = t
        b["mask"][lo:hi] = np.uint64(1) << np.uint64(sensor.index)
        if identity is not None:
            b["ident"][lo:hi] = [store.code(s) if s else 0 for s in identity.tolist()]
        if cls_lik is not None:
            b["cls_lik"][lo:hi] = cls_lik
        store.n = hi
        self.stats.tracks_started += k
        return ids

    def _combined(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        c = self._store.view()
        if self._M == 1:
            return c["xm"][:, 0], c["Pm"][:, 0]
        return combine(c["xm"], c["Pm"], c["mu"])

    # -- one batch --------------------------------------------------------------------

    def _step(self, det: Detections) -> None:
        t = float(det.t[0])
        if t < self._t:
            self.stats.dropped_late += len(det)
            return
        det = self._dedupe(det, t)
        if len(det) == 0:
            return
        sensor = self._info[det.sensor_id]
        det = self._inside_band(det, sensor)
        if len(det) == 0:
            return
        self.stats.detections += len(det)
        self._dirty = True
        cfg = self.config
        identity = _identity_of(det)
        if (
            self._fast_paths
            and self._M == 1
            and det.kind == "position"
            and cfg.association.method == "gnn"
            and identity is None
            and det.cls_lik is None
            and det.dim in (2, 3)
        ):
            self._step_linear_gnn(det, sensor, t)
            return
        store = self._store
        c = store.view()
        n = store.n
        if n and t > self._t:
            F, Q, Pi = self._motion_for(t - self._t)
            xm, Pm, mu = predict(c["xm"], c["Pm"], c["mu"], F, Q, Pi)
            store.store("xm", xm)
            store.store("Pm", Pm)
            store.store("mu", mu)
        self._t = t

        k = len(det)
        spos = sensor.position
        det_track = np.full(k, -1, dtype=np.int64)  # row per detection (this step)
        pair_t: list[NDArray[np.int64]] = []
        pair_d: list[NDArray[np.int64]] = []
        pair_b: list[NDArray[np.float64]] = []
        beta0 = np.ones(n)
        free_det = np.ones(k, dtype=bool)
        free_trk = np.ones(n, dtype=bool)

        # Hard identity first: a known serial / ICAO goes to its own track.
        if identity is not None and n:
            known = {code: i for i, code in enumerate(c["ident"].tolist()) if code}
            codes = store.codes
            rows = np.array(
                [known.get(codes.get(s, -1), -1) if s else -1 for s in identity.tolist()], dtype=np.int64
            )
            forced = np.flatnonzero(rows >= 0)
            if forced.size:
                # One detection per track and step: keep the first of repeated serials.
                _, first = np.unique(rows[forced], return_index=True)
                forced = forced[first]
                pair_t.append(rows[forced])
                pair_d.append(forced)
                pair_b.append(np.ones(forced.size))
                beta0[rows[forced]] = 0.0
                det_track[forced] = rows[forced]
                free_det[rows >= 0] = False
                free_trk[rows[forced]] = False

        if n and free_det.any():
            x, P = self._combined()
            acfg = cfg.association
            # Firm tracks choose first; tentative ones only get what is left (as Stone
            # Soup's initiator does), so a diffuse new track cannot steal a detection
            # from an established one just because its gate is wider.
            reach = free_trk
            if math.isfinite(sensor.max_range):
                # Beyond its range (plus the track's own spread) a sensor cannot have
                # seen the track: no need to gate it (wide bearing gates shrink most).
                spread = 3.0 * np.sqrt(P[:, 0, 0] + P[:, 1, 1] + P[:, 2, 2])
                dist = np.sqrt(((x[:, :3] - spos) ** 2).sum(axis=1))
                reach = free_trk & (dist <= sensor.max_range + spread)
            rows = np.flatnonzero(reach)
            sub = np.flatnonzero(free_det)
            d_sub = det if sub.size == k else det.take(sub)
            whole = rows.size == n
            g = gate(
                x if whole else x[rows],
                P if whole else P[rows],
                d_sub,
                spos,
                acfg.gate_probability,
                acfg.nonlinear,
                acfg.max_gate_m,
                cfg.management.unobserved_height_var,
                with_loglik=acfg.method == "jpda",
            )
            ti, dj = rows[g.track], sub[g.det]
            d2, ll = g.d2, g.loglik
            if identity is not None and ti.size:
                ok = (c["ident"][ti] == 0) | (identity[dj] == "")
                ti, dj, d2, ll = ti[ok], dj[ok], d2[ok], ll[ok]
            tentative = c["status"][ti] == _TENTATIVE
            for stage in (~tentative, tentative):
                stage = stage & free_det[dj]
                if not stage.any():
                    continue
                st, sd = ti[stage], dj[stage]
                if acfg.method == "gnn":
                    thr = gate_threshold(acfg.gate_probability, det.dim)
                    at, ad = gnn(st, sd, d2[stage], n, k, thr + 1e-9)
                    pair_t.append(at)
                    pair_d.append(ad)
                    pair_b.append(np.ones(at.size))
                    beta0[at] = 0.0
                    det_track[ad] = at
                    free_det[ad] = False
                else:
                    b, b0 = jpda(st, sd, ll[stage], n, k, acfg.pd, acfg.clutter_density)
                    pair_t.append(st)
                    pair_d.append(sd)
                    pair_b.append(b)
                    beta0 = np.minimum(beta0, b0)
                    free_det[sd] = False
                    # For the record and class evidence: each detection's most likely track.
                    order = np.lexsort((-b, sd))
                    first = np.r_[True, sd[order][1:] != sd[order][:-1]]
                    det_track[sd[order][first]] = st[order][first]

        tr = np.concatenate(pair_t) if pair_t else np.zeros(0, np.int64)
        dr = np.concatenate(pair_d) if pair_d else np.zeros(0, np.int64)
        br = np.concatenate(pair_b) if pair_b else np.zeros(0)
        if tr.size:
            xm, Pm, mu = mixture_update(
                c["xm"],
                c["Pm"],
                c["mu"],
                tr,
                det.z[dr],
                det.R[dr],
                br,
                beta0,
                det.kind,
                spos,
                cfg.association.nonlinear,
                one_to_one=cfg.association.method == "gnn",
            )
            store.store("xm", xm)
            store.store("Pm", Pm)
            store.store("mu", mu)
            free_det[dr] = False
        hit = np.zeros(n, dtype=bool)
        hit[tr] = True
        if cfg.association.method == "jpda":
            # In clutter every gate holds something: count a hit only where a detection
            # more likely came from the track than not, so M-of-N still measures quality.
            hit &= beta0 < 0.5
        weak = np.zeros(n, dtype=bool)
        if det.kind == "bearing" and tr.size:
            # A bearing far wider than a tentative track's own spread could not have told
            # it from its neighbours: it updates the track but is no evidence that the
            # track is real (radar clutter would otherwise confirm on RF bearings).
            rows = np.unique(tr[c["status"][tr] == _TENTATIVE])
            if rows.size:
                xc, Pc = self._combined()
                rng_h = np.hypot(xc[rows, 0] - spos[0], xc[rows, 1] - spos[1])
                cross = rng_h * np.sqrt(det.R[:, 0, 0].min())
                spread = np.sqrt(Pc[rows, 0, 0] + Pc[rows, 1, 1])
                weak[rows[cross > spread]] = True
                hit &= ~weak
        assoc = det_track >= 0
        if assoc.any():
            rows = det_track[assoc]
            c["last"][rows] = t
            c["seen"][rows, sensor.index] = t
            c["mask"][rows] |= np.uint64(1) << np.uint64(sensor.index)
            if det.cls_lik is not None:
                lik = det.cls_lik[assoc]
                np.multiply.at(c["cls_lik"], rows, lik)
            if identity is not None:
                bind = identity[assoc] != ""
                c["ident"][rows[bind]] = [store.code(s) for s in identity[assoc][bind].tolist()]
        # Opportunities: a hit, or silence from a sensor that sees every target it can
        # (not RF / Remote ID / ADS-B) and that has itself seen this track lately. Range,
        # field of view, radar cross-section and terrain all decide what a sensor can
        # see; its own recent detections are the evidence that it can see this one.
        if sensor.counts_misses and n:
            recent = c["seen"][:, sensor.index] >= t - cfg.management.miss_window_s
            if math.isfinite(sensor.max_range):
                x, _ = self._combined()
                recent &= np.sqrt(((x[:, :3] - spos) ** 2).sum(axis=1)) <= sensor.max_range
            opp = (recent | hit) & ~weak
        else:
            opp = hit
        if opp.any():
            h = c["hist"]
            h[opp] = (h[opp] << np.uint64(1)) | hit[opp].astype(np.uint64)
            c["nopp"][opp] += 1
            miss = opp & ~hit
            c["misses"][miss] += 1
            c["misses"][hit] = 0
        ids_out = c["id"][det_track] if n else det_track.copy()
        ids_out[det_track < 0] = -1

        # New tracks from what is left.
        left = np.flatnonzero(free_det)
        if left.size:
            if det.kind == "bearing":
                started = self._start_bearings(det, left, sensor, t)
            else:
                x0, P0 = point_states(
                    det.kind,
                    det.z[left],
                    det.R[left],
                    spos,
                    cfg.management.initial_speed_sigma_m_s,
                    cfg.management.unobserved_height_var,
                )
                ident = None if identity is None else identity[left]
                new_lik = None if det.cls_lik is None else det.cls_lik[left]
                started = self._append(x0, P0, t, sensor, ident, new_lik)
            ids_out[left] = started
        self._record(det, ids_out)
        self._manage(t)
        if self._infer is not None:  # only inference reads where detections went
            self._assoc.append((det.sensor_id, ids_out, det))

    def _record(self, det: Detections, ids_out: NDArray[np.int64]) -> None:
        """What this batch says about the tracks it updated or started beyond the state:
        whether their height has been measured, Remote ID broadcast and operator
        positions, spoofing. Heights nobody measured are kept in a plausible band."""
        gives_height = det.dim == 3 if det.kind != "bearing" else det.dim == 2
        if not (gives_height or det.kind in ("bearing", "remote_id")):
            return
        got = ids_out >= 0
        if not got.any():
            return
        c = self._store.view()
        rows = np.searchsorted(c["id"], ids_out[got])  # ids only grow: the id column is sorted
        if gives_height:
            c["hobs"][rows] = True
        elif det.kind == "bearing":
            self._keep_height_plausible(rows[~c["hobs"][rows]])
        if det.kind == "remote_id":
            c["rid"][rows, : det.dim] = det.z[got, :3]
            op = det.attrs.get("operator")
            if op is not None:
                op_arr = np.asarray(op, dtype=np.float64)
                if op_arr.ndim == 2 and op_arr.shape[1] >= 2:
                    c["op"][rows, : min(op_arr.shape[1], 3)] = op_arr[got, :3]
            spoofed = det.attrs.get("spoofed")
            if spoofed is not None:
                # Sticky: once a track's broadcast was found spoofed, its identity is suspect.
                c["spoof"][rows] |= np.asarray(spoofed, dtype=bool)[got]

    def _keep_height_plausible(self, rows: NDArray[np.int64]) -> None:
        """A height no sensor measured (RF azimuths only) is unobservable: keep the mean in
        the configured band above ground, with no vertical velocity, and the variance at
        least ``unobserved_height_var`` (so a radar or camera that does see it at any
        height still gates), instead of letting wrong associations or linearisation
        errors make up a height."""
        if rows.size == 0:
            return
        c = self._store.view()
        m = self.config.management
        lo, hi = m.unobserved_height_band_m
        xm = c["xm"][rows]
        if self.terrain is not None:
            ground = self.terrain.height(xm[:, 0, 0], xm[:, 0, 1])[:, None]
        else:
            ground = np.zeros((rows.size, 1))
        xm[:, :, 2] = np.clip(xm[:, :, 2], ground + lo, ground + hi)
        xm[:, :, 5] = 0.0
        c["xm"][rows] = xm
        Pm = c["Pm"]
        Pm[rows, :, 2, 2] = np.maximum(Pm[rows, :, 2, 2], m.unobserved_height_var)

    def _inside_band(self, det: Detections, sensor: _SensorInfo) -> Detections:
        """Drop 3-D point detections outside the surveillance height band (radar clutter
        at aircraft heights, garbage fixes) unless they carry an identity (ADS-B)."""
        if det.dim < 3 or det.kind == "bearing" or _identity_of(det) is not None:
            return det
        m = self.config.management
        if det.kind == "polar":
            height = sensor.position[2] + det.z[:, 0] * np.sin(det.z[:, 2])
        else:
            height = det.z[:, 2]
        inside = (height >= m.floor_m) & (height <= m.ceiling_m)
        if inside.all():
            return det
        self.stats.out_of_band += int((~inside).sum())
        return det.take(inside)

    def _start_bearings(
        self, det: Detections, left: NDArray[np.int64], sensor: _SensorInfo, t: float
    ) -> NDArray[np.int64]:
        """Triangulate fresh bearings with pooled ones of other sensors; the rest wait."""
        m = self.config.management
        part = det.take(left)
        ranges = None
        pixels = part.attrs.get("pixels")
        if pixels is not None and math.isfinite(sensor.ifov) and m.camera_size_m is not None:
            # A camera's bearing: how far the object can be, from how big it looks.
            ranges = apparent_size_ranges(np.asarray(pixels, dtype=np.float64), sensor.ifov, m.camera_size_m)
        new = BearingPool.from_detections(part, sensor.index, sensor.position, sensor.max_range, ranges)
        pool = self._pool
        if len(pool):
            pool = pool.take(pool.t >= t - m.triangulation_window_s)
        tri = triangulate(
            new,
            pool,
            m.triangulation_window_s,
            m.triangulation_min_angle_deg,
            gate_threshold(self.config.association.gate_probability, 1),
            m.initial_speed_sigma_m_s,
            m.default_height_m,
            m.unobserved_height_var,
            ceiling=m.ceiling_m,
        )
        out = np.full(left.size, -1, dtype=np.int64)
        if tri.new.size:
            lik = None if part.cls_lik is None else part.cls_lik[tri.new]
            ids = self._append(tri.x, tri.P, t, sensor, None, lik)
            out[tri.new] = ids
            # The partner bearing's sensor saw it too.
            other = pool.sensor[tri.old]
            rows = np.arange(len(self) - ids.size, len(self))
            c = self._store.view()
            c["seen"][rows, other] = pool.t[tri.old]
            # An elevation of either bearing measured the height.
            c["hobs"][rows] = np.isfinite(pool.el[tri.old]) | (part.dim == 2)
            c["mask"][rows] |= np.uint64(1) << other.astype(np.uint64)
            keep_old = np.ones(len(pool), dtype=bool)
            keep_old[tri.old] = False
            pool = pool.take(keep_old)
        rest = np.ones(left.size, dtype=bool)
        rest[tri.new] = False
        self._pool = BearingPool.concat(pool, new.take(rest))
        return out

    def _manage(self, t: float) -> None:
        """M-of-N confirmation, coasting and deletion (one compiled pass, then compaction)."""
        store = self._store
        n = store.n
        if n == 0:
            return
        b = store.buf
        keep = np.empty(n, dtype=bool)
        dropped = manage_rows(
            n,
            t,
            b["status"],
            b["last"],
            b["hist"],
            b["nopp"],
            b["misses"],
            b["xm"],
            b["Pm"],
            b["ident"],
            *self._manage_args,
            keep,
        )
        if dropped:
            self.stats.tracks_deleted += store.compact(keep)

    def _motion_for(self, dt: float) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """``F``, ``Q``, ``Pi`` of a step of ``dt`` seconds (kept while steps repeat)."""
        if self._motion_dt != dt:
            cfg = self.config.motion
            # Read-only, as every input of the compiled kernels (one specialisation each).
            self._motion = tuple(_ro(a) for a in (*mode_matrices(dt, cfg), mode_transition(dt, cfg)))
            self._motion_dt = dt
        F, Q, Pi = self._motion
        return F, Q, Pi

    def _step_linear_gnn(self, det: Detections, sensor: _SensorInfo, t: float) -> None:
        """Point detections, single-mode tracks, GNN: the whole step in one compiled pass
        (:mod:`skyfence.track.linear_gnn`), which does what the general step does."""
        store = self._store
        k = len(det)
        store.reserve(k)
        n = store.n
        dt = t - self._t if n and t > self._t else 0.0
        Q = self._motion_for(dt)[1][0] if dt > 0.0 else self._no_q
        acfg = self.config.association
        m = self.config.management
        total, started, dropped, ids_out = linear_gnn_step(
            _kernel_input(det.z),
            _kernel_input(det.R),
            t,
            dt,
            Q,
            sensor.position,
            sensor.max_range,
            sensor.index,
            sensor.counts_misses,
            gate_threshold(acfg.gate_probability, det.dim),
            DENSE_PAIRS_LINEAR,
            acfg.max_gate_m,
            m.miss_window_s,
            m.initial_speed_sigma_m_s**2,
            m.unobserved_height_var,
            self._next_id,
            *(self._manage_args + (n,) + store.arrays()),
            store.mu0,
            store.status0,
        )
        store.n = total
        self._t = t
        self._next_id += started
        self.stats.tracks_started += started
        self.stats.tracks_deleted += dropped
        if self._infer is not None:  # only inference reads where detections went
            self._assoc.append((det.sensor_id, ids_out, det))

    # -- output -----------------------------------------------------------------------

    def _snapshot(self) -> Tracks:
        if not self._dirty and self._last is not None:
            return self._last
        store = self._store
        n = store.n
        b = store.buf
        if self._M == 1:
            x, P = _ro(b["xm"][:n, 0]), _ro(b["Pm"][:n, 0])
        else:
            xc, Pc = combine(b["xm"][:n], b["Pm"][:n], b["mu"][:n])
            x, P = _frozen(xc, np.float64), _frozen(Pc, np.float64)
        identity = store.identity_strings(b["ident"][:n])
        identity.flags.writeable = False
        c = {key: b[key][:n] for key in ("id", "status", "mask", "spoof", "rid", "op")}
        c["identity"] = identity
        # Measured by some sensor, and still known well enough to be worth reading.
        sd_max = self.config.management.height_observed_sigma_m
        height_observed = b["hobs"][:n] & (P[:, 2, 2] <= sd_max * sd_max)
        height_observed.flags.writeable = False
        infer: InferResult | None = None
        if self._infer is not None:
            registry = self._registry()
            live = c["id"]  # ids only grow, and deletion keeps order: sorted
            assoc = []
            for sid, ids, det in self._assoc:
                pos = np.minimum(np.searchsorted(live, ids), max(n - 1, 0))
                found = (ids >= 0) & (n > 0) & (live[pos] == ids) if n else np.zeros(ids.size, bool)
                assoc.append(AssocBatch(sid, np.where(found, pos, -1).astype(np.int64), det))
            # Copies, read-only: inference may keep the view while the state moves on.
            view = TrackView(
                t=self._t,
                ids=_ro(c["id"]),
                x=x,
                P=P,
                status=_ro(c["status"]),
                age_s=_frozen(self._t - b["born"][:n], np.float64),
                last_update_t=_ro(b["last"][:n]),
                last_seen_by=_ro(b["seen"][:n]),
                sensors=registry,
                cls_lik=_ro(b["cls_lik"][:n]),
                identity=identity,
                assoc=tuple(assoc),
                height_observed=height_observed,
                spoofed=_ro(c["spoof"]),
                rid_pos=_ro(c["rid"]),
                operator_pos=_ro(c["op"]),
            )
            infer = self._infer.update(view)
        b["cls_lik"][:n] = 1.0  # class evidence is per update: inference has taken it
        self._assoc = []
        tracks = _make_tracks(
            self._t if math.isfinite(self._t) else 0.0, c, x, P, tuple(self._names), infer, height_observed
        )
        self._dirty = False
        self._last = tracks
        return tracks
