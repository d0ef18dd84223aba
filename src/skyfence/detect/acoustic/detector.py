"""The acoustic drone detector: audio in, per-window drone probability, blade-pass frequency
and (with a microphone array) bearing out; ``to_detections`` gives ``bearing`` detections.

Windows of ``window_s`` seconds step by ``hop_s``; each is scored by the shipped classifier
on channel 0 (or the channel mean). A window with less sound than ``min_rms`` is silence.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from skyfence.detect.acoustic.bearing import srp_phat
from skyfence.detect.acoustic.features import features, features_and_bpf, to_rate
from skyfence.detect.acoustic.model import AcousticModel
from skyfence.detect.rf.bearing import ArrayGeometry
from skyfence.model.classes import CLASSES
from skyfence.model.detections import Detections

__all__ = [
    "AcousticDetector",
    "AcousticDetectorConfig",
    "AcousticEvents",
    "acoustic_records",
    "clip_probability",
]


class AcousticDetectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window_s: float = Field(1.0, gt=0.1, le=10.0)
    hop_s: float = Field(0.5, gt=0.01, le=10.0)
    threshold: float = Field(0.5, gt=0.0, lt=1.0, description="P(drone) to report a detection")
    min_rms: float = Field(1e-4, ge=0.0, description="quieter windows are silence")


def clip_probability(
    model: AcousticModel, x: NDArray[np.floating], fs: float, min_rms: float = 1e-4
) -> float:
    """P(drone) of one mono clip (0 for silence)."""
    if float(np.sqrt(np.mean(np.square(np.asarray(x, dtype=np.float64))))) < min_rms:
        return 0.0
    return float(model.predict_proba(features(x, fs))[0])


@dataclass(frozen=True, slots=True)
class AcousticEvents:
    """Per-window results (columnar): time of the window centre, P(drone), blade-pass Hz, level, bearing."""

    sensor_id: str
    t: NDArray[np.float64]
    p_drone: NDArray[np.float64]
    bpf_hz: NDArray[np.float64]
    rms_db: NDArray[np.float64]
    az: NDArray[np.float64]
    az_sigma: NDArray[np.float64]
    az_alt: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.t.shape[0])

    def to_detections(self, threshold: float = 0.5) -> Detections:
        """Windows judged drone with a bearing, as ``bearing`` detections; ``cls_lik`` carries the
        classifier's evidence (multirotor vs bird vs unknown)."""
        sel = np.flatnonzero((self.p_drone >= threshold) & np.isfinite(self.az))
        n = sel.size
        p = self.p_drone[sel]
        lik = np.zeros((n, len(CLASSES)))
        # A heard rotor is a multirotor or an FPV quad; the rest is spread over the others.
        lik[:, CLASSES.index("multirotor")] = 0.6 * p
        lik[:, CLASSES.index("fpv")] = 0.3 * p
        rest = (1 - 0.9 * p) / (len(CLASSES) - 2)
        for name in CLASSES:
            if name not in ("multirotor", "fpv"):
                lik[:, CLASSES.index(name)] = rest
        return Detections(
            self.sensor_id,
            "bearing",
            self.t[sel],
            self.az[sel].reshape(n, 1),
            (self.az_sigma[sel] ** 2).reshape(n, 1, 1),
            cls_lik=lik,
            attrs={
                "p_drone": p,
                "bpf_hz": self.bpf_hz[sel],
                "snr": self.rms_db[sel],
                "az_alt": self.az_alt[sel],
            },
        )


def acoustic_records(ev: AcousticEvents) -> Iterator[dict[str, Any]]:
    """One JSON-ready record per window (the acoustic event log)."""
    for i in range(len(ev)):
        rec: dict[str, Any] = {
            "t": float(ev.t[i]),
            "sensor": ev.sensor_id,
            "p_drone": round(float(ev.p_drone[i]), 4),
            "bpf_hz": round(float(ev.bpf_hz[i]), 2) if math.isfinite(ev.bpf_hz[i]) else None,
            "rms_db": round(float(ev.rms_db[i]), 2),
        }
        if math.isfinite(ev.az[i]):
            rec["az"] = float(ev.az[i])
            rec["az_sigma"] = float(ev.az_sigma[i])
            rec["az_alt"] = float(ev.az_alt[i]) if math.isfinite(ev.az_alt[i]) else None
        yield rec


class AcousticDetector:
    def __init__(
        self,
        config: AcousticDetectorConfig | None = None,
        *,
        model: AcousticModel | None = None,
        sensor_id: str = "acoustic",
        array: ArrayGeometry | None = None,
    ) -> None:
        self.config = config or AcousticDetectorConfig()
        self.model = model or AcousticModel.load()
        self.sensor_id = sensor_id
        self.array = array

    def detect(self, samples: NDArray[np.floating], sample_rate: float, t0: float = 0.0) -> AcousticEvents:
        """Score ``samples[channels, n]`` (or ``[n]``) window by window."""
        x = np.atleast_2d(np.asarray(samples, dtype=np.float64))
        c = self.config
        win = round(c.window_s * sample_rate)
        hop = max(round(c.hop_s * sample_rate), 1)
        n = x.shape[1]
        starts = list(range(0, max(n - win, 0) + 1, hop)) if n >= win else ([0] if n > 0 else [])
        use_array = self.array is not None and x.shape[0] >= 2 and x.shape[0] == self.array.channels
        rows: list[tuple[float, float, float, float, float, float]] = []
        feats: list[NDArray[np.float64] | None] = []
        nan = math.nan
        for s in starts:
            seg = x[:, s : s + win]
            mono = seg[0]
            rms = float(np.sqrt(np.mean(mono * mono))) if mono.size else 0.0
            if rms >= c.min_rms:
                vec, bpf = features_and_bpf(mono, sample_rate)
                feats.append(vec)
            else:
                feats.append(None)
                bpf = nan
            rows.append(
                (
                    t0 + (s + seg.shape[1] / 2) / sample_rate,
                    bpf,
                    20 * math.log10(max(rms, 1e-12)),
                    nan,
                    nan,
                    nan,
                )
            )
        p = np.zeros(len(rows))
        live = [i for i, f in enumerate(feats) if f is not None]
        if live:
            p[live] = self.model.predict_proba(np.stack([f for f in feats if f is not None]))
        if use_array:
            assert self.array is not None
            for i in np.flatnonzero(p >= c.threshold):
                # Bearings only where a drone is heard (that is all a tracker gets), at 16 kHz:
                # SRP-PHAT uses 80-6000 Hz.
                s = starts[i]
                seg16 = to_rate(x[:, s : s + win], sample_rate)
                br = srp_phat(seg16, 16000.0, self.array.elements, self.array.sound_speed)
                t_, bpf_, lvl_, _, _, _ = rows[i]
                rows[i] = (t_, bpf_, lvl_, br.az, br.sigma, br.az_alt)
        cols = list(zip(*rows)) if rows else [()] * 6
        return AcousticEvents(
            self.sensor_id,
            np.array(cols[0], dtype=np.float64),
            p,
            np.array(cols[1], dtype=np.float64),
            np.array(cols[2], dtype=np.float64),
            np.array(cols[3], dtype=np.float64),
            np.array(cols[4], dtype=np.float64),
            np.array(cols[5], dtype=np.float64),
        )
