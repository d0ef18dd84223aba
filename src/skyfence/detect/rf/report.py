"""Report thinning: one bearing detection per emission track per report interval.

The detector measures a continuous emitter once per block (13 ms at 20 MS/s: ~77 bearings
a second for one analog video link). A tracker gains nothing from that many nearly
identical bearings and spends time on each, so the detections handed to it are pooled:
emissions of one *track* (same protocol and link id, or for links without an id the same
frequency channel, and the same direction) over ``interval`` seconds become one
detection with the inverse-variance mean bearing, the largest SNR, the span of times and
``n_emissions``. The emission log keeps every emission.

Bearings of different emitters that share a link id (three ELRS links with the same
spreading factor and bandwidth) are kept apart: within a track, bearings are grouped
round the densest directions, ``split_deg`` (or three sigmas) wide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from skyfence.detect.rf.detector import Emissions
from skyfence.model.detections import Detections

__all__ = ["ReportThinner"]


@dataclass(slots=True)
class _Pending:
    protocol: str
    link: int
    f_center: float
    bandwidth: float
    start: float
    rows: list[Emissions] = field(default_factory=list)

    def same(self, protocol: str, link: int, f: float) -> bool:
        if protocol != self.protocol or link != self.link:
            return False
        # An id'd link (ELRS: one id across all its hops) matches whatever its channel;
        # others (video, OFDM, narrowband) by channel: a drifting FM carrier stays one
        # track, a second transmitter on another channel is another.
        return link >= 0 or abs(f - self.f_center) <= max(0.5 * self.bandwidth, 100e3)


class ReportThinner:
    """Pools bearing emissions per track over ``interval`` seconds (``0``: every emission)."""

    def __init__(self, sensor_id: str, interval: float = 0.2, split_deg: float = 2.0) -> None:
        self.sensor_id = sensor_id
        self.interval = float(interval)
        self.split = math.radians(split_deg)
        self._pending: list[_Pending] = []

    def add(self, em: Emissions, now: float) -> Detections:
        """Take one block's emissions; return the reports whose interval ended by ``now``
        (epoch seconds: the end of the block just processed)."""
        if self.interval <= 0:
            return em.to_detections()
        has = np.flatnonzero(np.isfinite(em.az))
        if len(has):
            e = em.take(has)
            # A handful of emissions per block and of tracks: a plain loop is cheapest.
            for i in range(len(e)):
                p, lk, f = str(e.protocol[i]), int(e.link[i]), float(e.f_center[i])
                pend = next((q for q in self._pending if q.same(p, lk, f)), None)
                if pend is None:
                    pend = _Pending(p, lk, f, float(e.bandwidth[i]), float(e.t_start[i]))
                    self._pending.append(pend)
                pend.rows.append(e.take(np.array([i])))
        due = [q for q in self._pending if now >= q.start + self.interval]
        return self._report(due)

    def flush(self) -> Detections:
        """Every pending report (at the end of a recording)."""
        if self.interval <= 0:
            return Emissions.concat(self.sensor_id, []).to_detections()
        return self._report(list(self._pending))

    def _report(self, due: list[_Pending]) -> Detections:
        self._pending = [q for q in self._pending if q not in due]
        parts = [Emissions.concat(self.sensor_id, q.rows) for q in due]
        return _pool(self.sensor_id, parts, self.split)


def _groups(az: NDArray[np.float64], sigma: NDArray[np.float64], split: float) -> NDArray[np.int64]:
    """Group labels by direction: the bearing with the most others within ``split`` (or
    three sigmas) seeds a group of those neighbours, then the next among the rest. Seeding
    at the densest bearing, not chaining neighbours, keeps two emitters apart even when
    collisions of their packets give bearings in between."""
    d = np.abs((az[:, None] - az[None, :] + math.pi) % (2 * math.pi) - math.pi)
    near = d <= np.maximum(split, 3.0 * np.maximum(sigma[:, None], sigma[None, :]))
    labels = np.full(len(az), -1, dtype=np.int64)
    free = np.ones(len(az), dtype=bool)
    g = 0
    while free.any():
        counts = (near & free[None, :]).sum(axis=1) * free
        seed = int(np.argmax(counts))
        members = near[seed] & free
        labels[members] = g
        free &= ~members
        g += 1
    return labels


def _pool(sensor_id: str, parts: list[Emissions], split: float) -> Detections:
    rows: list[Emissions] = []
    t_mid: list[float] = []
    t_end: list[float] = []
    az_out: list[float] = []
    sig_out: list[float] = []
    count: list[int] = []
    for e in parts:
        lab = _groups(e.az, e.az_sigma, split)
        for g in np.unique(lab):
            idx = np.flatnonzero(lab == g)
            w = 1.0 / np.maximum(e.az_sigma[idx], 1e-6) ** 2
            # Inverse-variance circular mean: successive blocks see independent noise.
            s = float(np.sum(w * np.sin(e.az[idx])))
            c = float(np.sum(w * np.cos(e.az[idx])))
            best = idx[int(np.argmax(e.snr_db[idx]))]
            row = e.take(np.array([best]))
            rows.append(row)
            t_mid.append(0.5 * (float(e.t_start[idx].min()) + float(e.t_end[idx].max())))
            t_end.append(float(e.t_end[idx].max()))
            az_out.append(math.atan2(s, c) % (2 * math.pi))
            sig_out.append(float(1.0 / math.sqrt(float(w.sum()))))
            count.append(len(idx))
    em = Emissions.concat(sensor_id, rows)
    det = em.to_detections()
    n = len(em)
    attrs = dict(det.attrs)
    attrs["n_emissions"] = np.array(count, dtype=np.int64)
    attrs["t_end"] = np.array(t_end, dtype=np.float64)
    out = Detections(
        sensor_id,
        "bearing",
        np.array(t_mid, dtype=np.float64),
        np.array(az_out, dtype=np.float64).reshape(n, 1),
        (np.array(sig_out, dtype=np.float64) ** 2).reshape(n, 1, 1),
        cls_lik=det.cls_lik,
        attrs=attrs,
    )
    return out.take(np.argsort(out.t, kind="stable")) if n > 1 else out
