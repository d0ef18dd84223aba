"""Compiled admission checks for a detection batch: one pass instead of a dozen numpy
reductions, which cost more than the tracking itself on a small scan. A batch that fails
the quick test goes to :func:`skyfence.model.invalid_rows`, which finds the bad rows and
says why (so the quick test only has to be right when it says "valid")."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from skyfence._jit import kernel

__all__ = ["has_repeat", "quick_check"]


@kernel
def quick_check(
    t: NDArray[np.float64], z: NDArray[np.float64], R: NDArray[np.float64]
) -> tuple[bool, float, float]:
    """Whether every row is finite with a symmetric positive definite ``R`` (``m <= 3``;
    larger ``R`` is left to the slow test), and the earliest and latest time."""
    k, m = z.shape
    lo, hi = np.inf, -np.inf
    if m > 3:
        return False, lo, hi
    for i in range(k):
        ti = t[i]
        if not np.isfinite(ti):
            return False, lo, hi
        lo = min(lo, ti)
        hi = max(hi, ti)
        for a in range(m):
            if not np.isfinite(z[i, a]):
                return False, lo, hi
            for b in range(m):
                r = R[i, a, b]
                if not np.isfinite(r):
                    return False, lo, hi
                if b < a and abs(r - R[i, b, a]) > 1e-9 * (1.0 + abs(r)):
                    return False, lo, hi
        # Cholesky, written out: every pivot must be positive.
        d = R[i, 0, 0]
        if not d > 0.0:
            return False, lo, hi
        if m >= 2:
            l00 = math.sqrt(d)
            l10 = R[i, 1, 0] / l00
            d = R[i, 1, 1] - l10 * l10
            if not d > 0.0:
                return False, lo, hi
            if m == 3:
                l11 = math.sqrt(d)
                l20 = R[i, 2, 0] / l00
                l21 = (R[i, 2, 1] - l20 * l10) / l11
                d = R[i, 2, 2] - l20 * l20 - l21 * l21
                if not d > 0.0:
                    return False, lo, hi
    return True, lo, hi


@kernel
def has_repeat(v: NDArray[np.float64]) -> bool:
    """Whether any value occurs twice (rows can only repeat if a coordinate does)."""
    if v.shape[0] < 2:
        return False
    s = np.sort(v)
    for i in range(1, s.shape[0]):  # noqa: SIM110 (no generators in compiled code)
        if s[i] == s[i - 1]:
            return True
    return False
