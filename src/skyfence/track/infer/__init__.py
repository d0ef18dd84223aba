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

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from skyfence._jit import kernel
from skyfence.geo import Site
from skyfence.model.classes import N_CLASSES
from skyfence.model.detections import Detections
from skyfence.model.sensors import Sensor, SensorRegistry
from skyfence.model.tracks import TrackStatus
from skyfence.model.zone import Zone
from skyfence.track.infer._state import StateTable, TrackState, align_rows
from skyfence.track.infer.classify import ClassFusion, Kinematics, band_loglik
from skyfence.track.infer.config import (
    ClassifyConfig,
    InferConfig,
    KinematicBand,
    RelayConfig,
    RfSilentConfig,
    SwarmConfig,
)
from skyfence.track.infer.evidence import PairBuffers, Vocabulary, step_evidence
from skyfence.track.infer.relay import OPERATOR_SOURCES, RelayChains
from skyfence.track.infer.rf_silent import RfSilence
from skyfence.track.infer.swarm import SwarmGrouping, warm_up_swarm
from skyfence.track.view import AssocBatch, InferResult, TrackView

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


@kernel
def _passive(
    s: NDArray[np.float64],
    src: NDArray[np.int64],
    seen: NDArray[np.float64],
    cols: NDArray[np.int64],
    t: float,
    fresh_s: float,
    tau_s: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Per row: the last time a sensor of ``cols`` (those that need no emission) updated
    it, the seconds since (``inf``: never), and the exponential average in time of "one
    does now" (state ``s``: share, time; updated in place)."""
    n = seen.shape[0]
    last = np.empty(n)
    age = np.empty(n)
    share = np.empty(n)
    for i in range(n):
        v = -np.inf
        for k in cols:
            v = max(v, seen[i, k])
        last[i] = v
        age[i] = t - v if math.isfinite(v) else np.inf
        now = 1.0 if t - v <= fresh_s else 0.0
        if src[i] < 0:
            share[i] = now
        else:
            dt = max(t - s[1, i], 0.0) if math.isfinite(s[1, i]) else 0.0
            w = math.exp(-dt / tau_s)
            share[i] = w * s[0, i] + (1.0 - w) * now
        s[0, i] = share[i]
        s[1, i] = t
    return last, age, share


def _bound(identity: NDArray[np.str_] | None, n: int) -> NDArray[np.bool_]:
    """Rows bound to a Remote ID serial or an ADS-B address (identity not empty)."""
    if identity is None:
        return np.zeros(n, dtype=bool)
    ident = np.ascontiguousarray(identity).reshape(n)
    if ident.dtype.kind == "U" and ident.dtype.itemsize >= 4 and n:
        # An empty string is the one whose first code point is 0: no string comparisons.
        out: NDArray[np.bool_] = ident.view(np.uint32).reshape(n, -1)[:, 0] != 0
        return out
    other: NDArray[np.bool_] = np.asarray(ident, dtype=str) != ""
    return other


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
        _warm_up()
        self.config = config if config is not None else InferConfig()
        self.sensors = sensors
        self.terrain = terrain
        self._vocab = Vocabulary()
        self._pairs = PairBuffers()
        self._kin = Kinematics(self.config.classify)
        self._cls = ClassFusion(self.config.classify)
        self._rf = RfSilence(self.config.rf_silent, sensors)
        self._relay = RelayChains(self.config.relay, zones, sensors)
        self._swarm = SwarmGrouping(self.config.swarm)
        self._passive = TrackState({"share": 0.0, "t": np.nan})
        self._table = StateTable(
            (
                self._kin.state,
                self._cls.state,
                self._rf.state,
                self._relay.state,
                self._swarm.state,
                self._passive,
            )
        )
        self._ids: NDArray[np.int64] = np.zeros(0, np.int64)
        self._was_relay: NDArray[np.bool_] = np.zeros(0, dtype=bool)

    def _passive_cols(
        self, sensors: SensorRegistry | None, seen: NDArray[np.float64], n: int
    ) -> NDArray[np.int64] | None:
        """Columns of ``last_seen_by`` of the sensors that need no emission (None: the
        view has no such table; use ``last_update_t``)."""
        if sensors is None or seen.ndim != 2 or seen.shape != (n, len(sensors)):
            return None
        emit = self.config.rf_silent.emission_sensor_types
        return np.array([k for k, s in enumerate(sensors) if s.type not in emit], dtype=np.int64)

    def update(self, view: TrackView) -> InferResult:
        c = self.config
        sensors = view.sensors if view.sensors is not None else self.sensors
        # Every array a kernel sees is our own (contiguous, writable) copy, so that views
        # of any origin (the tracker's are read-only) meet one compiled signature.
        ids = np.array(view.ids, dtype=np.int64).reshape(-1)
        n = ids.shape[0]
        x = np.asarray(view.x, dtype=np.float64).reshape(n, 6)
        x = np.where(np.isfinite(x), x, 0.0)
        # Only the variances of the state are read.
        pd = np.array(np.asarray(view.P, dtype=np.float64).reshape(n, 36)[:, ::7], order="C")
        status = np.array(view.status, dtype=np.int8).reshape(n)
        # One matching of rows to the previous view's ids serves every stage's memory.
        src = align_rows(self._ids, ids)
        was_relay = np.zeros(n, dtype=bool)
        if self._was_relay.size:
            was_relay[src >= 0] = self._was_relay[src[src >= 0]]
        self._table.align(ids, src)
        self._ids = ids
        dt, kin_ll = self._kin.update(view.t, src, x, pd, self.terrain)
        emitter = self._rf.emitter_prob(*self._cls.previous(), self._cls.prior, c.classify.emitter_floor)
        ev = step_evidence(
            x,
            pd,
            emitter,
            view.assoc_attrs,
            sensors,
            self._vocab,
            c.classify.link_protocols,
            c.rf_silent.emission_sensor_types,
            c.classify.bearing_clutter_density,
            c.rf_silent.ignore_protocols,
            c.classify.class_clutter_density,
            self._pairs,
        )
        cls_lik = np.array(view.cls_lik, dtype=np.float64).reshape(n, N_CLASSES)
        prob = self._cls.update(view.t, dt, cls_lik, ev, kin_ll, was_relay, self._vocab)
        # Silence is only evidence while a sensor that needs no emission (radar, camera,
        # microphone) holds the track: a track kept alive by RF bearings alone is no FPV
        # seen to be silent, and when its bearings stop it is simply lost.
        seen = np.array(view.last_seen_by, dtype=np.float64)
        cols = self._passive_cols(sensors, seen, n)
        if cols is None:
            seen = np.array(view.last_update_t, dtype=np.float64).reshape(n, 1)
            cols = np.zeros(1, dtype=np.int64)
        last_update, passive_age, passive_share = _passive(
            self._passive.data,
            src,
            seen,
            cols,
            float(view.t),
            c.passive_fresh_s,
            c.passive_share_tau_s,
        )
        bound = _bound(getattr(view, "identity", None), n)
        # The floor holds for what leaves too, so a consumer never sees a class at zero.
        prob, rf_silent, silent_s, covered = self._rf.update(
            x,
            pd[:, 2],
            bound,
            status,
            view.t,
            last_update,
            dt,
            ev,
            prob,
            sensors,
            self.terrain,
            c.classify.prob_floor,
        )
        kin = self._kin
        height = np.ascontiguousarray(kin.height, dtype=np.float64)
        rel = self._relay.update(
            view.t,
            ids,
            x,
            status,
            kin.column("speed"),
            pd,
            kin.column("hover"),
            height,
            prob,
            rf_silent,
            ev,
            last_update,
        )
        self._was_relay = rel.relay
        group = self._swarm.update(x, status, prob, view.t, last_update, np.ascontiguousarray(pd[:, 2]))
        attrs: dict[str, NDArray[Any]] = {
            "speed_mps": kin.column("speed").copy(),
            "height_agl_m": height.copy(),
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
            "passive_age_s": passive_age,
            "passive_share": passive_share,
        }
        return InferResult(
            cls_prob=prob,
            rf_silent=rf_silent,
            relay=rel.relay,
            relay_id=rel.relay_id,
            group_id=group,
            attrs=attrs,
        )


_warm = False


def _warm_up() -> None:
    """Load every kernel (compiling it the first time on a machine) with the signatures
    of live updates, once per process: otherwise the first live update pays for it
    (about 0.2 s). Runs three updates of a small synthetic picture through a private
    instance: a hovering multirotor near a border line and three FPVs, RF bearings."""
    global _warm
    if _warm:
        return
    _warm = True
    site = Site(48.0, 22.0, 100.0)
    sensors = SensorRegistry(
        site,
        [
            Sensor("rf", "rf", "bearing", np.array([0.0, 0.0, 10.0]), 1.0, 10_000.0),
            Sensor("radar", "radar", "polar", np.array([0.0, 0.0, 10.0]), 1.0, 20_000.0),
        ],
    )
    border = Zone(
        "border", [[-9000.0, -1000.0], [9000.0, -1000.0]], kind="border", geometry="line", buffer_m=100.0
    )
    inf = TrackInference(sensors=sensors, zones=[border])
    n = 4
    x = np.zeros((n, 6))
    x[:, :3] = [[0.0, -500.0, 100.0], [500.0, 2000.0, 30.0], [600.0, 2050.0, 30.0], [700.0, 2100.0, 30.0]]
    x[1:, 3] = 25.0
    P = np.broadcast_to(np.diag([25.0, 25.0, 25.0, 1.0, 1.0, 1.0]), (n, 6, 6)).copy()
    az = np.arctan2(x[:, 0], x[:, 1])
    det = Detections(
        "rf",
        "bearing",
        np.zeros(n + 1),
        np.append(az, 3.0).reshape(-1, 1),
        np.full((n + 1, 1, 1), 1e-3),
        attrs={"protocol": np.full(n + 1, "elrs_900"), "band": np.full(n + 1, "900")},
    )
    # Bearings at 0 and 1 s decide relays; none at 1.5 s carries the decision.
    for t in (0.0, 1.0, 1.5):
        inf.update(
            TrackView(
                t=t,
                ids=np.arange(1, n + 1, dtype=np.int64),
                x=x,
                P=P,
                status=np.full(n, TrackStatus.CONFIRMED, np.int8),
                age_s=np.full(n, t),
                last_update_t=np.full(n, t),
                last_seen_by=np.full((n, 2), t),
                sensors=sensors,
                cls_lik=np.ones((n, N_CLASSES)),
                identity=np.full(n, ""),
                assoc=(AssocBatch("rf", np.array([0, 1, 2, 3, -1], dtype=np.int64), det),) if t < 1.5 else (),
            )
        )
    warm_up_swarm()
