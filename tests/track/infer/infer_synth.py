"""Synthetic track views for the inference tests: arrays built by hand, no tracker."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from skyfence.geo import Site
from skyfence.model import Detections, Sensor, SensorRegistry, TrackStatus
from skyfence.track.view import AssocBatch, TrackView

SITE = Site(48.0, 22.0, 100.0)


def registry(
    rf_positions: Sequence[tuple[float, float]] = ((0.0, 0.0),), rf_range_m: float = 5000.0
) -> SensorRegistry:
    sensors = [
        Sensor(f"rf{k}", "rf", "bearing", np.array([e, n, 10.0]), 1.0, rf_range_m)
        for k, (e, n) in enumerate(rf_positions)
    ]
    sensors.append(Sensor("radar", "radar", "polar", np.array([0.0, 0.0, 10.0]), 1.0, 20000.0))
    sensors.append(Sensor("rid", "remote_id", "remote_id", np.array([0.0, 0.0, 5.0]), 1.0, 3000.0))
    return SensorRegistry(SITE, sensors)


def view(
    t: float,
    ids: NDArray[np.int64] | Sequence[int],
    x: NDArray[np.float64],
    sensors: SensorRegistry,
    *,
    status: NDArray[np.int8] | None = None,
    P: NDArray[np.float64] | None = None,
    cls_lik: NDArray[np.float64] | None = None,
    assoc: Sequence[AssocBatch] = (),
    identity: NDArray[np.str_] | None = None,
) -> TrackView:
    ids_a = np.asarray(ids, dtype=np.int64)
    n = ids_a.shape[0]
    if P is None:
        P = np.broadcast_to(np.diag([25.0, 25.0, 25.0, 1.0, 1.0, 1.0]), (n, 6, 6)).copy()
    return TrackView(
        t=t,
        ids=ids_a,
        x=np.asarray(x, dtype=np.float64).reshape(n, 6),
        P=P,
        status=np.full(n, TrackStatus.CONFIRMED, np.int8) if status is None else status,
        age_s=np.full(n, 10.0),
        last_update_t=np.full(n, t),
        # The radar holds every track (silence needs a sensor that sees without emissions).
        last_seen_by=np.where(
            np.array([s.type == "radar" for s in sensors])[None, :], t, np.full((n, len(sensors)), -np.inf)
        ),
        sensors=sensors,
        cls_lik=np.ones((n, 6)) if cls_lik is None else cls_lik,
        identity=np.full(n, "") if identity is None else identity,
        assoc=tuple(assoc),
    )


def rf_batch(
    sensors: SensorRegistry,
    sensor_id: str,
    rows: Sequence[int],
    t: float,
    protocol: str,
    x: NDArray[np.float64] | None = None,
    az: Sequence[float] | None = None,
    band: str = "900",
) -> AssocBatch:
    """RF bearings associated to track rows (``-1``: unassociated, give ``az``), pointing
    from the sensor at the rows' positions in ``x`` unless ``az`` is given."""
    n = len(rows)
    if az is None:
        assert x is not None
        d = x[np.asarray(rows), :2] - sensors.get(sensor_id).position[:2]
        azs = np.arctan2(d[:, 0], d[:, 1])
    else:
        azs = np.asarray(az, dtype=np.float64)
    det = Detections(
        sensor_id,
        "bearing",
        np.full(n, t),
        azs.reshape(n, 1),
        np.full((n, 1, 1), 0.02**2),
        attrs={"protocol": np.full(n, protocol), "band": np.full(n, band)},
    )
    return AssocBatch(sensor_id, np.asarray(rows, dtype=np.int64), det)


def trajectory(
    kind: str, rng: np.random.Generator, seconds: int = 90, start: tuple[float, float] = (1000.0, 1000.0)
) -> NDArray[np.float64]:
    """States ``[T, 6]`` at 1 Hz of one synthetic target with filter-like velocity noise."""
    x = np.zeros((seconds, 6))
    pos = np.array([start[0], start[1], 0.0])
    heading = rng.uniform(0, 2 * np.pi)
    for k in range(seconds):
        if kind == "bird":
            speed, height = 10.0 + 2.0 * np.sin(k / 7.0), 40.0 + 5.0 * np.sin(k / 11.0)
            heading += rng.normal(0.0, 0.25)
            vu = 0.5 * np.cos(k / 11.0)
        elif kind == "fpv":
            speed, height = 30.0 + 5.0 * np.sin(k / 5.0), 20.0 + 8.0 * np.sin(k / 9.0)
            heading += 0.35 * np.sin(k / 4.0)
            vu = 8.0 * np.cos(k / 9.0) / 9.0 * 8.0
        elif kind == "aircraft":
            speed, height, vu = 140.0, 1500.0, 0.0
        elif kind == "hover":
            speed, height, vu = 0.4, 90.0, 0.0
            heading += rng.normal(0.0, 1.0)
        else:
            raise ValueError(kind)
        v = np.array([speed * np.sin(heading), speed * np.cos(heading), vu])
        pos = pos + v
        pos[2] = height
        x[k, :3] = pos
        x[k, 3:] = v + rng.normal(0.0, 0.5, 3)
    return x
