"""The RF detector: blocks of IQ samples in, emissions out (time, centre frequency,
bandwidth, protocol, SNR, duty cycle and, with an antenna array, a bearing).

Pipeline per block: Hann STFT -> noise floor (order statistic over frequency) -> multi-scale
CFAR tiles -> connected components of the detection mask -> components merged by frequency
overlap into emissions -> per-emission measurements and features -> protocol. Detection runs
vectorised over several blocks at once; only blocks with a detection pay for segmentation and
classification, and an emission already classified in the previous blocks keeps its protocol
(re-checked every ``reclassify_s``) so continuous links cost one feature pass per period.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from scipy import ndimage

from skyfence.detect.rf.bearing import SPEED_OF_LIGHT, ArrayGeometry, estimate_bearing
from skyfence.detect.rf.features import band_limit, cyclic_prefix, dechirp, line_sync
from skyfence.detect.rf.spectrum import CfarPlan, block_power, cfar_plan, noise_floor, tile_means
from skyfence.model.classes import CLASSES
from skyfence.model.detections import Detections

__all__ = [
    "PROTOCOLS",
    "Emissions",
    "RfDetector",
    "RfDetectorConfig",
    "emission_records",
    "protocol_counts",
]

Protocol = Literal["elrs", "analog_video", "digital_ofdm", "wifi", "narrowband", "unknown"]
PROTOCOLS: tuple[str, ...] = ("elrs", "analog_video", "digital_ofdm", "wifi", "narrowband", "unknown")

# Class likelihoods [fpv, multirotor, fixed_wing, bird, aircraft, unknown] an emission of each
# protocol lends the tracker's classifier: an RF emitter is never a bird.
_CLS_LIK: dict[str, tuple[float, ...]] = {
    "analog_video": (0.80, 0.10, 0.05, 0.0, 0.0, 0.05),
    "elrs": (0.55, 0.20, 0.20, 0.0, 0.0, 0.05),
    "digital_ofdm": (0.45, 0.45, 0.05, 0.0, 0.0, 0.05),
    "wifi": (0.15, 0.35, 0.05, 0.0, 0.05, 0.40),
    "narrowband": (0.15, 0.20, 0.20, 0.0, 0.10, 0.35),
    "unknown": (0.20, 0.20, 0.20, 0.0, 0.10, 0.30),
}
assert all(len(v) == len(CLASSES) for v in _CLS_LIK.values())


class RfDetectorConfig(BaseModel):
    """Detector settings (defaults suit 10-60 MS/s captures)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    nfft: int = Field(1024, ge=16, description="FFT length of the spectrogram")
    block_frames: int = Field(256, ge=4, description="spectrogram frames per block")
    pfa_block: float = Field(1e-4, gt=0, lt=1, description="design false-alarm probability per block")
    scales: tuple[tuple[int, int], ...] = Field(
        ((2, 64), (8, 8), (0, 4)),
        description="CFAR tiles (frames, bins): short-wide for bursts, square for chirps, "
        "whole-block-narrow for carriers; 0 frames = the whole block",
    )
    floor_quantile: float = Field(0.25, gt=0.01, lt=0.75)
    lora_bandwidths: tuple[float, ...] = (125e3, 250e3, 500e3)
    lora_sfs: tuple[int, ...] = (6, 7, 8, 9, 10, 11, 12)
    chirp_score: float = Field(0.4, description="dechirped power share in two bins to call a chirp")
    cp_rho: float = Field(0.04, description="cyclic-prefix autocorrelation to call OFDM")
    line_score: float = Field(6.0, description="line-sync harmonic peak over spectrum level")
    narrowband_max_hz: float = 200e3
    narrowband_min_s: float = Field(0.5e-3, description="shorter narrow emissions may be chirp fragments")
    ofdm_min_hz: float = Field(4e6, description="narrowest emission called OFDM (Wi-Fi or video)")
    wide_min_hz: float = 1e6
    max_excerpt: int = Field(1 << 16, description="samples used for the OFDM and video features")
    reclassify_s: float = 0.25
    batch_blocks: int = Field(8, ge=1, description="blocks detected together (vectorised)")
    report_interval_s: float = Field(
        0.2,
        ge=0,
        le=60,
        description="bearing detections pooled per emission track over this long (0: one per emission)",
    )

    @property
    def block_len(self) -> int:
        return self.nfft * self.block_frames


@dataclass(frozen=True, slots=True)
class Emissions:
    """Columnar emissions from one sensor. Frequencies in Hz (``f_center`` at RF when the
    capture frequency is known, else the offset), times in epoch seconds, angles radians."""

    sensor_id: str
    t_start: NDArray[np.float64]
    t_end: NDArray[np.float64]
    f_center: NDArray[np.float64]
    f_offset: NDArray[np.float64]
    bandwidth: NDArray[np.float64]
    protocol: NDArray[np.str_]
    snr_db: NDArray[np.float64]
    duty: NDArray[np.float64]
    sf: NDArray[np.int64]
    symbol_time: NDArray[np.float64]
    line_rate: NDArray[np.float64]
    link: NDArray[np.int64]
    az: NDArray[np.float64]
    az_sigma: NDArray[np.float64]
    az_alt: NDArray[np.float64]
    block: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    #: Bearing detections to hand to a tracker instead of one per emission (the report
    #: thinning of :func:`skyfence.detect.rf.stream.detect_recording`); None: every emission.
    reports: Detections | None = None

    def __len__(self) -> int:
        return int(self.t_start.shape[0])

    @staticmethod
    def concat(sensor_id: str, parts: Sequence[Emissions]) -> Emissions:
        if not parts:
            return _empty(sensor_id)
        cols: dict[str, Any] = {name: np.concatenate([getattr(p, name) for p in parts]) for name in _COLUMNS}
        return Emissions(sensor_id, **cols)

    def take(self, idx: NDArray[Any]) -> Emissions:
        return Emissions(self.sensor_id, **{name: getattr(self, name)[idx] for name in _COLUMNS})

    def to_detections(self) -> Detections:
        """The emissions that have a bearing, as ``bearing`` detections (the rest have no
        measurement a tracker can use; they stay in the emission log). When the stream
        pooled them per report interval, those reports instead."""
        if self.reports is not None:
            return self.reports
        has = np.isfinite(self.az)
        e = self.take(np.flatnonzero(has))
        n = len(e)
        lik = np.array([_CLS_LIK.get(str(p), _CLS_LIK["unknown"]) for p in e.protocol], dtype=np.float64)
        return Detections(
            self.sensor_id,
            "bearing",
            0.5 * (e.t_start + e.t_end),
            e.az.reshape(n, 1),
            (e.az_sigma**2).reshape(n, 1, 1),
            cls_lik=lik.reshape(n, len(CLASSES)),
            attrs={
                "protocol": e.protocol.astype(str),
                "f_center": e.f_center,
                "bandwidth": e.bandwidth,
                "snr": e.snr_db,
                "duty": e.duty,
                "sf": e.sf,
                "link": e.link,
                "az_alt": e.az_alt,
                "t_end": e.t_end,
            },
        )


_COLUMNS = (
    "t_start",
    "t_end",
    "f_center",
    "f_offset",
    "bandwidth",
    "protocol",
    "snr_db",
    "duty",
    "sf",
    "symbol_time",
    "line_rate",
    "link",
    "az",
    "az_sigma",
    "az_alt",
    "block",
)


#: Level (in noise-floor units) of the 5x3-cell mean that keeps a cell in a detected tile.
_CELL_LEVEL = 2.3
#: Fewest cells an emission may have (a few raised cells at a tile's edge are not one).
_MIN_CELLS = 6
#: Most emissions measured per block (and per kind of mask).
_MAX_SPANS = 24


def _merge_spans(
    lo: NDArray[np.int64], hi: NDArray[np.int64], t_lo: NDArray[np.int64], t_hi: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Group the components that are one emission: fragments at (nearly) the same time that
    overlap or touch in frequency (a weak or non-flat spectrum), and components at other
    times on (nearly) the same band (bursts of one link). Hops on nearby channels at other
    times stay apart."""
    n = lo.size
    if n > 400:
        # Pathological masks: fall back to chaining any overlap (linear sweep).
        order = np.argsort(lo)
        reach = np.maximum.accumulate(hi[order])
        new = np.ones(n, dtype=bool)
        new[1:] = lo[order][1:] > reach[:-1]
        g = np.empty(n, dtype=np.int64)
        g[order] = np.cumsum(new) - 1
        return g
    overlap = np.minimum(hi[:, None], hi[None, :]) - np.maximum(lo[:, None], lo[None, :])
    span = hi - lo
    narrow = np.minimum(span[:, None], span[None, :])
    wide = np.maximum(span[:, None], span[None, :])
    t_gap = np.maximum(t_lo[:, None], t_lo[None, :]) - np.minimum(t_hi[:, None], t_hi[None, :])
    fragments = (t_gap <= 0) & (overlap >= -np.maximum(np.maximum(2, narrow // 8), wide // 16))
    bursts = (overlap >= 0.7 * wide) & (narrow >= 4)  # slivers must not chain channels
    adj = fragments | bursts
    # Connected components by min-label propagation: a few passes over a small matrix beat
    # building a sparse graph for the handful of components a block holds.
    labels = np.arange(n, dtype=np.int64)
    while True:
        nxt = np.where(adj, labels[None, :], n).min(axis=1)
        nxt = np.minimum(nxt, labels)
        if np.array_equal(nxt, labels):
            break
        labels = nxt
    _, out = np.unique(labels, return_inverse=True)
    return out.astype(np.int64)


def _spans(mask: NDArray[np.bool_]) -> list[tuple[int, int, int, int]]:
    """Emission extents ``(bin_lo, bin_hi, frame_lo, frame_hi)`` from a detection mask."""
    # A chirp is a thin diagonal in the spectrogram: bridge small gaps before labelling so
    # one packet is one component, then take each component's extent on its own raised cells.
    joined = ndimage.binary_dilation(mask, structure=np.ones((3, 5), dtype=bool))
    labels, count = ndimage.label(joined, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return []
    labels = np.where(mask, labels, 0)
    objs = [o for o in ndimage.find_objects(labels, max_label=count) if o is not None]
    count = len(objs)
    labels = _relabel(labels)
    lo = np.array([o[1].start for o in objs])
    hi = np.array([o[1].stop for o in objs])
    t_lo = np.array([o[0].start for o in objs])
    t_hi = np.array([o[0].stop for o in objs])
    cells = np.bincount(labels.ravel(), minlength=count + 1)[1:].astype(np.float64)
    g_lo: NDArray[np.int64] = lo.astype(np.int64)
    g_hi: NDArray[np.int64] = hi.astype(np.int64)
    g_t0: NDArray[np.int64] = t_lo.astype(np.int64)
    g_t1: NDArray[np.int64] = t_hi.astype(np.int64)
    # Merge until stable: the tolerances scale with span widths, so groups formed in one pass
    # (a whole lobe of a non-flat spectrum) may join in the next where their pieces could not.
    for _ in range(4):
        group = _merge_spans(g_lo, g_hi, g_t0, g_t1)
        n_groups = int(group.max()) + 1
        if n_groups == g_lo.size:
            break
        cells = np.bincount(group, weights=cells, minlength=n_groups).astype(np.float64)
        n_lo = np.full(n_groups, mask.shape[1], dtype=np.int64)
        n_hi = np.zeros(n_groups, dtype=np.int64)
        n_t0 = np.full(n_groups, mask.shape[0], dtype=np.int64)
        n_t1 = np.zeros(n_groups, dtype=np.int64)
        np.minimum.at(n_lo, group, g_lo)
        np.maximum.at(n_hi, group, g_hi)
        np.minimum.at(n_t0, group, g_t0)
        np.maximum.at(n_t1, group, g_t1)
        g_lo, g_hi, g_t0, g_t1 = n_lo, n_hi, n_t0, n_t1
    keep = np.flatnonzero(cells >= _MIN_CELLS)
    # A band full of weak fragments must not stall the stream: the largest ones are kept.
    keep = keep[np.argsort(-cells[keep], kind="stable")[:_MAX_SPANS]]
    return [(int(g_lo[g]), int(g_hi[g]), int(g_t0[g]), int(g_t1[g])) for g in keep]


def _relabel(labels: NDArray[np.int32]) -> NDArray[np.int32]:
    """Consecutive label numbers (find_objects skipped the labels left without cells)."""
    seen = np.zeros(int(labels.max()) + 1, dtype=bool)
    seen[labels.ravel()] = True
    seen[0] = False
    used = np.flatnonzero(seen)
    lut = np.zeros(seen.size, dtype=np.int32)
    lut[used] = np.arange(1, used.size + 1, dtype=np.int32)
    out: NDArray[np.int32] = lut[labels]
    return out


def _cells(hit: NDArray[np.bool_], tf: int, ff: int, pool: int = 1) -> NDArray[np.bool_]:
    """Tile hits (half-step grid from :func:`tile_means`) back onto spectrogram cells whose
    frames are pooled by ``pool``."""
    if tf >= pool:
        rows = np.repeat(hit, tf // pool, axis=0)
    else:
        rows = np.asarray(hit.reshape(hit.shape[0] * tf // pool, pool // tf, hit.shape[1]).any(axis=1))
    if ff == 1:
        return rows
    aligned = np.repeat(rows[:, 0::2], ff, axis=1)
    shifted = np.roll(np.repeat(rows[:, 1::2], ff, axis=1), ff // 2, axis=1)
    out: NDArray[np.bool_] = aligned | shifted
    return out


def _empty(sensor_id: str) -> Emissions:
    f = np.zeros(0)
    i = np.zeros(0, dtype=np.int64)
    return Emissions(sensor_id, f, f, f, f, f, np.zeros(0, dtype="<U12"), f, f, i, f, f, i, f, f, f, i)


def emission_records(em: Emissions) -> Iterator[dict[str, Any]]:
    """One JSON-ready record per emission (the emission log, ``docs/detect.md``)."""

    def num(v: float) -> float | None:
        return float(v) if math.isfinite(v) else None

    for i in range(len(em)):
        rec: dict[str, Any] = {
            "t": float(em.t_start[i]),
            "t_end": float(em.t_end[i]),
            "sensor": em.sensor_id,
            "f_center": float(em.f_center[i]),
            "bandwidth": float(em.bandwidth[i]),
            "protocol": str(em.protocol[i]),
            "snr": float(em.snr_db[i]),
            "duty": float(em.duty[i]),
        }
        if em.sf[i] >= 0:
            rec["sf"] = int(em.sf[i])
            rec["link"] = int(em.link[i])
        for name, col in (("symbol_time", em.symbol_time), ("line_rate", em.line_rate)):
            if math.isfinite(col[i]):
                rec[name] = float(col[i])
        if math.isfinite(em.az[i]):
            rec["az"] = float(em.az[i])
            rec["az_sigma"] = float(em.az_sigma[i])
            rec["az_alt"] = num(float(em.az_alt[i]))
        yield rec


@dataclass(slots=True)
class _Known:
    """An emission seen in recent blocks, so its protocol need not be recomputed."""

    f_lo: float
    f_hi: float
    protocol: str
    sf: int
    symbol_time: float
    line_rate: float
    t_classified: float
    t_seen: float


@dataclass(slots=True)
class _Row:
    t_start: float
    t_end: float
    f_offset: float
    bandwidth: float
    protocol: str
    snr_db: float
    duty: float
    sf: int = -1
    symbol_time: float = math.nan
    line_rate: float = math.nan
    link: int = -1
    az: float = math.nan
    az_sigma: float = math.nan
    az_alt: float = math.nan
    block: int = 0


class RfDetector:
    """Turns IQ blocks into :class:`Emissions`. Keeps a little state between calls (protocols
    of continuing emissions, hop-set links), so feed blocks of one stream in time order."""

    def __init__(
        self,
        config: RfDetectorConfig | None = None,
        *,
        sample_rate: float,
        frequency: float = math.nan,
        sensor_id: str = "rf",
        array: ArrayGeometry | None = None,
    ) -> None:
        self.config = config or RfDetectorConfig()
        self.sample_rate = float(sample_rate)
        self.frequency = float(frequency)
        self.sensor_id = sensor_id
        self.array = array
        c = self.config
        self.plan: CfarPlan = cfar_plan(c.nfft, c.block_frames, c.scales, c.pfa_block, c.floor_quantile)
        self._known: list[_Known] = []
        self._pool = next(
            p
            for p in (4, 2, 1)
            if c.block_frames % p == 0 and all(tf % p == 0 or p % tf == 0 for tf, _ in self.plan.scales)
        )
        self._links: dict[tuple[int, float], int] = {}
        self._blocks_seen = 0

    # -- detection ---------------------------------------------------------------------------

    def statistic(self, samples: NDArray[np.complex64]) -> NDArray[np.float64]:
        """Per block of ``samples[..., n]`` (channel 0 when 2-D): the largest tile value over its
        threshold (>= 1 means a detection). For ROC curves and false-alarm tests."""
        x = samples if samples.ndim == 1 else samples[0]
        c = self.config
        nb = x.size // c.block_len
        power = block_power(x[: nb * c.block_len].reshape(nb, c.block_len), c.nfft)
        norm = power / noise_floor(power, self.plan)[:, None, None]
        stat = np.zeros(nb)
        for (tf, ff), thr in zip(self.plan.scales, self.plan.thresholds, strict=True):
            stat = np.maximum(stat, tile_means(norm, tf, ff).max(axis=(1, 2)) / thr)
        return stat

    def detect(self, samples: NDArray[np.complex64], t0: float = 0.0) -> Emissions:
        """Emissions in ``samples[channels, n]`` (or ``[n]``) whose first sample is at ``t0``.

        ``n`` should be a multiple of the block length; a short tail is processed as a block
        padded with noise-free zeros is not (it would bias the floor): it is dropped.
        """
        x = samples.reshape(1, -1) if samples.ndim == 1 else samples
        c = self.config
        bl = c.block_len
        nb = x.shape[1] // bl
        parts: list[_Row] = []
        for b0 in range(0, nb, c.batch_blocks):
            b1 = min(nb, b0 + c.batch_blocks)
            chunk = x[:, b0 * bl : b1 * bl]
            parts.extend(self._detect_batch(chunk, t0 + b0 * bl / self.sample_rate, self._blocks_seen + b0))
        self._blocks_seen += nb
        return self._emissions(parts)

    def _detect_batch(self, x: NDArray[np.complex64], t0: float, block0: int) -> list[_Row]:
        c = self.config
        nb = x.shape[1] // c.block_len
        power = block_power(x[0].reshape(nb, c.block_len), c.nfft)
        floor = noise_floor(power, self.plan)
        norm = power / floor[:, None, None]
        hits: list[NDArray[np.bool_]] = []
        any_hit = np.zeros(nb, dtype=bool)
        for (tf, ff), thr in zip(self.plan.scales, self.plan.thresholds, strict=True):
            h = tile_means(norm, tf, ff) > thr
            hits.append(h)
            any_hit |= h.any(axis=(1, 2))
        rows: list[_Row] = []
        pool = self._pool
        for b in (int(v) for v in np.flatnonzero(any_hit)):
            # Segmentation works on frames pooled by ``pool``: a quarter of the cells to label,
            # while measurements below still use every frame.
            pooled = norm[b].reshape(c.block_frames // pool, pool, c.nfft).mean(axis=1)
            mask = np.zeros(pooled.shape, dtype=bool)
            weak = np.zeros(pooled.shape, dtype=bool)
            for (tf, ff), thr, h in zip(self.plan.scales, self.plan.thresholds, hits, strict=True):
                if h[b].any():
                    tiles = _cells(h[b], tf, ff, pool)
                    mask |= tiles
                    if ff <= 4:
                        # A weak narrow carrier only stands out integrated over the whole tile:
                        # keep the cells whose sliding tile-sized mean is well above noise.
                        level = 1.0 + 0.4 * (thr - 1.0)
                        size = (max(tf // pool, 1), 3)
                        weak |= tiles & (ndimage.uniform_filter(pooled, size=size, mode="nearest") > level)
            tb = t0 + b * c.block_len / self.sample_rate
            rows.extend(
                self._segment(
                    mask, weak, pooled, norm[b], x[:, b * c.block_len : (b + 1) * c.block_len], tb, block0 + b
                )
            )
        return rows

    # -- segmentation and measurement ---------------------------------------------------------

    def _segment(
        self,
        mask: NDArray[np.bool_],
        weak: NDArray[np.bool_],
        pooled: NDArray[np.float32],
        norm: NDArray[np.float32],
        x: NDArray[np.complex64],
        tb: float,
        block: int,
    ) -> list[_Row]:
        # Tiles locate an emission coarsely (a wide tile is 64 bins); keep only the cells that
        # are themselves raised (5 frames x 3 bins mean above noise) so that nearby hops and
        # carriers stay apart and the measured extent is the emission's own.
        smooth = ndimage.uniform_filter(pooled, size=(2, 3), mode="nearest")
        mask = mask & (smooth > _CELL_LEVEL)
        spans = _spans(mask)
        if (weak & ~mask).sum() >= _MIN_CELLS:
            # Weak, long, narrow emissions stand out only integrated over the block; their
            # strong cells are chance fragments. A weak span gives way to strong spans that
            # cover a good part of its time (a hopping link seen through the long tiles), and
            # otherwise replaces the strong fragments inside it.
            weak_spans = _spans(weak)
            keep_weak = []
            for w in weak_spans:
                inside = [s for s in spans if s[0] < w[1] and w[0] < s[1]]
                if sum(s[3] - s[2] for s in inside) >= 0.25 * (w[3] - w[2]) and any(
                    s[1] - s[0] >= 4 for s in inside
                ):
                    continue
                keep_weak.append(w)
                spans = [s for s in spans if not (s[0] < w[1] and w[0] < s[1])]
            spans += keep_weak
        rows = []
        pool = self._pool
        for lo, hi, t0, t1 in spans:
            row = self._measure(norm, lo, hi, t0 * pool, t1 * pool, tb, block)
            if row is not None:
                self._classify(row, x, tb)
                if self.array is not None and x.shape[0] >= 2:
                    self._bearing(row, x, tb)
                rows.append(row)
        return rows

    def _measure(
        self, norm: NDArray[np.float32], lo: int, hi: int, t0: int, t1: int, tb: float, block: int
    ) -> _Row | None:
        c = self.config
        df = self.sample_rate / c.nfft
        frame_s = c.nfft / self.sample_rate
        box = norm[t0:t1, lo:hi]
        if float(box.mean()) - 1.0 < 5.0 * 1.2 / math.sqrt(box.size):
            return None  # cells raised by chance around a detected tile, not an emission
        pad = max(4, (hi - lo) // 2)  # the mask can miss a non-flat spectrum's weaker skirts
        a, b = max(lo - pad, 0), min(hi + pad, c.nfft)
        spec = norm[t0:t1, a:b].mean(axis=0) - 1.0
        if spec.size >= 3:
            spec = np.convolve(spec, np.ones(3) / 3, mode="same")
        sd = 1.0 / math.sqrt(max(t1 - t0, 1))
        excess = np.clip(spec - 2.0 * sd, 0.0, None)
        total = float(excess.sum())
        if total <= 0:
            first, last = lo, hi - 1
        else:
            # Occupied bandwidth: the span holding 98 % of the excess power (as the truth's 99 %).
            cum = np.cumsum(excess) / total
            first = a + int(np.searchsorted(cum, 0.01))
            last = a + int(np.searchsorted(cum, 0.99))
        nbins = last - first + 1
        bw = max(nbins - 1, 1) * df  # the Hann main lobe widens the edges by about a bin
        f_off = ((first + last) / 2.0 - c.nfft / 2) * df
        # Activity per frame over the whole block in the emission's band.
        band = norm[:, first : last + 1].mean(axis=1) - 1.0
        if band.size >= 3:
            band = np.convolve(band, np.ones(3) / 3, mode="same")
        thr = 3.0 / math.sqrt(3.0 * max(nbins / 1.7, 1.0))
        active = band > max(thr, 0.1 * float(band.max()))
        active[: max(t0 - 1, 0)] = False
        active[t1 + 1 :] = False
        if not active.any():
            active[t0:t1] = True
        idx = np.flatnonzero(active)
        snr_lin = float(band[active].mean())
        return _Row(
            t_start=tb + idx[0] * frame_s,
            t_end=tb + (idx[-1] + 1) * frame_s,
            f_offset=f_off,
            bandwidth=bw,
            protocol="unknown",
            snr_db=10.0 * math.log10(max(snr_lin, 1e-3)),
            duty=float(active.mean()),
            block=block,
        )

    # -- protocol --------------------------------------------------------------------------

    def _excerpt(self, row: _Row, x: NDArray[np.complex64], tb: float, limit: int) -> NDArray[np.complex64]:
        i0 = max(int((row.t_start - tb) * self.sample_rate), 0)
        i1 = min(math.ceil((row.t_end - tb) * self.sample_rate), x.shape[1])
        if i1 - i0 > limit:
            mid = (i0 + i1) // 2
            i0, i1 = mid - limit // 2, mid + limit // 2
        return np.ascontiguousarray(x[0, i0:i1])

    def _classify(self, row: _Row, x: NDArray[np.complex64], tb: float) -> None:
        c = self.config
        f_lo, f_hi = row.f_offset - row.bandwidth / 2, row.f_offset + row.bandwidth / 2
        for k in self._known:
            overlap = min(f_hi, k.f_hi) - max(f_lo, k.f_lo)
            if (
                k.protocol != "elrs"
                and overlap > 0.7 * max(f_hi - f_lo, k.f_hi - k.f_lo)
                and row.t_start - k.t_classified < c.reclassify_s
            ):
                row.protocol, row.sf, row.symbol_time, row.line_rate = (
                    k.protocol,
                    k.sf,
                    k.symbol_time,
                    k.line_rate,
                )
                k.t_seen = row.t_end
                return
        seg = self._excerpt(row, x, tb, x.shape[1])
        fs = self.sample_rate
        bw = row.bandwidth
        if seg.size >= 256:
            lora = [b for b in c.lora_bandwidths if 0.55 * b <= bw <= 1.6 * b]
            if lora:
                fit = dechirp(seg, fs, row.f_offset, lora, c.lora_sfs)
                if fit.score >= c.chirp_score:
                    row.protocol, row.sf = "elrs", fit.sf
                    row.bandwidth = fit.bandwidth
                    row.link = self._link(fit.sf, fit.bandwidth)
            long_enough = row.t_end - row.t_start >= c.narrowband_min_s
            if row.protocol == "unknown" and bw <= c.narrowband_max_hz and long_enough:
                row.protocol = "narrowband"
            elif row.protocol == "unknown" and bw >= c.wide_min_hz:
                edge = 0.65 * bw + 2 * fs / c.nfft
                short = self._excerpt(row, x, tb, c.max_excerpt)
                band = band_limit(short, fs, row.f_offset - edge, row.f_offset + edge)
                ls = line_sync(band, fs)
                cp = cyclic_prefix(band, fs, bw)
                if ls.score >= c.line_score:
                    row.protocol, row.line_rate = "analog_video", ls.line_rate
                elif cp.rho >= c.cp_rho and cp.contrast >= 4.0 and bw >= c.ofdm_min_hz:
                    # A chirp preamble also repeats every symbol: only wide emissions can be OFDM.
                    row.symbol_time = cp.lag
                    row.protocol = "wifi" if abs(cp.lag - 3.2e-6) < 0.3e-6 else "digital_ofdm"
        elif bw <= c.narrowband_max_hz and row.t_end - row.t_start >= c.narrowband_min_s:
            row.protocol = "narrowband"
        if row.protocol not in ("elrs", "unknown"):  # only a confident answer is worth reusing
            self._known = [k for k in self._known if row.t_start - k.t_seen < 2 * c.reclassify_s]
            self._known.append(
                _Known(
                    f_lo, f_hi, row.protocol, row.sf, row.symbol_time, row.line_rate, row.t_start, row.t_end
                )
            )

    def _link(self, sf: int, bw: float) -> int:
        """A stable id per (SF, bandwidth) hop set: ELRS hops every packet, the link stays."""
        key = (sf, bw)
        if key not in self._links:
            self._links[key] = len(self._links)
        return self._links[key]

    # -- bearing ---------------------------------------------------------------------------

    def _bearing(self, row: _Row, x: NDArray[np.complex64], tb: float) -> None:
        assert self.array is not None
        c = self.config
        freq = self.frequency if math.isfinite(self.frequency) else self.array.frequency
        if not math.isfinite(freq) or x.shape[0] != self.array.channels:
            return
        i0 = max(int((row.t_start - tb) * self.sample_rate) // c.nfft, 0)
        i1 = max(min(math.ceil((row.t_end - tb) * self.sample_rate / c.nfft), c.block_frames), i0 + 1)
        df = self.sample_rate / c.nfft
        k0 = round(row.f_offset / df - row.bandwidth / df / 2 + c.nfft / 2)
        k1 = round(row.f_offset / df + row.bandwidth / df / 2 + c.nfft / 2) + 1
        k0, k1 = max(k0, 0), min(max(k1, k0 + 1), c.nfft)
        seg = x[:, i0 * c.nfft : i1 * c.nfft].reshape(x.shape[0], i1 - i0, c.nfft)
        import scipy.fft

        spec = scipy.fft.fftshift(scipy.fft.fft(seg, axis=-1, workers=1), axes=-1)[:, :, k0:k1]
        cells = spec.reshape(x.shape[0], -1).astype(np.complex64)
        snr = 10 ** (row.snr_db / 10)
        k = 2 * math.pi * (freq + row.f_offset) / SPEED_OF_LIGHT
        br = estimate_bearing(cells, self.array.elements, k, snr)
        row.az, row.az_sigma, row.az_alt = br.az, br.sigma, br.az_alt

    # -- output ------------------------------------------------------------------------------

    def _emissions(self, rows: list[_Row]) -> Emissions:
        if not rows:
            return _empty(self.sensor_id)
        f_off = np.array([r.f_offset for r in rows])
        base = self.frequency if math.isfinite(self.frequency) else 0.0
        return Emissions(
            self.sensor_id,
            t_start=np.array([r.t_start for r in rows]),
            t_end=np.array([r.t_end for r in rows]),
            f_center=base + f_off,
            f_offset=f_off,
            bandwidth=np.array([r.bandwidth for r in rows]),
            protocol=np.array([r.protocol for r in rows], dtype="<U12"),
            snr_db=np.array([r.snr_db for r in rows]),
            duty=np.array([r.duty for r in rows]),
            sf=np.array([r.sf for r in rows], dtype=np.int64),
            symbol_time=np.array([r.symbol_time for r in rows]),
            line_rate=np.array([r.line_rate for r in rows]),
            link=np.array([r.link for r in rows], dtype=np.int64),
            az=np.array([r.az for r in rows]),
            az_sigma=np.array([r.az_sigma for r in rows]),
            az_alt=np.array([r.az_alt for r in rows]),
            block=np.array([r.block for r in rows], dtype=np.int64),
        )

    def run(self, blocks: Iterable[tuple[float, NDArray[np.complex64]]]) -> Iterator[Emissions]:
        """Emissions per ``(t0, samples)`` block of a stream, in order."""
        for t0, samples in blocks:
            yield self.detect(samples, t0)


def protocol_counts(em: Emissions) -> Mapping[str, int]:
    """How many emissions of each protocol (for summaries)."""
    names, counts = np.unique(em.protocol, return_counts=True)
    return {str(n): int(k) for n, k in zip(names, counts, strict=True)}
