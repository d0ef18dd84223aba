"""Plausibility checks on each drone's stream of broadcast positions; they set the spoofing flag.

Remote ID is unauthenticated in practice: anyone with a Wi-Fi card can broadcast a serial and
a position. A broadcast that cannot be true of one aircraft is evidence of spoofing or replay:
a speed no small drone flies, a position jump its own reported velocity cannot explain, a
reported velocity its positions never show, an operator implausibly far away, a clock that
runs backwards or stands still while the aircraft moves, or a frame no compliant transmitter
would build. Each check is per serial, vectorised over that serial's rows, and causal: a row is
flagged only from what was heard up to it, so the live pipeline gets the same answer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from skyfence.detect.remoteid.capture import PositionReports

__all__ = [
    "REASONS",
    "Plausibility",
    "PlausibilityConfig",
    "SerialVerdict",
    "check_plausibility",
    "haversine",
]

#: Every reason a row can be flagged for, in a fixed order.
REASONS = (
    "impossible_speed",
    "position_jump",
    "position_static_vs_velocity",
    "operator_far",
    "timestamp_out_of_order",
    "timestamp_not_advancing",
    "malformed_frame",
)

_EARTH_R = 6371008.8


class PlausibilityConfig(BaseModel):
    """Thresholds; defaults suit small UAS (the fastest consumer drones fly under 60 m/s)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_speed: float = Field(100.0, gt=0, description="m/s, reported or implied horizontal speed")
    max_vertical_speed: float = Field(50.0, gt=0, description="m/s, reported vertical speed")
    speed_margin: float = Field(10.0, ge=0, description="m/s allowed beyond the reported speed")
    distance_margin: float = Field(30.0, ge=0, description="m of GNSS noise and quantisation")
    max_operator_distance: float = Field(15000.0, gt=0, description="m from drone to operator")
    timestamp_tolerance: float = Field(1.0, ge=0, description="s a drone clock may step back")
    stuck_after: float = Field(10.0, gt=0, description="s a drone clock may stand still")
    velocity_window: float = Field(2.0, gt=0, description="s over which reported speed must show")


@dataclass(frozen=True, slots=True)
class SerialVerdict:
    serial: str
    messages: int
    first_t: float
    last_t: float
    max_speed: float
    spoofed: bool
    reasons: dict[str, int]


@dataclass(frozen=True, slots=True)
class Plausibility:
    """Per row: ``flags[N, len(REASONS)]`` raised at that row, and ``spoofed`` (any flag so far
    in that serial's stream)."""

    flags: NDArray[np.bool_]
    spoofed: NDArray[np.bool_]

    def reasons(self) -> NDArray[np.str_]:
        """Comma-separated reasons raised at each row ('' for none)."""
        # One string per distinct combination, not per row: a long capture has few of them.
        masks = self.flags.astype(np.int64) @ (1 << np.arange(len(REASONS), dtype=np.int64))
        uniq, inverse = np.unique(masks, return_inverse=True)
        text = [",".join(r for k, r in enumerate(REASONS) if int(m) >> k & 1) for m in uniq]
        out: NDArray[np.str_] = np.array(text, dtype=str)[inverse.astype(np.intp)]
        return out

    def verdicts(self, reports: PositionReports) -> list[SerialVerdict]:
        """One verdict per serial, in order of first appearance."""
        out = []
        _, first = np.unique(reports.serial, return_index=True)
        for i in np.sort(first):
            s = str(reports.serial[i])
            rows = reports.serial == s
            counts = self.flags[rows].sum(axis=0)
            speeds = reports.speed[rows]
            out.append(
                SerialVerdict(
                    serial=s,
                    messages=int(rows.sum()),
                    first_t=float(reports.t[rows].min()),
                    last_t=float(reports.t[rows].max()),
                    max_speed=float(np.nanmax(speeds)) if np.isfinite(speeds).any() else float("nan"),
                    spoofed=bool(counts.any()),
                    reasons=dict(Counter({REASONS[k]: int(c) for k, c in enumerate(counts) if c})),
                )
            )
        return out


def haversine(
    lat1: NDArray[np.float64], lon1: NDArray[np.float64], lat2: NDArray[np.float64], lon2: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Great-circle distance in metres (NaN where any input is NaN)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    out: NDArray[np.float64] = 2 * _EARTH_R * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return out


def check_plausibility(reports: PositionReports, config: PlausibilityConfig | None = None) -> Plausibility:
    cfg = config or PlausibilityConfig()
    n = len(reports)
    flags = np.zeros((n, len(REASONS)), dtype=bool)
    spoofed = np.zeros(n, dtype=bool)
    for s in np.unique(reports.serial):
        idx = np.flatnonzero(reports.serial == s)
        idx = idx[np.argsort(reports.t[idx], kind="stable")]
        f = _check_stream(reports, idx, cfg)
        flags[idx] = f
        spoofed[idx] = np.logical_or.accumulate(f.any(axis=1))
    return Plausibility(flags, spoofed)


def _check_stream(r: PositionReports, idx: NDArray[np.intp], cfg: PlausibilityConfig) -> NDArray[np.bool_]:
    m = idx.size
    f = np.zeros((m, len(REASONS)), dtype=bool)
    t = r.t[idx]
    speed = r.speed[idx]
    lat, lon = r.latitude[idx], r.longitude[idx]
    with np.errstate(invalid="ignore"):
        f[:, 0] = (speed > cfg.max_speed) | (np.abs(r.vertical_speed[idx]) > cfg.max_vertical_speed)

    # Position against reported velocity, between consecutive fixes.
    fix = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))
    if fix.size >= 2:
        a, b = fix[:-1], fix[1:]
        d = haversine(lat[a], lon[a], lat[b], lon[b])
        dt = np.maximum(t[b] - t[a], 0.0)
        # An unknown speed allows anything up to the speed limit.
        v = np.fmax(np.nan_to_num(speed[a], nan=cfg.max_speed), np.nan_to_num(speed[b], nan=cfg.max_speed))
        allowed = (np.minimum(v, cfg.max_speed) + cfg.speed_margin) * dt + cfg.distance_margin
        f[b, 1] = d > allowed
        # A reported speed must show as movement over a window of a few seconds.
        tf = t[fix]
        prev = np.searchsorted(tf, tf - cfg.velocity_window, side="right") - 1
        has = prev >= 0
        cur, old = fix[has], fix[prev[has]]
        d2 = haversine(lat[old], lon[old], lat[cur], lon[cur])
        dt2 = t[cur] - t[old]
        vmin = np.fmin(speed[old], speed[cur])
        with np.errstate(invalid="ignore"):
            f[cur, 2] = d2 < (vmin - cfg.speed_margin) * dt2 - cfg.distance_margin

    with np.errstate(invalid="ignore"):
        f[:, 3] = (
            haversine(lat, lon, r.operator_latitude[idx], r.operator_longitude[idx])
            > cfg.max_operator_distance
        )

    # Drone clock: backwards beyond tolerance, or standing still for too long. Only rows with a
    # position fix count: the clock is GNSS time, which a receiver without a fix lacks.
    dtime = r.drone_time[idx]
    ok = np.isfinite(dtime) & np.isfinite(lat)
    if ok.sum() >= 2:
        k = np.flatnonzero(ok)
        dv = dtime[k]
        run_max = np.maximum.accumulate(dv)
        f[k[1:], 4] = dv[1:] < run_max[:-1] - cfg.timestamp_tolerance
        change = np.r_[True, dv[1:] != dv[:-1]]
        run_start_t = t[k][np.maximum.accumulate(np.where(change, np.arange(k.size), 0))]
        f[k, 5] = t[k] - run_start_t > cfg.stuck_after

    f[:, 6] = r.malformed[idx]
    return f
