"""Sensor models: one scan of the :class:`Scene` -> a :class:`Detections` batch plus, kept
apart, the truth target id behind each row (-1 for clutter).

Every model is vectorised over the targets in a scan and shares one shape: geometry from
the sensor's position, a hard ``max_range_m``, a terrain mask (radar, RF, Remote ID and
cameras; sound bends round hills), a probability of detection from a physical SNR model,
Gaussian noise whose covariance is exactly the declared ``R``, and Poisson clutter with the
declared mean ``clutter_rate`` per scan. Each model exposes ``pd(...)`` so tests can check
the detection rate it produces against the model it claims.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from skyfence.model.classes import N_CLASSES
from skyfence.model.detections import Detections
from skyfence.model.scenario import (
    AcousticSensor,
    AdsbSensor,
    CameraSensor,
    IrSensor,
    RadarSensor,
    RemoteIdSensor,
    RfSensor,
    SensorSpec,
)
from skyfence.model.sensors import Sensor
from skyfence.model.terrain import Horizon, Terrain
from skyfence.simulate.world import LINK_CODES, Scene

__all__ = [
    "DEFAULT_CONFUSION",
    "LINK_BUDGET",
    "AcousticModel",
    "AdsbModel",
    "CameraModel",
    "Environment",
    "RadarModel",
    "RemoteIdModel",
    "RfModel",
    "SensorModel",
    "make_sensor_model",
]

TWO_PI = 2.0 * math.pi
SPEED_OF_SOUND = 343.0


@dataclass(frozen=True, slots=True)
class LinkBudget:
    """What a drone-side transmitter of one link type radiates."""

    freq_hz: float
    eirp_dbm: float
    band: str
    protocol: str


#: Drone-side emission per link (the video downlink for analog/digital FPV links, the
#: telemetry of ELRS control links); fibre-guided drones radiate nothing.
LINK_BUDGET: dict[str, LinkBudget] = {
    "analog_5g8": LinkBudget(5.8e9, 27.0, "5g8", "analog_video"),
    "digital_ofdm": LinkBudget(5.8e9, 30.0, "5g8", "ofdm_video"),
    "elrs_2g4": LinkBudget(2.44e9, 20.0, "2g4", "elrs"),
    "elrs_900": LinkBudget(915e6, 24.0, "900", "elrs"),
}
#: A relay re-transmits its clients' links at a higher power.
RELAY_EIRP_DBM = 30.0
#: Remote ID broadcast (Bluetooth 5 long range / Wi-Fi beacon) at 2.4 GHz.
REMOTE_ID_EIRP_DBM = 16.0
REMOTE_ID_FREQ_HZ = 2.44e9

#: Default camera confusion matrix, rows = true class, columns = reported class, in the
#: order of :data:`skyfence.model.CLASSES` (fpv, multirotor, fixed_wing, bird, aircraft,
#: unknown). Small drones and birds are the classic confusion.
DEFAULT_CONFUSION: NDArray[np.float64] = np.array(
    [
        [0.70, 0.12, 0.03, 0.10, 0.00, 0.05],
        [0.12, 0.70, 0.03, 0.10, 0.00, 0.05],
        [0.03, 0.05, 0.72, 0.13, 0.02, 0.05],
        [0.08, 0.07, 0.05, 0.75, 0.00, 0.05],
        [0.00, 0.00, 0.05, 0.00, 0.93, 0.02],
        [1 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6],
    ]
)
#: What camera false alarms (glints, insects, leaves) get reported as.
_CLUTTER_CLASS_P = np.array([0.10, 0.10, 0.05, 0.45, 0.0, 0.30])


@dataclass(frozen=True, slots=True)
class Environment:
    """Scenario-wide conditions the sensors feel: ``light`` 0..1, wind speed (m/s)."""

    light: float = 1.0
    wind_speed: float = 0.0
    epoch: float = 0.0


class SensorModel(Protocol):
    """One simulated sensor (the role every model plays)."""

    sensor: Sensor

    def scan(self, scene: Scene) -> tuple[Detections, NDArray[np.int64]]:
        """Detections of one scan at ``scene.t`` and the truth id behind each (-1: clutter)."""
        ...


def _geometry(
    pos: NDArray[np.float64], origin: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    d = pos - origin
    rh = np.hypot(d[:, 0], d[:, 1])
    r = np.sqrt(rh * rh + d[:, 2] * d[:, 2])
    az = np.mod(np.arctan2(d[:, 0], d[:, 1]), TWO_PI)
    el = np.arctan2(d[:, 2], rh)
    return r, az, el


def _near(pos: NDArray[np.float64], origin: NDArray[np.float64], max_range: float) -> NDArray[np.intp]:
    """Indices of the points within ``max_range`` (cheap test before any trigonometry)."""
    d = pos - origin
    return np.flatnonzero(np.einsum("ij,ij->i", d, d) <= max_range * max_range)


def _fspl_db(r: NDArray[np.float64], freq_hz: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """Free-space path loss (dB) at range ``r`` metres (clamped to 1 m)."""
    out: NDArray[np.float64] = 20.0 * np.log10(np.maximum(r, 1.0)) + 20.0 * np.log10(freq_hz) - 147.55
    return out


def _diag_R(sig: NDArray[np.float64] | list[float], n: int) -> NDArray[np.float64]:
    s = np.asarray(sig, dtype=np.float64)
    return np.broadcast_to(np.diag(s * s), (n, len(s), len(s)))


class _Base:
    kind: Any = "bearing"

    def __init__(self, sensor: Sensor, terrain: Terrain, env: Environment, rng: np.random.Generator) -> None:
        self.sensor = sensor
        self.origin = np.asarray(sensor.position, dtype=np.float64)
        self.max_range = float(sensor.max_range_m)
        self.env = env
        self.rng = rng
        self.terrain = terrain
        self._horizon: Horizon | None = None

    def _visible(self, pos: NDArray[np.float64]) -> NDArray[np.bool_]:
        if self.terrain.is_flat:
            return np.asarray(pos[:, 2] >= self.terrain.level_m - 1e-9)
        if self._horizon is None:
            self._horizon = self.terrain.horizon(self.origin, self.max_range)
        return self._horizon.visible(pos)

    def _out(
        self,
        t: float,
        z: NDArray[np.float64],
        R: NDArray[np.float64],
        src: NDArray[np.int64],
        cls_lik: NDArray[np.float64] | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> tuple[Detections, NDArray[np.int64]]:
        n = z.shape[0]
        det = Detections(self.sensor.id, self.kind, np.full(n, t), z, R, cls_lik, attrs)
        return det, src


# -- radar ------------------------------------------------------------------------------


class RadarModel(_Base):
    """Surveillance radar, ``z = [range, az, el]`` (``[range, az]`` without ``measure_el``).

    Mean signal-to-noise ``SNR = snr_ref · (σ/σ_ref) · (r_ref/r)⁴``; ground clutter adds
    ``CNR = cnr · exp(−max(el, 0)/el_c)`` to the noise, so low-level targets near the horizon
    are hard to see; Doppler filtering (MTI) divides it by ``mti_improvement`` for targets
    whose radial speed exceeds ``mti_min_speed_mps`` (a hovering relay gets no help).
    Swerling I: received power (in noise+clutter units) is exponential with
    mean ``1 + SINR`` and a target is declared above ``T = −ln(Pfa)``, hence
    ``Pd = exp(−T / (1 + SINR))`` exactly. False alarms: Poisson(``clutter_rate``) per scan,
    uniform in the coverage volume."""

    kind = "polar"

    def __init__(self, spec: RadarSensor, *args: Any) -> None:
        super().__init__(*args)
        self.spec = spec
        self.threshold = -math.log(spec.pfa)
        self.snr_ref = 10.0 ** (spec.snr_ref_db / 10.0)
        self.cnr = 10.0 ** (spec.clutter_cnr_db / 10.0)
        self.mti = 10.0 ** (spec.mti_improvement_db / 10.0)
        self.el_c = math.radians(spec.clutter_el_deg)
        self.min_el = math.radians(spec.min_el_deg)
        self.max_el = math.radians(spec.max_el_deg)
        n = spec.noise
        sig = [n.range_m, math.radians(n.az_deg), math.radians(n.el_deg)]
        self.sigma = np.array(sig if spec.measure_el else sig[:2])
        self.sector = None if spec.sector_deg is None else tuple(math.radians(a) for a in spec.sector_deg)

    def sinr(
        self,
        r: NDArray[np.float64],
        rcs: NDArray[np.float64],
        el: NDArray[np.float64],
        radial_speed: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        snr = self.snr_ref * (rcs / self.spec.ref_rcs_m2) * (self.spec.ref_range_m / np.maximum(r, 1.0)) ** 4
        cnr = self.cnr * np.exp(-np.maximum(el, 0.0) / self.el_c)
        if radial_speed is not None:
            cnr = np.where(np.abs(radial_speed) > self.spec.mti_min_speed_mps, cnr / self.mti, cnr)
        out: NDArray[np.float64] = snr / (1.0 + cnr)
        return out

    def pd(
        self,
        r: NDArray[np.float64],
        rcs: NDArray[np.float64],
        el: NDArray[np.float64],
        radial_speed: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        """Probability of detection (no radial speed given: no Doppler help)."""
        out: NDArray[np.float64] = np.exp(-self.threshold / (1.0 + self.sinr(r, rcs, el, radial_speed)))
        return out

    def _in_sector(self, az: NDArray[np.float64]) -> NDArray[np.bool_]:
        if self.sector is None:
            return np.ones(az.shape, dtype=bool)
        a, b = self.sector
        return np.asarray(np.mod(az - a, TWO_PI) <= np.mod(b - a, TWO_PI))

    def scan(self, scene: Scene) -> tuple[Detections, NDArray[np.int64]]:
        rng = self.rng
        k = _near(scene.pos, self.origin, self.max_range)
        r, az, el = _geometry(scene.pos[k], self.origin)
        cand = (el >= self.min_el) & (el <= self.max_el) & self._in_sector(az)
        if len(k):
            cand[cand] = self._visible(scene.pos[k[cand]])
        k, r, az, el = k[cand], r[cand], az[cand], el[cand]
        rcs = scene.table.rcs_m2[scene.ids[k]]
        los = scene.pos[k] - self.origin
        vr = np.einsum("ij,ij->i", scene.vel[k], los) / np.maximum(r, 1e-9)
        sinr = self.sinr(r, rcs, el, vr)
        power = (1.0 + sinr) * rng.standard_exponential(len(k))
        hit = power > self.threshold
        k, power = k[hit], power[hit]
        m = len(self.sigma)
        z_true = np.column_stack([r[hit], az[hit], el[hit]])[:, :m]
        z = z_true + rng.standard_normal((len(k), m)) * self.sigma
        # Clutter: uniform in the coverage volume (r ∝ U^(1/3), sin(el) uniform).
        n_fa = int(rng.poisson(self.spec.clutter_rate))
        zc = np.empty((n_fa, m))
        zc[:, 0] = self.max_range * np.cbrt(rng.uniform(size=n_fa))
        if self.sector is None:
            zc[:, 1] = rng.uniform(0.0, TWO_PI, n_fa)
        else:
            a, b = self.sector
            zc[:, 1] = a + rng.uniform(size=n_fa) * np.mod(b - a, TWO_PI)
        s_el = rng.uniform(math.sin(max(self.min_el, -math.pi / 2)), math.sin(self.max_el), n_fa)
        if m == 3:
            zc[:, 2] = np.arcsin(s_el)
        p_fa = self.threshold + rng.standard_exponential(n_fa)
        z = np.concatenate([z, zc])
        z[:, 1] = np.mod(z[:, 1], TWO_PI)
        n = z.shape[0]
        snr = 10.0 * np.log10(np.concatenate([power, p_fa]))
        src = np.concatenate([scene.ids[k], np.full(n_fa, -1, dtype=np.int64)])
        return self._out(scene.t, z, _diag_R(self.sigma, n), src, None, {"snr": snr})


# -- passive RF direction finding --------------------------------------------------------


class RfModel(_Base):
    """Passive RF direction finder, ``z = [az]`` (``[az, el]`` with ``measure_el``).

    Sees only emitters on its ``bands`` whose link radiates at that moment (never a fibre
    FPV, nor one in its terminal-autonomy silence); relays radiate their own link and
    re-transmit their clients'. Received power from the link budget ``EIRP + gain −
    FSPL(f, r)`` with Rayleigh fading: ``Pd = exp(−1 / (P/sensitivity))``. Attributes
    ``band``, ``protocol`` and ``snr`` (dB above sensitivity)."""

    kind = "bearing"

    def __init__(self, spec: RfSensor, *args: Any) -> None:
        super().__init__(*args)
        self.spec = spec
        n = spec.noise
        sig = [math.radians(n.az_deg), math.radians(n.el_deg)]
        self.sigma = np.array(sig if spec.measure_el else sig[:1])
        bands = set(spec.bands)
        self.freq = np.array([LINK_BUDGET[c].freq_hz if c in LINK_BUDGET else 1.0 for c in LINK_CODES])
        self.eirp = np.array([LINK_BUDGET[c].eirp_dbm if c in LINK_BUDGET else -999.0 for c in LINK_CODES])
        self.on_band = np.array([c in LINK_BUDGET and LINK_BUDGET[c].band in bands for c in LINK_CODES])
        self.band_name = np.array([LINK_BUDGET[c].band if c in LINK_BUDGET else "" for c in LINK_CODES])
        self.proto = np.array([LINK_BUDGET[c].protocol if c in LINK_BUDGET else "" for c in LINK_CODES])
        self.clutter_bands = np.array(sorted(bands))

    def mean_snr(
        self, r: NDArray[np.float64], link: NDArray[np.int64], eirp: NDArray[np.float64] | None = None
    ) -> NDArray[np.float64]:
        """Mean received power over the sensitivity, linear."""
        p = (self.eirp[link] if eirp is None else eirp) + self.spec.gain_db - _fspl_db(r, self.freq[link])
        out: NDArray[np.float64] = 10.0 ** ((p - self.spec.sensitivity_dbm) / 10.0)
        return out

    def pd(self, r: NDArray[np.float64], link: NDArray[np.int64]) -> NDArray[np.float64]:
        out: NDArray[np.float64] = np.exp(-1.0 / self.mean_snr(r, link))
        return out

    def scan(self, scene: Scene) -> tuple[Detections, NDArray[np.int64]]:
        rng = self.rng
        tab = scene.table
        link = tab.link[scene.ids]
        em = scene.emitting & (link >= 0)
        e_idx = np.flatnonzero(em)
        e_link = link[e_idx]
        e_eirp = self.eirp[np.maximum(e_link, 0)]
        # Relays re-transmit the links of their clients that are airborne and radiating:
        # one extra emission per (relay, client link) at the relay's position.
        client = np.flatnonzero((tab.relay_of[scene.ids] >= 0) & em)
        if len(client):
            relay_id = tab.relay_of[scene.ids[client]]
            row = np.searchsorted(scene.ids, relay_id)
            row = np.minimum(row, len(scene.ids) - 1)
            airborne = scene.ids[row] == relay_id
            key = np.unique(row[airborne] * len(LINK_CODES) + link[client[airborne]])
            if len(key):
                e_idx = np.concatenate([e_idx, key // len(LINK_CODES)])
                e_link = np.concatenate([e_link, key % len(LINK_CODES)])
                e_eirp = np.concatenate([e_eirp, np.full(len(key), RELAY_EIRP_DBM)])
        r, az, el = _geometry(scene.pos[e_idx], self.origin)
        cand = self.on_band[e_link] & (r <= self.max_range)
        k = np.flatnonzero(cand)
        if len(k):
            k = k[self._visible(scene.pos[e_idx[k]])]
        inst = self.mean_snr(r[k], e_link[k], e_eirp[k]) * rng.standard_exponential(len(k))
        hit = inst > 1.0
        k, inst = k[hit], inst[hit]
        m = len(self.sigma)
        z = np.column_stack([az[k], el[k]])[:, :m] + rng.standard_normal((len(k), m)) * self.sigma
        n_fa = int(rng.poisson(self.spec.clutter_rate))
        zc = np.column_stack([rng.uniform(0.0, TWO_PI, n_fa), rng.uniform(0.0, 0.3, n_fa)])[:, :m]
        fa_band = (
            self.clutter_bands[rng.integers(0, len(self.clutter_bands), n_fa)]
            if n_fa
            else np.zeros(0, dtype=str)
        )
        fa_snr = rng.standard_exponential(n_fa)
        z = np.concatenate([z, zc])
        z[:, 0] = np.mod(z[:, 0], TWO_PI)
        n = z.shape[0]
        lk = e_link[k]
        attrs = {
            "band": np.concatenate([self.band_name[lk], fa_band]).astype(str),
            "protocol": np.concatenate([self.proto[lk], np.full(n_fa, "unknown")]).astype(str),
            "snr": 10.0 * np.log10(np.concatenate([inst, 1.0 + fa_snr])),
        }
        src = np.concatenate([scene.ids[e_idx[k]], np.full(n_fa, -1, dtype=np.int64)])
        return self._out(scene.t, z, _diag_R(self.sigma, n), src, None, attrs)


# -- acoustic -----------------------------------------------------------------------------


def wind_noise_db(wind_speed: float) -> float:
    """Wind noise at a screened microphone (dB re 20 µPa): 15 dB in calm air, about
    38 dB at 5 m/s and 46 dB at 10 m/s."""
    return 15.0 + 30.0 * math.log10(1.0 + wind_speed)


class AcousticModel(_Base):
    """Microphone array, ``z = [az, el]`` of where the sound came from (the target's
    position ``r/c`` seconds earlier). ``SNR = SL − 20·log10(r) − α·r − NL + AG`` with
    ``NL`` the power sum of ambient and wind noise; Rayleigh-fading detection against
    ``threshold_db``: ``Pd = exp(−1 / 10^((SNR − threshold)/10))``. Not masked by terrain."""

    kind = "bearing"

    def __init__(self, spec: AcousticSensor, *args: Any) -> None:
        super().__init__(*args)
        self.spec = spec
        n = spec.noise
        sig = [math.radians(n.az_deg), math.radians(n.el_deg)]
        self.sigma = np.array(sig if spec.measure_el else sig[:1])
        self.noise_db = 10.0 * math.log10(
            10.0 ** (spec.ambient_db / 10.0) + 10.0 ** (wind_noise_db(self.env.wind_speed) / 10.0)
        )

    def snr_db(self, r: NDArray[np.float64], source_db: NDArray[np.float64]) -> NDArray[np.float64]:
        rr = np.maximum(r, 1.0)
        tl = 20.0 * np.log10(rr) + self.spec.absorption_db_per_km * rr / 1000.0
        out: NDArray[np.float64] = source_db - tl - self.noise_db + self.spec.array_gain_db
        return out

    def pd(self, r: NDArray[np.float64], source_db: NDArray[np.float64]) -> NDArray[np.float64]:
        out: NDArray[np.float64] = np.exp(
            -1.0 / 10.0 ** ((self.snr_db(r, source_db) - self.spec.threshold_db) / 10.0)
        )
        return out

    def scan(self, scene: Scene) -> tuple[Detections, NDArray[np.int64]]:
        rng = self.rng
        k = _near(scene.pos, self.origin, self.max_range)
        r0 = np.linalg.norm(scene.pos[k] - self.origin, axis=1)
        # Sound left the target r/c seconds ago.
        heard = scene.pos[k] - scene.vel[k] * (r0 / SPEED_OF_SOUND)[:, None]
        r, az, el = _geometry(heard, self.origin)
        mean = 10.0 ** ((self.snr_db(r, scene.table.source_db[scene.ids[k]]) - self.spec.threshold_db) / 10.0)
        inst = mean * rng.standard_exponential(len(k))
        hit = inst > 1.0
        m = len(self.sigma)
        z = np.column_stack([az[hit], el[hit]])[:, :m] + rng.standard_normal((int(hit.sum()), m)) * self.sigma
        n_fa = int(rng.poisson(self.spec.clutter_rate))
        zc = np.column_stack([rng.uniform(0.0, TWO_PI, n_fa), rng.uniform(0.0, 0.5, n_fa)])[:, :m]
        z = np.concatenate([z, zc])
        z[:, 0] = np.mod(z[:, 0], TWO_PI)
        n = z.shape[0]
        snr = (
            10.0 * np.log10(np.concatenate([inst[hit], 1.0 + rng.standard_exponential(n_fa)]))
            + self.spec.threshold_db
        )
        src = np.concatenate([scene.ids[k[hit]], np.full(n_fa, -1, dtype=np.int64)])
        return self._out(scene.t, z, _diag_R(self.sigma, n), src, None, {"snr": snr})


# -- cameras ------------------------------------------------------------------------------


class CameraModel(_Base):
    """Visible (``eo``) or thermal (``ir``) camera on a pan/tilt head, ``z = [az, el]``.

    A target inside the field of view and in line of sight spans ``px = size / (r · IFOV)``
    pixels; ``Pd = pd_max · L · px² / (px² + px50²)`` with light factor ``L`` (visible:
    ``0.03 + 0.97·light``; thermal: ``0.8 + 0.2·light``). Noise ``noise_px`` pixels. The
    reported class is drawn from a confusion matrix blurred toward uniform as the image
    gets poorer; ``cls_lik`` is that matrix's column for the reported class (the
    likelihood of the report under each true class)."""

    kind = "bearing"

    def __init__(self, spec: CameraSensor | IrSensor, *args: Any) -> None:
        super().__init__(*args)
        self.spec = spec
        self.ifov = math.radians(spec.hfov_deg) / spec.pixels_h
        self.sigma = np.array([spec.noise_px * self.ifov, spec.noise_px * self.ifov])
        light = self.env.light
        self.light_factor = 0.03 + 0.97 * light if spec.type == "eo" else 0.8 + 0.2 * light
        self.confusion = (
            DEFAULT_CONFUSION if spec.confusion is None else np.asarray(spec.confusion, dtype=np.float64)
        )
        self.confusion = self.confusion / self.confusion.sum(axis=1, keepdims=True)

    def pan(self, t_rel: float) -> float:
        s = self.spec
        p0 = math.radians(s.pan_deg)
        if s.pan_rate_dps == 0:
            return p0
        swept = math.radians(s.pan_rate_dps) * t_rel
        if s.pan_sector_deg is None:
            return p0 + swept
        a, b = (math.radians(v) for v in s.pan_sector_deg)
        width = (b - a) % TWO_PI or TWO_PI
        ph = abs(swept) % (2.0 * width)
        return a + (ph if ph <= width else 2.0 * width - ph)

    def pixels(self, r: NDArray[np.float64], size: NDArray[np.float64]) -> NDArray[np.float64]:
        out: NDArray[np.float64] = size / (np.maximum(r, 1.0) * self.ifov)
        return out

    def pd(self, r: NDArray[np.float64], size: NDArray[np.float64]) -> NDArray[np.float64]:
        px2 = self.pixels(r, size) ** 2
        out: NDArray[np.float64] = self.spec.pd_max * self.light_factor * px2 / (px2 + self.spec.px50**2)
        return out

    def _lik(
        self,
        true_cls: NDArray[np.int64] | None,
        quality: NDArray[np.float64],
        p_rows: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        n = len(quality)
        blurred_rows = (
            quality[:, None] * self.confusion[true_cls] + (1.0 - quality[:, None]) / N_CLASSES
            if true_cls is not None
            else np.asarray(p_rows)
        )
        u = self.rng.uniform(size=n)
        reported = np.minimum((u[:, None] > np.cumsum(blurred_rows, axis=1)).sum(axis=1), N_CLASSES - 1)
        lik = quality[:, None] * self.confusion[:, reported].T + (1.0 - quality[:, None]) / N_CLASSES
        out: NDArray[np.float64] = lik / lik.sum(axis=1, keepdims=True)
        return out

    def scan(self, scene: Scene) -> tuple[Detections, NDArray[np.int64]]:
        rng = self.rng
        s = self.spec
        pan = self.pan(scene.t - self.env.epoch)
        tilt = math.radians(s.tilt_deg)
        half_h, half_v = math.radians(s.hfov_deg) / 2.0, math.radians(s.vfov_deg) / 2.0
        k = _near(scene.pos, self.origin, self.max_range)
        r, az, el = _geometry(scene.pos[k], self.origin)
        daz = np.mod(az - pan + math.pi, TWO_PI) - math.pi
        cand = (np.abs(daz) <= half_h) & (np.abs(el - tilt) <= half_v)
        if len(k):
            cand[cand] = self._visible(scene.pos[k[cand]])
        k, r, az, el = k[cand], r[cand], az[cand], el[cand]
        size = scene.table.size_m[scene.ids[k]]
        pd = self.pd(r, size)
        hit = rng.uniform(size=len(k)) < pd
        k, r, az, el = k[hit], r[hit], az[hit], el[hit]
        px = self.pixels(r, scene.table.size_m[scene.ids[k]])
        quality = self.light_factor * px**2 / (px**2 + (2.0 * s.px50) ** 2)
        lik = self._lik(scene.table.cls_idx[scene.ids[k]], quality)
        z = np.column_stack([az, el]) + rng.standard_normal((len(k), 2)) * self.sigma
        n_fa = int(rng.poisson(s.clutter_rate))
        zc = np.column_stack(
            [pan + rng.uniform(-half_h, half_h, n_fa), tilt + rng.uniform(-half_v, half_v, n_fa)]
        )
        q_fa = np.full(n_fa, 0.3 * self.light_factor)
        lik_fa = self._lik(None, q_fa, np.broadcast_to(_CLUTTER_CLASS_P, (n_fa, N_CLASSES)))
        z = np.concatenate([z, zc])
        z[:, 0] = np.mod(z[:, 0], TWO_PI)
        n = z.shape[0]
        attrs = {"pixels": np.concatenate([px, rng.uniform(1.0, 3.0, n_fa)])}
        src = np.concatenate([scene.ids[k], np.full(n_fa, -1, dtype=np.int64)])
        return self._out(scene.t, z, _diag_R(self.sigma, n), src, np.concatenate([lik, lik_fa]), attrs)


# -- cooperative broadcasts ---------------------------------------------------------------


class RemoteIdModel(_Base):
    """Remote ID receiver, ``z = [E, N, U]`` broadcast position (``kind = remote_id``).

    Only drones that broadcast (compliant ones) are heard; a message arrives with
    probability ``(1 − msg_loss) · exp(−1/(P/sensitivity))`` (link budget + Rayleigh
    fading, terrain-masked). The broadcast position is the drone's own GNSS fix (noise
    ``R``), offset by ``spoof_offset_m`` for a spoofing drone. Attributes ``serial`` and
    ``operator`` (ENU of the declared operator)."""

    kind = "remote_id"

    def __init__(self, spec: RemoteIdSensor, *args: Any) -> None:
        super().__init__(*args)
        self.spec = spec
        n = spec.noise
        self.sigma = np.array([n.horizontal_m, n.horizontal_m, n.vertical_m])

    def pd(self, r: NDArray[np.float64]) -> NDArray[np.float64]:
        p = REMOTE_ID_EIRP_DBM + self.spec.gain_db - _fspl_db(r, REMOTE_ID_FREQ_HZ)
        mean = 10.0 ** ((p - self.spec.sensitivity_dbm) / 10.0)
        out: NDArray[np.float64] = (1.0 - self.spec.msg_loss) * np.exp(-1.0 / mean)
        return out

    def scan(self, scene: Scene) -> tuple[Detections, NDArray[np.int64]]:
        rng = self.rng
        tab = scene.table
        k = np.flatnonzero(tab.remote_id[scene.ids])
        r = np.linalg.norm(scene.pos[k] - self.origin, axis=1)
        near = r <= self.max_range
        if near.any():
            near[near] = self._visible(scene.pos[k[near]])
        k, r = k[near], r[near]
        hit = rng.uniform(size=len(k)) < self.pd(r)
        k = k[hit]
        ids = scene.ids[k]
        z = scene.pos[k] + tab.spoof_offset[ids] + rng.standard_normal((len(k), 3)) * self.sigma
        n_fa = int(rng.poisson(self.spec.clutter_rate))
        # A false Remote ID record is a garbled frame: random position and serial.
        zc = np.column_stack(
            [
                rng.uniform(-self.max_range, self.max_range, (n_fa, 2)) + self.origin[:2],
                rng.uniform(0, 120, n_fa),
            ]
        )
        z = np.concatenate([z, zc])
        n = z.shape[0]
        op = np.concatenate([tab.operator[ids], zc + rng.normal(0.0, 200.0, (n_fa, 3))])
        serial = np.concatenate(
            [tab.serial[ids], np.array([f"GARBLED{v:06d}" for v in rng.integers(0, 10**6, n_fa)], dtype=str)]
        )
        attrs = {"serial": serial.astype(str), "operator": op}
        src = np.concatenate([ids, np.full(n_fa, -1, dtype=np.int64)])
        return self._out(scene.t, z, _diag_R(self.sigma, n), src, None, attrs)


class AdsbModel(_Base):
    """ADS-B receiver, ``z = [E, N, U]`` reported position of transponding aircraft within
    range, each message lost with probability ``msg_loss``; attributes ``icao`` and
    ``callsign``. Not terrain-masked (aircraft fly high)."""

    kind = "position"

    def __init__(self, spec: AdsbSensor, *args: Any) -> None:
        super().__init__(*args)
        self.spec = spec
        n = spec.noise
        self.sigma = np.array([n.horizontal_m, n.horizontal_m, n.vertical_m])

    def pd(self, r: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.where(r <= self.max_range, 1.0 - self.spec.msg_loss, 0.0)

    def scan(self, scene: Scene) -> tuple[Detections, NDArray[np.int64]]:
        rng = self.rng
        tab = scene.table
        k = np.flatnonzero(tab.adsb[scene.ids])
        k = k[np.linalg.norm(scene.pos[k] - self.origin, axis=1) <= self.max_range]
        hit = rng.uniform(size=len(k)) >= self.spec.msg_loss
        k = k[hit]
        ids = scene.ids[k]
        z = scene.pos[k] + rng.standard_normal((len(k), 3)) * self.sigma
        n = z.shape[0]
        attrs = {"icao": tab.icao[ids].astype(str), "callsign": tab.callsign[ids].astype(str)}
        return self._out(scene.t, z, _diag_R(self.sigma, n), ids.astype(np.int64), None, attrs)


def make_sensor_model(
    spec: SensorSpec, sensor: Sensor, terrain: Terrain, env: Environment, rng: np.random.Generator
) -> SensorModel:
    """The model for one scenario sensor."""
    args = (sensor, terrain, env, rng)
    if isinstance(spec, RadarSensor):
        return RadarModel(spec, *args)
    if isinstance(spec, RfSensor):
        return RfModel(spec, *args)
    if isinstance(spec, AcousticSensor):
        return AcousticModel(spec, *args)
    if isinstance(spec, CameraSensor | IrSensor):
        return CameraModel(spec, *args)
    if isinstance(spec, RemoteIdSensor):
        return RemoteIdModel(spec, *args)
    if isinstance(spec, AdsbSensor):
        return AdsbModel(spec, *args)
    raise TypeError(f"no model for sensor type {type(spec).__name__}")  # pragma: no cover
