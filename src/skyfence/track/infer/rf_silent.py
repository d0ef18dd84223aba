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

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

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
        self.ids = tuple(s.id for s in rf)
        self._terrain: Terrain | None = None
        self._horizons: list[Horizon] = []

    def __len__(self) -> int:
        return int(self.range_m.shape[0])

    def columns(self, sensors: SensorRegistry | None) -> NDArray[np.intp]:
        """Column of each covered RF sensor in ``sensors`` (the registry's order)."""
        if sensors is None:
            return np.zeros(0, dtype=np.intp)
        where = {s.id: k for k, s in enumerate(sensors)}
        if not all(i in where for i in self.ids):
            return np.zeros(0, dtype=np.intp)
        return np.array([where[i] for i in self.ids], dtype=np.intp)

    def covered(
        self, pos: NDArray[np.float64], known_height: NDArray[np.bool_], terrain: Terrain | None
    ) -> NDArray[np.bool_]:
        """``[N, S]``: track ``n`` lies inside the coverage of RF sensor ``s`` (terrain masks
        only tracks whose height is known: a 2-D track is not hidden by a guess)."""
        n = pos.shape[0]
        if n == 0 or len(self) == 0:
            return np.zeros((n, len(self)), dtype=bool)
        d = np.linalg.norm(pos[:, None, :] - self.position[None, :, :], axis=2)
        cov: NDArray[np.bool_] = d <= self.range_m[None, :]
        if terrain is not None and not terrain.is_flat and cov.any():
            if self._terrain is not terrain:
                # A horizon per sensor makes each scan's test a table look-up.
                self._horizons = [terrain.horizon(p, float(r)) for p, r in zip(self.position, self.range_m)]
                self._terrain = terrain
            for k, hz in enumerate(self._horizons):
                rows = np.flatnonzero(cov[:, k] & known_height)
                if rows.size:
                    cov[rows, k] = hz.visible(pos[rows])
        return cov


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
        self.state = TrackState(
            {
                "llr": ((), np.float64, 0.0),
                "silent_s": ((), np.float64, 0.0),
                "ever_covered": ((), np.bool_, False),
            }
        )

    def emitter_prob(self, ids: NDArray[np.int64], cls_prob: NDArray[np.float64]) -> NDArray[np.float64]:
        """Probability ``[N]`` that each track radiates, from its class posterior and the
        silence heard so far: a track long silent in coverage is a poor explanation of a
        bearing that another, radiating, track on the same line explains as well."""
        self.state.align(ids)
        e = self._emits[None, :]
        loud = (cls_prob * e).sum(axis=1) * np.exp(-self.state["llr"])
        silent = (cls_prob * (1.0 - e)).sum(axis=1)
        out: NDArray[np.float64] = loud / np.maximum(loud + silent, 1e-12)
        return out

    def update(
        self,
        ids: NDArray[np.int64],
        x: NDArray[np.float64],
        P_uu: NDArray[np.float64],
        identity: NDArray[np.str_],
        status: NDArray[np.int8],
        t: float,
        last_update_t: NDArray[np.float64],
        dt: NDArray[np.float64],
        emission: StepEvidence,
        cls_prob: NDArray[np.float64],
        sensors: SensorRegistry | None,
        terrain: Terrain | None,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
        """Returns ``(class posterior with the silence evidence [N, C], rf_silent [N],
        silent seconds in coverage [N], covered now [N])``."""
        c = self.config
        if sensors is not None and sensors is not self._sensors:
            # The tracker may build a new registry each update: rebuild only on a real change.
            key = _rf_key(sensors)
            if key != self._key:
                self.coverage = RfCoverage(c, sensors)
                self._key = key
            self._sensors = sensors
        s = self.state
        s.align(ids)
        known_height = P_uu <= c.height_known_sigma_m**2
        cov = self.coverage.covered(x[:, :3], known_height, None if not c.line_of_sight else terrain)
        covered: NDArray[np.bool_] = np.asarray(cov.any(axis=1), dtype=bool)
        step = np.minimum(dt, c.max_step_s)
        # A track bound to a Remote ID serial or ADS-B address radiates, whatever this step saw.
        q = np.where(identity != "", 1.0, emission.emission)
        sure = q >= c.emission_sure
        # Coasting counts too: a fiber FPV misses every RF scan, which may be all the tracker
        # knows of as misses; a track no passive sensor updated for ``max_stale_s`` says nothing.
        firm = (status == TrackStatus.CONFIRMED) | (status == TrackStatus.COASTING)
        fresh = t - last_update_t <= c.max_stale_s
        gather = covered & firm & fresh
        # Per covering sensor: expected scans times the log likelihood ratio of an empty scan,
        # for the sensors that gave the track nothing this step ...
        rf_cols = self.coverage.columns(sensors)
        heard_by = (
            emission.emission_by_sensor[:, rf_cols]
            if rf_cols.size and emission.emission_by_sensor.shape[1]
            else np.zeros_like(cov)
        )
        gain = (self.coverage.rate_hz * -np.log1p(-self.coverage.pd))[None, :]
        llr = ((cov & ~heard_by) * gain).sum(axis=1) * step
        # ... and, for the bearings that may be its own, the chance that none of them was
        # (a bearing another track on the same line explains as well weighs little).
        lam = np.where(gather, s["llr"] + llr + emission.emission_log_none, s["llr"])
        lam = np.where(sure, 0.0, lam)
        s["llr"] = np.clip(lam, 0.0, c.max_llr)
        silent_now = gather & ~sure & (emission.emission_log_none > np.log(1.0 - c.emission_sure))
        s["silent_s"] = np.where(sure, 0.0, np.where(silent_now, s["silent_s"] + step, s["silent_s"]))
        s["ever_covered"] = s["ever_covered"] | covered
        # Joint posterior over (class, radiates or not): silence weighs every class by how
        # likely it is to radiate and, if it does, to have been missed by every scan.
        e = self._emits[None, :]
        silent = cls_prob * (1.0 - e)
        loud = cls_prob * e * np.exp(-s["llr"])[:, None]
        z = (silent + loud).sum(axis=1, keepdims=True)
        z = np.where(z > 0, z, 1.0)
        joint: NDArray[np.float64] = (silent + loud) / z
        report = s["ever_covered"] & (s["silent_s"] >= c.min_silent_s)
        rf_silent: NDArray[np.float64] = np.where(report, silent[:, TargetClass.FPV] / z[:, 0], 0.0)
        silent_s: NDArray[np.float64] = s["silent_s"].copy()
        return joint, rf_silent, silent_s, covered
