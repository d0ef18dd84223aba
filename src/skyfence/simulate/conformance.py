"""The conformance suite every simulated sensor model must pass (one place, like
scikit-learn's ``check_estimator``): a new model plugs in by passing it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from skyfence.model.detections import MEASUREMENT_DIMS, invalid_rows
from skyfence.model.sensors import SENSOR_TYPES
from skyfence.simulate.fastjson import detection_lines
from skyfence.simulate.sensors import SensorModel
from skyfence.simulate.world import Scene

__all__ = ["ConformanceError", "check_sensor_model"]

#: Attribute names a detection must never carry: detections carry no truth.
_TRUTH_WORDS = ("target", "truth", "source", "true_", "behaviour", "role")


class ConformanceError(AssertionError):
    """A sensor model broke one of the rules every model keeps."""


def check_sensor_model(
    make: Callable[[np.random.Generator], SensorModel], scene: Scene, scans: int = 20
) -> None:
    """Scan ``scene`` ``scans`` times with a model built by ``make(rng)`` and check the
    contract: one batch of the sensor's declared kind and a valid dimension, sources one
    per row (a target of the scene or -1), finite values and symmetric positive-definite
    ``R``, class likelihoods that are probabilities, attributes one per row with no truth
    in them, an empty scene handled, and the same generator seed giving the same bytes."""
    model = make(np.random.default_rng(7))
    sensor = model.sensor
    kind = SENSOR_TYPES.get(sensor.type)

    def fail(msg: str) -> ConformanceError:
        return ConformanceError(f"sensor {sensor.id!r} ({sensor.type}): {msg}")

    ids = set(scene.ids.tolist())
    for _ in range(scans):
        det, src = model.scan(scene)
        if det.sensor_id != sensor.id:
            raise fail(f"batch names sensor {det.sensor_id!r}")
        if det.kind != kind:
            raise fail(f"kind {det.kind!r}, the registry says {kind!r}")
        if det.dim not in MEASUREMENT_DIMS[det.kind]:
            raise fail(f"{det.dim}-D {det.kind} measurements")
        if src.dtype != np.int64 or src.shape != (len(det),):
            raise fail(f"sources must be int64 [{len(det)}], got {src.dtype} {list(src.shape)}")
        if not set(src.tolist()) <= ids | {-1}:
            raise fail("a source is neither a target of the scene nor -1")
        if len(det) and not np.all(det.t == scene.t):
            raise fail("detection times differ from the scan time")
        bad, reasons = invalid_rows(det)
        if bad.any():
            raise fail("; ".join(reasons[:3]))
        lik = det.cls_lik
        if lik is not None and len(det) and ((lik < 0).any() or not np.allclose(lik.sum(axis=1), 1.0)):
            raise fail("cls_lik rows must be probabilities summing to 1")
        for key in det.attrs:
            if any(word in key.lower() for word in _TRUTH_WORDS):
                raise fail(f"attribute {key!r} looks like truth; detections carry none")
    empty = Scene(scene.t, scene.ids[:0], scene.pos[:0], scene.vel[:0], scene.emitting[:0], scene.table)
    det, src = model.scan(empty)
    if len(src) != len(det) or (src != -1).any():
        raise fail("an empty scene can only give clutter")
    first = [detection_lines(make(np.random.default_rng(11)).scan(scene)[0]) for _ in range(2)]
    if first[0] != first[1]:
        raise fail("the same generator seed gave different detections")
