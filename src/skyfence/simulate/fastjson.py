"""Detection batches and truth points to JSON Lines, column by column.

Produces exactly the bytes of ``write_jsonl(f, detection_records(det))`` and
``write_jsonl(f, truth_records(truth))`` (compact separators, ``float.__repr__`` for
numbers, non-finite attribute values as ``null``) but formats each column once per batch
instead of building a dict per row, writes a covariance shared by every row of a batch
only once, and encodes each target's static truth fields once per run. Tests hold the
fast and the record writers equal.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyfence.model.detections import Detections
from skyfence.model.truth import TargetInfo, Truth

__all__ = ["TruthLines", "detection_lines"]

_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _num(v: float) -> str:
    return repr(v) if math.isfinite(v) else "null"


def _vec(row: list[float]) -> str:
    return "[" + ",".join(map(repr, row)) + "]"


def _rows(arr: NDArray[np.float64]) -> list[str]:
    """Each row of a 2-D float array as a compact JSON list. ``str`` of a Python list
    formats every float with ``float.__repr__`` in C, as the JSON encoder does; only the
    spaces after commas differ (floats never contain spaces)."""
    if not bool(np.isfinite(arr).all()):
        return [_dumps([_plain(v) for v in row]) for row in arr.tolist()]
    return [r.replace(" ", "") for r in map(str, arr.tolist())]


def _matrix_strings(R: NDArray[np.float64]) -> list[str]:
    n = R.shape[0]
    if n == 0:
        return []
    if n > 1 and bool((R[0] == R).all()):
        return [_dumps(R[0].tolist())] * n
    return [_dumps(m) for m in R.tolist()]


def _column(col: NDArray[Any]) -> list[str]:
    kind = col.dtype.kind
    if col.ndim == 1:
        if kind == "f":
            return [_num(v) for v in col.tolist()]
        if kind in "iu":
            return [str(v) for v in col.tolist()]
        if kind == "b":
            return ["true" if v else "false" for v in col.tolist()]
        if kind == "U":
            cache: dict[str, str] = {}
            out = []
            for v in col.tolist():
                s = cache.get(v)
                if s is None:
                    s = cache[v] = _dumps(v)
                out.append(s)
            return out
    if col.ndim == 2 and kind in "iu":
        return [_dumps(v) for v in col.tolist()]
    if col.ndim == 2 and kind == "f" and bool(np.isfinite(col).all()):
        return _rows(col)
    # Anything else: the generic encoder, value by value (same rules as detection_records).
    return [_dumps(_plain(v)) for v in col.tolist()]


def _plain(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def detection_lines(det: Detections) -> str:
    """The JSON Lines text (with trailing newline) of every row of ``det``."""
    n = len(det)
    if n == 0:
        return ""
    head = ',"sensor":' + _dumps(det.sensor_id) + ',"kind":' + _dumps(det.kind) + ',"z":'
    t = [repr(v) for v in det.t.tolist()]
    z = _rows(det.z)
    R = _matrix_strings(det.R)
    cols: list[tuple[str, list[str]]] = []
    if det.cls_lik is not None:
        cols.append((',"cls_lik":', _rows(det.cls_lik)))
    for key, col in det.attrs.items():
        cols.append(("," + _dumps(key) + ":", _column(np.asarray(col))))
    parts: list[str] = []
    for i in range(n):
        line = '{"t":' + t[i] + head + z[i] + ',"R":' + R[i]
        for name, values in cols:
            line += name + values[i]
        parts.append(line + "}\n")
    return "".join(parts)


class TruthLines:
    """Truth points to JSON Lines; the static part of each target's record is encoded
    once and reused for every point of that target."""

    def __init__(self) -> None:
        self._static: dict[int, str] = {}
        self._infos: tuple[TargetInfo, ...] | None = None
        self._by_id: dict[int, TargetInfo] = {}

    def _middle(self, tid: int) -> str:
        s = self._static.get(tid)
        if s is None:
            ti = self._by_id.get(tid)
            if ti is None:
                s = ""
            else:
                rec: dict[str, Any] = {
                    "name": ti.name,
                    "behaviour": ti.behaviour,
                    "cls": ti.cls,
                    "role": ti.role,
                    "link": ti.link,
                    "flags": list(ti.flags),
                    "group": ti.group,
                    "relay": ti.relay,
                    "zone": ti.zone,
                }
                if ti.serial is not None:
                    rec["serial"] = ti.serial
                if ti.icao is not None:
                    rec["icao"] = ti.icao
                s = "," + _dumps(rec)[1:-1]
            self._static[tid] = s
        return s

    def __call__(self, truth: Truth) -> str:
        if truth.targets is not self._infos:
            self._infos = truth.targets
            self._by_id = {ti.id: ti for ti in truth.targets}
            self._static = {}
        parts: list[str] = []
        x = _rows(truth.x)
        t = truth.t.tolist()
        em = truth.emitting.tolist()
        for i, tid in enumerate(truth.target.tolist()):
            parts.append(
                '{"t":'
                + repr(t[i])
                + ',"target":'
                + str(tid)
                + self._middle(tid)
                + ',"x":'
                + x[i]
                + ',"emitting":'
                + ("true" if em[i] else "false")
                + "}\n"
            )
        return "".join(parts)
