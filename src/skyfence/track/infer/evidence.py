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

__all__ = ["StepEvidence", "UnassociatedBearings", "sensor_type", "step_evidence"]


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
    """Per track row: which kinds of emission were associated this step."""

    emission: NDArray[np.bool_]
    rf: NDArray[np.bool_]
    link: NDArray[np.bool_]
    remote_id: NDArray[np.bool_]
    adsb: NDArray[np.bool_]
    protocol: NDArray[np.str_]
    band: NDArray[np.str_]
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


def step_evidence(
    n_tracks: int,
    assoc: Sequence[tuple[str, NDArray[np.int64], Detections]],
    sensors: SensorRegistry | None,
    link_protocols: Sequence[str],
    emission_types: Sequence[str],
) -> StepEvidence:
    emission = np.zeros(n_tracks, dtype=bool)
    rf = np.zeros(n_tracks, dtype=bool)
    link = np.zeros(n_tracks, dtype=bool)
    rid = np.zeros(n_tracks, dtype=bool)
    adsb = np.zeros(n_tracks, dtype=bool)
    protocol = np.full(n_tracks, "", dtype="<U32")
    band = np.full(n_tracks, "", dtype="<U32")
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
        if stype in emission_types:
            emission[rows] = True
        if stype == "rf":
            rf[rows] = True
            proto = _as_str(det.attrs.get("protocol"), n)
            bnd = _as_str(det.attrs.get("band"), n)
            is_link = np.isin(proto, np.asarray(list(link_protocols), dtype=str))
            link[idx[ok & is_link]] = True
            has = ok & (proto != "")
            protocol[idx[has]] = proto[has]
            hasb = ok & (bnd != "")
            band[idx[hasb]] = bnd[hasb]
            free = idx < 0
            if free.any() and det.kind == "bearing":
                origin = (
                    sensors.get(sensor_id).position
                    if sensors is not None and sensor_id in sensors
                    else np.full(3, np.nan)
                )
                u_origin.append(np.broadcast_to(origin, (int(free.sum()), 3)).astype(np.float64))
                u_az.append(det.z[free, 0])
                u_band.append(bnd[free])
                u_proto.append(proto[free])
        elif stype == "remote_id":
            rid[rows] = True
        elif stype == "adsb":
            adsb[rows] = True
    unassoc = UnassociatedBearings(
        np.concatenate(u_origin) if u_origin else np.zeros((0, 3)),
        np.concatenate(u_az) if u_az else np.zeros(0),
        np.concatenate(u_band).astype(str) if u_band else np.zeros(0, dtype="<U1"),
        np.concatenate(u_proto).astype(str) if u_proto else np.zeros(0, dtype="<U1"),
    )
    return StepEvidence(emission, rf, link, rid, adsb, protocol, band, unassoc)
