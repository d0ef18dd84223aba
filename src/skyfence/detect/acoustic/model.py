"""The drone/no-drone classifier: a tiny MLP (one hidden layer, tanh) on standardised acoustic
features, in numpy. Trained by ``scripts/train_acoustic.py`` on synthetic audio only and
shipped as ``model.npz`` (a few KB) beside this module; nothing is downloaded at run time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from skyfence.errors import FormatError

__all__ = ["DEFAULT_MODEL", "AcousticModel", "train"]

DEFAULT_MODEL = Path(__file__).with_name("model.npz")


@dataclass(frozen=True, slots=True)
class AcousticModel:
    mean: NDArray[np.float64]
    scale: NDArray[np.float64]
    w1: NDArray[np.float64]  # [features, hidden]
    b1: NDArray[np.float64]
    w2: NDArray[np.float64]  # [hidden]
    b2: float
    feature_names: tuple[str, ...]

    def predict_proba(self, feats: NDArray[np.float64]) -> NDArray[np.float64]:
        """P(drone) for ``feats[n, features]`` (or one vector)."""
        z = (np.atleast_2d(feats) - self.mean) / self.scale
        h = np.tanh(z @ self.w1 + self.b1)
        out: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-(h @ self.w2 + self.b2)))
        return out

    def save(self, path: str | Path) -> None:
        np.savez_compressed(
            path,
            mean=self.mean.astype(np.float32),
            scale=self.scale.astype(np.float32),
            w1=self.w1.astype(np.float32),
            b1=self.b1.astype(np.float32),
            w2=self.w2.astype(np.float32),
            b2=np.float32(self.b2),
            feature_names=np.array(self.feature_names),
        )

    @classmethod
    def load(cls, path: str | Path = DEFAULT_MODEL) -> AcousticModel:
        p = Path(path)
        try:
            with np.load(p, allow_pickle=False) as z:
                return cls(
                    z["mean"].astype(np.float64),
                    z["scale"].astype(np.float64),
                    z["w1"].astype(np.float64),
                    z["b1"].astype(np.float64),
                    z["w2"].astype(np.float64),
                    float(z["b2"]),
                    tuple(str(s) for s in z["feature_names"]),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise FormatError(f"cannot load acoustic model: {exc}", path=p) from None


def train(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    feature_names: tuple[str, ...],
    *,
    hidden: int = 4,
    epochs: int = 3000,
    lr: float = 0.02,
    l2: float = 1e-2,
    seed: int = 0,
) -> AcousticModel:
    """Full-batch Adam on the logistic loss with L2 weight decay (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    n, d = z.shape
    params = [
        rng.normal(0, 1 / np.sqrt(d), (d, hidden)),
        np.zeros(hidden),
        rng.normal(0, 1 / np.sqrt(hidden), hidden),
        np.zeros(1),
    ]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for step in range(1, epochs + 1):
        w1, b1, w2, b2 = params
        h = np.tanh(z @ w1 + b1)
        p = 1 / (1 + np.exp(-(h @ w2 + b2[0])))
        g_out = (p - y) / n
        g_w2 = h.T @ g_out + l2 * w2
        g_b2 = np.array([g_out.sum()])
        g_h = np.outer(g_out, w2) * (1 - h**2)
        g_w1 = z.T @ g_h + l2 * w1
        g_b1 = g_h.sum(axis=0)
        for i, g in enumerate((g_w1, g_b1, g_w2, g_b2)):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            mh = m[i] / (1 - 0.9**step)
            vh = v[i] / (1 - 0.999**step)
            params[i] = params[i] - lr * mh / (np.sqrt(vh) + 1e-8)
    return AcousticModel(mean, scale, params[0], params[1], params[2], float(params[3][0]), feature_names)
