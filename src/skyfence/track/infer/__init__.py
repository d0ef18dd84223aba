"""Track inference: what the tracker's tracks are, beyond where they are.

After every tracker update :class:`TrackInference` takes the :class:`~skyfence.track.view.TrackView`
and answers with an :class:`~skyfence.track.view.InferResult`: a class posterior per track
(recursive Bayesian fusion of sensor class likelihoods, RF protocol and identity evidence
and kinematics), the probability that an FPV-like track is RF-silent (fiber-optic or
autonomous), relay recognition with the chain operator → relay → FPV, and swarm groups.
Everything is vectorised over tracks; per-track memory is kept in columns keyed by track
id, so rows may come and go between calls. See ``docs/inference.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from skyfence.model.classes import N_CLASSES
from skyfence.model.sensors import SensorRegistry
from skyfence.model.zone import Zone
from skyfence.track.infer._state import TrackState
from skyfence.track.infer.classify import ClassFusion, Kinematics, band_loglik, floor_probs
from skyfence.track.infer.config import (
    ClassifyConfig,
    InferConfig,
    KinematicBand,
    RelayConfig,
    RfSilentConfig,
    SwarmConfig,
)
from skyfence.track.infer.evidence import step_evidence
from skyfence.track.infer.relay import OPERATOR_SOURCES, RelayChains
from skyfence.track.infer.rf_silent import RfSilence
from skyfence.track.infer.swarm import SwarmGrouping
from skyfence.track.view import InferResult, TrackView

if TYPE_CHECKING:
    # Only for types: terrain objects come from the caller.
    from skyfence.model.terrain import Terrain

__all__ = [
    "OPERATOR_SOURCES",
    "ClassifyConfig",
    "InferConfig",
    "KinematicBand",
    "RelayConfig",
    "RfSilentConfig",
    "SwarmConfig",
    "TrackInference",
    "band_loglik",
]


class TrackInference:
    """Class fusion, RF-silent inference, relay chains and swarm groups over a track view.

    ``sensors`` is the registry used until a view brings its own; ``zones`` gives the
    border lines (zones of kind ``border``) that relay recognition measures against;
    ``terrain`` masks RF coverage by line of sight and turns heights into heights above
    ground. The ``attrs`` of each result carry, per track: ``speed_mps``,
    ``height_agl_m``, ``climb_mps``, ``turn_rate_rps``, ``hover_s`` (smoothed
    kinematics), ``rf_silent_s`` (silent seconds in RF coverage), ``rf_covered``,
    ``chain_id`` (relay track id of the operator → relay → FPV chain, -1 outside one),
    ``operator_bearing_rad`` (on relays: bearing from the relay to its operator's ground
    link, NaN elsewhere), ``operator_source`` (index into :data:`OPERATOR_SOURCES`) and
    ``passive_age_s`` (seconds since a sensor that needs no emission last updated the
    track; ``inf`` if none ever did) and ``passive_share`` (the recent share of time one
    did, averaged over ``passive_share_tau_s``).
    """

    def __init__(
        self,
        config: InferConfig | None = None,
        sensors: SensorRegistry | None = None,
        *,
        zones: Sequence[Zone] | None = None,
        terrain: Terrain | None = None,
    ) -> None:
        self.config = config if config is not None else InferConfig()
        self.sensors = sensors
        self.terrain = terrain
        self._kin = Kinematics(self.config.classify)
        self._cls = ClassFusion(self.config.classify)
        self._rf = RfSilence(self.config.rf_silent, sensors)
        self._relay = RelayChains(self.config.relay, zones, sensors)
        self._swarm = SwarmGrouping(self.config.swarm)
        self._relay_flag = np.zeros(0, dtype=bool)
        self._relay_ids = np.zeros(0, dtype=np.int64)
        self._passive = TrackState({"share": ((), np.float64, 0.0), "t": ((), np.float64, np.nan)})

    def _passive_share(
        self, ids: NDArray[np.int64], t: float, last_passive: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Exponential average in time of "a passive sensor holds the track now"."""
        st = self._passive
        new = st.align(ids)
        now = (t - last_passive <= self.config.passive_fresh_s).astype(np.float64)
        dt = np.where(new | ~np.isfinite(st["t"]), 0.0, np.maximum(t - st["t"], 0.0))
        w = np.exp(-dt / self.config.passive_share_tau_s)
        share = np.where(new, now, w * st["share"] + (1.0 - w) * now)
        st["share"] = share
        st["t"] = np.full(ids.shape[0], t)
        out: NDArray[np.float64] = share.copy()
        return out

    def _last_seen_passive(
        self, view: TrackView, sensors: SensorRegistry | None, n: int
    ) -> NDArray[np.float64]:
        seen = np.asarray(view.last_seen_by, dtype=np.float64)
        emit = self.config.rf_silent.emission_sensor_types
        if sensors is None or seen.ndim != 2 or seen.shape != (n, len(sensors)):
            out: NDArray[np.float64] = np.asarray(view.last_update_t, dtype=np.float64).reshape(n)
            return out
        cols = [k for k, s in enumerate(sensors) if s.type not in emit]
        if not cols:
            return np.full(n, -np.inf)
        passive: NDArray[np.float64] = seen[:, cols].max(axis=1)
        return passive

    def update(self, view: TrackView) -> InferResult:
        c = self.config
        sensors = view.sensors if view.sensors is not None else self.sensors
        ids = np.asarray(view.ids, dtype=np.int64)
        n = ids.shape[0]
        x = np.asarray(view.x, dtype=np.float64).reshape(n, 6)
        P = np.asarray(view.P, dtype=np.float64).reshape(n, 6, 6)
        status = np.asarray(view.status, dtype=np.int8).reshape(n)
        x = np.where(np.isfinite(x), x, 0.0)
        dt = self._kin.update(view.t, ids, x, P, self.terrain)
        before = self._cls.previous(ids)
        emitter = np.maximum(self._rf.emitter_prob(ids, before), c.classify.emitter_floor)
        ev = step_evidence(
            x,
            P,
            emitter,
            view.assoc_attrs,
            sensors,
            c.classify.link_protocols,
            c.rf_silent.emission_sensor_types,
            c.classify.bearing_clutter_density,
            c.rf_silent.ignore_protocols,
            c.classify.class_clutter_density,
        )
        was_relay = (
            np.isin(ids, self._relay_ids[self._relay_flag]) if self._relay_ids.size else np.zeros(n, bool)
        )
        cls_lik = np.asarray(view.cls_lik, dtype=np.float64).reshape(n, N_CLASSES) if n else None
        prob = self._cls.update(view.t, ids, dt, cls_lik, ev, self._kin.loglik(P), was_relay)
        # Silence is only evidence while a sensor that needs no emission (radar, camera,
        # microphone) holds the track: a track kept alive by RF bearings alone is no FPV
        # seen to be silent, and when its bearings stop it is simply lost.
        last_update = self._last_seen_passive(view, sensors, n)
        identity = np.asarray(getattr(view, "identity", np.full(n, "")), dtype=str).reshape(n)
        prob, rf_silent, silent_s, covered = self._rf.update(
            ids,
            x,
            P[:, 2, 2],
            identity,
            status,
            view.t,
            last_update,
            dt,
            ev,
            prob,
            sensors,
            self.terrain,
        )
        # The floor holds for what leaves too, so a consumer never sees a class at zero.
        prob = floor_probs(prob, c.classify.prob_floor)
        kin = self._kin
        rel = self._relay.update(
            view.t,
            ids,
            x,
            status,
            kin.column("speed"),
            np.sqrt(np.maximum(0.5 * (P[:, 3, 3] + P[:, 4, 4]), 0.0)),
            kin.column("hover"),
            kin.height,
            prob,
            rf_silent,
            ev,
            last_update,
        )
        self._relay_flag = rel.relay.copy()
        self._relay_ids = ids.copy()
        group = self._swarm.update(ids, x, status, prob, view.t, last_update, P[:, 2, 2])
        attrs: dict[str, NDArray[Any]] = {
            "speed_mps": kin.column("speed").copy(),
            "height_agl_m": np.asarray(kin.height, dtype=np.float64).copy(),
            "climb_mps": kin.column("climb").copy(),
            "turn_rate_rps": kin.column("turn").copy(),
            "hover_s": kin.column("hover").copy(),
            "rf_silent_s": silent_s,
            "rf_covered": covered,
            "chain_id": rel.chain_id,
            "operator_bearing_rad": rel.operator_bearing,
            "operator_source": rel.operator_source,
            # Seconds since a radar, camera or microphone last updated the track (inf:
            # never). A track held by RF bearings alone may be a ghost of crossing lines;
            # assessment weighs its threat by this.
            "passive_age_s": np.where(np.isfinite(last_update), view.t - last_update, np.inf),
            "passive_share": self._passive_share(ids, view.t, last_update),
        }
        return InferResult(
            cls_prob=prob,
            rf_silent=rf_silent,
            relay=rel.relay,
            relay_id=rel.relay_id,
            group_id=group,
            attrs=attrs,
        )
