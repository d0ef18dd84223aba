"""`Tracks`: a columnar snapshot of the tracker's picture at one time.

State ``x`` is ``[E, N, U, vE, vN, vU]`` in the site ENU frame (metres, metres/second);
tracks made from 2-D position data keep ``U = vU = 0`` with a large variance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skyfence.model._arrays import frozen_array, frozen_attrs, take_attrs
from skyfence.model.classes import N_CLASSES

__all__ = ["STATUS_NAMES", "TrackStatus", "Tracks"]


class TrackStatus(IntEnum):
    TENTATIVE = 0
    CONFIRMED = 1
    COASTING = 2
    DELETED = 3


STATUS_NAMES: tuple[str, ...] = tuple(s.name.lower() for s in TrackStatus)


@dataclass(frozen=True, slots=True, init=False, eq=False)
class Tracks:
    """``N`` tracks at time ``t``.

    ``sensors`` is a bit mask over ``sensor_names`` (bit ``k`` set: sensor ``k`` has
    updated the track). ``rf_silent`` is the probability that the target is an RF-silent
    (fiber-optic or autonomous) drone. ``identity`` is a Remote ID serial or ADS-B ICAO
    address ("" when none). ``group_id`` is -1 outside any swarm group; ``relay_id`` is
    the id of the relay track serving a track (-1 for none).
    """

    t: float
    id: NDArray[np.int64]
    x: NDArray[np.float64]
    P: NDArray[np.float64]
    cls_prob: NDArray[np.float64]
    status: NDArray[np.int8]
    sensors: NDArray[np.uint64]
    sensor_names: tuple[str, ...]
    rf_silent: NDArray[np.float64]
    relay: NDArray[np.bool_]
    spoofed: NDArray[np.bool_]
    identity: NDArray[np.str_]
    group_id: NDArray[np.int64]
    relay_id: NDArray[np.int64]
    attrs: Mapping[str, NDArray[Any]]

    def __init__(
        self,
        t: float,
        id: ArrayLike,
        x: ArrayLike,
        P: ArrayLike,
        cls_prob: ArrayLike | None = None,
        status: ArrayLike | None = None,
        sensors: ArrayLike | None = None,
        sensor_names: Sequence[str] = (),
        rf_silent: ArrayLike | None = None,
        relay: ArrayLike | None = None,
        spoofed: ArrayLike | None = None,
        identity: ArrayLike | None = None,
        group_id: ArrayLike | None = None,
        relay_id: ArrayLike | None = None,
        attrs: Mapping[str, ArrayLike] | None = None,
    ) -> None:
        ids = frozen_array(id, np.int64, "id", (None,))
        n = ids.shape[0]

        def col(value: ArrayLike | None, dtype: Any, name: str, fill: Any) -> NDArray[Any]:
            return frozen_array(np.full(n, fill, dtype=dtype) if value is None else value, dtype, name, (n,))

        x_arr = np.asarray(x, dtype=np.float64).reshape(n, 6) if n == 0 else x
        p_arr = np.asarray(P, dtype=np.float64).reshape(n, 6, 6) if n == 0 else P
        cls = (
            np.full((n, N_CLASSES), 1.0 / N_CLASSES)
            if cls_prob is None
            else np.asarray(cls_prob, dtype=np.float64).reshape(n, N_CLASSES)
        )
        object.__setattr__(self, "t", float(t))
        object.__setattr__(self, "id", ids)
        object.__setattr__(self, "x", frozen_array(x_arr, np.float64, "x", (n, 6)))
        object.__setattr__(self, "P", frozen_array(p_arr, np.float64, "P", (n, 6, 6)))
        object.__setattr__(self, "cls_prob", frozen_array(cls, np.float64, "cls_prob", (n, N_CLASSES)))
        object.__setattr__(self, "status", col(status, np.int8, "status", TrackStatus.CONFIRMED))
        object.__setattr__(self, "sensors", col(sensors, np.uint64, "sensors", 0))
        object.__setattr__(self, "sensor_names", tuple(sensor_names))
        object.__setattr__(self, "rf_silent", col(rf_silent, np.float64, "rf_silent", 0.0))
        object.__setattr__(self, "relay", col(relay, np.bool_, "relay", False))
        object.__setattr__(self, "spoofed", col(spoofed, np.bool_, "spoofed", False))
        object.__setattr__(
            self,
            "identity",
            frozen_array(
                np.full(n, "") if identity is None else np.asarray(identity, dtype=str),
                np.str_,
                "identity",
                (n,),
            ),
        )
        object.__setattr__(self, "group_id", col(group_id, np.int64, "group_id", -1))
        object.__setattr__(self, "relay_id", col(relay_id, np.int64, "relay_id", -1))
        object.__setattr__(self, "attrs", frozen_attrs(attrs or {}, n, "Tracks"))

    def __len__(self) -> int:
        return int(self.id.shape[0])

    @classmethod
    def empty(cls, t: float = 0.0) -> Tracks:
        return cls(t, np.zeros(0, np.int64), np.zeros((0, 6)), np.zeros((0, 6, 6)))

    @property
    def cls(self) -> NDArray[np.int64]:
        """Most probable class index per track."""
        out: NDArray[np.int64] = np.argmax(self.cls_prob, axis=1).astype(np.int64)
        return out

    def sensors_of(self, i: int) -> list[str]:
        """Names of the sensors that have updated track row ``i``."""
        mask = int(self.sensors[i])
        return [name for k, name in enumerate(self.sensor_names) if mask >> k & 1]

    def take(self, idx: ArrayLike) -> Tracks:
        sel = np.asarray(idx)
        return Tracks(
            self.t,
            self.id[sel],
            self.x[sel],
            self.P[sel],
            self.cls_prob[sel],
            self.status[sel],
            self.sensors[sel],
            self.sensor_names,
            self.rf_silent[sel],
            self.relay[sel],
            self.spoofed[sel],
            self.identity[sel],
            self.group_id[sel],
            self.relay_id[sel],
            take_attrs(self.attrs, sel),
        )
