"""Monte Carlo trials of the RF detector against the IQ synthesiser (shared by the tests and
``bench/rf_roc.py``): one emitter of a given link at a given in-band SNR per trial."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skyfence.detect.rf import RfDetector, RfDetectorConfig
from skyfence.simulate.iq import Emitter, synthesize

FS = 20e6


def random_emitter(protocol: str, snr_db: float, rng: np.random.Generator) -> Emitter:
    """A plausible emitter of ``protocol`` somewhere in a 20 MS/s capture."""
    if protocol == "elrs":
        bw = float(rng.choice([250e3, 500e3]))
        sf = int(rng.integers(6, 9 if bw == 500e3 else 8))
        hops = list(rng.uniform(-8e6, 8e6, size=4))
        sym = 2**sf / bw
        packet = (8 + 2 + 12 + 1.25) * sym
        return Emitter(
            "elrs", 0.0, snr_db, params=dict(sf=sf, bw=bw, hop_channels=hops, packet_interval=packet * 1.05)
        )
    if protocol == "analog_video":
        line = float(rng.choice([15625.0, 15734.264]))
        return Emitter("analog_video", float(rng.uniform(-4e6, 4e6)), snr_db, params=dict(line_rate=line))
    if protocol == "digital_ofdm":
        bw = float(rng.choice([8e6, 10e6, 12e6]))
        spacing = float(rng.choice([15e3, 19.53125e3]))
        return Emitter(
            "digital_ofdm", float(rng.uniform(-3e6, 3e6)), snr_db, params=dict(bandwidth=bw, spacing=spacing)
        )
    if protocol == "wifi":
        return Emitter("wifi", 0.0, snr_db, params=dict(duty=float(rng.uniform(0.3, 0.7))))
    return Emitter("narrowband", float(rng.uniform(-9e6, 9e6)), snr_db)


@dataclass(frozen=True, slots=True)
class TrialResult:
    detected: bool
    protocol: str  # of the best-matching emission ("" when none)
    bandwidth: float
    truth_bandwidth: float


def run_trial(
    protocol: str, snr_db: float, rng: np.random.Generator, config: RfDetectorConfig | None = None
) -> TrialResult:
    """Two blocks with one emitter; scores the second block (the first warms up state)."""
    cfg = config or RfDetectorConfig()
    em = random_emitter(protocol, snr_db, rng)
    n = 2 * cfg.block_len
    scene = synthesize([em], sample_rate=FS, n=n, rng=rng)
    det = RfDetector(cfg, sample_rate=FS)
    out = det.detect(scene.samples)
    t_blk0, t_blk1 = cfg.block_len / FS, n / FS
    live = (scene.t_end > t_blk0 + 0.1 * (t_blk1 - t_blk0)) & (scene.t_start < t_blk1)
    if not live.any():
        return TrialResult(False, "", 0.0, 0.0)
    in_blk = out.block == 1
    best, best_score = -1, 0.0
    slack = 2 * FS / cfg.nfft
    for i in np.flatnonzero(in_blk):
        lo, hi = out.f_offset[i] - out.bandwidth[i] / 2, out.f_offset[i] + out.bandwidth[i] / 2
        for j in np.flatnonzero(live):
            t_lo = scene.f_center[j] - scene.bandwidth[j] / 2
            t_hi = scene.f_center[j] + scene.bandwidth[j] / 2
            f_over = min(hi, t_hi + slack) - max(lo, t_lo - slack)
            t_over = min(out.t_end[i], scene.t_end[j]) - max(out.t_start[i], scene.t_start[j])
            # The emission covering most of a true emission's time-frequency extent speaks for it.
            score = max(f_over, 0.0) * max(t_over, 0.0)
            if score > best_score:
                best, best_score = int(i), score
    tb = float(scene.bandwidth[np.flatnonzero(live)[0]])
    if best < 0:
        return TrialResult(False, "", 0.0, tb)
    return TrialResult(True, str(out.protocol[best]), float(out.bandwidth[best]), tb)


def noise_alarms(blocks: int, rng: np.random.Generator, config: RfDetectorConfig, chunk: int = 64) -> int:
    """Blocks of pure noise in which the detector declares anything."""
    det = RfDetector(config, sample_rate=FS)
    alarms = 0
    for start in range(0, blocks, chunk):
        nb = min(chunk, blocks - start)
        n = nb * config.block_len
        x = (rng.standard_normal(n, dtype=np.float32) + 1j * rng.standard_normal(n, dtype=np.float32)).astype(
            np.complex64
        ) * np.float32(np.sqrt(0.5))
        alarms += int(np.sum(det.statistic(x) >= 1.0))
    return alarms
