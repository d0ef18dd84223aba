"""Terrain: ground height over the site ENU frame and line-of-sight tests against it.

Heights are metres in the site frame (``U`` of the ENU frame, so the site origin is at 0).
A grid is bilinear between posts and holds its edge value beyond the grid. Terrain is what
lets a low-flying FPV hide behind a ridge from a radar, a camera or a direction finder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["Horizon", "Ridge", "Terrain"]

#: Chunk of segments tested at once by ``line_of_sight`` (bounds the temporary arrays).
_LOS_CHUNK = 4096


@dataclass(frozen=True, slots=True)
class Ridge:
    """A ridge line from ``start`` to ``end`` (E, N metres), Gaussian cross-section of
    ``height_m`` and 1/e half-width ``width_m``."""

    start: tuple[float, float]
    end: tuple[float, float]
    height_m: float
    width_m: float


@dataclass(frozen=True, slots=True, init=False, eq=False)
class Terrain:
    """Ground height ``height(e, n)``: flat at ``level_m`` when ``heights`` is ``None``,
    otherwise a grid ``heights[row, col]`` whose post ``[0, 0]`` is at ``origin`` (E, N) and
    rows step north by ``spacing[1]``, columns east by ``spacing[0]``."""

    heights: NDArray[np.float64] | None
    origin: tuple[float, float]
    spacing: tuple[float, float]
    level_m: float
    _horizons: dict[tuple[float, ...], Horizon] = field(repr=False, compare=False)

    def __init__(
        self,
        heights: ArrayLike | None = None,
        origin: Sequence[float] = (0.0, 0.0),
        spacing: float | Sequence[float] = 1.0,
        level_m: float = 0.0,
    ) -> None:
        grid: NDArray[np.float64] | None = None
        if heights is not None:
            grid = np.array(heights, dtype=np.float64, copy=True)
            if grid.ndim != 2 or grid.shape[0] < 2 or grid.shape[1] < 2:
                raise ValueError(
                    f"terrain heights must be a 2-D grid of at least 2x2, got {list(grid.shape)}"
                )
            if not np.isfinite(grid).all():
                raise ValueError("terrain heights must all be finite numbers")
            grid.flags.writeable = False
        sp = (
            (float(spacing), float(spacing))
            if isinstance(spacing, int | float)
            else tuple(map(float, spacing))
        )
        if len(sp) != 2 or not all(math.isfinite(s) and s > 0 for s in sp):
            raise ValueError(f"terrain spacing must be positive, got {spacing!r}")
        org = tuple(map(float, origin))
        if len(org) != 2 or not all(math.isfinite(o) for o in org):
            raise ValueError(f"terrain origin must be two finite numbers, got {origin!r}")
        object.__setattr__(self, "heights", grid)
        object.__setattr__(self, "origin", (org[0], org[1]))
        object.__setattr__(self, "spacing", (sp[0], sp[1]))
        object.__setattr__(self, "level_m", float(level_m))
        # Horizons of fixed observers, computed once (Monte Carlo runs reuse them).
        object.__setattr__(self, "_horizons", {})

    # -- construction -------------------------------------------------------------------
    @classmethod
    def flat(cls, level_m: float = 0.0) -> Terrain:
        return cls(None, level_m=level_m)

    @property
    def is_flat(self) -> bool:
        return self.heights is None

    @classmethod
    def from_ridges(
        cls, ridges: Sequence[Ridge], extent_m: float, spacing_m: float = 50.0, base_m: float = 0.0
    ) -> Terrain:
        """Rasterise ridge lines onto a square grid covering ``[-extent_m, extent_m]``²."""
        n = math.ceil(2.0 * extent_m / spacing_m) + 1
        axis = -extent_m + spacing_m * np.arange(n)
        ee, nn = np.meshgrid(axis, axis)
        h = np.full(ee.shape, float(base_m))
        for r in ridges:
            a = np.array(r.start, dtype=np.float64)
            b = np.array(r.end, dtype=np.float64)
            ab = b - a
            denom = float(ab @ ab)
            s = np.zeros_like(ee) if denom == 0 else ((ee - a[0]) * ab[0] + (nn - a[1]) * ab[1]) / denom
            s = np.clip(s, 0.0, 1.0)
            d2 = (ee - a[0] - s * ab[0]) ** 2 + (nn - a[1] - s * ab[1]) ** 2
            h = np.maximum(h, base_m + r.height_m * np.exp(-d2 / (r.width_m * r.width_m)))
        return cls(h, origin=(-extent_m, -extent_m), spacing=spacing_m)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        spacing: float | Sequence[float] | None = None,
        origin: Sequence[float] | None = None,
    ) -> Terrain:
        """Read a height grid: ``.npz`` with array ``heights`` (and optionally ``spacing``,
        ``origin``), or ``.csv`` with one row of heights per northing, southernmost first.
        ``spacing``/``origin`` given here override the file's. Raises ``ValueError``/``OSError``."""
        p = Path(path)
        file_spacing: Sequence[float] | float | None = None
        file_origin: Sequence[float] | None = None
        if p.suffix.lower() == ".npz":
            with np.load(p, allow_pickle=False) as data:
                if "heights" not in data:
                    raise ValueError(f"{p.name}: no 'heights' array in the .npz file")
                heights = np.asarray(data["heights"], dtype=np.float64)
                if "spacing" in data:
                    file_spacing = [float(v) for v in np.atleast_1d(data["spacing"])]
                    if len(file_spacing) == 1:
                        file_spacing = file_spacing * 2
                if "origin" in data:
                    file_origin = [float(v) for v in np.atleast_1d(data["origin"])]
        elif p.suffix.lower() == ".csv":
            heights = np.loadtxt(p, delimiter=",", dtype=np.float64, ndmin=2)
        else:
            raise ValueError(f"{p.name}: terrain grids are .npz or .csv files")
        sp = spacing if spacing is not None else file_spacing
        org = origin if origin is not None else file_origin
        if sp is None:
            raise ValueError(f"{p.name}: the grid spacing is neither in the file nor given")
        if org is None:
            ny, nx = heights.shape if heights.ndim == 2 else (0, 0)
            spx, spy = (sp, sp) if isinstance(sp, int | float) else sp
            # Default: the grid is centred on the site origin.
            org = (-(nx - 1) * float(spx) / 2.0, -(ny - 1) * float(spy) / 2.0)
        return cls(heights, origin=org, spacing=sp)

    # -- queries ------------------------------------------------------------------------
    def height(self, e: ArrayLike, n: ArrayLike) -> NDArray[np.float64]:
        """Ground height at ENU ``(e, n)``, vectorised (bilinear on a grid)."""
        ea = np.asarray(e, dtype=np.float64)
        na = np.asarray(n, dtype=np.float64)
        if self.heights is None:
            return np.full(np.broadcast(ea, na).shape, self.level_m)
        g = self.heights
        ny, nx = g.shape
        fx = np.clip((ea - self.origin[0]) * (1.0 / self.spacing[0]), 0.0, nx - 1.0)
        fy = np.clip((na - self.origin[1]) * (1.0 / self.spacing[1]), 0.0, ny - 1.0)
        ix = np.minimum(fx.astype(np.intp), nx - 2)
        iy = np.minimum(fy.astype(np.intp), ny - 2)
        wx = fx - ix
        wy = fy - iy
        # Flat indices and np.take: measurably faster than 2-D fancy indexing.
        flat = g.ravel()
        base = iy * nx + ix
        h00 = np.take(flat, base)
        h01 = np.take(flat, base + 1)
        h10 = np.take(flat, base + nx)
        h11 = np.take(flat, base + (nx + 1))
        lower = h00 + (h01 - h00) * wx
        upper = h10 + (h11 - h10) * wx
        out: NDArray[np.float64] = lower + (upper - lower) * wy
        return out

    def line_of_sight(self, a: ArrayLike, b: ArrayLike, step_m: float | None = None) -> NDArray[np.bool_]:
        """Whether each straight segment ``a[i] -> b[i]`` (``[N, 3]`` ENU, or one ``[3]``
        broadcast) clears the ground, sampled every ``step_m`` (half the grid spacing by
        default). The end points themselves are not tested against the ground."""
        a_arr = np.atleast_2d(np.asarray(a, dtype=np.float64))
        b_arr = np.atleast_2d(np.asarray(b, dtype=np.float64))
        a_arr, b_arr = np.broadcast_arrays(a_arr, b_arr)
        n = a_arr.shape[0]
        out = np.ones(n, dtype=bool)
        if n == 0:
            return out
        if self.heights is None:
            # Flat ground: a segment between two points on or above the ground clears it.
            return (a_arr[:, 2] >= self.level_m - 1e-9) & (b_arr[:, 2] >= self.level_m - 1e-9)
        step = step_m if step_m is not None else 0.5 * min(self.spacing)
        for lo in range(0, n, _LOS_CHUNK):
            hi = min(n, lo + _LOS_CHUNK)
            pa, pb = a_arr[lo:hi], b_arr[lo:hi]
            length = float(np.max(np.linalg.norm(pb[:, :2] - pa[:, :2], axis=1), initial=0.0))
            k = int(min(max(math.ceil(length / step), 1), 2048))
            s = (np.arange(1, k) / k)[None, :]
            if s.size == 0:
                continue
            d = pb - pa
            pe = pa[:, 0:1] + s * d[:, 0:1]
            pn = pa[:, 1:2] + s * d[:, 1:2]
            pu = pa[:, 2:3] + s * d[:, 2:3]
            out[lo:hi] = np.all(pu >= self.height(pe, pn), axis=1)
        return out

    def horizon(self, origin: ArrayLike, max_range_m: float, az_bins: int | None = None) -> Horizon:
        """Precomputed horizon of a fixed observer at ``origin`` (ENU), for fast masking of
        many targets per scan (a viewshed in polar cells). By default the azimuth cells are
        about one grid spacing wide at the far edge (between 360 and 2880 of them)."""
        if az_bins is None:
            arc = 2.0 * math.pi * min(max_range_m, 200_000.0) / min(self.spacing)
            az_bins = int(min(max(arc, 360.0), 2880.0))
        o = np.asarray(origin, dtype=np.float64).reshape(3)
        key = (float(o[0]), float(o[1]), float(o[2]), float(max_range_m), float(az_bins))
        hz = self._horizons.get(key)
        if hz is None:
            if len(self._horizons) >= 256:
                self._horizons.clear()
            hz = self._horizons[key] = Horizon(self, o, max_range_m, az_bins)
        return hz


class Horizon:
    """Terrain horizon seen from one fixed point: for each azimuth cell and range cell the
    steepest slope (rise over run) of the ground between the observer and that range.
    A point is visible when its own slope from the observer is at least that steep."""

    __slots__ = ("_az_bins", "_dr", "_flat", "_level", "_origin", "_slope")

    def __init__(
        self, terrain: Terrain, origin: NDArray[np.float64], max_range_m: float, az_bins: int
    ) -> None:
        self._origin = origin.copy()
        self._flat = terrain.is_flat
        self._level = terrain.level_m
        self._az_bins = int(az_bins)
        self._dr = 0.5 * min(terrain.spacing)
        self._slope = np.zeros((0, 0))
        if self._flat:
            return
        rng = float(min(max_range_m, 200_000.0))
        n_r = max(1, math.ceil(rng / self._dr))
        # Bound the precomputation (about 8 M samples) by coarsening the range step.
        while n_r * self._az_bins > 8_000_000:
            self._dr *= 2.0
            n_r = max(1, math.ceil(rng / self._dr))
        az = (np.arange(self._az_bins) + 0.5) * (2.0 * math.pi / self._az_bins)
        r = self._dr * np.arange(1, n_r + 1)
        e = origin[0] + np.sin(az)[:, None] * r[None, :]
        nn = origin[1] + np.cos(az)[:, None] * r[None, :]
        slope = (terrain.height(e, nn) - origin[2]) / r[None, :]
        self._slope = np.maximum.accumulate(slope, axis=1)

    def visible(self, points: ArrayLike) -> NDArray[np.bool_]:
        """Whether each point ``[N, 3]`` is in view of the observer."""
        p = np.atleast_2d(np.asarray(points, dtype=np.float64))
        if self._flat:
            return np.asarray(p[:, 2] >= self._level - 1e-9)
        d = p - self._origin
        rh = np.hypot(d[:, 0], d[:, 1])
        az = np.mod(np.arctan2(d[:, 0], d[:, 1]), 2.0 * math.pi)
        ia = np.minimum((az * (self._az_bins / (2.0 * math.pi))).astype(np.intp), self._az_bins - 1)
        # Only ground strictly nearer than the point can hide it.
        k = np.ceil(rh / self._dr - 1e-9).astype(np.intp) - 2
        k = np.minimum(k, self._slope.shape[1] - 1)
        near = k < 0
        kk = np.maximum(k, 0)
        hz = self._slope[ia, kk]
        own = d[:, 2] / np.maximum(rh, 1e-9)
        return np.asarray(near | (own >= hz))
