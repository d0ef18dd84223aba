"""`Detections`: one sensor's batch of measurements, columnar and frozen.

Measurement vectors ``z`` by kind (angles in radians, azimuth clockwise from true north,
elevation up from the horizontal; positions in the site ENU frame, metres):

- ``position``: ``[E, N]`` or ``[E, N, U]``
- ``polar``: ``[range, az]`` or ``[range, az, el]`` about the sensor's position
- ``bearing``: ``[az]`` or ``[az, el]`` from the sensor's position
- ``remote_id``: ``[E, N, U]`` broadcast position; ``attrs['serial']`` carries identity
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skyfence.model._arrays import concat_attrs, frozen_array, frozen_attrs, take_attrs
from skyfence.model.classes import MEASUREMENT_KINDS, N_CLASSES, MeasurementKind

__all__ = ["MEASUREMENT_DIMS", "Detections", "invalid_rows"]

#: Allowed measurement dimensions per kind.
MEASUREMENT_DIMS: dict[str, tuple[int, ...]] = {
    "position": (2, 3),
    "polar": (2, 3),
    "bearing": (1, 2),
    "remote_id": (3,),
}


@dataclass(frozen=True, slots=True, init=False, eq=False)
class Detections:
    """A batch of ``N`` measurements of one kind from one sensor."""

    sensor_id: str
    kind: MeasurementKind
    t: NDArray[np.float64]
    z: NDArray[np.float64]
    R: NDArray[np.float64]
    cls_lik: NDArray[np.float64] | None = None
    attrs: Mapping[str, NDArray[Any]] = field(default_factory=dict)

    def __init__(
        self,
        sensor_id: str,
        kind: MeasurementKind,
        t: ArrayLike,
        z: ArrayLike,
        R: ArrayLike,
        cls_lik: ArrayLike | None = None,
        attrs: Mapping[str, ArrayLike] | None = None,
    ) -> None:
        if kind not in MEASUREMENT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(MEASUREMENT_KINDS)}, got {kind!r}")
        t_arr = frozen_array(t, np.float64, "t", (None,))
        n = t_arr.shape[0]
        z_arr = np.asarray(z, dtype=np.float64)
        if z_arr.ndim == 1 and n == 0:
            z_arr = z_arr.reshape(0, MEASUREMENT_DIMS[kind][0])
        z_arr = frozen_array(z_arr, np.float64, "z", (n, None))
        m = z_arr.shape[1]
        if m not in MEASUREMENT_DIMS[kind]:
            raise ValueError(
                f"{kind} measurements have {' or '.join(map(str, MEASUREMENT_DIMS[kind]))} "
                f"coordinates, got {m}"
            )
        r_arr = np.asarray(R, dtype=np.float64)
        if r_arr.size == 0 and n == 0:
            r_arr = r_arr.reshape(0, m, m)
        r_arr = frozen_array(r_arr, np.float64, "R", (n, m, m))
        lik = None if cls_lik is None else frozen_array(cls_lik, np.float64, "cls_lik", (n, N_CLASSES))
        object.__setattr__(self, "sensor_id", str(sensor_id))
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "t", t_arr)
        object.__setattr__(self, "z", z_arr)
        object.__setattr__(self, "R", r_arr)
        object.__setattr__(self, "cls_lik", lik)
        object.__setattr__(self, "attrs", frozen_attrs(attrs or {}, n, "Detections"))

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @property
    def dim(self) -> int:
        """Number of coordinates per measurement."""
        return int(self.z.shape[1])

    @classmethod
    def empty(cls, sensor_id: str, kind: MeasurementKind, dim: int | None = None) -> Detections:
        m = MEASUREMENT_DIMS[kind][0] if dim is None else dim
        return cls(sensor_id, kind, np.zeros(0), np.zeros((0, m)), np.zeros((0, m, m)))

    def take(self, idx: ArrayLike) -> Detections:
        """Rows selected by an index array or boolean mask."""
        sel = np.asarray(idx)
        return Detections(
            self.sensor_id,
            self.kind,
            self.t[sel],
            self.z[sel],
            self.R[sel],
            None if self.cls_lik is None else self.cls_lik[sel],
            take_attrs(self.attrs, sel),
        )

    def sorted(self) -> Detections:
        """The same rows in time order (stable)."""
        order = np.argsort(self.t, kind="stable")
        return self.take(order)

    @staticmethod
    def concat(parts: Sequence[Detections]) -> Detections:
        """Concatenate batches of one sensor and kind (and dimension)."""
        if not parts:
            raise ValueError("concat needs at least one batch")
        first = parts[0]
        for p in parts[1:]:
            if (p.sensor_id, p.kind, p.dim) != (first.sensor_id, first.kind, first.dim):
                raise ValueError(
                    f"cannot concatenate {p.sensor_id}/{p.kind}/{p.dim} "
                    f"with {first.sensor_id}/{first.kind}/{first.dim}"
                )
        with_lik = [p.cls_lik is not None for p in parts]
        lik = None
        if any(with_lik):
            lik = np.concatenate(
                [
                    p.cls_lik if p.cls_lik is not None else np.full((len(p), N_CLASSES), 1.0 / N_CLASSES)
                    for p in parts
                ]
            )
        return Detections(
            first.sensor_id,
            first.kind,
            np.concatenate([p.t for p in parts]),
            np.concatenate([p.z for p in parts]),
            np.concatenate([p.R for p in parts]),
            lik,
            concat_attrs([p.attrs for p in parts], [len(p) for p in parts]),
        )


def invalid_rows(det: Detections) -> tuple[NDArray[np.bool_], list[str]]:
    """Rows whose ``t``/``z``/``R`` are not finite or whose ``R`` is not symmetric positive
    definite, with one reason per bad row (naming sensor and time) for error messages."""
    n = len(det)
    bad = ~np.isfinite(det.t) | ~np.isfinite(det.z).all(axis=1) | ~np.isfinite(det.R).all(axis=(1, 2))
    reasons: list[str] = []
    if n == 0:
        return bad, reasons
    sym = np.abs(det.R - np.swapaxes(det.R, 1, 2)).max(axis=(1, 2)) <= 1e-9 * (
        1.0 + np.abs(det.R).max(axis=(1, 2))
    )
    pd = np.zeros(n, dtype=bool)
    ok = ~bad & sym
    if ok.any():
        # Positive definite iff every eigenvalue of the symmetric matrix is > 0.
        eig = np.linalg.eigvalsh(det.R[ok])
        pd[ok] = eig.min(axis=1) > 0
    bad_r = ~bad & ~pd
    for i in np.flatnonzero(bad | bad_r):
        what = "R is not symmetric positive definite" if bad_r[i] else "t, z or R is NaN or infinite"
        reasons.append(f"sensor {det.sensor_id!r} at t={float(det.t[i])!r}: {what}")
    return bad | bad_r, reasons
