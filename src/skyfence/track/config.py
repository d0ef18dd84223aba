"""Tracker settings (pydantic, loadable from YAML) and the tracker's own error types."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from skyfence.errors import SkyfenceError
from skyfence.track.infer.config import InferConfig

__all__ = [
    "AssociationConfig",
    "InvalidDetectionError",
    "ManagementConfig",
    "MotionConfig",
    "TrackerConfig",
    "UnknownSensorError",
]


class InvalidDetectionError(SkyfenceError):
    """A detection with NaN/inf values or a covariance that is not positive definite."""


class UnknownSensorError(SkyfenceError):
    """A detection from a sensor the registry does not know (or whose position is needed)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MotionConfig(_Strict):
    """Process noise (white acceleration spectral density, m^2/s^3) and the IMM modes."""

    model: Literal["cv", "imm"] = "cv"
    q_horizontal: float = Field(1.0, gt=0)
    q_vertical: float = Field(0.5, gt=0)
    #: IMM coordinated-turn rate (rad/s); modes are CV, CT(+w), CT(-w), manoeuvre/hover.
    turn_rate: float = Field(0.6, gt=0)
    #: Process noise of the manoeuvre (near-hover / dive) mode, m^2/s^3.
    q_manoeuvre: float = Field(20.0, gt=0)
    #: Velocity decay time constant of the near-hover mode, s.
    hover_tau_s: float = Field(2.0, gt=0)
    #: Expected time between mode switches, s (sets the IMM transition matrix).
    mode_sojourn_s: float = Field(8.0, gt=0)


class AssociationConfig(_Strict):
    method: Literal["gnn", "jpda"] = "gnn"
    #: Chi-square gate probability (per measurement dimension the threshold follows).
    gate_probability: float = Field(0.999, gt=0.5, lt=1.0)
    #: Nonlinear measurements (polar, bearing): extended or unscented Kalman update.
    nonlinear: Literal["ekf", "ukf"] = "ekf"
    #: Probability of detection and clutter density (per m^2 or per rad) for JPDA.
    pd: float = Field(0.9, gt=0, le=1)
    clutter_density: float = Field(1e-7, gt=0)
    #: Largest gate radius the spatial index searches, m.
    max_gate_m: float = Field(2000.0, gt=0)


class ManagementConfig(_Strict):
    """M-of-N confirmation, coasting and deletion."""

    confirm_m: int = Field(3, ge=1, le=60)
    confirm_n: int = Field(4, ge=1, le=60)
    #: Consecutive missed opportunities after which a confirmed track is deleted.
    delete_misses: int = Field(4, ge=1)
    #: ...but only once it has gone this long without an update (fast sensors miss often).
    min_coast_s: float = Field(2.0, ge=0)
    #: A sensor's silence counts as a miss only if it saw the track within this many seconds.
    miss_window_s: float = Field(5.0, gt=0)
    #: A track not updated for this long is deleted whatever the misses count.
    max_coast_s: float = Field(8.0, gt=0)
    #: Delete when the horizontal position standard deviation grows beyond this, m.
    max_position_sigma_m: float = Field(500.0, gt=0)
    #: Initial velocity standard deviation of a one-point track, m/s.
    initial_speed_sigma_m_s: float = Field(30.0, gt=0)
    #: Variance used for an unobserved height (2-D tracking), m^2.
    unobserved_height_var: float = Field(1.0e6, gt=0)
    #: Bearings of different sensors within this many seconds may be triangulated.
    triangulation_window_s: float = Field(1.5, ge=0)
    #: Smallest crossing angle of two bearings used to triangulate, degrees.
    triangulation_min_angle_deg: float = Field(8.0, gt=0, lt=90)
    #: Surveillance height band (m, site ENU U): 3-D point detections outside it are
    #: dropped (unless identified, e.g. ADS-B) and tracks that leave it are deleted.
    floor_m: float = -300.0
    ceiling_m: float = 3000.0
    #: Sizes (smallest, largest; m) of the objects a camera bearing may be, e.g.
    #: ``[0.15, 3.0]``: with the camera's radians per pixel and the detection's apparent
    #: size (``pixels``) they bound how far the object can be, and triangulation keeps
    #: only crossings inside that interval (two cameras on two far-off objects cross
    #: close by). Off by default: on the shipped exercises the effect is within the
    #: run-to-run spread (docs/track.md).
    camera_size_m: tuple[float, float] | None = None
    #: Assumed height of a bearing-only target when no sensor measures elevation, m.
    default_height_m: float = Field(50.0)
    #: Band (m above ground: terrain if given, else site level) that the height of a
    #: track no sensor has measured the height of (RF azimuths only) is kept in.
    unobserved_height_band_m: tuple[float, float] = (0.0, 300.0)
    #: A track's height counts as observed (``attrs['height_observed']``) only while its
    #: standard deviation is at most this, m (a far acoustic elevation measures little).
    height_observed_sigma_m: float = Field(150.0, gt=0)

    @model_validator(mode="after")
    def _band_ordered(self) -> ManagementConfig:
        lo, hi = self.unobserved_height_band_m
        if not lo < hi:
            raise ValueError(f"unobserved_height_band_m: expected lower < upper, got [{lo}, {hi}]")
        if self.camera_size_m is not None:
            small, large = self.camera_size_m
            if not 0 < small <= large:
                raise ValueError(f"camera_size_m: expected 0 < smallest <= largest, got [{small}, {large}]")
        return self


class TrackerConfig(_Strict):
    """Everything the tracker can be told. ``TrackerConfig.from_yaml(path)`` reads a file."""

    motion: MotionConfig = MotionConfig()
    association: AssociationConfig = AssociationConfig()
    management: ManagementConfig = ManagementConfig()
    #: Batches are held this long (s, after the newest time seen) and released in time order.
    latency_s: float = Field(0.0, ge=0)
    #: Count and drop invalid detections instead of raising.
    skip_invalid: bool = False
    #: Run track inference (classification, RF-silent, relay, swarm); needs ``skyfence.track.infer``.
    run_inference: bool = True
    #: Settings of ``skyfence.track.infer.TrackInference``.
    infer: InferConfig = Field(default_factory=InferConfig)

    @classmethod
    def from_yaml(cls, path: str | Path) -> TrackerConfig:
        from skyfence.settings import load_settings

        return load_settings(cls, path, "tracker settings")
