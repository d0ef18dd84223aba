"""RF-silent inference: is an FPV-like track flying without any radio link (fiber-optic
or autonomous)?

For each confirmed track inside the coverage of RF sensors (range from the sensor's
``max_range_m``, masked by terrain line of sight when terrain is given), every scan of a
covering sensor that associates no emission to it is evidence: if the track radiates,
the scan missed it with probability ``1 - pd``. The log likelihood ratio ``Λ`` of "it
radiates nothing" sums ``-log(1 - pd)`` over those scans and returns to 0 the moment an
emission is associated with confidence ``emission_sure`` (a bearing that another track on
the same line explains as well only lowers it by ``-log(1 - q)``).

Each class radiates with prior probability ``emitter_prob`` (an FPV unless it is fiber
guided, never a bird). The class posterior ``p(c)`` from :mod:`classify` becomes a joint
posterior over (class, radiates): ``p(c) (1 - e_c)`` silent, ``p(c) e_c exp(-Λ)``
radiating. So a long silence in coverage makes a kinematically ambiguous track a bird
rather than a drone, and ``rf_silent`` is the probability of "an FPV that radiates
nothing", reported once the track has been silent in coverage for ``min_silent_s``.
Tracks never inside coverage keep ``Λ = 0`` and ``rf_silent = 0``: no evidence either way.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from skyfence._jit import kernel
from skyfence.model.classes import TargetClass
from skyfence.model.sensors import SensorRegistry
from skyfence.model.tracks import TrackStatus
from skyfence.track.infer._state import TrackState
from skyfence.track.infer.config import RfSilentConfig
from skyfence.track.infer.evidence import StepEvidence

if TYPE_CHECKING:
    # Only for types: terrain objects come from the caller.
    from skyfence.model.terrain import Horizon, Terrain

__all__ = ["RfCoverage", "RfSilence"]


class RfCoverage:
    """Where the registry's RF sensors can hear a target (vectorised over tracks)."""

    def __init__(self, config: RfSilentConfig, sensors: SensorRegistry | None) -> None:
        rf = [s for s in sensors if s.type == "rf"] if sensors is not None else []
        self.position = np.array([s.position for s in rf], dtype=np.float64).reshape(-1, 3)
        self.range_m = np.array([s.max_range_m * config.coverage_fraction for s in rf], dtype=np.float64)
        self.rate_hz = np.array(
            [s.rate_hz if s.rate_hz > 0 else config.default_rate_hz for s in rf], dtype=np.float64
        )
        pd = []
        for s in rf:
            raw = s.params.get("pd")
            pd.append(
                float(raw) * config.pd_scale
                if isinstance(raw, (int, float)) and 0 < raw < 1
                else config.pd_per_scan
            )
        self.pd = np.clip(np.array(pd, dtype=np.float64), 1e-6, 0.999)
        #: per sensor: expected scans per second times the log likelihood ratio of an empty scan
        self.gain = self.rate_hz * -np.log1p(-self.pd)
        self.ids = tuple(s.id for s in rf)
        self._terrain: Terrain | None = None
        self._horizons: list[Horizon] = []

    def __len__(self) -> int:
        return int(self.range_m.shape[0])

    def columns(self, sensors: SensorRegistry | None) -> NDArray[np.int64]:
        """Column of each covered RF sensor in ``sensors`` (the registry's order)."""
        if sensors is None:
            return np.zeros(0, dtype=np.int64)
        where = {s.id: k for k, s in enumerate(sensors)}
        if not all(i in where for i in self.ids):
            return np.zeros(0, dtype=np.int64)
        return np.array([where[i] for i in self.ids], dtype=np.int64)

    def covered(
        self, pos: NDArray[np.float64], known_height: NDArray[np.bool_], terrain: Terrain | None
    ) -> NDArray[np.bool_]:
        """``[N, S]``: track ``n`` (``pos[n, :3]``) lies inside the coverage of RF sensor ``s`` (terrain masks
        only tracks whose height is known: a 2-D track is not hidden by a guess)."""
        n = pos.shape[0]
        if n == 0 or len(self) == 0:
            return np.zeros((n, len(self)), dtype=bool)
        cov = _within(pos, self.position, self.range_m)
        if terrain is not None and not terrain.is_flat and cov.any():
            if self._terrain is not terrain:
                # A horizon per sensor makes each scan's test a table look-up.
                self._horizons = [terrain.horizon(p, float(r)) for p, r in zip(self.position, self.range_m)]
                self._terrain = terrain
            for k, hz in enumerate(self._horizons):
                rows = np.flatnonzero(cov[:, k] & known_height)
                if rows.size:
                    cov[rows, k] = hz.visible(pos[rows, :3])
        return cov


@kernel
def _within(x: NDArray[np.float64], at: NDArray[np.float64], reach: NDArray[np.float64]) -> NDArray[np.bool_]:
    """``[N, S]``: the position ``x[n, :3]`` lies within ``reach[s]`` of ``at[s]``."""
    n = x.shape[0]
    m = at.shape[0]
    out = np.zeros((n, m), np.bool_)
    for i in range(n):
        for k in range(m):
            dx = x[i, 0] - at[k, 0]
            dy = x[i, 1] - at[k, 1]
            dz = x[i, 2] - at[k, 2]
            out[i, k] = math.sqrt(dx * dx + dy * dy + dz * dz) <= reach[k]
    return out


# Columns of the silence state.
_LLR, _SILENT_S, _EVER_COVERED = range(3)


@kernel
def _emitter(
    logp: NDArray[np.float64],
    prob: NDArray[np.float64],
    prior: NDArray[np.float64],
    s: NDArray[np.float64],
    emits: NDArray[np.float64],
    floor: float,
) -> NDArray[np.float64]:
    """See :meth:`RfSilence.emitter_prob`: ``logp``, ``prob [C, N]`` are the log posterior
    and the posterior of the previous step (new tracks, any log not finite, take ``prior``)."""
    n = s.shape[1]
    n_cls = prior.shape[0]
    out = np.empty(n)
    for i in range(n):
        fresh = False
        for c in range(n_cls):
            if not math.isfinite(logp[c, i]):
                fresh = True
        loud = 0.0
        silent = 0.0
        for c in range(n_cls):
            p = prior[c] if fresh else prob[c, i]
            loud += p * emits[c]
            silent += p * (1.0 - emits[c])
        loud = loud * math.exp(-s[_LLR, i])
        out[i] = max(loud / max(loud + silent, 1e-12), floor)
    return out


@kernel
def _silence(
    s: NDArray[np.float64],
    cov: NDArray[np.bool_],
    heard_by: NDArray[np.bool_],
    rf_cols: NDArray[np.int64],
    gain: NDArray[np.float64],
    bound: NDArray[np.bool_],
    emission: NDArray[np.float64],
    log_none: NDArray[np.float64],
    status: NDArray[np.int8],
    t: float,
    last_update_t: NDArray[np.float64],
    dt: NDArray[np.float64],
    cls_prob: NDArray[np.float64],
    emits: NDArray[np.float64],
    fpv: int,
    confirmed: int,
    coasting: int,
    max_step: float,
    emission_sure: float,
    max_stale: float,
    max_llr: float,
    min_silent: float,
    prob_floor: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """See :meth:`RfSilence.update`; the state ``s`` is updated in place. The joint
    posterior comes back floored at ``prob_floor``."""
    n = cov.shape[0]
    n_cov = cov.shape[1]
    n_cls = emits.shape[0]
    joint = np.empty((n, n_cls))
    rf_silent = np.zeros(n)
    silent_s = np.empty(n)
    covered = np.zeros(n, np.bool_)
    use_cols = rf_cols.shape[0] > 0 and heard_by.shape[1] > 0
    sure_log = math.log(1.0 - emission_sure)
    for i in range(n):
        llr = 0.0
        for k in range(n_cov):
            if cov[i, k]:
                covered[i] = True
                if not (use_cols and heard_by[i, rf_cols[k]]):
                    llr += gain[k]
        step = min(dt[i], max_step)
        llr = llr * step
        # A track bound to a Remote ID serial or ADS-B address radiates, whatever this step saw.
        q = 1.0 if bound[i] else emission[i]
        sure = q >= emission_sure
        # Coasting counts too: a fiber FPV misses every RF scan, which may be all the
        # tracker knows of as misses; a track no passive sensor updated for ``max_stale_s``
        # says nothing.
        firm = status[i] == confirmed or status[i] == coasting
        gather = covered[i] and firm and t - last_update_t[i] <= max_stale
        lam = s[_LLR, i] + llr + log_none[i] if gather else s[_LLR, i]
        if sure:
            lam = 0.0
        s[_LLR, i] = min(max(lam, 0.0), max_llr)
        if sure:
            s[_SILENT_S, i] = 0.0
        elif gather and log_none[i] > sure_log:
            s[_SILENT_S, i] = s[_SILENT_S, i] + step
        if covered[i]:
            s[_EVER_COVERED, i] = 1.0
        # Joint posterior over (class, radiates or not): silence weighs every class by how
        # likely it is to radiate and, if it does, to have been missed by every scan.
        miss = math.exp(-s[_LLR, i])
        z = 0.0
        for c in range(n_cls):
            joint[i, c] = cls_prob[i, c] * (1.0 - emits[c]) + cls_prob[i, c] * emits[c] * miss
            z += joint[i, c]
        z = z if z > 0 else 1.0
        if s[_EVER_COVERED, i] > 0 and s[_SILENT_S, i] >= min_silent:
            rf_silent[i] = cls_prob[i, fpv] * (1.0 - emits[fpv]) / z
        # The floor holds for what leaves too, so a consumer never sees a class at zero.
        zf = 0.0
        for c in range(n_cls):
            v = joint[i, c] / z
            v = v if math.isfinite(v) else 0.0
            joint[i, c] = max(v, prob_floor)
            zf += joint[i, c]
        for c in range(n_cls):
            joint[i, c] /= zf
        silent_s[i] = s[_SILENT_S, i]
    return joint, rf_silent, silent_s, covered


def _rf_key(sensors: SensorRegistry | None) -> tuple[tuple[object, ...], ...]:
    if sensors is None:
        return ()
    return tuple(
        (s.id, tuple(s.position.tolist()), s.max_range_m, s.rate_hz, repr(s.params.get("pd")))
        for s in sensors
        if s.type == "rf"
    )


class RfSilence:
    """Accumulates, per track, the evidence of RF scans that heard nothing from it, and
    joins it with the class posterior (see the module docstring)."""

    def __init__(self, config: RfSilentConfig, sensors: SensorRegistry | None) -> None:
        self.config = config
        self._sensors = sensors
        self.coverage = RfCoverage(config, sensors)
        self._key = _rf_key(sensors)
        self._emits = np.asarray(config.emitter_prob, dtype=np.float64)
        self.state = TrackState({"llr": 0.0, "silent_s": 0.0, "ever_covered": 0.0})

    def emitter_prob(
        self,
        logp: NDArray[np.float64],
        prob: NDArray[np.float64],
        prior: NDArray[np.float64],
        floor: float,
    ) -> NDArray[np.float64]:
        """Probability ``[N]`` that each track radiates, from its class posterior of the
        previous step (``logp`` and ``prob [C, N]``; new tracks take ``prior``) and the
        silence heard so far, at least ``floor``: a track
        long silent in coverage is a poor explanation of a bearing that another,
        radiating, track on the same line explains as well."""
        return _emitter(logp, prob, prior, self.state.data, self._emits, float(floor))

    def update(
        self,
        x: NDArray[np.float64],
        P_uu: NDArray[np.float64],
        bound: NDArray[np.bool_],
        status: NDArray[np.int8],
        t: float,
        last_update_t: NDArray[np.float64],
        dt: NDArray[np.float64],
        emission: StepEvidence,
        cls_prob: NDArray[np.float64],
        sensors: SensorRegistry | None,
        terrain: Terrain | None,
        prob_floor: float = 0.0,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
        """Over the rows the state is aligned to, ``bound`` those bound to a Remote ID
        serial or ADS-B address; returns ``(class posterior with the silence evidence
        [N, C], floored at prob_floor, rf_silent [N], silent seconds in coverage [N],
        covered now [N])``."""
        c = self.config
        if sensors is not None and sensors is not self._sensors:
            # The tracker may build a new registry each update: rebuild only on a real change.
            key = _rf_key(sensors)
            if key != self._key:
                self.coverage = RfCoverage(c, sensors)
                self._key = key
            self._sensors = sensors
        rf_cols = self.coverage.columns(sensors)
        known_height = P_uu <= c.height_known_sigma_m**2
        cov = self.coverage.covered(x, known_height, None if not c.line_of_sight else terrain)
        # Per covering sensor: expected scans times the log likelihood ratio of an empty
        # scan, for the sensors that gave the track nothing this step, and, for the
        # bearings that may be its own, the chance that none of them was (a bearing
        # another track on the same line explains as well weighs little).
        return _silence(
            self.state.data,
            cov,
            emission.emission_by_sensor,
            rf_cols,
            self.coverage.gain,
            bound,
            emission.emission,
            emission.emission_log_none,
            status,
            float(t),
            last_update_t,
            dt,
            cls_prob,
            self._emits,
            int(TargetClass.FPV),
            int(TrackStatus.CONFIRMED),
            int(TrackStatus.COASTING),
            c.max_step_s,
            c.emission_sure,
            c.max_stale_s,
            c.max_llr,
            c.min_silent_s,
            float(prob_floor),
        )
