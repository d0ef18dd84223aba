"""What this step's associated detections say about each track beyond its position:
RF emissions and their protocol, Remote ID serials, ADS-B addresses, and the RF
bearings no track took (the relay's ground link shows up there)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyfence.model.detections import Detections
from skyfence.model.sensors import SensorRegistry

#: Bearing pairs further apart than this many sigmas are not scored (their likelihood is nil).
_GATE_SIGMAS = 6.0
#: Tracks with a bearing variance above this (rad²) are scored against every bearing.
_WINDOW_VAR = 0.03**2

__all__ = ["StepEvidence", "UnassociatedBearings", "bearing_confidence", "sensor_type", "step_evidence"]


@dataclass(frozen=True, slots=True)
class UnassociatedBearings:
    """RF bearings of this step that no track took: sensor position ``[K,3]``, azimuth
    ``[K]`` (rad, clockwise from north), band and protocol (``""`` when not given)."""

    origin: NDArray[np.float64]
    az: NDArray[np.float64]
    band: NDArray[np.str_]
    protocol: NDArray[np.str_]

    def __len__(self) -> int:
        return int(self.az.shape[0])


@dataclass(frozen=True, slots=True)
class StepEvidence:
    """Per track row: how sure we are (0..1) that an emission of each kind associated this
    step really came from the track; the protocol and band of its latest RF emission."""

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
    protocol: NDArray[np.str_]
    band: NDArray[np.str_]
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


def _as_str(col: NDArray[Any] | None, n: int) -> NDArray[np.str_]:
    if col is None:
        return np.full(n, "", dtype="<U1")
    out = np.asarray(col).astype(str)
    # Missing values in mixed columns read back as "None"/"nan": treat them as not given.
    return np.where(np.isin(out, ("None", "nan", "")), "", out)


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
    is the same with ``class_clutter_density`` (defaults to ``clutter_density``)."""
    # Geometry per track once; only pairs within a few sigmas of each bearing are scored
    # (found on the tracks sorted by azimuth), so a thousand bearings against a thousand
    # tracks stay cheap.
    d = x[:, :2] - origin[None, :2]
    r2 = np.maximum((d**2).sum(axis=1), 1.0)
    az = np.arctan2(d[:, 0], d[:, 1])
    var_t = 0.5 * (P[:, 0, 0] + P[:, 1, 1]) / r2
    var_t = np.where(np.isfinite(var_t), var_t, 1e6)
    z = det.z[:, 0]
    var_z = det.R[:, 0, 0]

    def pair_lik(i: NDArray[np.intp], j: NDArray[np.intp]) -> NDArray[np.float64]:
        dz = np.mod(z[i] - az[j] + np.pi, 2.0 * np.pi) - np.pi
        var = var_z[i] + var_t[j]
        out: NDArray[np.float64] = np.exp(-0.5 * dz**2 / var) / np.sqrt(2.0 * np.pi * var) * emitter[j]
        return out

    own = pair_lik(np.arange(rows.shape[0]), rows)
    in_range = r2 <= max_range_m**2
    # Tracks whose bearing is itself vague (close to the sensor, or poorly known) are
    # scored against every bearing; the rest through a window sized for them.
    vague = in_range & (var_t > _WINDOW_VAR)
    near = np.flatnonzero(in_range & ~vague)
    total: NDArray[np.float64] = np.zeros(rows.shape[0])
    wide = np.flatnonzero(vague)
    if wide.size:
        ii, jj = np.meshgrid(np.arange(rows.shape[0]), wide, indexing="ij")
        total += pair_lik(ii.ravel(), jj.ravel()).reshape(ii.shape).sum(axis=1)
    if near.size:
        order = near[np.argsort(az[near], kind="stable")]
        a_s = az[order]
        m = order.size
        # Azimuths repeated a turn either side, so a window never needs to wrap.
        ext = np.concatenate([a_s - 2.0 * np.pi, a_s, a_s + 2.0 * np.pi])
        half = np.minimum(_GATE_SIGMAS * np.sqrt(var_z + var_t[near].max()), np.pi * (1 - 1e-9))
        zc = np.mod(z + np.pi, 2.0 * np.pi) - np.pi
        lo = np.searchsorted(ext, zc - half, side="left")
        hi = np.searchsorted(ext, zc + half, side="right")
        counts = hi - lo
        det_i = np.repeat(np.arange(rows.shape[0]), counts)
        starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
        pos = np.arange(det_i.size) + starts
        trk = order[pos % m]
        total += np.asarray(
            np.bincount(det_i, weights=pair_lik(det_i, trk), minlength=rows.shape[0]), dtype=np.float64
        )
    # The associated track counts even when it lies beyond the sensor's nominal range.
    outside = r2[rows] > max_range_m**2
    total = total + np.where(outside, own, 0.0)
    denom = np.maximum(total, own)
    q: NDArray[np.float64] = own / (denom + clutter_density)
    dc = clutter_density if class_clutter_density is None else class_clutter_density
    q_cls: NDArray[np.float64] = own / (denom + dc)
    return q, q_cls


def step_evidence(
    x: NDArray[np.float64],
    P: NDArray[np.float64],
    emitter: NDArray[np.float64],
    assoc: Sequence[tuple[str, NDArray[np.int64], Detections]],
    sensors: SensorRegistry | None,
    link_protocols: Sequence[str],
    emission_types: Sequence[str],
    clutter_density: float,
    ignore_protocols: Sequence[str] = (),
    class_clutter_density: float | None = None,
) -> StepEvidence:
    n_tracks = x.shape[0]
    emission = np.zeros(n_tracks)
    log_none = np.zeros(n_tracks)
    n_sensors = len(sensors) if sensors is not None else 0
    sensor_col = {s.id: k for k, s in enumerate(sensors)} if sensors is not None else {}
    by_sensor = np.zeros((n_tracks, n_sensors), dtype=bool)
    rf = np.zeros(n_tracks)
    link = np.zeros(n_tracks)
    rid = np.zeros(n_tracks)
    adsb = np.zeros(n_tracks)
    protocol = np.full(n_tracks, "", dtype="<U32")
    band = np.full(n_tracks, "", dtype="<U32")
    link_q = np.zeros(n_tracks)
    u_origin: list[NDArray[np.float64]] = []
    u_az: list[NDArray[np.float64]] = []
    u_band: list[NDArray[np.str_]] = []
    u_proto: list[NDArray[np.str_]] = []
    for sensor_id, idx_in, det in assoc:
        n = len(det)
        if n == 0:
            continue
        idx = np.asarray(idx_in, dtype=np.int64).reshape(-1)
        if idx.shape[0] != n:
            raise ValueError(
                f"association of sensor {sensor_id!r} has {idx.shape[0]} entries for {n} detections"
            )
        ok = (idx >= 0) & (idx < n_tracks)
        rows = idx[ok]
        stype = sensor_type(sensor_id, det, sensors)
        known = sensors is not None and sensor_id in sensors
        q = np.ones(rows.shape[0])
        q_cls = q
        if det.kind == "bearing" and known and rows.size and sensors is not None:
            s = sensors.get(sensor_id)
            q, q_cls = bearing_confidence(
                det.take(ok),
                rows,
                s.position,
                s.max_range_m,
                x,
                P,
                emitter,
                clutter_density,
                class_clutter_density,
            )
        proto = _as_str(det.attrs.get("protocol"), n)
        if stype in emission_types:
            real = (
                ~np.isin(proto[ok], np.asarray(list(ignore_protocols), dtype=str)) if stype == "rf" else q > 0
            )
            np.maximum.at(emission, rows[real], q[real])
            np.add.at(log_none, rows[real], np.log1p(-np.minimum(q[real], 0.999)))
            if sensor_id in sensor_col:
                by_sensor[rows[real], sensor_col[sensor_id]] = True
        if stype == "rf":
            # Unclassified detections (a direction finder's false alarms) say nothing of class.
            real = ~np.isin(proto[ok], np.asarray(list(ignore_protocols), dtype=str))
            # Class evidence weighs each bearing with the class density (see config).
            np.maximum.at(rf, rows[real], q_cls[real])
            bnd = _as_str(det.attrs.get("band"), n)
            is_link = np.isin(proto[ok], np.asarray(list(link_protocols), dtype=str))
            np.maximum.at(link, rows[is_link], q_cls[is_link])
            # Protocol and band only from bearings that plausibly are ours (a third or more:
            # the track is one of at most a few on the line).
            sure = q >= 0.3
            # The most plausible bearing of the step names the track's protocol and band.
            better = sure & (proto[ok] != "") & (q > link_q[rows])
            order = np.argsort(q[better], kind="stable")
            r_b = rows[better][order]
            protocol[r_b] = proto[ok][better][order]
            band[r_b] = bnd[ok][better][order]
            link_q[r_b] = q[better][order]
            free = idx < 0
            if free.any() and det.kind == "bearing":
                origin = (
                    sensors.get(sensor_id).position if known and sensors is not None else np.full(3, np.nan)
                )
                u_origin.append(np.broadcast_to(origin, (int(free.sum()), 3)).astype(np.float64))
                u_az.append(det.z[free, 0])
                u_band.append(bnd[free])
                u_proto.append(proto[free])
        elif stype == "remote_id":
            np.maximum.at(rid, rows, q)
        elif stype == "adsb":
            np.maximum.at(adsb, rows, q)
    unassoc = UnassociatedBearings(
        np.concatenate(u_origin) if u_origin else np.zeros((0, 3)),
        np.concatenate(u_az) if u_az else np.zeros(0),
        np.concatenate(u_band).astype(str) if u_band else np.zeros(0, dtype="<U1"),
        np.concatenate(u_proto).astype(str) if u_proto else np.zeros(0, dtype="<U1"),
    )
    return StepEvidence(emission, log_none, by_sensor, rf, link, rid, adsb, protocol, band, link_q, unassoc)
