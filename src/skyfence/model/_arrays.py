"""Small helpers for the frozen columnar types: coerce, check shape, make read-only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["concat_attrs", "frozen_array", "frozen_attrs", "take_attrs"]


def frozen_array(value: ArrayLike, dtype: Any, name: str, shape: tuple[int | None, ...]) -> NDArray[Any]:
    """Return ``value`` as a read-only array of ``dtype``; ``None`` in ``shape`` is any size."""
    arr = np.array(value, dtype=dtype, copy=True)
    if arr.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(arr.shape, shape, strict=True)
    ):
        want_s = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        raise ValueError(f"{name} must have shape {want_s}, got {list(arr.shape)}")
    arr.flags.writeable = False
    return arr


def frozen_attrs(attrs: Mapping[str, ArrayLike], n: int, owner: str) -> dict[str, NDArray[Any]]:
    out: dict[str, NDArray[Any]] = {}
    for key, value in attrs.items():
        arr = np.array(value, copy=True)
        if arr.ndim == 0 or arr.shape[0] != n:
            raise ValueError(f"{owner}.attrs[{key!r}] must have {n} rows, got shape {list(arr.shape)}")
        arr.flags.writeable = False
        out[key] = arr
    return out


def take_attrs(attrs: Mapping[str, NDArray[Any]], idx: NDArray[Any]) -> dict[str, NDArray[Any]]:
    return {k: v[idx] for k, v in attrs.items()}


def concat_attrs(parts: list[Mapping[str, NDArray[Any]]], sizes: list[int]) -> dict[str, NDArray[Any]]:
    """Concatenate attribute columns; a column missing from a part is filled with a blank."""
    keys: list[str] = []
    for p in parts:
        for k in p:
            if k not in keys:
                keys.append(k)
    out: dict[str, NDArray[Any]] = {}
    for key in keys:
        template = next(p[key] for p in parts if key in p)
        cols = []
        for p, n in zip(parts, sizes, strict=True):
            if key in p:
                cols.append(p[key])
            else:
                cols.append(_blank(template, n))
        out[key] = np.concatenate(cols, axis=0)
    return out


def _blank(template: NDArray[Any], n: int) -> NDArray[Any]:
    shape = (n, *template.shape[1:])
    if template.dtype.kind in "fc":
        return np.full(shape, np.nan, dtype=template.dtype)
    if template.dtype.kind in "US":
        return np.full(shape, "", dtype=template.dtype)
    if template.dtype.kind == "O":
        return np.full(shape, None, dtype=object)
    if template.dtype.kind == "b":
        return np.zeros(shape, dtype=bool)
    return np.full(shape, -1, dtype=template.dtype)
