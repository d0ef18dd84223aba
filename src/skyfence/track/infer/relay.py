"""Relay recognition: the chain operator → relay → FPV as one object.

A relay candidate is a track that hovers (smoothed speed under ``max_speed_mps`` for
``min_dwell_s``), high enough to see far (``min_height_m``), with an FPV link emission
associated within ``rf_recent_s``, and, when border zones are known, within
``border_distance_m`` of the border. FPV-like tracks that still use a radio link and fly
beyond their operator's line of sight (deeper than ``operator_los_m`` inside the border)
are linked to the nearest candidate within ``service_radius_m`` whose link protocol
and band match theirs (an FPV whose link was never heard is not linked; a previous link
is kept while it stays compatible). A candidate serving at least one FPV is a relay and
keeps the flag while it stays a candidate, and ``hold_s`` after.

The operator's ground link is estimated on each relay as a bearing from the relay:
from unassociated RF bearings in the relay's band that point away from the relay
(triangulated when two sensors see them, else carried to ``operator_standoff_m``
beyond the border), otherwise straight toward the far side of the border, otherwise away
from the defended side (the sensors' centroid). The chain's id is the relay's track id.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from skyfence._jit import kernel
from skyfence.model.classes import TargetClass
from skyfence.model.sensors import SensorRegistry
from skyfence.model.tracks import TrackStatus
from skyfence.model.zone import Zone
from skyfence.track.infer._state import TrackState
from skyfence.track.infer.config import RelayConfig
from skyfence.track.infer.evidence import StepEvidence, UnassociatedBearings

__all__ = ["OPERATOR_SOURCES", "Border", "RelayChains", "RelayResult"]

#: Codes of ``operator_source``: how the operator bearing of a relay was found.
OPERATOR_SOURCES: tuple[str, ...] = ("none", "rf_triangulated", "rf_bearing", "border", "geometry")


class Border:
    """Border lines as segments in the site plane, with the defended (home) side."""

    def __init__(self, zones: Sequence[Zone], home: NDArray[np.float64]) -> None:
        a: list[NDArray[np.float64]] = []
        b: list[NDArray[np.float64]] = []
        for z in zones:
            if z.kind != "border":
                continue
            pts = np.asarray(z.coords, dtype=np.float64)
            if z.geometry == "polygon":
                pts = np.vstack([pts, pts[:1]])
            a.append(pts[:-1])
            b.append(pts[1:])
        self.a = np.concatenate(a) if a else np.zeros((0, 2))
        self.b = np.concatenate(b) if b else np.zeros((0, 2))
        self.home_sign = 1.0
        if len(self):
            side = float(self.side(np.asarray(home, dtype=np.float64).reshape(1, 2))[0])
            self.home_sign = side if side != 0 else 1.0

    def __len__(self) -> int:
        return int(self.a.shape[0])

    def nearest(
        self, p: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.intp], NDArray[np.float64]]:
        """Distance ``[N]``, nearest segment ``[N]`` and the nearest point ``[N,2]``."""
        ab = self.b - self.a
        ap = p[:, None, :] - self.a[None, :, :]
        denom = np.maximum((ab * ab).sum(axis=1), 1e-12)
        u = np.clip((ap * ab[None]).sum(axis=2) / denom[None], 0.0, 1.0)
        closest = self.a[None] + u[..., None] * ab[None]
        d = np.linalg.norm(p[:, None, :] - closest, axis=2)
        k = np.argmin(d, axis=1)
        rows = np.arange(p.shape[0])
        return d[rows, k], k, closest[rows, k]

    def side(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        """Sign of the side of the nearest segment (+1 left of its direction, -1 right)."""
        _, k, _ = self.nearest(p)
        ab = self.b[k] - self.a[k]
        ap = p - self.a[k]
        out: NDArray[np.float64] = np.sign(ab[:, 0] * ap[:, 1] - ab[:, 1] * ap[:, 0])
        return out

    def depth(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        """Signed distance from the border of points ``p[:, :2]``, positive on the home side."""
        return _depth(np.ascontiguousarray(p, dtype=np.float64), self.a, self.b, self.home_sign)

    def far_normal(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        """Unit normal ``[N,2]`` of the nearest segment pointing to the far side."""
        _, k, _ = self.nearest(p)
        ab = self.b[k] - self.a[k]
        ab = ab / np.maximum(np.linalg.norm(ab, axis=1, keepdims=True), 1e-12)
        left = np.stack([-ab[:, 1], ab[:, 0]], axis=1)
        out: NDArray[np.float64] = left * -self.home_sign
        return out

    def crossing(self, origin: NDArray[np.float64], direction: NDArray[np.float64]) -> float:
        """Distance along a ray to its first border crossing (``inf`` when none)."""
        ab = self.b - self.a
        denom = direction[0] * ab[:, 1] - direction[1] * ab[:, 0]
        ao = self.a - origin
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (ao[:, 0] * ab[:, 1] - ao[:, 1] * ab[:, 0]) / denom
            u = (ao[:, 0] * direction[1] - ao[:, 1] * direction[0]) / denom
        ok = np.isfinite(s) & (s >= 0) & (u >= 0) & (u <= 1)
        return float(s[ok].min()) if ok.any() else float("inf")


@kernel
def _depth(
    p: NDArray[np.float64], a: NDArray[np.float64], b: NDArray[np.float64], home_sign: float
) -> NDArray[np.float64]:
    """:meth:`Border.depth`: distance to the nearest segment ``a -> b`` (the first of
    equals), signed by the side of that segment (home side positive)."""
    n = p.shape[0]
    out = np.empty(n)
    for i in range(n):
        best = np.inf
        k_best = 0
        for k in range(a.shape[0]):
            abx = b[k, 0] - a[k, 0]
            aby = b[k, 1] - a[k, 1]
            apx = p[i, 0] - a[k, 0]
            apy = p[i, 1] - a[k, 1]
            u = min(max((apx * abx + apy * aby) / max(abx * abx + aby * aby, 1e-12), 0.0), 1.0)
            dx = p[i, 0] - (a[k, 0] + u * abx)
            dy = p[i, 1] - (a[k, 1] + u * aby)
            d = math.sqrt(dx * dx + dy * dy)
            if d < best:
                best = d
                k_best = k
        abx = b[k_best, 0] - a[k_best, 0]
        aby = b[k_best, 1] - a[k_best, 1]
        cross = abx * (p[i, 1] - a[k_best, 1]) - aby * (p[i, 0] - a[k_best, 0])
        side = 1.0 if cross > 0 else (-1.0 if cross < 0 else 0.0)
        out[i] = best if side * home_sign >= 0 else -best
    return out


# Columns of the relay state.
(
    _LAST_LINK_T,
    _PROTOCOL,
    _BAND,
    _PROTO_W,
    _T,
    _RELAY_UNTIL,
    _RELAY_ID,
    _OP_BEARING,
    _OP_SOURCE,
    _RELAY,
    _CAND,
) = range(11)


@kernel
def _remember_link(
    s: NDArray[np.float64],
    i: int,
    t: float,
    link_q: float,
    protocol: int,
    band: int,
    protocol_q: float,
    protocol_memory: float,
) -> None:
    """This step's link evidence of row ``i``: when a link emission was last associated,
    and the remembered protocol and band."""
    if link_q >= 0.5:
        s[_LAST_LINK_T, i] = t
    # Protocol and band are remembered from any bearing plausibly the track's, so an FPV
    # seen through a crowd still gets its band; the weight behind the remembered one
    # (decaying) must be beaten by a new bearing before it changes, so the odd bearing of
    # a neighbour on the same line does not rename the track's link.
    dt = t - s[_T, i] if math.isfinite(s[_T, i]) else 0.0
    w = s[_PROTO_W, i] * math.exp(-max(dt, 0.0) / protocol_memory)
    if protocol != 0:
        if protocol == s[_PROTOCOL, i] and band == s[_BAND, i]:
            w = w + protocol_q
        elif protocol_q > w:
            w = protocol_q
            s[_PROTOCOL, i] = protocol
            s[_BAND, i] = band
    s[_PROTO_W, i] = w
    s[_T, i] = t


@kernel
def _carry(
    s: NDArray[np.float64],
    t: float,
    link_q: NDArray[np.float64],
    protocol: NDArray[np.int64],
    band: NDArray[np.int64],
    protocol_q: NDArray[np.float64],
    protocol_memory: float,
) -> tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.bool_]]:
    """A step without a decision: the link memory is updated and the last decision
    returned (``relay``, ``relay_id``, ``candidate``; a row new since has none)."""
    n = link_q.shape[0]
    relay = np.zeros(n, np.bool_)
    relay_id = np.full(n, -1, np.int64)
    cand = np.zeros(n, np.bool_)
    for i in range(n):
        _remember_link(s, i, t, link_q[i], protocol[i], band[i], protocol_q[i], protocol_memory)
        relay[i] = s[_RELAY, i] > 0
        relay_id[i] = np.int64(s[_RELAY_ID, i])
        cand[i] = s[_CAND, i] > 0
    return relay, relay_id, cand


@kernel
def _chains(
    t: float,
    ids: NDArray[np.int64],
    s: NDArray[np.float64],
    link_q: NDArray[np.float64],
    protocol: NDArray[np.int64],
    band: NDArray[np.int64],
    protocol_q: NDArray[np.float64],
    x: NDArray[np.float64],
    status: NDArray[np.int8],
    speed: NDArray[np.float64],
    pd: NDArray[np.float64],
    hover_s: NDArray[np.float64],
    height: NDArray[np.float64],
    fpv_prob: NDArray[np.float64],
    rf_silent: NDArray[np.float64],
    last_passive: NDArray[np.float64],
    depth: NDArray[np.float64],
    has_border: bool,
    confirmed: int,
    coasting: int,
    protocol_memory: float,
    passive_recent: float,
    border_distance: float,
    operator_los: float,
    max_speed: float,
    speed_sigma_factor: float,
    min_dwell: float,
    min_height: float,
    rf_recent: float,
    min_fpv_prob: float,
    service_radius: float,
    hold: float,
) -> tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.bool_]]:
    """See :meth:`RelayChains.update`: returns ``(relay, relay_id, candidate)``; the state
    ``s`` is updated in place."""
    n = ids.shape[0]
    cand = np.zeros(n, np.bool_)
    fpv = np.zeros(n, np.bool_)
    alive = np.zeros(n, np.bool_)
    n_cand = 0
    for i in range(n):
        _remember_link(s, i, t, link_q[i], protocol[i], band[i], protocol_q[i], protocol_memory)
        # Both ends of a chain must be seen by a passive sensor (radar, camera, microphone)
        # now and then: tracks held by RF bearings alone can be ghosts of crossing lines.
        alive[i] = (status[i] == confirmed or status[i] == coasting) and t - last_passive[i] <= passive_recent
        near_border = True
        beyond_los = True
        if has_border:
            near_border = abs(depth[i]) <= border_distance
            beyond_los = depth[i] >= operator_los
        v = speed[i]
        v = np.inf if math.isnan(v) else v
        var_v = 0.5 * (pd[i, 3] + pd[i, 4])
        speed_sd = math.sqrt(var_v) if var_v > 0 else (0.0 if var_v == var_v else np.nan)
        cand[i] = (
            alive[i]
            and v <= max_speed + speed_sigma_factor * speed_sd
            and hover_s[i] >= min_dwell
            and height[i] >= min_height
            and t - s[_LAST_LINK_T, i] <= rf_recent
            and near_border
        )
        fpv[i] = (
            alive[i] and not cand[i] and fpv_prob[i] >= min_fpv_prob and rf_silent[i] < 0.5 and beyond_los
        )
        n_cand += cand[i]
    relay_id = np.full(n, -1, np.int64)
    served = np.zeros(n, np.bool_)
    if n_cand:
        for f in range(n):
            if not fpv[f] or s[_PROTOCOL, f] == 0:
                # Only an FPV whose own link was heard can be put on a relay's link.
                continue
            pf = s[_PROTOCOL, f]
            bf = s[_BAND, f]
            best = np.inf
            r_best = -1
            for r in range(n):
                if not cand[r]:
                    continue
                pr = s[_PROTOCOL, r]
                br = s[_BAND, r]
                # A relay re-transmits its clients' links: same protocol, same band.
                if (pr != 0 and pf != pr) or (bf != 0 and br != 0 and bf != br):
                    continue
                dx = x[f, 0] - x[r, 0]
                dy = x[f, 1] - x[r, 1]
                d = math.sqrt(dx * dx + dy * dy)
                if not d <= service_radius:
                    continue
                # Keep an existing link while it is compatible: chains should not flicker.
                cost = d - service_radius if s[_RELAY_ID, f] == ids[r] else d
                if cost < best:
                    best = cost
                    r_best = r
            if r_best >= 0:
                relay_id[f] = ids[r_best]
                served[r_best] = True
    n_relay = 0
    relay = np.zeros(n, np.bool_)
    for i in range(n):
        # Once a relay, a relay while it stays a candidate: the FPVs it serves come and go
        # (they dive, or drop out of the picture behind terrain) but the chain stands.
        if cand[i] and (served[i] or t <= s[_RELAY_UNTIL, i]):
            s[_RELAY_UNTIL, i] = t + hold
        relay[i] = alive[i] and t <= s[_RELAY_UNTIL, i]
        n_relay += relay[i]
    # A relay's FPVs that drop out for a moment keep their link during the hold.
    relays = np.empty(n_relay, np.int64)
    k = 0
    for i in range(n):
        if relay[i]:
            relays[k] = ids[i]
            k += 1
    relays.sort()
    for i in range(n):
        old = s[_RELAY_ID, i]
        if relay_id[i] < 0 and fpv[i] and n_relay:
            p = np.searchsorted(relays, old)
            if p < n_relay and relays[p] == old:
                relay_id[i] = np.int64(old)
        s[_RELAY_ID, i] = relay_id[i]
        s[_RELAY, i] = relay[i]
        s[_CAND, i] = cand[i]
    return relay, relay_id, cand


@dataclass(frozen=True, slots=True)
class RelayResult:
    relay: NDArray[np.bool_]
    relay_id: NDArray[np.int64]
    chain_id: NDArray[np.int64]
    operator_bearing: NDArray[np.float64]
    operator_source: NDArray[np.int8]
    candidate: NDArray[np.bool_]


def _bearing(v: NDArray[np.float64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = np.mod(np.arctan2(v[..., 0], v[..., 1]), 2 * np.pi)
    return out


def _triangulate(origins: NDArray[np.float64], az: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """Least-squares crossing point of 2-D bearing lines (None when they are parallel)."""
    d = np.stack([np.sin(az), np.cos(az)], axis=1)
    proj = np.eye(2)[None] - d[:, :, None] * d[:, None, :]
    A = proj.sum(axis=0)
    rhs = (proj @ origins[:, :, None]).sum(axis=0)[:, 0]
    if abs(np.linalg.det(A)) < 1e-6:
        return None
    p = np.linalg.solve(A, rhs)
    # A crossing behind any sensor is a wrong pairing, not an operator.
    if (((p[None] - origins) * d).sum(axis=1) <= 0).any():
        return None
    out: NDArray[np.float64] = p
    return out


class RelayChains:
    def __init__(
        self, config: RelayConfig, zones: Sequence[Zone] | None, sensors: SensorRegistry | None
    ) -> None:
        self.config = config
        home = np.zeros(2)
        if sensors is not None and len(sensors):
            home = np.mean([s.position[:2] for s in sensors], axis=0)
        self.home = home
        self.border = Border(zones or (), home)
        self.state = TrackState(
            {
                "last_link_t": -np.inf,
                "protocol": 0.0,
                "band": 0.0,
                "proto_w": 0.0,
                "t": np.nan,
                "relay_until": -np.inf,
                "relay_id": -1.0,
                "op_bearing": np.nan,
                "op_source": 0.0,
                "relay": 0.0,
                "candidate": 0.0,
            }
        )
        self._last_t = -np.inf

    def update(
        self,
        t: float,
        ids: NDArray[np.int64],
        x: NDArray[np.float64],
        status: NDArray[np.int8],
        speed: NDArray[np.float64],
        pd: NDArray[np.float64],
        hover_s: NDArray[np.float64],
        height: NDArray[np.float64],
        cls_prob: NDArray[np.float64],
        rf_silent: NDArray[np.float64],
        evidence: StepEvidence,
        last_passive: NDArray[np.float64],
    ) -> RelayResult:
        """One step over the rows the state is aligned to (``ids``); ``pd [N, 6]`` are the
        state covariance diagonals (a relay's speed is judged against its sigma)."""
        c = self.config
        s = self.state
        n = ids.shape[0]
        # Decisions at most once per interval of track time, and at every step that
        # brings RF bearings (their evidence is this step's only); between, the flags,
        # links and operator bearings are carried by track id.
        decide = (
            not t - c.interval_s < self._last_t <= t
            or len(evidence.unassociated) > 0
            or bool(evidence.protocol.any())
        )
        if not decide:
            relay, relay_id, cand = _carry(
                s.data,
                float(t),
                evidence.link,
                evidence.protocol,
                evidence.band,
                evidence.protocol_q,
                c.protocol_memory_s,
            )
        else:
            self._last_t = t
            has_border = bool(len(self.border) and n)
            depth = self.border.depth(x) if has_border else np.zeros(0)
            relay, relay_id, cand = _chains(
                float(t),
                ids,
                s.data,
                evidence.link,
                evidence.protocol,
                evidence.band,
                evidence.protocol_q,
                x,
                status,
                speed,
                pd,
                hover_s,
                height,
                np.ascontiguousarray(cls_prob[:, TargetClass.FPV]),
                rf_silent,
                last_passive,
                depth,
                has_border,
                int(TrackStatus.CONFIRMED),
                int(TrackStatus.COASTING),
                c.protocol_memory_s,
                c.passive_recent_s,
                c.border_distance_m,
                c.operator_los_m,
                c.max_speed_mps,
                c.speed_sigma_factor,
                c.min_dwell_s,
                c.min_height_m,
                c.rf_recent_s,
                c.min_fpv_prob,
                c.service_radius_m,
                c.hold_s,
            )
        if relay.any():
            if decide:
                self._operator(t, ids, x, relay, evidence.unassociated)
            chain = np.where(relay, ids, relay_id)
            op = np.where(relay, s["op_bearing"], np.nan)
            src = np.where(relay, s["op_source"], 0).astype(np.int8)
        else:
            chain = relay_id.copy()
            op = np.full(n, np.nan)
            src = np.zeros(n, dtype=np.int8)
        return RelayResult(relay, relay_id, chain, op, src, cand)

    def _operator(
        self,
        t: float,
        ids: NDArray[np.int64],
        x: NDArray[np.float64],
        relay: NDArray[np.bool_],
        free: UnassociatedBearings,
    ) -> None:
        c = self.config
        s = self.state
        rows = np.flatnonzero(relay)
        if rows.size == 0:
            return
        est = np.full(rows.size, np.nan)
        src = np.zeros(rows.size, dtype=np.int8)
        ok_free = np.isfinite(free.origin).all(axis=1) & np.isfinite(free.az)
        # Few relays at once: a loop over relays is cheap.
        for k, r in enumerate(rows):
            p = x[r, :2]
            if ok_free.any():
                to_relay = _bearing(p[None, :] - free.origin[:, :2])
                off = np.abs(np.angle(np.exp(1j * (free.az - to_relay))))
                band = s["band"][r]
                same = (free.band == band) | (free.band == 0) | (band == 0)
                pick = ok_free & same & (off >= c.operator_min_sep_rad)
                if pick.any():
                    o = free.origin[pick, :2]
                    az = free.az[pick]
                    point = None
                    if np.unique(o, axis=0).shape[0] >= 2:
                        point = _triangulate(o, az)
                        src[k] = 1
                    if point is None:
                        j = int(np.argmax(off[pick]))
                        direction = np.array([np.sin(az[j]), np.cos(az[j])])
                        reach = self.border.crossing(o[j], direction) if len(self.border) else np.inf
                        if not np.isfinite(reach):
                            reach = float(np.linalg.norm(p - o[j]))
                        point = o[j] + direction * (reach + c.operator_standoff_m)
                        src[k] = 2
                    est[k] = float(_bearing(point - p))
                    continue
            if len(self.border):
                est[k] = float(_bearing(self.border.far_normal(p[None, :])[0]))
                src[k] = 3
            else:
                away = p - self.home
                est[k] = float(_bearing(away)) if np.linalg.norm(away) > 0 else np.nan
                src[k] = 4
        old = s["op_bearing"][rows]
        w = c.bearing_smooth
        mix = np.where(
            np.isfinite(old),
            np.angle((1 - w) * np.exp(1j * np.nan_to_num(old)) + w * np.exp(1j * np.nan_to_num(est))),
            est,
        )
        mix = np.where(np.isfinite(est), np.mod(mix, 2 * np.pi), old)
        op = s["op_bearing"].copy()
        op[rows] = mix
        s["op_bearing"] = op
        srcs = s["op_source"].copy()
        srcs[rows] = np.where(src > 0, src, srcs[rows])
        s["op_source"] = srcs
