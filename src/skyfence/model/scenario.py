"""`Scenario`: an exercise as people write it in YAML, validated with pydantic.

Positions in scenarios are ``[E, N]`` or ``[E, N, U]`` metres in the site frame, or
``{lat: .., lon: .., alt: ..}`` in WGS84 degrees; angles are degrees and speeds metres per
second in these files (the simulator converts to radians inside). ``docs/simulate.md``
documents every field; :func:`skyfence.simulate.load_scenario` reads and checks a file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from annotated_types import Len
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from skyfence.geo import Site

__all__ = [
    "LINKS",
    "AcousticSensor",
    "AdsbSensor",
    "AircraftTarget",
    "BirdTarget",
    "CameraSensor",
    "CompliantTarget",
    "DecoyTarget",
    "FpvTarget",
    "GeoPoint",
    "IrSensor",
    "Link",
    "Position",
    "RadarSensor",
    "RelayTarget",
    "RemoteIdSensor",
    "RfSensor",
    "RidgeSpec",
    "Scenario",
    "SensorSpec",
    "SiteSpec",
    "SwarmTarget",
    "TargetSpec",
    "TerrainSpec",
    "WindSpec",
]

Link = Literal["analog_5g8", "elrs_900", "elrs_2g4", "digital_ofdm", "fiber"]
LINKS: tuple[str, ...] = ("analog_5g8", "elrs_900", "elrs_2g4", "digital_ofdm", "fiber")
Band = Literal["900", "2g4", "5g8"]
_ALL_BANDS: tuple[Band, ...] = ("900", "2g4", "5g8")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True, populate_by_name=True)


class GeoPoint(_Model):
    """A WGS84 position; ``alt`` metres above the ellipsoid (``None``: on the ground)."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt: float | None = None


#: ``[E, N]`` / ``[E, N, U]`` site-frame metres, or a WGS84 point.
Position = Annotated[list[float], Len(2, 3)] | GeoPoint


class SiteSpec(_Model):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt: float = 0.0

    def site(self) -> Site:
        return Site(self.lat, self.lon, self.alt)


class WindSpec(_Model):
    """Wind ``speed_mps`` blowing *from* ``direction_deg`` (clockwise from north)."""

    speed_mps: float = Field(default=0.0, ge=0, le=60)
    direction_deg: float = Field(default=0.0, ge=0, le=360)

    def vector(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Air velocity (E, N) in m/s: where the wind goes, opposite to where it comes from."""
        d = np.radians(self.direction_deg)
        return -self.speed_mps * np.array([np.sin(d), np.cos(d)])


class RidgeSpec(_Model):
    start: Annotated[list[float], Len(2, 2)]
    end: Annotated[list[float], Len(2, 2)]
    height_m: float = Field(gt=0, le=5000)
    width_m: float = Field(gt=0, le=20000)


class TerrainSpec(_Model):
    """Flat by default; ``file`` (``file:path`` relative to the scenario) is a ``.npz``
    or ``.csv`` height grid with ``spacing_m``/``origin`` (E, N of its first post);
    ``ridges`` are rasterised on a ``grid_spacing_m`` grid over the site."""

    file: str | None = None
    spacing_m: (
        Annotated[float, Field(gt=0)] | Annotated[list[Annotated[float, Field(gt=0)]], Len(2, 2)] | None
    ) = None
    origin: Annotated[list[float], Len(2, 2)] | None = None
    ridges: list[RidgeSpec] = Field(default_factory=list)
    grid_spacing_m: float = Field(default=50.0, ge=5, le=1000)
    base_m: float = 0.0


# -- sensors --------------------------------------------------------------------------


class RadarNoise(_Model):
    range_m: float = Field(default=5.0, gt=0)
    az_deg: float = Field(default=0.5, gt=0, le=90)
    el_deg: float = Field(default=1.0, gt=0, le=90)


class AngleNoise(_Model):
    az_deg: float = Field(default=3.0, gt=0, le=90)
    el_deg: float = Field(default=5.0, gt=0, le=90)


class PositionNoise(_Model):
    horizontal_m: float = Field(default=3.0, gt=0)
    vertical_m: float = Field(default=5.0, gt=0)


class _SensorBase(_Model):
    """Common to every sensor: ``position`` (a 2-D position is raised ``height_agl_m``
    above the ground), scan ``rate_hz``, hard ``max_range_m``, ``clutter_rate`` (mean false
    detections per scan, Poisson) and an optional ``cost`` in USD for comparing layouts."""

    id: str = Field(min_length=1, max_length=64)
    position: Position
    height_agl_m: float = Field(default=5.0, ge=0, le=1000)
    rate_hz: float = Field(default=1.0, gt=0, le=100)
    max_range_m: float = Field(gt=0, le=500_000)
    clutter_rate: float = Field(default=0.0, ge=0, le=1000)
    cost: float | None = Field(default=None, ge=0)


class RadarSensor(_SensorBase):
    """Pulse-Doppler surveillance radar: ``[range, az, el]``. Mean SNR is ``snr_ref_db``
    for a ``ref_rcs_m2`` target at ``ref_range_m`` and falls as range⁻⁴; Swerling I
    fluctuation against a threshold set by ``pfa``; ground clutter of ``clutter_cnr_db``
    near the horizon fading with elevation scale ``clutter_el_deg``, cut by
    ``mti_improvement_db`` for targets whose radial speed exceeds ``mti_min_speed_mps``."""

    type: Literal["radar"]
    noise: RadarNoise = Field(default_factory=RadarNoise)
    pfa: float = Field(default=1e-6, gt=0, lt=0.5)
    snr_ref_db: float = Field(default=13.0, ge=-30, le=80)
    ref_range_m: float = Field(default=3000.0, gt=0)
    ref_rcs_m2: float = Field(default=0.01, gt=0)
    min_el_deg: float = Field(default=-2.0, ge=-90, le=90)
    max_el_deg: float = Field(default=60.0, ge=-90, le=90)
    sector_deg: Annotated[list[float], Len(2, 2)] | None = None
    clutter_cnr_db: float = Field(default=30.0, ge=-50, le=100)
    clutter_el_deg: float = Field(default=1.5, gt=0, le=90)
    mti_improvement_db: float = Field(default=25.0, ge=0, le=80)
    mti_min_speed_mps: float = Field(default=2.0, ge=0, le=100)
    measure_el: bool = True


class RfSensor(_SensorBase):
    """Passive RF direction finder on ``bands``: bearing ``[az]`` (``[az, el]`` with
    ``measure_el``) + band, protocol, snr. Detection from a link budget with Rayleigh
    fading against ``sensitivity_dbm``."""

    type: Literal["rf"]
    noise: AngleNoise = Field(default_factory=AngleNoise)
    bands: list[Band] = Field(default_factory=lambda: list(_ALL_BANDS), min_length=1)
    sensitivity_dbm: float = Field(default=-100.0, ge=-180, le=0)
    gain_db: float = Field(default=6.0, ge=-20, le=40)
    measure_el: bool = False


class AcousticSensor(_SensorBase):
    """Microphone array: ``[az, el]``. SNR = source level − (spherical spreading +
    ``absorption_db_per_km``) − noise (``ambient_db`` + wind) + ``array_gain_db``."""

    type: Literal["acoustic"]
    noise: AngleNoise = Field(default_factory=lambda: AngleNoise(az_deg=5.0, el_deg=8.0))
    array_gain_db: float = Field(default=15.0, ge=0, le=40)
    threshold_db: float = Field(default=10.0, ge=-10, le=40)
    ambient_db: float = Field(default=35.0, ge=0, le=100)
    absorption_db_per_km: float = Field(default=5.0, ge=0, le=100)
    measure_el: bool = True


class _CameraBase(_SensorBase):
    """Camera on a pan/tilt head: ``[az, el]`` of targets inside the field of view.
    Pd grows with the target's size in pixels (half at ``px50``) and falls with darkness;
    ``cls_lik`` comes from a bird/drone ``confusion`` matrix (rows true, columns reported)."""

    noise_px: float = Field(default=1.0, gt=0, le=100)
    hfov_deg: float = Field(default=30.0, gt=0, le=360)
    vfov_deg: float = Field(default=20.0, gt=0, le=180)
    pixels_h: int = Field(default=1920, ge=16, le=100_000)
    pan_deg: float = Field(default=0.0, ge=-360, le=360)
    tilt_deg: float = Field(default=3.0, ge=-90, le=90)
    pan_rate_dps: float = Field(default=0.0, ge=-360, le=360)
    pan_sector_deg: Annotated[list[float], Len(2, 2)] | None = None
    px50: float = Field(default=1.5, gt=0, le=1000)
    pd_max: float = Field(default=0.95, gt=0, le=1)
    confusion: Annotated[list[Annotated[list[float], Len(6, 6)]], Len(6, 6)] | None = None


class CameraSensor(_CameraBase):
    """Visible-light (``eo``) camera: degrades strongly at night."""

    type: Literal["eo"]


class IrSensor(_CameraBase):
    """Thermal (``ir``) camera: works nearly as well at night."""

    type: Literal["ir"]


class RemoteIdSensor(_SensorBase):
    """Remote ID receiver: decoded broadcast position ``[E, N, U]``, serial and operator
    position of broadcasting drones within range, with ``msg_loss`` and a link budget."""

    type: Literal["remote_id"]
    noise: PositionNoise = Field(default_factory=PositionNoise)
    msg_loss: float = Field(default=0.1, ge=0, lt=1)
    sensitivity_dbm: float = Field(default=-95.0, ge=-180, le=0)
    gain_db: float = Field(default=3.0, ge=-20, le=40)


class AdsbSensor(_SensorBase):
    """ADS-B receiver: aircraft positions ``[E, N, U]`` and ICAO address."""

    type: Literal["adsb"]
    noise: PositionNoise = Field(default_factory=lambda: PositionNoise(horizontal_m=15.0, vertical_m=20.0))
    msg_loss: float = Field(default=0.05, ge=0, lt=1)


SensorSpec = Annotated[
    RadarSensor | RfSensor | AcousticSensor | CameraSensor | IrSensor | RemoteIdSensor | AdsbSensor,
    Field(discriminator="type"),
]


# -- targets --------------------------------------------------------------------------


class _TargetBase(_Model):
    name: str = Field(min_length=1, max_length=64)
    start_s: float = Field(default=0.0, ge=0)
    rcs_m2: float | None = Field(default=None, gt=0, le=10_000)


class _Attacker(_TargetBase):
    """Shared by the FPV-like behaviours: fly ``waypoints`` then at ``aim`` (or the centre
    of ``target_zone``; else the last waypoint) with a terminal dive. With ``pop_up_m``
    the attacker climbs to that height above the ground once within ``pop_up_range_m``
    of the aim, to dive from there (the classic low approach and pop-up attack). With
    ``operator_emits`` the operator's ground controller (``operator_link``) is simulated as
    a static target of behaviour ``operator`` that radiates while its drones fly."""

    launch: Position
    waypoints: list[Position] = Field(default_factory=list)
    target_zone: str | None = None
    aim: Position | None = None
    cruise_speed: float = Field(default=30.0, ge=5, le=60)
    altitude_agl_m: float = Field(default=20.0, ge=1, le=500)
    max_turn_rate_dps: float = Field(default=120.0, gt=0, le=720)
    max_bank_deg: float = Field(default=60.0, gt=0, lt=89)
    climb_rate_mps: float = Field(default=8.0, gt=0, le=50)
    dive_angle_deg: float = Field(default=35.0, ge=5, le=90)
    pop_up_m: float = Field(default=0.0, ge=0, le=500)
    pop_up_range_m: float = Field(default=400.0, gt=0, le=5000)
    link: Link = "analog_5g8"
    terminal_autonomy_s: float = Field(default=0.0, ge=0, le=600)
    relay: str | None = None
    operator: Position | None = None
    operator_emits: bool = False
    operator_link: Link = "elrs_2g4"
    role: Literal["threat", "benign"] = "threat"

    @model_validator(mode="after")
    def _has_destination(self) -> _Attacker:
        if self.target_zone is None and self.aim is None and not self.waypoints:
            raise ValueError("give a target_zone, an aim point or waypoints")
        if self.operator_emits and (self.operator_link == "fiber" or self.link == "fiber"):
            raise ValueError(
                "a fibre-guided attack has no radio at the operator: operator_emits must be false"
            )
        return self


class FpvTarget(_Attacker):
    """A first-person-view attack drone (racing-quad class, ~0.01–0.05 m² RCS)."""

    behaviour: Literal["fpv"]


class SwarmTarget(_Attacker):
    """``count`` FPVs launched in ``waves`` every ``wave_interval_s``, side by side
    ``spacing_m`` apart, aiming within ``aim_spread_m`` of a shared target."""

    behaviour: Literal["swarm"]
    count: int = Field(ge=1, le=1000)
    waves: int = Field(default=1, ge=1, le=1000)
    wave_interval_s: float = Field(default=30.0, ge=0)
    spacing_m: float = Field(default=25.0, ge=0, le=2000)
    aim_spread_m: float = Field(default=30.0, ge=0, le=2000)

    @model_validator(mode="after")
    def _waves_fit(self) -> SwarmTarget:
        if self.waves > self.count:
            raise ValueError("waves cannot exceed count")
        return self


class DecoyTarget(_Attacker):
    """A cheap decoy (fixed-wing or multirotor, often with a radar reflector) that flies to
    its target and loiters there in a ``loiter_radius_m`` orbit to draw attention."""

    behaviour: Literal["decoy"]
    cls: Literal["fixed_wing", "multirotor"] = "fixed_wing"
    loiter_radius_m: float = Field(default=150.0, gt=10, le=5000)
    count: int = Field(default=1, ge=1, le=1000)
    spacing_m: float = Field(default=50.0, ge=0, le=2000)
    cruise_speed: float = Field(default=25.0, ge=5, le=60)
    altitude_agl_m: float = Field(default=80.0, ge=1, le=500)


class RelayTarget(_TargetBase):
    """Octocopter relay: climbs to ``altitude_agl_m`` at ``station`` (near the border) and
    hovers, re-transmitting the links of the FPVs that name it in ``relay:``. With
    ``operator_emits`` its operator's ground transmitter (``operator_link``) is simulated
    too, as a target of behaviour ``operator``."""

    behaviour: Literal["relay"]
    launch: Position
    station: Position
    altitude_agl_m: float = Field(default=120.0, ge=10, le=500)
    cruise_speed: float = Field(default=12.0, ge=1, le=40)
    climb_rate_mps: float = Field(default=4.0, gt=0, le=20)
    link: Link = "elrs_900"
    operator: Position | None = None
    operator_emits: bool = False
    operator_link: Link = "elrs_900"
    role: Literal["threat", "benign"] = "threat"

    @model_validator(mode="after")
    def _radio_operator(self) -> RelayTarget:
        if self.operator_emits and self.operator_link == "fiber":
            raise ValueError("operator_link cannot be fiber when operator_emits is true")
        return self


class CompliantTarget(_TargetBase):
    """A survey multirotor flying a lawnmower over a ``area_width_m`` × ``area_height_m``
    rectangle about ``area_center`` (rotated by ``heading_deg``), broadcasting Remote ID
    (``serial``, operator position). ``spoofed_remote_id`` offsets the broadcast position
    by ``spoof_offset_m`` from the truth."""

    behaviour: Literal["compliant"]
    area_center: Position
    area_width_m: float = Field(default=600.0, gt=0, le=20000)
    area_height_m: float = Field(default=400.0, gt=0, le=20000)
    line_spacing_m: float = Field(default=80.0, gt=0, le=5000)
    heading_deg: float = Field(default=0.0, ge=-360, le=360)
    launch: Position | None = None
    altitude_agl_m: float = Field(default=60.0, ge=1, le=500)
    cruise_speed: float = Field(default=8.0, ge=1, le=30)
    link: Link = "digital_ofdm"
    serial: str | None = Field(default=None, min_length=1, max_length=40)
    operator: Position | None = None
    spoofed_remote_id: bool = False
    spoof_offset_m: Annotated[list[float], Len(2, 2)] = Field(default_factory=lambda: [800.0, -500.0])


class BirdTarget(_TargetBase):
    """A flock of ``count`` birds wandering at ``speed_min``–``speed_max`` m/s around
    ``center`` (within ``radius_m``), drifting with the wind."""

    behaviour: Literal["bird"]
    count: int = Field(default=10, ge=1, le=5000)
    center: Position
    radius_m: float = Field(default=500.0, gt=0, le=50000)
    speed_min: float = Field(default=5.0, gt=0, le=40)
    speed_max: float = Field(default=20.0, gt=0, le=40)
    altitude_agl_m: float = Field(default=40.0, ge=1, le=2000)
    flock_spread_m: float = Field(default=30.0, ge=0, le=5000)

    @model_validator(mode="after")
    def _speeds(self) -> BirdTarget:
        if self.speed_min > self.speed_max:
            raise ValueError("speed_min must not exceed speed_max")
        return self


class AircraftTarget(_TargetBase):
    """A straight pass through ``closest_point`` at ``pass_time_s`` (the middle of the
    exercise by default) on ``heading_deg`` at ``altitude_m`` above the site origin,
    broadcasting ADS-B with ``icao`` when ``adsb`` is true."""

    behaviour: Literal["aircraft"]
    closest_point: Position
    heading_deg: float = Field(default=90.0, ge=-360, le=360)
    altitude_m: float = Field(default=3000.0, ge=10, le=20000)
    speed_mps: float = Field(default=220.0, gt=0, le=400)
    pass_time_s: float | None = None
    icao: str = Field(default="4CA1F3", pattern=r"^[0-9A-Fa-f]{6}$")
    callsign: str | None = Field(default=None, max_length=8)
    adsb: bool = True


TargetSpec = Annotated[
    FpvTarget | SwarmTarget | DecoyTarget | RelayTarget | CompliantTarget | BirdTarget | AircraftTarget,
    Field(discriminator="behaviour"),
]


class Scenario(_Model):
    """One exercise: where (``site``, ``extent_m`` half-width of the square site bounds),
    when (``start_time`` epoch seconds, ``duration_s``, ``step_s``, ``time_of_day_h`` or
    ``light`` 0..1), the world (``terrain``, ``wind``, ``zones``) and who is in it."""

    name: str = Field(min_length=1, max_length=128)
    description: str = ""
    site: SiteSpec
    duration_s: float = Field(gt=0, le=86400)
    seed: int = Field(default=0, ge=0, lt=2**63)
    step_s: float = Field(default=1.0, ge=0.01, le=60)
    start_time: float = Field(default=1_767_225_600.0, ge=0, le=4_102_444_800)
    extent_m: float = Field(default=10_000.0, gt=0, le=200_000)
    time_of_day_h: float = Field(
        default=12.0, ge=0, le=24, validation_alias=AliasChoices("time_of_day_h", "time_of_day")
    )
    light: float | None = Field(default=None, ge=0, le=1)
    zones: dict[str, Any] | str | None = None
    sensors: list[SensorSpec] = Field(default_factory=list)
    targets: list[TargetSpec] = Field(default_factory=list)
    terrain: TerrainSpec = Field(default_factory=TerrainSpec)
    wind: WindSpec = Field(default_factory=WindSpec)

    _base_dir: Path | None = PrivateAttr(default=None)
    _source_path: Path | None = PrivateAttr(default=None)
    _source_text: str | None = PrivateAttr(default=None)
    #: (terrain spec, base dir, built terrain): rebuilt when either changes.
    _terrain_cache: tuple[Any, Any, Any] | None = PrivateAttr(default=None)

    @property
    def base_dir(self) -> Path:
        """Directory that ``file:`` references are relative to."""
        return self._base_dir if self._base_dir is not None else Path.cwd()

    @property
    def source_path(self) -> Path | None:
        return self._source_path

    @property
    def source_text(self) -> str | None:
        return self._source_text

    def with_source(self, path: Path | None, text: str | None) -> Scenario:
        """Remember where the scenario was read from (for ``file:`` paths and copies)."""
        self._source_path = path
        self._source_text = text
        self._base_dir = None if path is None else path.parent
        return self

    def cached_terrain(self) -> Any:
        """The terrain built for this scenario's current ``terrain`` spec, if any."""
        c = self._terrain_cache
        if c is not None and c[0] is self.terrain and c[1] == self._base_dir:
            return c[2]
        return None

    def cache_terrain(self, terrain: Any) -> None:
        self._terrain_cache = (self.terrain, self._base_dir, terrain)

    def __eq__(self, other: object) -> bool:
        # Equal scenarios are equal whatever was cached or where they were read from.
        if not isinstance(other, Scenario):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]

    def __getstate__(self) -> dict[Any, Any]:
        # The terrain cache (grids and sensor horizons, megabytes) never travels to worker
        # processes; each rebuilds it once.
        state = super().__getstate__()
        private = state.get("__pydantic_private__")
        if private:
            state["__pydantic_private__"] = {**private, "_terrain_cache": None}
        return state

    def site_frame(self) -> Site:
        return self.site.site()

    def light_level(self) -> float:
        """Ambient light 0 (night) .. 1 (full day): ``light`` or from ``time_of_day_h``."""
        if self.light is not None:
            return float(self.light)
        # Smooth day curve: full light 08-16 h, dark before 05 h and after 19 h.
        h = self.time_of_day_h
        return float(np.clip(np.sin(np.pi * (h - 5.0) / 14.0) * 1.4, 0.0, 1.0)) if 5.0 < h < 19.0 else 0.0

    @property
    def n_steps(self) -> int:
        """Steps after t = 0: the last step is at or before ``duration_s``."""
        return math.floor(self.duration_s / self.step_s + 1e-9)
