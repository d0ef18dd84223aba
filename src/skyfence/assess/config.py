"""`AssessConfig`: every threshold of threat scoring and the alert lifecycle, in one
pydantic model (loadable from YAML) built once by the driver and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from skyfence.model.alert import ThreatLevel
from skyfence.model.classes import CLASSES

__all__ = ["AssessConfig"]

_DEFAULT_CLASS_THREAT = {
    "fpv": 1.0,
    "multirotor": 0.6,
    "fixed_wing": 0.5,
    "bird": 0.0,
    "aircraft": 0.1,
    "unknown": 0.2,
}


class AssessConfig(BaseModel):
    """Thresholds of threat scoring and alerting (scores are in ``[0, 1]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Prediction.
    horizon_s: float = Field(120.0, gt=0, description="look-ahead for entering a zone")
    samples: int = Field(24, ge=2, description="state samples for the probability of entering")
    assess_tentative: bool = Field(False, description="score tentative tracks too")

    # Hostility: how much a track looks like an attacker.
    class_threat: dict[str, float] = Field(default_factory=lambda: dict(_DEFAULT_CLASS_THREAT))
    unclassified_threat: float = Field(
        0.2, ge=0, le=1, description="class threat of a track whose class probabilities are uninformative"
    )
    class_confidence_power: float = Field(
        2.0,
        ge=0,
        description="class confidence (top probability above uniform, 0..1) to this power: a hesitant "
        "classifier (FPV 0.6, multirotor 0.3) counts for little, a sure one (FPV 0.99) for nearly all",
    )
    rf_silent_bonus: float = 0.2
    swarm_bonus: float = 0.15
    speed_bonus: float = 0.1
    speed_ref_mps: float = Field(30.0, gt=0, description="closing speed that earns the full speed bonus")
    spoof_bonus: float = 0.35
    compliant_factor: float = Field(0.2, ge=0, le=1, description="hostility factor for an allow-listed drone")
    # Track support: a track no radar, camera or microphone has updated lately is held by
    # RF bearings alone and may be a ghost where bearings of other emitters cross; a track
    # far below the ground is a bad estimate (a ghost or one that jumped between birds).
    passive_support_s: float = Field(
        10.0,
        gt=0,
        description="a track whose attr passive_age_s (seconds since a passive sensor updated it) "
        "exceeds this is 'RF bearings only'",
    )
    min_passive_share: float = Field(
        0.3,
        ge=0,
        le=1,
        description="... or whose attr passive_share (recent share of time a passive sensor held it) "
        "is below this",
    )
    bearing_only_factor: float = Field(
        0.25, ge=0, le=1, description="hostility factor for a track held by RF bearings alone"
    )
    below_ground_m: float = Field(
        30.0,
        ge=0,
        description="a track whose height above ground plus 3 sigma is below minus this is implausible",
    )
    implausible_factor: float = Field(
        0.3, ge=0, le=1, description="hostility factor for a track flying implausibly (under the ground)"
    )

    # Levels: score thresholds to enter medium, high and critical; leaving needs
    # ``hysteresis`` less for ``down_dwell_s`` (so a noisy score does not flap).
    level_enter: tuple[float, float, float] = (0.25, 0.5, 0.75)
    hysteresis: float = Field(0.08, ge=0, lt=0.25)
    open_level: ThreatLevel = ThreatLevel.MEDIUM
    open_dwell_s: float = Field(1.0, ge=0, description="score must stay at open_level this long")
    min_track_age_s: float = Field(
        5.0, ge=0, description="a track younger than this opens no alert below critical (short-lived clutter)"
    )
    down_dwell_s: float = Field(5.0, ge=0)
    close_dwell_s: float = Field(10.0, ge=0, description="below the exit threshold this long resolves")
    swarm_member_alerts: bool = Field(
        False, description="also alert on each swarm member (default: one group alert per swarm)"
    )

    # Remote ID.
    spoof_distance_m: float = Field(150.0, gt=0, description="Remote ID vs track distance marking a spoof")
    spoof_sigma: float = Field(4.0, gt=0, description="... or this many track position sigmas if larger")

    # Launch point.
    climb_rate_mps: float = Field(3.0, gt=0, description="assumed climb when the track has no vertical rate")
    assumed_agl_m: float = Field(50.0, gt=0, description="assumed height when the track has no altitude")
    unseen_median_s: float = Field(
        45.0, ge=0, description="median time a track first seen airborne flew before it was picked up"
    )
    unseen_sigma: float = Field(0.8, ge=0, description="log-normal spread of that time")
    max_back_s: float = Field(300.0, gt=0)
    max_launch_axis_m: float = Field(
        5000.0, gt=0, description="launch ellipses with a longer semi-major axis are not reported"
    )
    history_len: int = Field(6, ge=1, description="earliest snapshots kept per track")

    @field_validator("class_threat")
    @classmethod
    def _classes(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(CLASSES))
        if unknown:
            raise ValueError(f"unknown class(es) {', '.join(unknown)}; expected {', '.join(CLASSES)}")
        return {c: float(value.get(c, _DEFAULT_CLASS_THREAT[c])) for c in CLASSES}

    @model_validator(mode="after")
    def _order(self) -> AssessConfig:
        a, b, c = self.level_enter
        if not 0 < a < b < c <= 1:
            raise ValueError("level_enter must be increasing within (0, 1]")
        return self

    @classmethod
    def from_yaml(cls, path: str | Path) -> AssessConfig:
        from skyfence.settings import load_settings

        return load_settings(cls, path, "assessment settings")
