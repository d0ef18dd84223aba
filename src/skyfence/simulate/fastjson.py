"""Detection batches to JSON Lines, column by column.

Produces exactly the bytes of ``write_jsonl(f, detection_records(det))`` (compact
separators, ``float.__repr__`` for numbers, non-finite attribute values as ``null``) but
formats each column once per batch instead of building a dict per row, and writes a
covariance shared by every row of a batch only once. A test holds the two equal.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyfence.model.detections import Detections

__all__ = ["detection_lines"]

_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _num(v: float) -> str:
    return repr(v) if math.isfinite(v) else "null"


def _vec(row: list[float]) -> str:
    return "[" + ",".join(map(repr, row)) + "]"


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
        return [_vec(v) for v in col.tolist()]
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
    z = [_vec(row) for row in det.z.tolist()]
    R = _matrix_strings(det.R)
    cols: list[tuple[str, list[str]]] = []
    if det.cls_lik is not None:
        cols.append((',"cls_lik":', [_vec(row) for row in det.cls_lik.tolist()]))
    for key, col in det.attrs.items():
        cols.append(("," + _dumps(key) + ":", _column(np.asarray(col))))
    parts: list[str] = []
    for i in range(n):
        line = '{"t":' + t[i] + head + z[i] + ',"R":' + R[i]
        for name, values in cols:
            line += name + values[i]
        parts.append(line + "}\n")
    return "".join(parts)
