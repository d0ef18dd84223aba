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

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from skyfence._jit import kernel
from skyfence.model.classes import CLASSES, N_CLASSES
from skyfence.track.infer._state import TrackState
from skyfence.track.infer.config import ClassifyConfig, KinematicBand
from skyfence.track.infer.evidence import StepEvidence, Vocabulary

if TYPE_CHECKING:
    # Only for types: terrain objects come from the caller.
    from skyfence.model.terrain import Terrain

__all__ = ["FEATURES", "ClassFusion", "Kinematics", "band_loglik"]

_SQRT_2PI = float(np.sqrt(2.0 * np.pi))
#: Kinematic features in the order of the per-feature arrays.
FEATURES: tuple[str, ...] = ("speed", "height", "climb", "dive", "turn", "hover")


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
    estimate's noise). The reference for the compiled per-track loop of
    :class:`Kinematics`."""
    lo, hi = bands[:, 0], bands[:, 1]
    sig = bands[None, :, 2] if var is None else np.sqrt(bands[None, :, 2] ** 2 + var[:, None])
    v = value[:, None]
    d = np.maximum(np.maximum(lo - v, v - hi), 0.0)
    out: NDArray[np.float64] = -0.5 * (d / sig) ** 2
    if normalise:
        out = out - np.log(hi - lo + _SQRT_2PI * sig)
    return out


# Columns of the kinematic state.
_T, _SPEED, _VU, _CLIMB, _DIVE, _TURN, _HOVER, _HEADING, _MATURITY = range(9)
_KIN_SPEC: dict[str, float] = {
    "t": np.nan,
    "speed": np.nan,
    "vu": np.nan,
    "climb": np.nan,
    "dive": 0.0,
    "turn": np.nan,
    "hover": 0.0,
    "heading": np.nan,
    "maturity": 0.0,
}
_BIG = 1.7976931348623157e308


@kernel
def _nan_to(v: float, nan: float, posinf: float) -> float:
    """``np.nan_to_num`` of one value."""
    if math.isnan(v):
        return nan
    if v == math.inf:
        return posinf
    if v == -math.inf:
        return -_BIG
    return v


@kernel
def _ema(old: float, value: float, a: float) -> float:
    return old + a * (value - old) if math.isfinite(old) else value


@kernel
def _kinematics(
    t: float,
    src: NDArray[np.int64],
    s: NDArray[np.float64],
    x: NDArray[np.float64],
    pd: NDArray[np.float64],
    height: NDArray[np.float64],
    bands: NDArray[np.float64],
    normalise: NDArray[np.bool_],
    smooth_tau: float,
    turn_min_speed: float,
    dive_tau: float,
    hover_speed: float,
    hover_sigma_factor: float,
    hover_max_sigma: float,
    hover_decay: float,
    speed_ref: float,
    alt_ref: float,
) -> tuple[
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
]:
    """Updates the state ``s [9, N]`` in place with states ``x [N, 6]`` (variances
    ``pd [N, 6]``) at ``t``. Returns ``dt [N]`` and, per feature (:data:`FEATURES`) and
    row, its value, weight and variance ``[F, N]``; for the features judged as densities
    (``normalise``, in order), the shoulder width ``sig`` and ``norm``, the band's mass
    before the logarithm, per class ``[D, C, N]`` (the caller takes the logarithms at
    once)."""
    n = x.shape[0]
    n_cls = bands.shape[1]
    n_f = bands.shape[0]
    dt_out = np.zeros(n)
    value = np.empty((n_f, n))
    weight = np.empty((n_f, n))
    var = np.zeros((n_f, n))
    for i in range(n):
        new = src[i] < 0
        t_prev = s[_T, i]
        dt = 0.0 if new or not math.isfinite(t_prev) else t - t_prev
        dt = max(dt, 0.0)
        a = 1.0 - math.exp(-dt / smooth_tau)
        speed = math.hypot(x[i, 3], x[i, 4])
        heading = math.atan2(x[i, 3], x[i, 4])
        s[_SPEED, i] = _ema(s[_SPEED, i], speed, a)
        # Vertical rate averaged with its sign: radar height noise makes |vU| of a level bird
        # look like a climbing drone; the signed average keeps real climbs and dives only.
        s[_VU, i] = _ema(s[_VU, i], x[i, 5], a)
        s[_CLIMB, i] = abs(s[_VU, i])
        # Turn rate only from two headings of a moving track: at low speed the heading is noise.
        moving = speed > turn_min_speed
        prev_h = s[_HEADING, i]
        if moving and math.isfinite(prev_h) and dt > 0:
            # The heading change wrapped to [-pi, pi] (both headings are in it).
            d = heading - prev_h
            if d > math.pi:
                d -= 2.0 * math.pi
            elif d < -math.pi:
                d += 2.0 * math.pi
            s[_TURN, i] = _ema(s[_TURN, i], abs(d) / dt, a)
        s[_HEADING, i] = heading if moving else np.nan
        # Steepest descent with a fading memory: a terminal dive stays on record a while.
        descent = max(-s[_VU, i], 0.0)
        s[_DIVE, i] = max(s[_DIVE, i] * math.exp(-dt / dive_tau), descent)
        # Hovering: slow within the velocity's uncertainty (bearing-only tracks of a hovering
        # relay keep a few m/s of velocity noise), if the velocity is known at all.
        var_v = 0.5 * (pd[i, 3] + pd[i, 4])
        sd_v = math.sqrt(var_v) if var_v > 0 else (0.0 if var_v == var_v else np.nan)
        if s[_SPEED, i] < hover_speed + hover_sigma_factor * sd_v and sd_v <= hover_max_sigma:
            s[_HOVER, i] = s[_HOVER, i] + dt
        else:
            s[_HOVER, i] = max(s[_HOVER, i] - dt * hover_decay, 0.0)
        s[_MATURITY, i] = 0.0 if new else s[_MATURITY, i] + a * (1.0 - s[_MATURITY, i])
        s[_T, i] = t
        dt_out[i] = dt
        # Weighted log-likelihood of the features: a feature's weight falls as the
        # filter's variance of it grows (and while the averages settle).
        mature = 0.3 + 0.7 * s[_MATURITY, i]
        ref_v = speed_ref * speed_ref
        ref_u = alt_ref * alt_ref
        w_v = mature * ref_v / (ref_v + _nan_to(var_v, 1e12, _BIG))
        w_u = ref_u / (ref_u + _nan_to(pd[i, 2], 1e12, _BIG))
        w_vu = mature * ref_v / (ref_v + _nan_to(pd[i, 5], 1e12, _BIG))
        value[0, i], weight[0, i], var[0, i] = s[_SPEED, i], w_v, _nan_to(var_v, 1e12, 1e12)
        value[1, i], weight[1, i], var[1, i] = height[i], w_u, _nan_to(pd[i, 2], 1e12, 1e12)
        value[2, i], weight[2, i], var[2, i] = s[_CLIMB, i], w_vu, _nan_to(pd[i, 5], 1e12, 1e12)
        value[3, i], weight[3, i], var[3, i] = s[_DIVE, i], w_vu, _nan_to(pd[i, 5], 1e12, 1e12)
        value[4, i], weight[4, i] = s[_TURN, i], w_v if s[_SPEED, i] > turn_min_speed else 0.0
        value[5, i], weight[5, i] = s[_HOVER, i], w_v
    # The densities' shoulders, widened by the estimate's variance, in loops over rows
    # that vectorise; slot k of ``sig`` and ``norm`` is the k-th density feature.
    n_dens = 0
    for f in range(n_f):
        n_dens += normalise[f]
    sig = np.empty((n_dens, n_cls, n))
    norm = np.empty((n_dens, n_cls, n))
    k = 0
    for f in range(n_f):
        if not normalise[f]:
            continue
        for c in range(n_cls):
            s2 = bands[f, c, 2] * bands[f, c, 2]
            width = bands[f, c, 1] - bands[f, c, 0]
            for i in range(n):
                sig[k, c, i] = math.sqrt(s2 + var[f, i])
                norm[k, c, i] = width + _SQRT_2PI * sig[k, c, i]
        k += 1
    return dt_out, value, weight, var, sig, norm


@kernel
def _feature_loglik(
    value: NDArray[np.float64],
    weight: NDArray[np.float64],
    var: NDArray[np.float64],
    sig: NDArray[np.float64],
    log_norm: NDArray[np.float64],
    bands: NDArray[np.float64],
    normalise: NDArray[np.bool_],
    fweight: NDArray[np.float64],
    max_penalty: float,
) -> NDArray[np.float64]:
    """Weighted kinematic log-likelihood ``[C, N]`` of the features of
    :func:`_kinematics` (``log_norm``: the logarithm of its ``norm``). Loops run over
    rows innermost, without branches, so that they vectorise."""
    n_f = value.shape[0]
    n = value.shape[1]
    n_cls = bands.shape[1]
    out = np.zeros((n_cls, n))
    ll = np.empty((n_cls, n))
    top = np.empty(n)
    k = -1
    for f in range(n_f):
        k += normalise[f]
        for c in range(n_cls):
            lo = bands[f, c, 0]
            hi = bands[f, c, 1]
            s2 = bands[f, c, 2] * bands[f, c, 2]
            if normalise[f]:
                for i in range(n):
                    v = value[f, i]
                    d = max(max(lo - v, v - hi), 0.0)
                    q = d / sig[k, c, i]
                    ll[c, i] = -0.5 * (q * q) - log_norm[k, c, i]
            else:
                for i in range(n):
                    v = value[f, i]
                    d = max(max(lo - v, v - hi), 0.0)
                    q = d / math.sqrt(s2 + var[f, i])
                    # Inside an envelope: nothing to weigh.
                    ll[c, i] = 0.0 if d == 0.0 else -0.5 * (q * q)
        for i in range(n):
            top[i] = ll[0, i]
        for c in range(1, n_cls):
            for i in range(n):
                top[i] = ll[c, i] if ll[c, i] > top[i] else top[i]
        for c in range(n_cls):
            for i in range(n):
                # Robust: a wildly wrong estimate (a height the filter cannot see) costs
                # a bounded amount; a feature not known (NaN) adds nothing.
                w = fweight[f] * weight[f, i]
                add = w * max(ll[c, i] - top[i], -max_penalty)
                out[c, i] += add if math.isfinite(value[f, i]) else 0.0
    return out


class Kinematics:
    """Smoothed kinematic features per track (exponential averages in time)."""

    def __init__(self, config: ClassifyConfig) -> None:
        self.config = config
        self.height: NDArray[np.float64] = np.zeros(0)
        self.state = TrackState(_KIN_SPEC)
        c = config
        self._bands = np.stack([_band_arrays(getattr(c, f)) for f in FEATURES])
        self._normalise = np.array([f not in c.envelopes for f in FEATURES])
        self._fweight = np.array([c.feature_weight.get(f, 1.0) for f in FEATURES], dtype=np.float64)

    def update(
        self,
        t: float,
        src: NDArray[np.int64],
        x: NDArray[np.float64],
        pd: NDArray[np.float64],
        terrain: Terrain | None,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Update the averages with states ``x [N,6]`` (covariance diagonals ``pd [N,6]``)
        of the rows ``src`` mapped (see :meth:`TrackState.align`, already done) at ``t``;
        returns ``dt [N]`` since each track's previous update (0 for new tracks) and the
        weighted kinematic log-likelihood ``[C, N]`` of the current features (a feature's
        weight falls as the filter's variance of it grows, and while averages settle)."""
        c = self.config
        self.height = x[:, 2] - (terrain.height(x[:, 0], x[:, 1]) if terrain is not None else 0.0)
        dt, value, weight, var, sig, norm = _kinematics(
            float(t),
            src,
            self.state.data,
            x,
            pd,
            np.ascontiguousarray(self.height, dtype=np.float64),
            self._bands,
            self._normalise,
            c.smooth_tau_s,
            c.turn_min_speed_mps,
            c.dive_decay_tau_s,
            c.hover_speed_mps,
            c.hover_sigma_factor,
            c.hover_max_sigma_mps,
            c.hover_decay_s,
            c.speed_sigma_ref_mps,
            c.alt_sigma_ref_m,
        )
        # One vectorised logarithm for every (density feature, class, track): several
        # times faster than one call each inside the kernel.
        np.log(norm, out=norm)
        ll = _feature_loglik(
            value, weight, var, sig, norm, self._bands, self._normalise, self._fweight, c.max_feature_penalty
        )
        return dt, ll

    def column(self, name: str) -> NDArray[np.float64]:
        return self.state[name]


@kernel
def _mixed(q: float, loglik: float) -> float:
    """Log-likelihood of evidence that is the track's with probability ``q`` (else says
    nothing about it): ``log(q * l + 1 - q)``."""
    return math.log(q * math.exp(loglik) + (1.0 - q))


@kernel
def _rate(t: float, last: float, tau: float) -> float:
    """Weight ``min(1, (t - last) / tau)`` of evidence last applied at ``last``."""
    return min(max(t - last, 0.0) / tau, 1.0)


@kernel
def _posterior(e: NDArray[np.float64], s: NDArray[np.float64], floor: float) -> NDArray[np.float64]:
    """Posterior ``[N, C]`` from ``e [C, N]``, the exponentials of :func:`_fuse`'s log
    posteriors less each row's largest, with every class at least about ``floor``;
    stored in the state ``s`` too."""
    n_cls = e.shape[0]
    n = e.shape[1]
    prob = np.empty((n, n_cls))
    for i in range(n):
        z = 0.0
        for c in range(n_cls):
            z += e[c, i]
        for c in range(n_cls):
            prob[i, c] = e[c, i] / z
        if floor > 0:
            z = 0.0
            for c in range(n_cls):
                prob[i, c] = max(prob[i, c], floor)
                z += prob[i, c]
            for c in range(n_cls):
                prob[i, c] /= z
        for c in range(n_cls):
            s[_PROB + c, i] = prob[i, c]
    return prob


# Columns of the class state: the log posterior (N_CLASSES rows), the posterior itself
# (N_CLASSES rows), then these.
_PROB = N_CLASSES
_T_SENSOR = 2 * N_CLASSES
_T_EMIT = 2 * N_CLASSES + 1


@kernel
def _fuse(
    t: float,
    s: NDArray[np.float64],
    dt: NDArray[np.float64],
    cls_lik: NDArray[np.float64],
    link: NDArray[np.float64],
    rf: NDArray[np.float64],
    rid: NDArray[np.float64],
    adsb: NDArray[np.float64],
    protocol: NDArray[np.int64],
    link_table: NDArray[np.float64],
    rf_other_ll: NDArray[np.float64],
    rid_ll: NDArray[np.float64],
    adsb_ll: NDArray[np.float64],
    relay: NDArray[np.bool_],
    relay_ll: NDArray[np.float64],
    kin_ll: NDArray[np.float64],
    log_prior: NDArray[np.float64],
    forget_tau: float,
    sensor_weight: float,
    sensor_tau: float,
    emission_tau: float,
    min_confidence: float,
    kin_tau: float,
) -> NDArray[np.float64]:
    """One recursive step of every row (see :meth:`ClassFusion.update`) up to the log
    posterior, returned ``[C, N]`` less each row's largest (the caller exponentiates it
    at once for :func:`_posterior`); updates the evidence times in ``s``."""
    n = dt.shape[0]
    n_cls = log_prior.shape[0]
    out = np.empty((n_cls, n))
    logp = np.empty(n_cls)
    ll = np.empty(n_cls)
    emit = np.empty(n_cls)
    for i in range(n):
        fresh = False
        for c in range(n_cls):
            if not math.isfinite(s[c, i]):
                fresh = True
        # Forgetting: temper toward uniform so that stale evidence fades.
        f = math.exp(-dt[i] / forget_tau)
        for c in range(n_cls):
            logp[c] = (log_prior[c] if fresh else s[c, i]) * f
        if cls_lik.shape[0]:
            top = -np.inf
            for c in range(n_cls):
                v = cls_lik[i, c]
                ll[c] = v if math.isfinite(v) and v >= 0 else 1.0
                top = max(top, ll[c])
            seen = False
            for c in range(n_cls):
                v = ll[c] / top if top > 0 else 1.0
                ll[c] = math.log(max(v, 1e-9)) if v != 1.0 else 0.0
                if ll[c] < 0:
                    seen = True
            if seen:
                # Frames of one camera repeat one another: their evidence counts at most at
                # the rate of one full observation per ``sensor_tau_s``.
                w = sensor_weight * _rate(t, s[_T_SENSOR, i], sensor_tau)
                for c in range(n_cls):
                    logp[c] = logp[c] + w * ll[c]
                s[_T_SENSOR, i] = t
        # Evidence less likely ours than another's says nothing: ambiguous bearings repeat
        # step after step and would otherwise add up to a class.
        q_link = link[i] if link[i] >= min_confidence else 0.0
        q_rf = rf[i] if rf[i] >= min_confidence else 0.0
        q_other = max(q_rf - q_link, 0.0)
        q_rid = rid[i] if rid[i] >= min_confidence else 0.0
        q_adsb = adsb[i] if adsb[i] >= min_confidence else 0.0
        heard = False
        p = protocol[i]
        # Evidence held with confidence 0 adds log(1) = 0: most rows hear nothing.
        if q_link > 0 or q_other > 0 or q_rid > 0 or q_adsb > 0:
            for c in range(n_cls):
                e = _mixed(q_link, link_table[p, c]) + _mixed(q_other, rf_other_ll[c])
                e = e + _mixed(q_rid, rid_ll[c]) + _mixed(q_adsb, adsb_ll[c])
                emit[c] = e
                if e != 0:
                    heard = True
        if heard:
            # An emitter heard every second is one fact, not a new one each scan.
            w = _rate(t, s[_T_EMIT, i], emission_tau)
            for c in range(n_cls):
                logp[c] = logp[c] + w * emit[c]
            s[_T_EMIT, i] = t
        if relay[i]:
            w = min(dt[i], 5.0)
            for c in range(n_cls):
                logp[c] = logp[c] + w * relay_ll[c]
        w = min(dt[i] / kin_tau, 1.0)
        top = -np.inf
        for c in range(n_cls):
            logp[c] = logp[c] + w * kin_ll[c, i]
            if not math.isfinite(logp[c]):
                logp[c] = -700.0
            top = max(top, logp[c])
        for c in range(n_cls):
            out[c, i] = logp[c] - top
    return out


class ClassFusion:
    """Class posterior per track, fused recursively from every source of evidence."""

    def __init__(self, config: ClassifyConfig) -> None:
        self.config = config
        prior = np.asarray(config.prior, dtype=np.float64)
        self.log_prior = np.log(np.maximum(prior / prior.sum(), 1e-12))
        #: the prior, normalised: the previous posterior of a new track
        self.prior = np.exp(self.log_prior - self.log_prior.max())
        self.prior /= self.prior.sum()
        self.state = TrackState(
            {"logp": (N_CLASSES, np.nan), "prob": (N_CLASSES, np.nan), "t_sensor": -np.inf, "t_emit": -np.inf}
        )
        c = config
        self._link = np.log(np.maximum(np.asarray(c.link_lik, dtype=np.float64), 1e-12))
        self._rf_other = np.log(np.maximum(np.asarray(c.rf_other_lik, dtype=np.float64), 1e-12))
        self._rid = np.log(np.maximum(np.asarray(c.remote_id_lik, dtype=np.float64), 1e-12))
        self._adsb = np.log(np.maximum(np.asarray(c.adsb_lik, dtype=np.float64), 1e-12))
        self._protocol = {
            name: np.log(np.maximum(np.asarray(lik, dtype=np.float64), 1e-12))
            for name, lik in c.protocol_lik.items()
        }
        self._relay = np.log(np.maximum(np.asarray(c.relay_lik, dtype=np.float64), 1e-12))
        self._link_table = np.zeros((0, N_CLASSES))

    def previous(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Log posterior and posterior ``[C, N]`` of the previous step of the rows the
        state is aligned to (NaN for new tracks)."""
        return self.state["logp"], self.state["prob"]

    def _link_lls(self, vocab: Vocabulary) -> NDArray[np.float64]:
        """Log-likelihood ``[V, C]`` of an FPV-link emission by protocol code."""
        if self._link_table.shape[0] != len(vocab):
            self._link_table = np.stack([self._protocol.get(name, self._link) for name in vocab.names])
        return self._link_table

    def update(
        self,
        t: float,
        dt: NDArray[np.float64],
        cls_lik: NDArray[np.float64],
        evidence: StepEvidence,
        kin_loglik: NDArray[np.float64],
        relay: NDArray[np.bool_],
        vocab: Vocabulary,
    ) -> NDArray[np.float64]:
        """One recursive step over the rows the state is aligned to; returns the posterior
        ``[N, C]`` (rows sum to one)."""
        c = self.config
        logp = _fuse(
            float(t),
            self.state.data,
            dt,
            cls_lik,
            evidence.link,
            evidence.rf,
            evidence.remote_id,
            evidence.adsb,
            evidence.protocol,
            self._link_lls(vocab),
            self._rf_other,
            self._rid,
            self._adsb,
            relay,
            self._relay,
            kin_loglik,
            self.log_prior,
            c.forget_tau_s,
            c.sensor_weight,
            c.sensor_tau_s,
            c.emission_tau_s,
            c.min_evidence_confidence,
            c.kin_tau_s,
        )
        # One vectorised exponential and logarithm for every (track, class): several
        # times faster than one call each inside the kernel.
        prob = _posterior(np.exp(logp, out=logp), self.state.data, c.prob_floor)
        np.log(self.state["prob"], out=self.state["logp"])
        return prob
