"""ROC of the RF detector's CFAR stage: detection probability per block against false-alarm
probability per block, per link type at 0 and -3 dB in-band SNR.

    .venv/bin/python bench/rf_roc.py [OUT.png] [--nfft 1024 --frames 256 --noise-blocks 1500]

The statistic is the largest CFAR tile over its threshold in a block (>= 1 is a detection at
the configured design rate); sweeping a multiplier on it traces the curve. Writes the plot
(default ``bench/out/rf_roc.png``) and prints one JSON line with Pd at Pfa = 1e-3 per link and
the measured Pfa at the operating point (multiplier 1).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "detect"))

from rf_trials import FS, random_emitter

from skyfence.detect.rf import RfDetector, RfDetectorConfig
from skyfence.simulate.iq import synthesize

LINKS = ("elrs", "analog_video", "digital_ofdm", "wifi", "narrowband")


def main() -> None:
    ap = argparse.ArgumentParser(description="RF detector ROC")
    ap.add_argument("out", nargs="?", type=Path, default=Path(__file__).parent / "out" / "rf_roc.png")
    ap.add_argument("--nfft", type=int, default=RfDetectorConfig().nfft)
    ap.add_argument("--frames", type=int, default=RfDetectorConfig().block_frames)
    ap.add_argument("--noise-blocks", type=int, default=1500)
    ap.add_argument("--trials", type=int, default=60)
    args = ap.parse_args()
    cfg = RfDetectorConfig(nfft=args.nfft, block_frames=args.frames)
    det = RfDetector(cfg, sample_rate=FS)
    rng = np.random.default_rng(2026)
    noise_stat = []
    for start in range(0, args.noise_blocks, 20):
        nb = min(20, args.noise_blocks - start)
        n = nb * cfg.block_len
        x = (
            rng.standard_normal(n, dtype=np.float32) + 1j * rng.standard_normal(n, dtype=np.float32)
        ) * np.float32(np.sqrt(0.5))
        noise_stat.append(det.statistic(x.astype(np.complex64)))
    noise = np.concatenate(noise_stat)
    curves: dict[str, dict[float, np.ndarray]] = {}
    for link in LINKS:
        curves[link] = {}
        for snr in (0.0, -3.0):
            stats = []
            for _ in range(args.trials):
                em = random_emitter(link, snr, rng)
                scene = synthesize([em], sample_rate=FS, n=2 * cfg.block_len, rng=rng)
                on = (scene.t_end > cfg.block_len / FS) & (scene.t_start < 2 * cfg.block_len / FS)
                if not on.any():
                    continue
                stats.append(det.statistic(scene.samples[0, cfg.block_len :]))
            curves[link][snr] = np.concatenate(stats)
    mult = np.exp(np.linspace(np.log(0.5), np.log(3.0), 400))
    pfa = np.array([(noise >= m).mean() for m in mult])
    # Pd at the multiplier whose noise Pfa is 1e-3 (or the nearest measurable).
    target = int(np.argmin(np.abs(np.log10(np.maximum(pfa, 1e-9)) + 3)))
    report: dict[str, object] = {
        "bench": "rf_roc",
        "nfft": cfg.nfft,
        "block_frames": cfg.block_frames,
        "noise_blocks": int(noise.size),
        "pfa_at_operating_point": float((noise >= 1.0).mean()),
        "pfa_design": cfg.pfa_block,
        "multiplier_at_pfa_1e-3": round(float(mult[target]), 3),
    }
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for link in LINKS:
        for snr, style in ((0.0, "-"), (-3.0, "--")):
            s = curves[link][snr]
            pd = np.array([(s >= m).mean() for m in mult])
            ax.semilogx(np.maximum(pfa, 1.0 / noise.size / 2), pd, style, label=f"{link} {snr:+.0f} dB")
            report[f"pd_{link}_{snr:+.0f}dB_at_pfa_1e-3"] = round(float(pd[target]), 3)
            report[f"pd_{link}_{snr:+.0f}dB_at_operating_point"] = round(float((s >= 1.0).mean()), 3)
    ax.axvline(cfg.pfa_block, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("false-alarm probability per block (noise only)")
    ax.set_ylabel("detection probability per block")
    ax.set_title(f"skyfence RF CFAR, {FS / 1e6:.0f} MS/s, nfft {cfg.nfft}, {cfg.block_frames} frames/block")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    report["plot"] = str(args.out)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
