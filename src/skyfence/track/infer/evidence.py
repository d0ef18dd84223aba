"""What this step's associated detections say about each track beyond its position:
RF emissions and their protocol, Remote ID serials, ADS-B addresses, and the RF
bearings no track took (the relay's ground link shows up there)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyfence._jit import kernel
from skyfence.model.detections import Detections
from skyfence.model.sensors import SensorRegistry

#: Bearing pairs further apart than this many sigmas are not scored (their likelihood is nil).
_GATE_SIGMAS = 6.0
#: Tracks with a bearing variance above this (rad²) are scored against every bearing.
_WINDOW_VAR = 0.03**2
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

__all__ = [
    "PairBuffers",
    "StepEvidence",
    "UnassociatedBearings",
    "Vocabulary",
    "bearing_confidence",
    "sensor_type",
    "step_evidence",
]


class Vocabulary:
    """Small integer codes for the protocol and band names of RF detections, so that the
    per-track memory and the compiled loops compare integers, not strings. Code 0 is
    "not given" (``""``, and the ``None``/``nan`` that mixed columns read back as)."""

    def __init__(self) -> None:
        self.names: list[str] = [""]
        self._code: dict[str, int] = {"": 0, "None": 0, "nan": 0}

    def __len__(self) -> int:
        return len(self.names)

    def code(self, name: str) -> int:
        k = self._code.get(name)
        if k is None:
            k = self._code[name] = len(self.names)
            self.names.append(name)
        return k

    def codes(self, col: NDArray[Any] | None, n: int) -> NDArray[np.int64]:
        """Codes ``[n]`` of a detections attribute column (all 0 when absent)."""
        if col is None:
            return np.zeros(n, dtype=np.int64)
        uniq, inv = np.unique(np.asarray(col).astype(str), return_inverse=True)
        lut = np.array([self.code(str(u)) for u in uniq], dtype=np.int64)
        out: NDArray[np.int64] = lut[inv.reshape(-1)]
        return out

    def member(self, names: Iterable[str]) -> NDArray[np.bool_]:
        """Mask ``[V]`` of the codes whose name is in ``names`` (never code 0)."""
        wanted = set(names)
        return np.array([k > 0 and name in wanted for k, name in enumerate(self.names)], dtype=bool)


@dataclass(frozen=True, slots=True)
class UnassociatedBearings:
    """RF bearings of this step that no track took: sensor position ``[K,3]``, azimuth
    ``[K]`` (rad, clockwise from north), band and protocol codes (:class:`Vocabulary`,
    0 when not given)."""

    origin: NDArray[np.float64]
    az: NDArray[np.float64]
    band: NDArray[np.int64]
    protocol: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.az.shape[0])


@dataclass(frozen=True, slots=True)
class StepEvidence:
    """Per track row: how sure we are (0..1) that an emission of each kind associated this
    step really came from the track; the protocol and band (codes, 0 for none) of its
    latest RF emission."""

    emission: NDArray[np.float64]
    #: ``sum log(1 - q)`` over this step's emissions associated to the track: the log
    #: probability that none of them was really its own.
    emission_log_none: NDArray[np.float64]
    #: ``[N, S]`` registry sensor ``s`` associated an emission to the track this step.
    emission_by_sensor: NDArray[np.bool_]
    rf: NDArray[np.float64]
    link: NDArray[np.float64]
    remote_id: NDArray[np.float64]
    adsb: NDArray[np.float64]
    protocol: NDArray[np.int64]
    band: NDArray[np.int64]
    #: confidence of the bearing that named ``protocol`` and ``band``
    protocol_q: NDArray[np.float64]
    unassociated: UnassociatedBearings


def sensor_type(sensor_id: str, det: Detections, sensors: SensorRegistry | None) -> str:
    """The registry's type of a sensor, or a guess from the batch when it is not listed."""
    if sensors is not None and sensor_id in sensors:
        return sensors.get(sensor_id).type
    if det.kind == "remote_id" or "serial" in det.attrs:
        return "remote_id"
    if "icao" in det.attrs:
        return "adsb"
    if "protocol" in det.attrs:
        return "rf"
    return "unknown"


@kernel
def _wrap(a: float) -> float:
    """``a % 2π`` (as Python computes it) without a division on the usual range: below
    two turns ``a - 2π`` is exact (Sterbenz), as the remainder is, and from minus one
    turn ``%`` adds one."""
    turn = 2.0 * math.pi
    if 0.0 <= a < turn:
        return a
    if turn <= a < 2.0 * turn:
        return a - turn
    if -turn <= a < 0.0:
        return a + turn
    return a % turn


@kernel
def _pair_terms(
    z: NDArray[np.float64],
    var_z: NDArray[np.float64],
    rows: NDArray[np.int64],
    ox: float,
    oy: float,
    max_range_m: float,
    x: NDArray[np.float64],
    var_xy: NDArray[np.float64],
    emitter: NDArray[np.float64],
    arg: NDArray[np.float64],
    fac: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """The pairs (bearing, track) that :func:`bearing_confidence` scores: for bearing
    ``i``, entries ``start[i]`` (its own track) to ``start[i + 1]`` of ``arg`` (the
    Gaussian exponent) and ``fac`` (density factor times the track's emitter
    probability), so that a pair's likelihood is ``exp(arg) * fac``; ``outside[i]``: its
    own track lies beyond the sensor's range. Returns ``(start, outside)``; ``arg`` and
    ``fac`` are the caller's buffers, filled only when they hold ``start[-1]`` entries
    (else the caller grows them and calls again). The exponentials are left to the
    caller, in one vectorised call."""
    n = x.shape[0]
    k_det = z.shape[0]
    r2 = np.empty(n)
    az = np.empty(n)
    var_t = np.empty(n)
    max_r2 = max_range_m**2
    n_near = 0
    n_wide = 0
    for j in range(n):
        dx = x[j, 0] - ox
        dy = x[j, 1] - oy
        r2[j] = max(dx * dx + dy * dy, 1.0)
        az[j] = math.atan2(dx, dy)
        v = var_xy[j] / r2[j]
        var_t[j] = v if math.isfinite(v) else 1e6
        if r2[j] <= max_r2:
            if var_t[j] > _WINDOW_VAR:
                n_wide += 1
            else:
                n_near += 1
    # Tracks whose bearing is itself vague (close to the sensor, or poorly known) are
    # scored against every bearing; the rest through a window sized for them.
    wide = np.empty(n_wide, np.int64)
    near = np.empty(n_near, np.int64)
    a = 0
    b = 0
    var_max = -np.inf
    for j in range(n):
        if r2[j] <= max_r2:
            if var_t[j] > _WINDOW_VAR:
                wide[a] = j
                a += 1
            else:
                near[b] = j
                b += 1
                var_max = max(var_max, var_t[j])
    m = near.shape[0]
    order = near[np.argsort(az[near], kind="mergesort")]
    # Azimuths repeated a turn either side, so a window never needs to wrap; each copy
    # carries the track's own azimuth, variance and emitter probability, so the window
    # is scored in memory order.
    ext = np.empty(3 * m)
    az_e = np.empty(3 * m)
    var_e = np.empty(3 * m)
    em_e = np.empty(3 * m)
    for c in range(3):
        for p in range(m):
            j = order[p]
            ext[c * m + p] = az[j] + (c - 1) * 2.0 * math.pi
            az_e[c * m + p] = az[j]
            var_e[c * m + p] = var_t[j]
            em_e[c * m + p] = emitter[j]
    lo = np.zeros(k_det, np.int64)
    hi = np.zeros(k_det, np.int64)
    start = np.empty(k_det + 1, np.int64)
    start[0] = 0
    for i in range(k_det):
        if m:
            half = min(_GATE_SIGMAS * math.sqrt(var_z[i] + var_max), math.pi * (1 - 1e-9))
            zc = (z[i] + math.pi) % (2.0 * math.pi) - math.pi
            lo[i] = np.searchsorted(ext, zc - half, side="left")
            hi[i] = np.searchsorted(ext, zc + half, side="right")
        start[i + 1] = start[i] + 1 + n_wide + hi[i] - lo[i]
    outside = np.empty(k_det, np.bool_)
    if arg.shape[0] < start[k_det] or fac.shape[0] < start[k_det]:
        return start, outside
    two_pi = 2.0 * math.pi
    for i in range(k_det):
        p = start[i]
        zi = z[i]
        vz = var_z[i]
        r = rows[i]
        outside[i] = r2[r] > max_r2
        # The pair's likelihood: exp(-dz² / 2 var) / sqrt(2 pi var) times the emitter
        # probability, dz the bearing difference wrapped to [-pi, pi).
        dz = _wrap(zi - az[r] + math.pi) - math.pi
        var = vz + var_t[r]
        arg[p] = -0.5 * dz * dz / var
        fac[p] = emitter[r] / math.sqrt(two_pi * var)
        p += 1
        for w in wide:
            dz = _wrap(zi - az[w] + math.pi) - math.pi
            var = vz + var_t[w]
            arg[p] = -0.5 * dz * dz / var
            fac[p] = emitter[w] / math.sqrt(two_pi * var)
            p += 1
        # The window, branch-free so that it vectorises: the wrap by one turn either way
        # is what ``%`` gives on [-2π, 4π); a bearing with a difference outside it (an
        # azimuth given beyond one turn) is done again the exact way.
        off = p - lo[i]
        wild = False
        for e in range(lo[i], hi[i]):
            a = zi - az_e[e] + math.pi
            wild |= (a < -two_pi) | (a >= 2.0 * two_pi)
            a = a + two_pi if a < 0.0 else a
            a = a - two_pi if a >= two_pi else a
            dz = a - math.pi
            inv = 1.0 / (vz + var_e[e])
            arg[off + e] = -0.5 * dz * dz * inv
            fac[off + e] = em_e[e] * math.sqrt(inv) * _INV_SQRT_2PI
        if wild:
            for e in range(lo[i], hi[i]):
                dz = _wrap(zi - az_e[e] + math.pi) - math.pi
                arg[off + e] = -0.5 * dz * dz / (vz + var_e[e])
    return start, outside


@kernel
def _pair_sums(
    lik: NDArray[np.float64],
    fac: NDArray[np.float64],
    start: NDArray[np.int64],
    outside: NDArray[np.bool_],
    clutter_density: float,
    class_clutter_density: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(q, q_class)`` from the pair terms of :func:`_pair_terms`, ``lik`` the
    exponentials of their ``arg``."""
    k_det = start.shape[0] - 1
    q = np.empty(k_det)
    q_cls = np.empty(k_det)
    for i in range(k_det):
        own = lik[start[i]] * fac[start[i]]
        total = 0.0
        for p in range(start[i] + 1, start[i + 1]):
            total += lik[p] * fac[p]
        # The associated track counts even when it lies beyond the sensor's nominal range.
        if outside[i]:
            total += own
        denom = max(total, own)
        q[i] = own / (denom + clutter_density)
        q_cls[i] = own / (denom + class_clutter_density)
    return q, q_cls


def _confidence(
    z: NDArray[np.float64],
    var_z: NDArray[np.float64],
    rows: NDArray[np.int64],
    ox: float,
    oy: float,
    max_range_m: float,
    x: NDArray[np.float64],
    var_xy: NDArray[np.float64],
    emitter: NDArray[np.float64],
    clutter_density: float,
    class_clutter_density: float,
    scratch: PairBuffers | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """:func:`bearing_confidence` over bearings ``z [K]`` (variances ``var_z``) and tracks
    ``x [N, 6]`` with horizontal position variances ``var_xy [N]``; ``scratch`` keeps
    the pair buffers from one call to the next (fresh buffers of a megabyte cost page
    faults on every call)."""
    buf = scratch if scratch is not None else PairBuffers()
    start, outside = _pair_terms(z, var_z, rows, ox, oy, max_range_m, x, var_xy, emitter, buf.arg, buf.fac)
    m = int(start[-1])
    if buf.arg.shape[0] < m:
        buf.grow(m)
        start, outside = _pair_terms(
            z, var_z, rows, ox, oy, max_range_m, x, var_xy, emitter, buf.arg, buf.fac
        )
    # Tens of thousands of pairs: numpy's vectorised exponential is several times faster
    # than one call per pair.
    lik = np.exp(buf.arg[:m], out=buf.arg[:m])
    return _pair_sums(lik, buf.fac[:m], start, outside, clutter_density, class_clutter_density)


class PairBuffers:
    """Buffers of the bearing pair terms, kept between updates."""

    def __init__(self) -> None:
        self.arg: NDArray[np.float64] = np.zeros(0)
        self.fac: NDArray[np.float64] = np.zeros(0)

    def grow(self, m: int) -> None:
        size = max(m, int(1.5 * self.arg.shape[0]))
        self.arg = np.empty(size)
        self.fac = np.empty(size)


def bearing_confidence(
    det: Detections,
    rows: NDArray[np.int64],
    origin: NDArray[np.float64],
    max_range_m: float,
    x: NDArray[np.float64],
    P: NDArray[np.float64],
    emitter: NDArray[np.float64],
    clutter_density: float,
    class_clutter_density: float | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(q, q_class)``: probability that bearing ``k`` of ``det`` came from track ``rows[k]`` and not from
    another track on the same line of bearing (each weighed by its prior ``emitter``
    probability: a bird seldom radiates) or an untracked emitter (``clutter_density`` per
    radian): the tracker's hard assignment of a bearing is often a coin toss. ``q_class``
    is the same with ``class_clutter_density`` (defaults to ``clutter_density``).

    Only pairs within six sigmas of each bearing are scored (found on the tracks sorted by
    azimuth, with the widest track variance in range), so a thousand bearings against a
    thousand tracks stay cheap; tracks whose own bearing is vague are scored against
    every bearing. ``P`` is ``[N, 6, 6]`` or its diagonals ``[N, 6]``."""
    P = np.asarray(P, dtype=np.float64)
    pd = P if P.ndim == 2 else P.reshape(P.shape[0], -1)[:, :: P.shape[1] + 1]
    var_xy = np.ascontiguousarray(0.5 * (pd[:, 0] + pd[:, 1]))
    return _confidence(
        np.ascontiguousarray(det.z[:, 0], dtype=np.float64),
        np.ascontiguousarray(det.R[:, 0, 0], dtype=np.float64),
        np.ascontiguousarray(rows, dtype=np.int64),
        float(origin[0]),
        float(origin[1]),
        float(max_range_m),
        np.ascontiguousarray(x, dtype=np.float64),
        var_xy,
        np.ascontiguousarray(emitter, dtype=np.float64),
        float(clutter_density),
        float(clutter_density if class_clutter_density is None else class_clutter_density),
    )


# Sensor types of a batch, as :func:`_fold_batch` takes them.
_OTHER, _RF, _REMOTE_ID, _ADSB = range(4)


@kernel
def _fold_batch(
    rows: NDArray[np.int64],
    q: NDArray[np.float64],
    q_cls: NDArray[np.float64],
    proto: NDArray[np.int64],
    band: NDArray[np.int64],
    stype: int,
    emits: bool,
    column: int,
    ignored: NDArray[np.bool_],
    is_link: NDArray[np.bool_],
    emission: NDArray[np.float64],
    log_none: NDArray[np.float64],
    by_sensor: NDArray[np.bool_],
    rf: NDArray[np.float64],
    link: NDArray[np.float64],
    rid: NDArray[np.float64],
    adsb: NDArray[np.float64],
    protocol: NDArray[np.int64],
    band_out: NDArray[np.int64],
    link_q: NDArray[np.float64],
) -> None:
    """Fold one batch's associated detections (track ``rows``, confidences ``q`` and
    ``q_cls``, protocol and band codes) into the per-track evidence, in place. ``stype``
    is the sensor's type (``_RF`` ...), ``emits`` whether its detections are emissions,
    ``column`` its column in ``by_sensor`` (-1: none)."""
    k_det = rows.shape[0]
    if emits:
        for i in range(k_det):
            r = rows[i]
            real = (not ignored[proto[i]]) if stype == _RF else q[i] > 0
            if real:
                emission[r] = max(emission[r], q[i])
                log_none[r] += math.log1p(-min(q[i], 0.999))
                if column >= 0:
                    by_sensor[r, column] = True
    if stype == _RF:
        better = np.zeros(k_det, np.bool_)
        for i in range(k_det):
            r = rows[i]
            # Unclassified detections (a direction finder's false alarms) say nothing of
            # class; class evidence weighs each bearing with the class density (see config).
            if not ignored[proto[i]]:
                rf[r] = max(rf[r], q_cls[i])
            if is_link[proto[i]]:
                link[r] = max(link[r], q_cls[i])
            # Protocol and band only from bearings that plausibly are ours (a third or
            # more: the track is one of at most a few on the line), judged against the
            # confidence held before this batch.
            better[i] = q[i] >= 0.3 and proto[i] != 0 and q[i] > link_q[r]
        # The most plausible bearing of the step names the track's protocol and band
        # (of equals, the later).
        for i in range(k_det):
            r = rows[i]
            if better[i] and q[i] >= link_q[r]:
                protocol[r] = proto[i]
                band_out[r] = band[i]
                link_q[r] = q[i]
    elif stype == _REMOTE_ID:
        for i in range(k_det):
            rid[rows[i]] = max(rid[rows[i]], q[i])
    elif stype == _ADSB:
        for i in range(k_det):
            adsb[rows[i]] = max(adsb[rows[i]], q[i])


_STYPES = {"rf": _RF, "remote_id": _REMOTE_ID, "adsb": _ADSB}


def step_evidence(
    x: NDArray[np.float64],
    pd: NDArray[np.float64],
    emitter: NDArray[np.float64],
    assoc: Sequence[tuple[str, NDArray[np.int64], Detections]],
    sensors: SensorRegistry | None,
    vocab: Vocabulary,
    link_protocols: Sequence[str],
    emission_types: Sequence[str],
    clutter_density: float,
    ignore_protocols: Sequence[str] = (),
    class_clutter_density: float | None = None,
    scratch: PairBuffers | None = None,
) -> StepEvidence:
    """The evidence of this step's associations for tracks ``x [N, 6]`` (covariance
    diagonals ``pd [N, 6]``) that radiate with probability ``emitter [N]``;
    ``scratch`` keeps buffers from one update to the next."""
    n_tracks = x.shape[0]
    emission = np.zeros(n_tracks)
    log_none = np.zeros(n_tracks)
    n_sensors = len(sensors) if sensors is not None else 0
    by_sensor = np.zeros((n_tracks, n_sensors), dtype=bool)
    rf = np.zeros(n_tracks)
    link = np.zeros(n_tracks)
    rid = np.zeros(n_tracks)
    adsb = np.zeros(n_tracks)
    protocol = np.zeros(n_tracks, dtype=np.int64)
    band = np.zeros(n_tracks, dtype=np.int64)
    link_q = np.zeros(n_tracks)
    u_origin: list[NDArray[np.float64]] = []
    u_az: list[NDArray[np.float64]] = []
    u_band: list[NDArray[np.int64]] = []
    u_proto: list[NDArray[np.int64]] = []
    var_xy: NDArray[np.float64] | None = None
    sensor_col: dict[str, int] | None = None
    dc = clutter_density if class_clutter_density is None else class_clutter_density
    for sensor_id, idx_in, det in assoc:
        n = len(det)
        if n == 0:
            continue
        idx = np.asarray(idx_in, dtype=np.int64).reshape(-1)
        if idx.shape[0] != n:
            raise ValueError(
                f"association of sensor {sensor_id!r} has {idx.shape[0]} entries for {n} detections"
            )
        stype = sensor_type(sensor_id, det, sensors)
        code = _STYPES.get(stype, _OTHER)
        emits = stype in emission_types
        if not emits and code == _OTHER:
            continue  # radar, camera, microphone: no evidence of emission here
        ok = (idx >= 0) & (idx < n_tracks)
        rows = np.ascontiguousarray(idx[ok])
        known = sensors is not None and sensor_id in sensors
        q = np.ones(rows.shape[0])
        q_cls = q
        if det.kind == "bearing" and known and rows.size and sensors is not None:
            s = sensors.get(sensor_id)
            if var_xy is None:
                var_xy = np.ascontiguousarray(0.5 * (pd[:, 0] + pd[:, 1]))
            q, q_cls = _confidence(
                np.ascontiguousarray(det.z[ok, 0], dtype=np.float64),
                np.ascontiguousarray(det.R[ok, 0, 0], dtype=np.float64),
                rows,
                float(s.position[0]),
                float(s.position[1]),
                float(s.max_range_m),
                x,
                var_xy,
                emitter,
                float(clutter_density),
                float(dc),
                scratch,
            )
        proto = vocab.codes(det.attrs.get("protocol"), n)
        bnd = vocab.codes(det.attrs.get("band"), n) if code == _RF else np.zeros(n, np.int64)
        column = -1
        if emits and sensors is not None:
            if sensor_col is None:
                sensor_col = {s.id: k for k, s in enumerate(sensors)}
            column = sensor_col.get(sensor_id, -1)
        _fold_batch(
            rows,
            q,
            q_cls,
            np.ascontiguousarray(proto[ok]),
            np.ascontiguousarray(bnd[ok]),
            code,
            emits,
            column,
            vocab.member(ignore_protocols),
            vocab.member(link_protocols),
            emission,
            log_none,
            by_sensor,
            rf,
            link,
            rid,
            adsb,
            protocol,
            band,
            link_q,
        )
        free = idx < 0
        if code == _RF and det.kind == "bearing" and free.any():
            origin = sensors.get(sensor_id).position if known and sensors is not None else np.full(3, np.nan)
            u_origin.append(np.broadcast_to(origin, (int(free.sum()), 3)).astype(np.float64))
            u_az.append(det.z[free, 0])
            u_band.append(bnd[free])
            u_proto.append(proto[free])
    unassoc = UnassociatedBearings(
        np.concatenate(u_origin) if u_origin else np.zeros((0, 3)),
        np.concatenate(u_az) if u_az else np.zeros(0),
        np.concatenate(u_band) if u_band else np.zeros(0, dtype=np.int64),
        np.concatenate(u_proto) if u_proto else np.zeros(0, dtype=np.int64),
    )
    return StepEvidence(emission, log_none, by_sensor, rf, link, rid, adsb, protocol, band, link_q, unassoc)
