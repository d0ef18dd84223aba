"""Recursive Bayesian class fusion over :data:`~skyfence.model.CLASSES`.

Each step a track's log posterior is first tempered toward uniform (old evidence fades
with ``exp(-dt / forget_tau_s)``), then it gathers:

- the sensors' class likelihoods of this step's detections (EO/IR confusion matrices),
  raised to ``sensor_weight``;
- RF protocol evidence: an FPV link (ELRS, analog video, digital OFDM) is strong FPV
  evidence and any emission rules out a bird; a Remote ID serial says multirotor
  (compliant); an ADS-B address says aircraft;
- kinematic likelihoods of smoothed features (horizontal speed, height above ground,
  absolute climb rate, steepest recent dive, turn rate, hover dwell), each a soft
  interval density per class (:class:`~skyfence.track.infer.config.KinematicBand`),
  weighted by how well the filter knows that feature and added at ``dt / kin_tau_s``
  per step because the smoothed features repeat information.

After normalisation every class keeps at least ``prob_floor``: one bad step moves the
posterior by a bounded amount and can always be undone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from skyfence.model.classes import CLASSES, N_CLASSES
from skyfence.track.infer._state import TrackState
from skyfence.track.infer.config import ClassifyConfig, KinematicBand
from skyfence.track.infer.evidence import StepEvidence

if TYPE_CHECKING:
    # Only for types: terrain objects come from the caller.
    from skyfence.model.terrain import Terrain

__all__ = ["ClassFusion", "Kinematics", "band_loglik", "floor_probs"]

_SQRT_2PI = float(np.sqrt(2.0 * np.pi))


def _band_arrays(bands: dict[str, KinematicBand]) -> NDArray[np.float64]:
    return np.array([[bands[c].lo, bands[c].hi, bands[c].sigma] for c in CLASSES], dtype=np.float64)


def band_loglik(
    value: NDArray[np.float64],
    bands: NDArray[np.float64],
    normalise: bool = True,
    var: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Log likelihood ``[N, C]`` of values ``[N]`` under soft intervals ``[C, 3]`` (lo, hi,
    sigma): flat inside ``[lo, hi]``, Gaussian shoulders outside; with ``normalise`` a
    density of unit mass, otherwise an envelope that is 1 inside the band. ``var [N]``,
    the variance of each estimated value, widens the shoulders (the band seen through the
    estimate's noise)."""
    lo, hi = bands[:, 0], bands[:, 1]
    sig = bands[None, :, 2] if var is None else np.sqrt(bands[None, :, 2] ** 2 + var[:, None])
    v = value[:, None]
    d = np.maximum(np.maximum(lo - v, v - hi), 0.0)
    out: NDArray[np.float64] = -0.5 * (d / sig) ** 2
    if normalise:
        out = out - np.log(hi - lo + _SQRT_2PI * sig)
    return out


class Kinematics:
    """Smoothed kinematic features per track (exponential averages in time)."""

    def __init__(self, config: ClassifyConfig) -> None:
        self.config = config
        self.height: NDArray[np.float64] = np.zeros(0)
        self.state = TrackState(
            {
                "t": ((), np.float64, np.nan),
                "speed": ((), np.float64, np.nan),
                "vu": ((), np.float64, np.nan),
                "climb": ((), np.float64, np.nan),
                "dive": ((), np.float64, 0.0),
                "turn": ((), np.float64, np.nan),
                "hover": ((), np.float64, 0.0),
                "heading": ((), np.float64, np.nan),
                "maturity": ((), np.float64, 0.0),
            }
        )

    def update(
        self,
        t: float,
        ids: NDArray[np.int64],
        x: NDArray[np.float64],
        P: NDArray[np.float64],
        terrain: Terrain | None,
    ) -> NDArray[np.float64]:
        """Update the averages with states ``x [N,6]`` at ``t``; returns ``dt [N]`` since
        each track's previous update (0 for new tracks)."""
        c = self.config
        s = self.state
        new = s.align(ids)
        n = ids.shape[0]
        dt = np.where(new | ~np.isfinite(s["t"]), 0.0, t - s["t"])
        dt = np.maximum(dt, 0.0)
        a = 1.0 - np.exp(-dt / c.smooth_tau_s)
        speed = np.hypot(x[:, 3], x[:, 4])
        heading = np.arctan2(x[:, 3], x[:, 4])

        def ema(name: str, value: NDArray[np.float64]) -> None:
            old = s[name]
            s[name] = np.where(
                np.isfinite(old), old + a * (value - np.where(np.isfinite(old), old, 0)), value
            )

        ema("speed", speed)
        # Vertical rate averaged with its sign: radar height noise makes |vU| of a level bird
        # look like a climbing drone; the signed average keeps real climbs and dives only.
        ema("vu", x[:, 5])
        s["climb"] = np.abs(s["vu"])
        # Turn rate only from two headings of a moving track: at low speed the heading is noise.
        moving = speed > c.turn_min_speed_mps
        prev_h = s["heading"]
        ok = moving & np.isfinite(prev_h) & (dt > 0)
        dpsi = np.abs(np.angle(np.exp(1j * (heading - np.where(np.isfinite(prev_h), prev_h, 0.0)))))
        rate = np.where(ok, dpsi / np.where(dt > 0, dt, 1.0), np.nan)
        turn = s["turn"]
        turn = np.where(
            ok,
            np.where(np.isfinite(turn), turn + a * (np.nan_to_num(rate) - np.nan_to_num(turn)), rate),
            turn,
        )
        s["turn"] = turn
        s["heading"] = np.where(moving, heading, np.nan)
        # Steepest descent with a fading memory: a terminal dive stays on record a while.
        descent = np.maximum(-s["vu"], 0.0)
        s["dive"] = np.maximum(s["dive"] * np.exp(-dt / c.dive_decay_tau_s), descent)
        # Hovering: slow within the velocity's uncertainty (bearing-only tracks of a hovering
        # relay keep a few m/s of velocity noise), if the velocity is known at all.
        sd_v = np.sqrt(np.maximum(0.5 * (P[:, 3, 3] + P[:, 4, 4]), 0.0))
        hovering = (s["speed"] < c.hover_speed_mps + c.hover_sigma_factor * sd_v) & (
            sd_v <= c.hover_max_sigma_mps
        )
        s["hover"] = np.where(hovering, s["hover"] + dt, np.maximum(s["hover"] - dt * c.hover_decay_s, 0.0))
        s["maturity"] = np.where(new, 0.0, s["maturity"] + a * (1.0 - s["maturity"]))
        s["t"] = np.full(n, t)
        self.height = x[:, 2] - (terrain.height(x[:, 0], x[:, 1]) if terrain is not None else 0.0)
        return dt

    def loglik(self, P: NDArray[np.float64]) -> NDArray[np.float64]:
        """Weighted kinematic log-likelihood ``[N, C]`` of the current features; a feature's
        weight falls as the filter's variance of it grows (and while averages settle)."""
        c = self.config
        s = self.state
        var_v = 0.5 * (P[:, 3, 3] + P[:, 4, 4])
        var_u = P[:, 2, 2]
        var_vu = P[:, 5, 5]
        mature = 0.3 + 0.7 * s["maturity"]
        w_v = mature * c.speed_sigma_ref_mps**2 / (c.speed_sigma_ref_mps**2 + np.nan_to_num(var_v, nan=1e12))
        w_u = c.alt_sigma_ref_m**2 / (c.alt_sigma_ref_m**2 + np.nan_to_num(var_u, nan=1e12))
        w_vu = (
            mature * c.speed_sigma_ref_mps**2 / (c.speed_sigma_ref_mps**2 + np.nan_to_num(var_vu, nan=1e12))
        )
        n = s.ids.shape[0]
        out = np.zeros((n, N_CLASSES))

        def add(
            name: str, value: NDArray[np.float64], w: NDArray[np.float64], var: NDArray[np.float64] | None
        ) -> None:
            ok = np.isfinite(value)
            if not ok.any():
                return
            bands: dict[str, KinematicBand] = getattr(c, name)
            v = None if var is None else np.nan_to_num(var, nan=1e12, posinf=1e12)
            ll = band_loglik(np.where(ok, value, 0.0), _band_arrays(bands), name not in c.envelopes, v)
            ll -= ll.max(axis=1, keepdims=True)
            # Robust: a wildly wrong estimate (a height the filter cannot see) costs a bounded amount.
            ll = np.maximum(ll, -c.max_feature_penalty)
            out[:] += c.feature_weight.get(name, 1.0) * np.where(ok, w, 0.0)[:, None] * ll

        add("speed", s["speed"], w_v, var_v)
        add("height", self.height, w_u, var_u)
        add("climb", s["climb"], w_vu, var_vu)
        add("dive", s["dive"], w_vu, var_vu)
        add("turn", s["turn"], np.where(s["speed"] > c.turn_min_speed_mps, w_v, 0.0), None)
        add("hover", s["hover"], w_v, None)
        return out

    def column(self, name: str) -> NDArray[np.float64]:
        return self.state[name]


class ClassFusion:
    """Class posterior per track, fused recursively from every source of evidence."""

    def __init__(self, config: ClassifyConfig) -> None:
        self.config = config
        prior = np.asarray(config.prior, dtype=np.float64)
        self._log_prior = np.log(np.maximum(prior / prior.sum(), 1e-12))
        self.state = TrackState(
            {
                "logp": ((N_CLASSES,), np.float64, np.nan),
                "t_sensor": ((), np.float64, -np.inf),
                "t_emit": ((), np.float64, -np.inf),
            }
        )
        c = config
        self._link = np.log(np.maximum(np.asarray(c.link_lik), 1e-12))
        self._rf_other = np.log(np.maximum(np.asarray(c.rf_other_lik), 1e-12))
        self._rid = np.log(np.maximum(np.asarray(c.remote_id_lik), 1e-12))
        self._adsb = np.log(np.maximum(np.asarray(c.adsb_lik), 1e-12))
        self._protocol = {
            name: np.log(np.maximum(np.asarray(lik, dtype=np.float64), 1e-12))
            for name, lik in c.protocol_lik.items()
        }
        self._relay = np.log(np.maximum(np.asarray(c.relay_lik), 1e-12))

    def previous(self, ids: NDArray[np.int64]) -> NDArray[np.float64]:
        """Posterior ``[N, C]`` of the previous step for ``ids`` (the prior for new ids)."""
        self.state.align(ids)
        logp = self.state["logp"]
        fresh = ~np.isfinite(logp).all(axis=1)
        return _normalise(np.where(fresh[:, None], self._log_prior[None, :], logp), 0.0)

    def update(
        self,
        t: float,
        ids: NDArray[np.int64],
        dt: NDArray[np.float64],
        cls_lik: NDArray[np.float64] | None,
        evidence: StepEvidence,
        kin_loglik: NDArray[np.float64],
        relay: NDArray[np.bool_],
    ) -> NDArray[np.float64]:
        """One recursive step; returns the posterior ``[N, C]`` (rows sum to one)."""
        c = self.config
        s = self.state
        s.align(ids)
        logp = s["logp"]
        fresh = ~np.isfinite(logp).all(axis=1)
        logp = np.where(fresh[:, None], self._log_prior[None, :], logp)
        # Forgetting: temper toward uniform so that stale evidence fades.
        logp = logp * np.exp(-dt / c.forget_tau_s)[:, None]
        if cls_lik is not None and cls_lik.shape[0]:
            lik = np.where(np.isfinite(cls_lik) & (cls_lik >= 0), cls_lik, 1.0)
            top = lik.max(axis=1, keepdims=True)
            lik = np.where(top > 0, lik / np.where(top > 0, top, 1.0), 1.0)
            ll = np.log(np.maximum(lik, 1e-9))
            seen = (ll < 0).any(axis=1)
            # Frames of one camera repeat one another: their evidence counts at most at the
            # rate of one full observation per ``sensor_tau_s``, however often we are called.
            w = c.sensor_weight * _rate(t, s["t_sensor"], c.sensor_tau_s)
            logp = logp + np.where(seen, w, 0.0)[:, None] * ll
            s["t_sensor"] = np.where(seen, t, s["t_sensor"])
        link_ll = np.broadcast_to(self._link, logp.shape)
        for name, ll in self._protocol.items():
            link_ll = np.where((evidence.protocol == name)[:, None], ll[None, :], link_ll)

        # Evidence less likely ours than another's says nothing: ambiguous bearings repeat
        # step after step and would otherwise add up to a class.
        def sure(q: NDArray[np.float64]) -> NDArray[np.float64]:
            out: NDArray[np.float64] = np.where(q >= c.min_evidence_confidence, q, 0.0)
            return out

        link = sure(evidence.link)
        rf_other = np.maximum(sure(evidence.rf) - link, 0.0)
        emit_ll = _mixed(link, link_ll) + _mixed(rf_other, self._rf_other)
        emit_ll = (
            emit_ll + _mixed(sure(evidence.remote_id), self._rid) + _mixed(sure(evidence.adsb), self._adsb)
        )
        heard = (emit_ll != 0).any(axis=1)
        # An emitter heard every second is one fact, not a new one each scan: like the
        # camera frames, emissions count at most once per ``emission_tau_s``.
        w = _rate(t, s["t_emit"], c.emission_tau_s)
        logp = logp + np.where(heard, w, 0.0)[:, None] * emit_ll
        s["t_emit"] = np.where(heard, t, s["t_emit"])
        logp = logp + relay[:, None] * np.minimum(dt, 5.0)[:, None] * self._relay
        logp = logp + np.minimum(dt / c.kin_tau_s, 1.0)[:, None] * kin_loglik
        prob = _normalise(logp, c.prob_floor)
        s["logp"] = np.log(prob)
        return prob


def _rate(t: float, last: NDArray[np.float64], tau: float) -> NDArray[np.float64]:
    """Weight ``min(1, (t - last) / tau)`` of evidence last applied at ``last``."""
    out: NDArray[np.float64] = np.minimum(np.maximum(t - last, 0.0) / tau, 1.0)
    return out


def _mixed(q: NDArray[np.float64], loglik: NDArray[np.float64]) -> NDArray[np.float64]:
    """Log-likelihood of evidence that is the track's with probability ``q`` (else says
    nothing about it): ``log(q * l + 1 - q)``, per row and class."""
    ll = np.broadcast_to(loglik, (q.shape[0], loglik.shape[-1]))
    out: NDArray[np.float64] = np.log(q[:, None] * np.exp(ll) + (1.0 - q[:, None]))
    return out


def floor_probs(prob: NDArray[np.float64], floor: float) -> NDArray[np.float64]:
    """Rows of ``prob`` renormalised with every entry at least about ``floor``."""
    p = np.maximum(np.where(np.isfinite(prob), prob, 0.0), floor)
    out: NDArray[np.float64] = p / p.sum(axis=1, keepdims=True)
    return out


def _normalise(logp: NDArray[np.float64], floor: float) -> NDArray[np.float64]:
    logp = np.where(np.isfinite(logp), logp, -700.0)
    logp = logp - logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    p /= p.sum(axis=1, keepdims=True)
    if floor > 0:
        p = np.maximum(p, floor)
        p /= p.sum(axis=1, keepdims=True)
    out: NDArray[np.float64] = p
    return out
