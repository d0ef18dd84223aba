"""Train the shipped acoustic drone classifier on synthetic audio only.

    .venv/bin/python scripts/train_acoustic.py [--per-class 600] [--seed 7]
        [--out src/skyfence/detect/acoustic/model.npz] [--real ../shared/data/drone-audio-alemadi]

Generates ``--per-class`` one-second clips of synthetic drones and of synthetic non-drone
sounds (``skyfence.simulate.audio``), extracts the features of
``skyfence.detect.acoustic.features``, trains the tiny MLP of
``skyfence.detect.acoustic.model`` and writes it (a few KB). When the real clips are present it
reports accuracy on them as held-out test data: they are never used for training (they carry
no licence), and the numbers printed are the ones quoted in docs/detect.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from skyfence.detect.acoustic.features import FEATURE_NAMES, features
from skyfence.detect.acoustic.model import DEFAULT_MODEL, AcousticModel, train
from skyfence.simulate.audio import drone_audio, negative_audio
from skyfence.sources.wav import read_wav

ROOT = Path(__file__).resolve().parent.parent


def synthetic_set(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for i in range(per_class):
        fs = float(rng.choice([16000, 22050, 44100, 48000]))
        xs.append(features(drone_audio(1.0, fs, rng), fs))
        ys.append(1.0)
        xs.append(features(negative_audio(1.0, fs, rng), fs))
        ys.append(0.0)
        if (i + 1) % 100 == 0:
            print(f"  {i + 1}/{per_class} per class", file=sys.stderr)
    return np.array(xs), np.array(ys)


def real_accuracy(model: AcousticModel, root: Path) -> dict[str, float] | None:
    labels = root / "labels.csv"
    if not labels.is_file():
        return None
    correct = total = 0
    per: dict[str, list[int]] = {}
    with labels.open() as fh:
        for row in csv.DictReader(fh):
            audio = read_wav(root / row["file"])
            p = _clip_probability(model, audio.samples[0], audio.sample_rate)
            truth = row["binary_label"] == "yes_drone"
            ok = int((p >= 0.5) == truth)
            correct += ok
            total += 1
            per.setdefault(row["multiclass_label"], []).append(ok)
    out = {"accuracy": correct / total, "clips": float(total)}
    out.update({f"accuracy_{k}": float(np.mean(v)) for k, v in per.items()})
    return out


def _clip_probability(model: AcousticModel, x: np.ndarray, fs: float) -> float:
    from skyfence.detect.acoustic.detector import clip_probability

    return clip_probability(model, x, fs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-class", type=int, default=600)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--real", type=Path, default=ROOT.parent / "shared" / "data" / "drone-audio-alemadi")
    args = ap.parse_args()
    x, y = synthetic_set(args.per_class, args.seed)
    n_train = int(0.8 * len(y))
    model = train(x[:n_train], y[:n_train], FEATURE_NAMES, seed=args.seed)
    p = model.predict_proba(x[n_train:])
    synth_acc = float(np.mean((p >= 0.5) == (y[n_train:] > 0.5)))
    # Final model on every synthetic clip.
    model = train(x, y, FEATURE_NAMES, seed=args.seed)
    model.save(args.out)
    report = {"synthetic_holdout_accuracy": round(synth_acc, 4), "model": str(args.out)}
    real = real_accuracy(model, args.real)
    if real is not None:
        report.update({f"real_{k}": round(v, 4) for k, v in real.items()})
    print(json.dumps(report))


if __name__ == "__main__":
    main()
