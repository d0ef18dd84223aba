"""Direction finding from a multi-channel recording: phase interferometry for two elements,
MUSIC for three or more, on the spatial covariance of an emission's time-frequency cells.

Array geometry comes from an ``ARRAY.json`` (see ``docs/detect.md``): element positions in
metres (east, north, up) relative to the array's reference point. The plane-wave model is
``x_k = s * exp(+j 2 pi f / c * p_k . u)`` with ``u`` the unit vector towards the emitter;
azimuth is clockwise from north, in radians.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyfence.errors import FormatError

__all__ = ["SPEED_OF_LIGHT", "ArrayGeometry", "Bearing", "estimate_bearing", "read_array"]

SPEED_OF_LIGHT = 299_792_458.0


@dataclass(frozen=True, slots=True)
class ArrayGeometry:
    """An antenna or microphone array: ``elements[k]`` ENU metres about ``position``."""

    elements: NDArray[np.float64]
    position: NDArray[np.float64]
    sensor_id: str = ""
    frequency: float = math.nan  # RF centre override when the recording does not say (Hz)
    sound_speed: float = 343.0  # acoustic arrays

    @property
    def channels(self) -> int:
        return int(self.elements.shape[0])


def read_array(path: str | Path) -> ArrayGeometry:
    """Read ``ARRAY.json``: ``{"elements": [[e, n, u], ...], "position": [e, n, u],
    "sensor_id": "...", "frequency_hz": ..., "sound_speed": ...}``."""
    p = Path(path)
    try:
        doc: Any = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FormatError(f"cannot read array file: {exc.strerror or exc}", path=p) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(f"invalid JSON: {exc}", path=p) from None
    if not isinstance(doc, dict):
        raise FormatError("expected a JSON object", path=p)
    try:
        el = np.array(doc.get("elements"), dtype=np.float64)
    except (TypeError, ValueError):
        raise FormatError("expected a list of [east, north, up] metres", path=p, field="elements") from None
    if el.ndim != 2 or el.shape[1] not in (2, 3) or el.shape[0] < 1 or not np.isfinite(el).all():
        raise FormatError("expected a list of [east, north, up] metres", path=p, field="elements")
    if el.shape[1] == 2:
        el = np.hstack([el, np.zeros((el.shape[0], 1))])
    try:
        pos = np.array(doc.get("position", [0.0, 0.0, 0.0]), dtype=np.float64).reshape(3)
    except (TypeError, ValueError):
        raise FormatError("expected [east, north, up] metres", path=p, field="position") from None
    freq = doc.get("frequency_hz", math.nan)
    speed = doc.get("sound_speed", 343.0)
    for name, v in (("frequency_hz", freq), ("sound_speed", speed)):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise FormatError("expected a number", path=p, field=name)
    sid = doc.get("sensor_id", "")
    if not isinstance(sid, str):
        raise FormatError("expected a string", path=p, field="sensor_id")
    return ArrayGeometry(el, pos, sid, float(freq), float(speed))


@dataclass(frozen=True, slots=True)
class Bearing:
    az: float  # radians clockwise from north
    sigma: float  # 1-sigma, radians
    az_alt: float  # the mirror solution of a two-element array (NaN when unambiguous)


def _sigma(k_aperture: float, cells: int, snr: float) -> float:
    # Cramér-Rao-like scale: wavelength over aperture, shrinking with sqrt(cells * SNR).
    eff = max(cells * snr / (1.0 + 1.0 / max(snr, 1e-6)), 1e-6)
    return float(
        np.clip(1.0 / (max(k_aperture, 1e-9) * math.sqrt(2.0 * eff)), math.radians(0.3), math.radians(30))
    )


def estimate_bearing(
    cells: NDArray[np.complex64], elements: NDArray[np.float64], wavenumber: float, snr: float
) -> Bearing:
    """Bearing from ``cells[channels, n]`` (STFT values of one emission on each element).

    ``wavenumber`` is ``2 pi f / c``. Horizontal arrays only: elevation is taken as zero.
    """
    c = cells.shape[0]
    n = cells.shape[1]
    cov = (cells @ cells.conj().T) / max(n, 1)
    horiz = elements[:, :2] - elements[:, :2].mean(axis=0)
    if c == 2:
        base = elements[1, :2] - elements[0, :2]
        length = float(np.hypot(*base))
        phase = float(np.angle(cov[1, 0]))
        cosang = np.clip(phase / (wavenumber * max(length, 1e-9)), -1.0, 1.0)
        ang = float(np.arccos(cosang))
        base_az = math.atan2(base[0], base[1])
        az = (base_az + ang) % (2 * math.pi)
        alt = (base_az - ang) % (2 * math.pi)
        # Resolution degrades off broadside by 1/sin(angle).
        sig = _sigma(wavenumber * length * max(abs(math.sin(ang)), 0.1), n, snr)
        return Bearing(az, sig, alt)
    grid = np.radians(np.arange(0.0, 360.0, 0.5))
    u = np.stack([np.sin(grid), np.cos(grid)], axis=1)  # [G, 2]
    steer = np.exp(1j * wavenumber * (u @ horiz.T))  # [G, C]
    _, vecs = np.linalg.eigh(cov)
    noise = vecs[:, : c - 1]  # one emitter per emission: the rest is noise subspace
    proj = np.abs(steer.conj() @ noise) ** 2
    pseudo = 1.0 / np.maximum(proj.sum(axis=1), 1e-12)
    k = int(np.argmax(pseudo))
    # Parabolic refinement on the log pseudospectrum.
    y0, y1, y2 = np.log(pseudo[(k - 1) % grid.size]), np.log(pseudo[k]), np.log(pseudo[(k + 1) % grid.size])
    den = y0 - 2 * y1 + y2
    off = 0.5 * (y0 - y2) / den if den < 0 else 0.0
    az = float((grid[k] + off * math.radians(0.5)) % (2 * math.pi))
    aperture = float(np.sqrt(np.mean(np.sum(horiz**2, axis=1))))
    return Bearing(az, _sigma(wavenumber * aperture * math.sqrt(c), n, snr), math.nan)
