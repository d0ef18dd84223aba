"""Synthetic microphone audio: multirotor drones (blade-pass harmonic series with jitter, motor
whine, beating between rotors) and the sounds a drone detector must not mistake for one
(speech-like, bird-like, engine-like, wind, rain, noise, tones, silence); plus microphone-array
versions with the delays of a plane wave from a given azimuth.

The shipped acoustic model is trained on these (``scripts/train_acoustic.py``): no third-party
recording is used for training. Independent of the rest of ``skyfence.simulate``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

__all__ = ["NEGATIVE_KINDS", "array_audio", "drone_audio", "negative_audio", "pink_noise", "wind_noise"]

Array = NDArray[np.float64]


def pink_noise(n: int, rng: np.random.Generator, exponent: float = 1.0) -> Array:
    """Noise with a 1/f**exponent power spectrum, unit RMS."""
    spec = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    f = np.arange(n // 2 + 1, dtype=np.float64)
    f[0] = 1.0
    x = np.fft.irfft(spec / f ** (exponent / 2), n)
    return x / (np.std(x) + 1e-12)


def _lowpass_noise(n: int, fs: float, cutoff: float, rng: np.random.Generator) -> Array:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / fs)
    spec[f > cutoff] = 0
    x = np.fft.irfft(spec, n)
    return x / (np.std(x) + 1e-12)


def drone_audio(
    duration: float,
    fs: float,
    rng: np.random.Generator,
    *,
    bpf: float | None = None,
    rotors: int | None = None,
    snr_db: float | None = None,
    background: bool = True,
) -> Array:
    """A multirotor: each rotor a harmonic series at its blade-pass frequency (jittered, with
    slow RPM wander), a motor whine at a multiple of the shaft rate, and background noise."""
    n = int(duration * fs)
    t = np.arange(n) / fs
    rotors = rotors if rotors is not None else int(rng.choice([2, 4, 4, 6, 8]))
    base = bpf if bpf is not None else float(np.exp(rng.uniform(np.log(60.0), np.log(700.0))))
    x = np.zeros(n)
    n_harm = int(rng.integers(3, 16))
    decay = rng.uniform(0.3, 1.5)
    spread = rng.uniform(0.0, 0.15)  # rotors differ in speed while the drone manoeuvres
    for _ in range(rotors):
        f0 = base * (1 + rng.uniform(-spread, spread))
        wander = 1 + 0.01 * np.cumsum(rng.normal(0, 1, n)) / np.sqrt(n) * rng.uniform(0.5, 3)
        phase = 2 * np.pi * np.cumsum(f0 * wander) / fs
        for k in range(1, n_harm + 1):
            if k * f0 > 0.45 * fs:
                break
            amp = k**-decay * rng.uniform(0.3, 1.0)
            x += amp * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
        if rng.random() < 0.6:
            # Motor whine: electrical frequency = poles/2 x shaft rate, often kHz for small drones.
            whine = f0 * rng.uniform(3, 12)
            if whine < 0.45 * fs:
                x += rng.uniform(0.05, 0.5) * np.sin(2 * np.pi * np.cumsum(whine * wander) / fs)
    x /= np.std(x) + 1e-12
    # Broadband prop wash: noise amplitude-modulated at the blade-pass rate.
    wash = _lowpass_noise(n, fs, rng.uniform(1500, 0.5 * fs), rng) * (
        1 + rng.uniform(0.1, 0.8) * np.sin(2 * np.pi * base * t)
    )
    x = x + rng.uniform(0.2, 3.0) * wash
    if rng.random() < 0.5:
        # Airframe vibration and handling rumble below 150 Hz.
        x += rng.uniform(0.2, 1.5) * _lowpass_noise(n, fs, 150.0, rng)
    if rng.random() < 0.3:
        hum = rng.choice([50.0, 60.0])
        x += rng.uniform(0.1, 1.0) * np.sin(2 * np.pi * hum * t)
    if not background:
        # Exercises place the drone at a physical level in their own noise: unit RMS here.
        clean: Array = x / (np.std(x) + 1e-12)
        return clean
    snr = snr_db if snr_db is not None else rng.uniform(-5, 25)
    return _mix(x, snr, rng, fs)


def _mix(x: Array, snr_db: float, rng: np.random.Generator, fs: float) -> Array:
    """Signal plus background (pink, brown or white noise, wind) at ``snr_db``, random level."""
    n = x.size
    kind = rng.integers(0, 4)
    if kind == 0:
        bg = pink_noise(n, rng)
    elif kind == 1:
        bg = pink_noise(n, rng, 2.0)
    elif kind == 2:
        bg = rng.standard_normal(n)
    else:
        bg = _wind(n, fs, rng)
    sig = x / (np.std(x) + 1e-12) * 10 ** (snr_db / 20)
    out = sig + bg
    scaled: Array = out / (np.max(np.abs(out)) + 1e-12) * rng.uniform(0.02, 0.9)
    return scaled


def _wind(n: int, fs: float, rng: np.random.Generator) -> Array:
    gust = np.abs(_lowpass_noise(n, fs, 2.0, rng)) + 0.3
    return _lowpass_noise(n, fs, rng.uniform(150, 600), rng) * gust


def wind_noise(n: int, fs: float, rng: np.random.Generator) -> Array:
    """Gusty low-frequency wind noise at a screened microphone, unit RMS (independent per
    microphone: wind turbulence is not a plane wave)."""
    x = _wind(n, fs, rng)
    out: Array = x / (np.std(x) + 1e-12)
    return out


def _speech(n: int, fs: float, rng: np.random.Generator) -> Array:
    t = np.arange(n) / fs
    pitch = rng.uniform(90, 250) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(1, 4) * t))
    phase = np.cumsum(pitch) / fs
    pulses = (np.diff(np.floor(phase), prepend=0) > 0).astype(float)
    x = np.zeros(n)
    for formant in rng.uniform([300, 900, 2200], [900, 2200, 3500]):
        ir_t = np.arange(int(0.02 * fs)) / fs
        ir = np.exp(-ir_t * rng.uniform(80, 300)) * np.sin(2 * np.pi * formant * ir_t)
        x += np.convolve(pulses, ir, mode="same")
    syll = (np.sin(2 * np.pi * rng.uniform(3, 6) * t + rng.uniform(0, 6)) > rng.uniform(-0.3, 0.3)).astype(
        float
    )
    return x * np.convolve(syll, np.ones(int(0.03 * fs)) / int(0.03 * fs), mode="same")


def _bird(n: int, fs: float, rng: np.random.Generator) -> Array:
    t = np.arange(n) / fs
    x = np.zeros(n)
    for _ in range(int(rng.integers(2, 10))):
        start = rng.uniform(0, t[-1])
        dur = rng.uniform(0.03, 0.25)
        f0 = rng.uniform(1500, min(7000, 0.45 * fs))
        sweep = rng.uniform(-3000, 3000)
        m = (t >= start) & (t < start + dur)
        tt = t[m] - start
        inst = f0 + sweep * tt / dur + rng.uniform(0, 400) * np.sin(2 * np.pi * rng.uniform(20, 80) * tt)
        env = np.sin(np.pi * tt / dur) ** 2
        x[m] += env * np.sin(2 * np.pi * np.cumsum(np.clip(inst, 100, 0.45 * fs)) / fs)
    return x


def _engine(n: int, fs: float, rng: np.random.Generator) -> Array:
    t = np.arange(n) / fs
    f0 = rng.uniform(15, 60) * (1 + rng.uniform(0, 0.3) * np.sin(2 * np.pi * rng.uniform(0.1, 1) * t))
    phase = 2 * np.pi * np.cumsum(f0) / fs
    x = sum(k**-0.7 * np.sin(k * phase + rng.uniform(0, 6)) for k in range(1, 30))
    firing = 1 + 0.8 * np.maximum(np.sin(phase / 2), 0) ** 4
    return np.asarray(x * firing + 0.5 * _lowpass_noise(n, fs, rng.uniform(300, 2000), rng))


def _rain(n: int, fs: float, rng: np.random.Generator) -> Array:
    x = np.zeros(n)
    idx = rng.integers(0, n, int(rng.uniform(50, 3000)))
    x[idx] = rng.standard_normal(idx.size)
    ir = np.exp(-np.arange(int(0.004 * fs)) / (0.0008 * fs)) * rng.standard_normal(int(0.004 * fs))
    return np.convolve(x, ir, mode="same") + 0.2 * pink_noise(n, rng)


def _bark(n: int, fs: float, rng: np.random.Generator) -> Array:
    t = np.arange(n) / fs
    x = np.zeros(n)
    for _ in range(int(rng.integers(1, 4))):
        start = rng.uniform(0, t[-1] * 0.8)
        dur = rng.uniform(0.08, 0.3)
        m = (t >= start) & (t < start + dur)
        tt = t[m] - start
        f0 = rng.uniform(250, 800) * (1 - 0.3 * tt / dur)
        env = np.exp(-tt * rng.uniform(5, 20))
        ph = 2 * np.pi * np.cumsum(f0) / fs
        x[m] += env * sum(k**-1.0 * np.sin(k * ph) for k in range(1, 8)) + 0.3 * env * rng.standard_normal(
            m.sum()
        )
    return x


def _tones(n: int, fs: float, rng: np.random.Generator) -> Array:
    t = np.arange(n) / fs
    x = np.zeros(n)
    for _ in range(int(rng.integers(1, 4))):
        f = rng.uniform(300, 4000)
        on = (
            (np.sin(2 * np.pi * rng.uniform(0.5, 4) * t + rng.uniform(0, 6)) > 0)
            if rng.random() < 0.6
            else 1.0
        )
        x += on * np.sin(2 * np.pi * f * t)
    return x


def _noise(n: int, fs: float, rng: np.random.Generator) -> Array:
    return pink_noise(n, rng, float(rng.choice([0.0, 1.0, 2.0])))


def _machine(n: int, fs: float, rng: np.random.Generator) -> Array:
    """Broadband machinery (vacuum, hair dryer, fan) with a weak rotation line."""
    t = np.arange(n) / fs
    x = _lowpass_noise(n, fs, rng.uniform(1000, 7000), rng)
    return x + rng.uniform(0.0, 0.3) * np.sin(2 * np.pi * rng.uniform(20, 120) * t)


def _hum(n: int, fs: float, rng: np.random.Generator) -> Array:
    """Mains hum, transformers, idling engines: a steady low harmonic series (below 90 Hz)."""
    t = np.arange(n) / fs
    f0 = float(rng.choice([50.0, 60.0, rng.uniform(20, 90)]))
    x = sum(
        rng.uniform(0, 1) * k**-0.8 * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6)) for k in range(1, 25)
    )
    return np.asarray(x) + rng.uniform(0.1, 1.0) * pink_noise(n, rng)


_NEGATIVES: dict[str, Callable[[int, float, np.random.Generator], Array]] = {
    "hum": _hum,
    "speech": _speech,
    "bird": _bird,
    "engine": _engine,
    "rain": _rain,
    "bark": _bark,
    "tones": _tones,
    "noise": _noise,
    "wind": lambda n, fs, rng: _wind(n, fs, rng),
    "machine": _machine,
}
NEGATIVE_KINDS = (*_NEGATIVES, "silence")


def negative_audio(duration: float, fs: float, rng: np.random.Generator, kind: str | None = None) -> Array:
    """A non-drone sound of ``kind`` (random when None) in background noise."""
    n = int(duration * fs)
    kind = kind if kind is not None else str(rng.choice(NEGATIVE_KINDS))
    if kind == "silence":
        return rng.standard_normal(n) * rng.uniform(0.0, 1e-3)
    x = _NEGATIVES[kind](n, fs, rng)
    if np.std(x) == 0:
        x = rng.standard_normal(n)
    return _mix(x, float(rng.uniform(0, 30)), rng, fs)


def array_audio(
    signal: Array, fs: float, positions: NDArray[np.float64], az: float, sound_speed: float = 343.0
) -> Array:
    """``[channels, n]``: ``signal`` arriving as a plane wave from azimuth ``az`` (radians,
    clockwise from north) at microphones ``positions[k] = (e, n, u)`` metres; fractional
    delays applied in the frequency domain."""
    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    u = np.array([np.sin(az), np.cos(az), 0.0])
    # A microphone further along u hears the wave earlier.
    delay = -(pos @ u) / sound_speed
    n = signal.size
    spec = np.fft.rfft(signal)
    f = np.fft.rfftfreq(n, 1 / fs)
    return np.fft.irfft(spec[None, :] * np.exp(-2j * np.pi * f[None, :] * delay[:, None]), n)
