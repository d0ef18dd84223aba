"""Raw recordings of a simulated exercise: what each RF sensor's antennas and each
acoustic sensor's microphones would have received during a short window.

The exercise simulator produces *detections*; this module produces the *signals* behind
them so that ``skyfence detect rf`` / ``skyfence detect audio`` can be tested on an
exercise end to end. For the window ``[start_s, start_s + duration_s)`` it walks the
simulation to the window, freezes the geometry there (targets move a few tens of metres
in a window of seconds: bearings change by a fraction of a degree), and writes

* per RF sensor and band (900 MHz, 2.4 GHz, 5.8 GHz) that some target of the scenario
  uses: a SigMF recording at the band's centre (multi-channel, one channel per element of
  a square half-wavelength array, with ``<stem>.array.json``). Every emitting target on
  the band in line of sight (terrain) and within ``max_range_m`` contributes its link's
  waveform (:mod:`skyfence.simulate.iq`), relays also re-transmit their clients' links;
  the in-band SNR is the simulator's link budget (:class:`skyfence.simulate.sensors.RfModel`:
  received power over ``sensitivity_dbm``, mean of the Rayleigh fading). Fibre FPVs radiate
  nothing. SigMF annotations carry the truth of each emission.
* per acoustic sensor: a float WAV (one channel per microphone of a 0.5 m square, with
  ``<stem>.array.json``) with every drone within ``max_range_m`` at its bearing and at the
  level of the simulator's acoustic model (source level, spherical spreading, absorption),
  in ambient plus wind noise (:func:`skyfence.simulate.sensors.wind_noise_db`).
* optionally (``wifi``) a bursty Wi-Fi access point in the 2.4 and 5.8 GHz recordings.
* ``sensors.json``: the sensor registry, for ``skyfence track run``.
* ``raw_truth.jsonl``: one line per (recording, target) considered, saying what it
  contributed (link, protocol, frequency, bearing, SNR) or why it did not.

Raw IQ is large (20 MS/s x 4 channels of ``ci16`` is 320 MB per second per band):
:func:`raw_size` estimates the total first and :func:`write_raw` refuses above
``max_bytes``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from skyfence.errors import ConfigError
from skyfence.model.records import write_sensors
from skyfence.model.scenario import AcousticSensor, RfSensor, Scenario
from skyfence.model.terrain import Terrain
from skyfence.model.truth import Truth
from skyfence.simulate.audio import array_audio, drone_audio, pink_noise, wind_noise
from skyfence.simulate.iq import SPEED_OF_LIGHT, Emitter, synthesize
from skyfence.simulate.loader import scenario_terrain
from skyfence.simulate.runner import sensor_registry, simulate
from skyfence.simulate.sensors import LINK_BUDGET, RELAY_EIRP_DBM, wind_noise_db
from skyfence.simulate.world import ACOUSTIC_SOURCE_DB, stream_seed
from skyfence.sources.sigmf import encode_samples, open_sigmf, parse_datatype
from skyfence.sources.wav import write_wav

__all__ = [
    "BAND_CENTRE_HZ",
    "LINK_WAVEFORM",
    "RawConfig",
    "RawRecording",
    "raw_size",
    "write_raw",
]

#: Where an RF sensor tunes for each of its bands.
BAND_CENTRE_HZ: dict[str, float] = {"900": 915e6, "2g4": 2.44e9, "5g8": 5.8e9}
#: Scenario link -> (iq synthesiser protocol, its parameters, nominal occupied bandwidth Hz).
LINK_WAVEFORM: dict[str, tuple[str, dict[str, Any], float]] = {
    "analog_5g8": ("analog_video", {}, 5e6),
    "digital_ofdm": ("digital_ofdm", {"bandwidth": 10e6}, 10e6),
    "elrs_2g4": ("elrs", {"sf": 7, "bw": 500e3}, 500e3),
    "elrs_900": ("elrs", {"sf": 8, "bw": 500e3}, 500e3),
}
_DRONES = ("fpv", "swarm", "decoy", "relay", "compliant")
#: Audio full scale: a sample of 1.0 is 1 Pa (94 dB SPL).
_PA_REF = 20e-6
_CHUNK_S = 0.25  # synthesis chunk: bounds memory whatever the window


class RawConfig(BaseModel):
    """What to record: the window (seconds from the exercise start), which sensors, how."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_s: float = Field(default=0.0, ge=0)
    duration_s: float = Field(default=2.0, gt=0, le=600)
    sensors: tuple[str, ...] | None = None
    sample_rate: float = Field(default=20e6, ge=1e6, le=200e6)
    audio_rate: int = Field(default=16000, ge=8000, le=192000)
    elements: int = Field(default=4, ge=1, le=16)
    datatype: str = "ci16_le"
    min_snr_db: float = -10.0
    wifi: bool = False
    wifi_snr_db: float = 10.0
    max_bytes: int = Field(default=4 * 1024**3, gt=0)


@dataclass(frozen=True, slots=True)
class RawRecording:
    """One file written: ``kind`` is ``rf`` or ``acoustic``; ``path`` the SigMF meta or WAV."""

    sensor: str
    kind: str
    band: str
    path: Path
    array: Path | None
    nbytes: int
    contributors: int


@dataclass(frozen=True, slots=True)
class _Source:
    target: int
    name: str
    link: str
    eirp_dbm: float
    relay: bool
    pos: NDArray[np.float64]


def _rf_plan(scenario: Scenario, cfg: RawConfig) -> list[tuple[RfSensor | AcousticSensor, str]]:
    chosen = set(cfg.sensors) if cfg.sensors is not None else None
    ids = {s.id for s in scenario.sensors}
    if chosen is not None and not chosen <= ids:
        missing = ", ".join(sorted(chosen - ids))
        raise ConfigError(f"no sensor {missing} in the scenario", field="sensor")
    # Bands nobody in the scenario transmits on would be pure noise: not recorded.
    links = {getattr(t, "link", None) for t in scenario.targets}
    links |= {
        getattr(t, "operator_link", None) for t in scenario.targets if getattr(t, "operator_emits", False)
    }
    used = {LINK_BUDGET[lk].band for lk in links if lk in LINK_BUDGET}
    plan: list[tuple[RfSensor | AcousticSensor, str]] = []
    for s in scenario.sensors:
        if chosen is not None and s.id not in chosen:
            continue
        if isinstance(s, RfSensor):
            plan += [(s, b) for b in s.bands if b in used]
        elif isinstance(s, AcousticSensor):
            plan.append((s, "audio"))
    return plan


def raw_size(scenario: Scenario, cfg: RawConfig) -> int:
    """Bytes that :func:`write_raw` would write for ``cfg`` (data files only)."""
    width = parse_datatype(cfg.datatype).component.itemsize * 2
    total = 0
    for _, band in _rf_plan(scenario, cfg):
        if band == "audio":
            total += int(cfg.duration_s * cfg.audio_rate) * 4 * 4
        else:
            total += int(cfg.duration_s * cfg.sample_rate) * cfg.elements * width
    return total


def _square(n: int, side: float) -> NDArray[np.float64]:
    """``n`` elements round a circle (a square for 4) with neighbours ``side`` apart."""
    if n == 1:
        return np.zeros((1, 3))
    radius = side / (2.0 * math.sin(math.pi / n))
    ang = np.arange(n) * 2.0 * math.pi / n + math.pi / n
    return np.column_stack([radius * np.sin(ang), radius * np.cos(ang), np.zeros(n)])


def _geometry(pos: NDArray[np.float64], origin: NDArray[np.float64]) -> tuple[float, float, float]:
    d = pos - origin
    rh = math.hypot(d[0], d[1])
    return (
        math.sqrt(rh * rh + d[2] * d[2]),
        math.atan2(d[0], d[1]) % (2 * math.pi),
        math.atan2(d[2], rh),
    )


def _fspl_db(r: float, f: float) -> float:
    # Same expression as the simulator's RF model (free space, clamped at 1 m).
    return 20.0 * math.log10(max(r, 1.0)) + 20.0 * math.log10(f) - 147.55


def _rf_sources(truth: Truth, t: float) -> list[_Source]:
    """Every radiating emitter at ``t``: targets by their own link, relays again for each
    link of an airborne client they carry (at the relay power), as the simulator does."""
    info = {ti.id: ti for ti in truth.targets}
    pos = {int(i): x[:3] + x[3:] * (t - tt) for i, x, tt in zip(truth.target, truth.x, truth.t, strict=True)}
    emitting = {int(i) for i, e in zip(truth.target, truth.emitting, strict=True) if e}
    out: list[_Source] = []
    carried: set[tuple[int, str]] = set()
    for i in sorted(pos):
        ti = info.get(i)
        if ti is None or i not in emitting or ti.link not in LINK_BUDGET:
            continue
        out.append(_Source(i, ti.name, ti.link, LINK_BUDGET[ti.link].eirp_dbm, False, pos[i]))
        if ti.relay is not None and ti.relay in pos:
            carried.add((ti.relay, ti.link))
    for r, link in sorted(carried):
        out.append(_Source(r, info[r].name, link, RELAY_EIRP_DBM, True, pos[r]))
    return out


def _channels(emitters: list[tuple[_Source, float]], fs: float) -> list[float | None]:
    """Frequency offsets inside the capture (None: no room). Video and OFDM links (all at
    5.8 GHz) are spread across the capture with equal gaps between them, so FM skirts
    disturb their neighbours as little as the capture allows; one alone sits at the
    centre. ELRS links (900 MHz / 2.4 GHz, never in a recording with video) hop over the
    whole capture (:func:`_hop_set`)."""
    out: list[float | None] = [0.0] * len(emitters)
    wide = [k for k, (s, _) in enumerate(emitters) if LINK_WAVEFORM[s.link][0] != "elrs"]
    span = 0.9 * fs
    widths = [LINK_WAVEFORM[emitters[k][0].link][2] for k in wide]
    # Keep the first emitters that fit side by side with at least 0.5 MHz between them.
    fit = 0
    while fit < len(wide) and sum(widths[: fit + 1]) + 0.5e6 * fit <= span:
        fit += 1
    for k in wide[fit:]:
        out[k] = None
    if fit == 1:
        out[wide[0]] = 0.0
    elif fit > 1:
        gap = (span - sum(widths[:fit])) / (fit - 1)
        cursor = -span / 2.0
        for k, w in zip(wide[:fit], widths[:fit], strict=True):
            out[k] = cursor + w / 2.0
            cursor += w + gap
    return out


def _hop_set(fs: float) -> list[float]:
    """Four ELRS hop channels across the capture (a real hop set spans the band)."""
    return [float(f) for f in np.linspace(-0.4 * fs, 0.4 * fs, 4)]


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _write_array(
    path: Path, sensor: str, position: NDArray[np.float64], elements: NDArray[np.float64], **extra: float
) -> None:
    doc: dict[str, Any] = {
        "sensor_id": sensor,
        "position": [round(float(v), 3) for v in position],
        "elements": np.round(elements, 6).tolist(),
        **extra,
    }
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def _record_rf(
    spec: RfSensor,
    band: str,
    origin: NDArray[np.float64],
    sources: Sequence[_Source],
    terrain: Terrain,
    cfg: RawConfig,
    epoch0: float,
    out_dir: Path,
    rng: np.random.Generator,
) -> tuple[RawRecording, list[dict[str, Any]]]:
    fc = BAND_CENTRE_HZ[band]
    fs = cfg.sample_rate
    rows: list[dict[str, Any]] = []
    contrib: list[tuple[_Source, float]] = []
    geo: dict[int, tuple[float, float, float]] = {}
    for k, s in enumerate(sources):
        lb = LINK_BUDGET[s.link]
        if lb.band != band:
            continue
        r, az, el = _geometry(s.pos, origin)
        snr = s.eirp_dbm + spec.gain_db - _fspl_db(r, lb.freq_hz) - spec.sensitivity_dbm
        reason = ""
        if r > spec.max_range_m:
            reason = "beyond max_range_m"
        elif not terrain.is_flat and not bool(terrain.line_of_sight(origin[None, :], s.pos[None, :])[0]):
            reason = "terrain masks the line of sight"
        elif snr < cfg.min_snr_db:
            reason = f"in-band SNR under {cfg.min_snr_db:g} dB"
        geo[k] = (r, az, el)
        row: dict[str, Any] = {
            "target": s.target,
            "name": s.name,
            "link": s.link,
            "protocol": LINK_WAVEFORM[s.link][0],
            "relay": s.relay,
            "range_m": round(r, 1),
            "az_deg": round(math.degrees(az), 3),
            "el_deg": round(math.degrees(el), 3),
            "snr_db": round(min(snr, 60.0), 2),
            "contributes": not reason,
        }
        if reason:
            row["reason"] = reason
        else:
            contrib.append((s, min(snr, 60.0)))
        rows.append(row)
    offsets = _channels(contrib, fs)
    hops = _hop_set(fs)
    emitters: list[Emitter] = []
    kept: list[int] = []
    live = [r for r in rows if r["contributes"]]
    for j, ((s, snr), off) in enumerate(zip(contrib, offsets, strict=True)):
        if off is None:
            live[j]["contributes"] = False
            live[j]["reason"] = "no room in the capture bandwidth"
            continue
        proto, params, _ = LINK_WAVEFORM[s.link]
        p = dict(params)
        if proto == "elrs":
            p["hop_channels"] = hops
            live[j]["hop_channels_hz"] = [fc + h for h in hops]
        live[j]["f_center_hz"] = fc + off
        _, az, el = _geometry(s.pos, origin)
        emitters.append(Emitter(proto, f_offset=off, snr_db=snr, az=az, el=el, params=p))
        kept.append(j)
    if cfg.wifi and band in ("2g4", "5g8"):
        # Background Wi-Fi (an access point somewhere round the sensor), bursty, at a
        # fixed in-band SNR: what a detector must not call a drone.
        az = float(rng.uniform(0.0, 2 * math.pi))
        emitters.append(Emitter("wifi", 0.0, cfg.wifi_snr_db, az=az, params={"duty": 0.15}))
        wifi_row: dict[str, Any] = {
            "target": -1,
            "name": "wifi-background",
            "link": None,
            "protocol": "wifi",
            "relay": False,
            "range_m": None,
            "az_deg": round(math.degrees(az), 3),
            "el_deg": 0.0,
            "snr_db": cfg.wifi_snr_db,
            "contributes": True,
            "f_center_hz": fc,
        }
        rows.append(wifi_row)
        live.append(wifi_row)
        kept.append(len(live) - 1)
    lam = SPEED_OF_LIGHT / fc
    elements = _square(cfg.elements, lam / 2.0)
    stem = f"{spec.id}_{band}"
    meta_path = out_dir / f"{stem}.sigmf-meta"
    data_path = out_dir / f"{stem}.sigmf-data"
    dtype = parse_datatype(cfg.datatype, meta_path)
    n_total = round(cfg.duration_s * fs)
    chunk = int(_CHUNK_S * fs)
    # Integer samples: full scale 8x above the noise-plus-signal RMS of the strongest
    # emission, so weak signals keep bits and strong ones do not clip.
    peak_snr = max((snr for _, snr in contrib), default=0.0)
    scale = 1.0 / (8.0 * math.sqrt(1.0 + 10 ** (peak_snr / 10.0) * 0.5))
    annotations: list[dict[str, Any]] = []
    spans: dict[int, list[float]] = {}
    with data_path.open("wb") as fh:
        for s0 in range(0, n_total, chunk):
            n = min(chunk, n_total - s0)
            scene = synthesize(emitters, sample_rate=fs, n=n, rng=rng, frequency=fc, positions=elements)
            fh.write(
                encode_samples(
                    scene.samples * np.float32(scale) if dtype.component.kind != "f" else scene.samples, dtype
                )
            )
            for q in range(len(scene.emitter)):
                j = kept[int(scene.emitter[q])]
                a = s0 + scene.t_start[q] * fs
                b = s0 + scene.t_end[q] * fs
                if scene.protocol[q] == "elrs":
                    annotations.append(_annotation(a, b, fc + scene.f_center[q], scene.bandwidth[q], live[j]))
                else:
                    span = spans.setdefault(j, [a, b, scene.bandwidth[q]])
                    span[1] = b
    for j, (a, b, bw) in spans.items():
        annotations.append(_annotation(a, b, live[j]["f_center_hz"], bw, live[j]))
        live[j]["bandwidth_hz"] = round(float(bw), 1)
    for row in live:
        if row.get("protocol") == "elrs" and row["contributes"]:
            row["bandwidth_hz"] = LINK_WAVEFORM[row["link"]][2]
    annotations.sort(key=lambda a: (a["core:sample_start"], a["core:freq_lower_edge"]))
    meta = {
        "global": {
            "core:datatype": cfg.datatype,
            "core:version": "1.2.0",
            "core:sample_rate": float(fs),
            "core:num_channels": int(elements.shape[0]),
            "core:recorder": "skyfence exercise raw",
            "core:description": f"simulated RF sensor {spec.id}, band {band}, "
            f"{len(kept)} emitter(s); elements in {stem}.array.json",
        },
        "captures": [{"core:sample_start": 0, "core:frequency": fc, "core:datetime": _iso(epoch0)}],
        "annotations": annotations,
    }
    meta_path.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    open_sigmf(meta_path)  # the reader's schema check: never hand out a file skyfence cannot read
    arr = out_dir / f"{stem}.array.json"
    _write_array(arr, spec.id, origin, elements, frequency_hz=fc)
    for row in rows:
        row.update(recording=meta_path.name, sensor=spec.id, band=band)
    rec = RawRecording(spec.id, "rf", band, meta_path, arr, data_path.stat().st_size, len(kept))
    return rec, rows


def _annotation(a: float, b: float, f: float, bw: float, row: dict[str, Any]) -> dict[str, Any]:
    start = int(a)
    return {
        "core:sample_start": start,
        "core:sample_count": max(int(b) - start, 1),
        "core:freq_lower_edge": float(f - bw / 2.0),
        "core:freq_upper_edge": float(f + bw / 2.0),
        "core:label": f"{row['protocol']} {row['name']}",
        "core:comment": json.dumps(
            {k: row[k] for k in ("target", "link", "relay", "az_deg", "el_deg", "snr_db", "range_m")}
        ),
    }


def _record_audio(
    spec: AcousticSensor,
    origin: NDArray[np.float64],
    truth: Truth,
    t: float,
    wind_mps: float,
    cfg: RawConfig,
    out_dir: Path,
    rng: np.random.Generator,
) -> tuple[RawRecording, list[dict[str, Any]]]:
    fs = cfg.audio_rate
    n = round(cfg.duration_s * fs)
    mics = _square(4, 0.5)
    info = {ti.id: ti for ti in truth.targets}
    # Noise per microphone, incoherent: ambient (pink) and wind, at their levels in Pa.
    amb = _PA_REF * 10 ** (spec.ambient_db / 20.0)
    wnd = _PA_REF * 10 ** (wind_noise_db(wind_mps) / 20.0)
    x = np.stack([amb * pink_noise(n, rng) + wnd * wind_noise(n, fs, rng) for _ in range(4)])
    noise_db = 10.0 * math.log10(10 ** (spec.ambient_db / 10.0) + 10 ** (wind_noise_db(wind_mps) / 10.0))
    rows: list[dict[str, Any]] = []
    for i, xs, tt in zip(truth.target, truth.x, truth.t, strict=True):
        ti = info.get(int(i))
        if ti is None or ti.behaviour not in _DRONES:
            continue
        pos = xs[:3] + xs[3:] * (t - tt)
        r, az, el = _geometry(pos, origin)
        if r > spec.max_range_m:
            continue
        rr = max(r, 1.0)
        level = ACOUSTIC_SOURCE_DB[ti.behaviour] - 20 * math.log10(rr) - spec.absorption_db_per_km * rr / 1e3
        big = ti.behaviour in ("relay", "decoy")
        sig = drone_audio(
            cfg.duration_s,
            fs,
            rng,
            bpf=float(rng.uniform(90, 180) if big else rng.uniform(180, 400)),
            rotors=8 if big else 4,
            background=False,
        )[:n]
        x[:, : sig.size] += array_audio(sig * _PA_REF * 10 ** (level / 20.0), fs, mics, az)
        rows.append(
            {
                "target": int(i),
                "name": ti.name,
                "behaviour": ti.behaviour,
                "link": ti.link,
                "protocol": "acoustic",
                "range_m": round(r, 1),
                "az_deg": round(math.degrees(az), 3),
                "el_deg": round(math.degrees(el), 3),
                "level_db": round(level, 2),
                "snr_db": round(level - noise_db, 2),  # per microphone
                # What the simulator's acoustic model compares with threshold_db.
                "array_snr_db": round(level - noise_db + spec.array_gain_db, 2),
                "contributes": True,
            }
        )
    path = out_dir / f"{spec.id}.wav"
    write_wav(path, x, fs, bits=-32)
    arr = out_dir / f"{spec.id}.array.json"
    _write_array(arr, spec.id, origin, mics, sound_speed=343.0)
    for row in rows:
        row.update(recording=path.name, sensor=spec.id, band="audio")
    return RawRecording(spec.id, "acoustic", "audio", path, arr, path.stat().st_size, len(rows)), rows


def write_raw(
    scenario: Scenario, out_dir: str | Path, cfg: RawConfig | None = None, seed: int | None = None
) -> list[RawRecording]:
    """Write the raw recordings of ``cfg``'s window and ``raw_truth.jsonl`` to ``out_dir``.

    Raises :class:`ConfigError` when the window lies outside the exercise, a sensor id is
    unknown, or the data would exceed ``cfg.max_bytes``.
    """
    cfg = cfg or RawConfig()
    if cfg.start_s + cfg.duration_s > scenario.duration_s + 1e-9:
        raise ConfigError(
            f"window {cfg.start_s:g} s + {cfg.duration_s:g} s ends after the exercise "
            f"({scenario.duration_s:g} s)",
            field="start",
        )
    if cfg.wifi and abs(cfg.sample_rate / 20e6 - round(cfg.sample_rate / 20e6)) > 1e-9:
        raise ConfigError(
            "Wi-Fi background needs a sample rate that is a multiple of 20 MS/s", field="sample_rate"
        )
    size = raw_size(scenario, cfg)
    if size > cfg.max_bytes:
        raise ConfigError(
            f"raw recordings would take {size / 1e6:.0f} MB, over the limit of {cfg.max_bytes / 1e6:.0f} MB: "
            "shorten --duration, lower --sample-rate, pick sensors with --sensor or raise --max-bytes",
            field="duration",
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run_seed = scenario.seed if seed is None else int(seed)
    terrain = scenario_terrain(scenario)
    registry = sensor_registry(scenario, terrain)
    origin = {s.id: np.asarray(s.position, dtype=np.float64) for s in registry.sensors}
    truth: Truth | None = None
    t_win = scenario.start_time + cfg.start_s
    for step in simulate(scenario, run_seed):
        truth = step.truth
        if step.t >= t_win - scenario.step_s / 2:
            break
    assert truth is not None
    sources = _rf_sources(truth, t_win)
    recordings: list[RawRecording] = []
    all_rows: list[dict[str, Any]] = []
    for spec, band in _rf_plan(scenario, cfg):
        rng = stream_seed(run_seed, "raw", f"{spec.id}/{band}")
        if isinstance(spec, RfSensor):
            rec, rows = _record_rf(spec, band, origin[spec.id], sources, terrain, cfg, t_win, out, rng)
        else:
            rec, rows = _record_audio(
                spec, origin[spec.id], truth, t_win, scenario.wind.speed_mps, cfg, out, rng
            )
        recordings.append(rec)
        all_rows += rows
    # The registry beside the recordings: their detections feed `skyfence track run` as is.
    write_sensors(out / "sensors.json", registry)
    with (out / "raw_truth.jsonl").open("w", encoding="utf-8") as fh:
        for row in all_rows:
            fh.write(json.dumps({"t": t_win, **row}) + "\n")
    return recordings
