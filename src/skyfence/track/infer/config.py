"""Settings of the inference layer (class fusion, RF-silent, relay, swarm), with the
reason for each default. Loaded as a part of the tracker's YAML or built in code."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from skyfence.model.classes import CLASSES, N_CLASSES

__all__ = [
    "ClassifyConfig",
    "InferConfig",
    "KinematicBand",
    "RelayConfig",
    "RfSilentConfig",
    "SwarmConfig",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KinematicBand(_Strict):
    """A soft interval density: flat on ``[lo, hi]`` with Gaussian shoulders of width
    ``sigma`` outside, normalised to integrate to one (so a narrow class is rewarded
    more for a value inside it than a broad one)."""

    lo: float
    hi: float
    sigma: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> KinematicBand:
        if self.hi < self.lo:
            raise ValueError(f"hi ({self.hi}) must not be below lo ({self.lo})")
        return self


def _bands(**by_class: tuple[float, float, float]) -> dict[str, KinematicBand]:
    return {c: KinematicBand(lo=v[0], hi=v[1], sigma=v[2]) for c, v in by_class.items()}


class ClassifyConfig(_Strict):
    """Recursive Bayesian class fusion.

    Evidence is summed in log space per track; before each step the accumulated log
    posterior is tempered by ``exp(-dt / forget_tau_s)`` (old evidence fades) and every
    class keeps at least ``prob_floor`` so that one bad step can never lock a class.
    """

    prior: list[float] = Field(
        default=[0.2, 0.2, 0.1, 0.2, 0.1, 0.2],
        description="prior probability per class in CLASSES order (normalised on use)",
    )
    forget_tau_s: float = Field(30.0, gt=0, description="time constant of evidence forgetting")
    prob_floor: float = Field(
        0.002, ge=0, lt=1.0 / N_CLASSES, description="minimum probability per class after each step"
    )
    sensor_weight: float = Field(
        0.5,
        ge=0,
        description="exponent on sensors' per-detection class likelihoods (frames of one camera are "
        "not independent, so each counts for less than a full observation)",
    )
    sensor_tau_s: float = Field(
        1.0,
        gt=0,
        description="sensor class likelihoods count at most once per this many seconds per track "
        "(a 5 Hz camera's frames are not five independent looks)",
    )
    emission_tau_s: float = Field(
        5.0,
        gt=0,
        description="emission evidence (protocol, Remote ID, ADS-B) counts at most once per this many "
        "seconds per track: hearing one emitter every scan is one fact, not many",
    )
    smooth_tau_s: float = Field(
        4.0, gt=0, description="time constant of the exponential averages of speed, climb, turn rate"
    )
    kin_tau_s: float = Field(
        10.0,
        gt=0,
        description="kinematic log-likelihoods are added with weight dt/kin_tau_s per step: the "
        "smoothed features repeat information, so they count once per kin_tau_s",
    )
    turn_min_speed_mps: float = Field(
        3.0, ge=0, description="below this speed the heading is noise: turn rate gets no weight"
    )
    hover_speed_mps: float = Field(2.5, ge=0, description="speed under which a track is hovering")
    hover_sigma_factor: float = Field(
        1.5,
        ge=0,
        description="a track hovers while its speed is under hover_speed_mps plus this many velocity sigmas",
    )
    hover_max_sigma_mps: float = Field(
        6.0, gt=0, description="a track whose velocity is less known is not judged"
    )
    max_feature_penalty: float = Field(
        6.0,
        gt=0,
        description="most a single feature may count against a class (nats): filters do produce wild "
        "estimates (the height of a bearing-only track), and one such must not decide alone",
    )
    hover_decay_s: float = Field(
        20.0, gt=0, description="hover dwell falls back at this rate (s per s) once moving"
    )
    dive_decay_tau_s: float = Field(30.0, gt=0, description="memory of the steepest dive seen")
    speed_sigma_ref_mps: float = Field(
        3.0,
        gt=0,
        description="velocity standard deviation at which kinematic evidence counts half (a "
        "track whose velocity is poorly known says little about speed or turn rate)",
    )
    alt_sigma_ref_m: float = Field(
        30.0, gt=0, description="height standard deviation at which altitude evidence counts half"
    )
    speed: dict[str, KinematicBand] = Field(
        default_factory=lambda: _bands(
            fpv=(15.0, 45.0, 4.0),
            multirotor=(0.0, 12.0, 4.0),
            fixed_wing=(14.0, 30.0, 6.0),
            bird=(4.0, 18.0, 2.5),
            aircraft=(45.0, 280.0, 20.0),
            unknown=(0.0, 400.0, 100.0),
        ),
        description="horizontal speed (m/s) density per class",
    )
    height: dict[str, KinematicBand] = Field(
        default_factory=lambda: _bands(
            fpv=(1.0, 60.0, 25.0),
            multirotor=(0.0, 150.0, 60.0),
            fixed_wing=(50.0, 600.0, 25.0),
            bird=(0.0, 150.0, 60.0),
            aircraft=(300.0, 12000.0, 250.0),
            unknown=(0.0, 15000.0, 2000.0),
        ),
        description="height above ground (m) density per class",
    )
    climb: dict[str, KinematicBand] = Field(
        default_factory=lambda: _bands(
            fpv=(0.0, 8.0, 5.0),
            multirotor=(0.0, 3.0, 2.0),
            fixed_wing=(0.0, 3.0, 2.0),
            bird=(0.0, 2.0, 1.5),
            aircraft=(0.0, 12.0, 5.0),
            unknown=(0.0, 30.0, 10.0),
        ),
        description="smoothed absolute climb rate (m/s) density per class",
    )
    dive: dict[str, KinematicBand] = Field(
        default_factory=lambda: _bands(
            fpv=(0.0, 25.0, 10.0),
            multirotor=(0.0, 3.0, 2.0),
            fixed_wing=(0.0, 5.0, 3.0),
            bird=(0.0, 3.0, 2.0),
            aircraft=(0.0, 10.0, 5.0),
            unknown=(0.0, 40.0, 15.0),
        ),
        description="steepest recent descent rate (m/s, decaying memory) density per class",
    )
    turn: dict[str, KinematicBand] = Field(
        default_factory=lambda: _bands(
            fpv=(0.0, 0.8, 0.5),
            multirotor=(0.0, 0.5, 0.4),
            fixed_wing=(0.0, 0.2, 0.1),
            bird=(0.03, 0.5, 0.25),
            aircraft=(0.0, 0.04, 0.04),
            unknown=(0.0, 2.0, 1.0),
        ),
        description="smoothed turn rate (rad/s) density per class",
    )
    hover: dict[str, KinematicBand] = Field(
        default_factory=lambda: _bands(
            fpv=(0.0, 15.0, 15.0),
            multirotor=(0.0, 3600.0, 600.0),
            fixed_wing=(0.0, 1.0, 2.0),
            bird=(0.0, 10.0, 10.0),
            aircraft=(0.0, 1.0, 2.0),
            unknown=(0.0, 3600.0, 600.0),
        ),
        description="hover dwell (s) envelope per class: only rotorcraft hover for long",
    )
    feature_weight: dict[str, float] = Field(
        default_factory=lambda: {
            "speed": 2.0,
            "height": 1.0,
            "climb": 1.0,
            "dive": 1.0,
            "turn": 0.5,
            "hover": 1.0,
        },
        description="weight of each kinematic feature's log-likelihood (speed separates bird, FPV "
        "and aircraft best; turn rate from filtered velocities is the noisiest)",
    )
    envelopes: list[str] = Field(
        default=["climb", "dive", "turn", "hover"],
        description="features judged as envelopes rather than densities: any value inside a "
        "class's band is fully plausible (likelihood 1) and only leaving it is penalised; right "
        "for features where a small value says nothing (an FPV may fly straight and level)",
    )
    link_protocols: list[str] = Field(
        default=[
            "elrs_900",
            "elrs_2g4",
            "analog_5g8",
            "digital_ofdm",
            "crossfire",
            "elrs",
            "analog",
            "analog_video",
            "ofdm_video",
        ],
        description="RF protocols of FPV control/video links",
    )
    protocol_lik: dict[str, list[float]] = Field(
        default_factory=lambda: {
            "digital_ofdm": [1.5, 3.0, 1.0, 0.03, 0.05, 1.0],
            "ofdm_video": [1.5, 3.0, 1.0, 0.03, 0.05, 1.0],
        },
        description="per-protocol likelihoods overriding link_lik (digital OFDM video is what camera "
        "multirotors such as survey drones use, so it points to a multirotor rather than an FPV; FPV "
        "evidence comes from ELRS or analog video)",
    )
    link_lik: list[float] = Field(
        default=[12.0, 1.5, 1.0, 0.03, 0.05, 1.0],
        description="likelihood of one associated FPV-link emission per class",
    )
    rf_other_lik: list[float] = Field(
        default=[1.5, 2.0, 1.5, 0.03, 0.3, 1.0],
        description="likelihood of one associated RF emission of another protocol per class",
    )
    bearing_clutter_density: float = Field(
        0.05,
        gt=0,
        description="density (per radian) of emitters no track explains, against which an associated "
        "RF bearing's own likelihood is weighed: a bearing that fits two tracks counts half for each. "
        "Used for RF silence (an emission resets it)",
    )
    class_clutter_density: float = Field(
        1.0,
        gt=0,
        description="the same density when a bearing is weighed as evidence of class: a bearing repeats "
        "every scan and a bird alone on the line of an untracked (or badly tracked) emitter would "
        "otherwise take its protocol as its class; at 1 per radian a bird (emitter_floor) exactly on a "
        "3-degree bearing stays under min_evidence_confidence, an FPV-like track does not",
    )
    min_evidence_confidence: float = Field(
        0.6,
        ge=0,
        le=1,
        description="an associated emission counts as class evidence only when it is this likely "
        "to be the track's own (see bearing_clutter_density)",
    )
    emitter_floor: float = Field(
        0.05,
        gt=0,
        le=1,
        description="least prior weight of a track as the source of a bearing (birds radiate nothing "
        "but a misclassified bird must still be able to explain one)",
    )
    remote_id_lik: list[float] = Field(
        default=[0.1, 15.0, 3.0, 0.01, 0.05, 1.0],
        description="likelihood of one associated Remote ID message (serial) per class",
    )
    adsb_lik: list[float] = Field(
        default=[0.01, 0.01, 0.05, 0.001, 50.0, 0.5],
        description="likelihood of one associated ADS-B report (ICAO address) per class",
    )
    relay_lik: list[float] = Field(
        default=[0.2, 5.0, 0.5, 0.05, 0.05, 1.0],
        description="per-second likelihood applied to a recognised relay (relays are multirotors)",
    )

    @field_validator("prior", "link_lik", "rf_other_lik", "remote_id_lik", "adsb_lik", "relay_lik")
    @classmethod
    def _per_class(cls, v: list[float]) -> list[float]:
        if len(v) != N_CLASSES or any(not x >= 0 for x in v) or sum(v) <= 0:
            raise ValueError(f"needs {N_CLASSES} non-negative values in order {', '.join(CLASSES)}")
        return v

    @field_validator("protocol_lik")
    @classmethod
    def _per_protocol(cls, v: dict[str, list[float]]) -> dict[str, list[float]]:
        for name, lik in v.items():
            if len(lik) != N_CLASSES or any(not x >= 0 for x in lik) or sum(lik) <= 0:
                raise ValueError(
                    f"{name}: needs {N_CLASSES} non-negative values in order {', '.join(CLASSES)}"
                )
        return v

    @field_validator("speed", "height", "climb", "dive", "turn", "hover")
    @classmethod
    def _all_classes(cls, v: dict[str, KinematicBand]) -> dict[str, KinematicBand]:
        missing = [c for c in CLASSES if c not in v]
        extra = [c for c in v if c not in CLASSES]
        if missing or extra:
            raise ValueError(
                f"needs one band per class ({', '.join(CLASSES)}); missing {missing}, unknown {extra}"
            )
        return v


class RfSilentConfig(_Strict):
    """RF-silent inference: a Bayesian update of "this FPV-like track radiates no RF"
    from every RF sensor scan that covers it and finds no emission for it."""

    emitter_prob: list[float] = Field(
        default=[0.9, 0.85, 0.8, 0.0, 0.0, 0.3],
        description="prior probability per class (CLASSES order) that a target radiates on the RF "
        "sensors' bands: 1 - P(fiber or autonomous) for FPVs, never birds; aircraft talk on "
        "other bands",
    )
    pd_per_scan: float = Field(
        0.25,
        gt=0,
        lt=1,
        description="chance that one scan of an RF sensor both detects an emitting FPV's link and "
        "associates it to the track (used when the sensor's params give no 'pd'); links are bursty "
        "and bearings often fail to gate, so this is well below a detector's raw Pd",
    )
    pd_scale: float = Field(
        0.5, gt=0, le=1, description="factor on a sensor's own 'pd' param for the same reason"
    )
    coverage_fraction: float = Field(
        0.8, gt=0, le=1, description="a track is covered inside this fraction of an RF sensor's range"
    )
    default_rate_hz: float = Field(1.0, gt=0, description="scan rate when a sensor gives none")
    min_silent_s: float = Field(
        8.0, ge=0, description="silent time in coverage before any rf_silent probability is reported"
    )
    max_step_s: float = Field(
        5.0, gt=0, description="longest gap one step may credit (a long gap is not many missed scans)"
    )
    max_stale_s: float = Field(
        3.0, gt=0, description="a track not updated by any sensor for this long gathers no evidence"
    )
    emission_sensor_types: list[str] = Field(
        default=["rf", "remote_id", "adsb"], description="sensor types whose detections are emissions"
    )
    ignore_protocols: list[str] = Field(
        default=["unknown"],
        description="RF detections with these protocols are not taken as the track's emission (a "
        "direction finder's unclassified false alarms would otherwise end every silence)",
    )
    emission_sure: float = Field(
        0.7,
        gt=0,
        le=1,
        description="association confidence of an emission that resets silence (a bearing is "
        "ambiguous when several tracks lie on its line)",
    )
    max_llr: float = Field(12.0, gt=0, description="cap on the accumulated evidence of silence (nats)")
    line_of_sight: bool = Field(True, description="mask coverage by terrain when terrain is given")
    height_known_sigma_m: float = Field(
        100.0, gt=0, description="terrain masks coverage only for tracks whose height is this well known"
    )

    @field_validator("emitter_prob")
    @classmethod
    def _per_class(cls, v: list[float]) -> list[float]:
        if len(v) != N_CLASSES or any(not 0 <= x <= 1 for x in v):
            raise ValueError(f"needs {N_CLASSES} probabilities in order {', '.join(CLASSES)}")
        return v


class RelayConfig(_Strict):
    """Relay recognition: a hovering multirotor with link emissions near the border that
    serves FPVs flying beyond their operator's line of sight."""

    max_speed_mps: float = Field(3.0, gt=0, description="smoothed speed under which a track hovers")
    speed_sigma_factor: float = Field(
        1.5,
        ge=0,
        description="... plus this many velocity sigmas (a relay held by RF bearings alone keeps "
        "several m/s of velocity noise)",
    )
    min_height_m: float = Field(40.0, description="relays climb to see far; lower hover is not a relay")
    min_dwell_s: float = Field(20.0, ge=0, description="hover dwell before a track can be a relay")
    rf_recent_s: float = Field(
        15.0, gt=0, description="a link emission associated within this time makes a relay candidate"
    )
    border_distance_m: float = Field(
        3000.0, gt=0, description="a relay hovers within this distance of a border zone (if zones given)"
    )
    service_radius_m: float = Field(12000.0, gt=0, description="FPVs within this range may be served")
    operator_los_m: float = Field(
        1000.0,
        gt=0,
        description="an FPV further than this inside the border is beyond its operator's line of "
        "sight (operators stand on the far side); without zones every FPV in range qualifies",
    )
    min_fpv_prob: float = Field(0.4, ge=0, le=1, description="FPV probability to be linked to a relay")
    operator_min_sep_rad: float = Field(
        0.12, gt=0, description="an unassociated bearing this far off the relay's direction is a ground link"
    )
    operator_standoff_m: float = Field(
        1500.0, gt=0, description="assumed operator distance beyond the border (single bearing case)"
    )
    protocol_memory_s: float = Field(
        30.0, gt=0, description="time constant of the evidence behind a track's remembered link protocol"
    )
    passive_recent_s: float = Field(
        8.0,
        gt=0,
        description="relay and FPV must have been updated by a passive sensor (radar, camera, "
        "microphone) this recently: tracks held by RF bearings alone may be ghosts",
    )
    hold_s: float = Field(20.0, ge=0, description="a relay keeps its flag this long after evidence stops")
    bearing_smooth: float = Field(0.3, gt=0, le=1, description="weight of a new operator bearing estimate")
    interval_s: float = Field(
        1.0,
        ge=0,
        description="relays and their chains are decided at most once per this many seconds of track "
        "time, and at every update that brings RF bearings (the operator's ground link is only seen in "
        "them); between decisions the flags, links and operator bearings are carried by track id and a "
        "new track has none. Relays hover for minutes: a second is far inside what an operator needs, "
        "and it spares the decision on the updates of other sensors (0: every update)",
    )


class SwarmConfig(_Strict):
    """Swarm grouping over FPV-like tracks: an edge joins two tracks that are close and
    move alike; connected components of at least ``min_size`` tracks are groups."""

    min_fpv_prob: float = Field(
        0.5,
        ge=0,
        le=1,
        description="FPV probability needed to join a group (members stay down to this over "
        "keep_factor); bird flocks move coherently too and must stay out",
    )
    max_distance_m: float = Field(400.0, gt=0, description="largest spacing between neighbours")
    max_heading_diff_rad: float = Field(0.5, gt=0, description="largest course difference")
    max_speed_diff_mps: float = Field(6.0, gt=0, description="largest speed difference (absolute part)")
    max_speed_diff_frac: float = Field(0.3, ge=0, description="largest speed difference (relative part)")
    min_speed_mps: float = Field(4.0, ge=0, description="slower tracks have no usable course")
    keep_factor: float = Field(
        1.5, ge=1, description="thresholds are relaxed by this factor for pairs already grouped"
    )
    min_size: int = Field(3, ge=2, description="smallest group that is a swarm")
    max_height_diff_m: float = Field(
        50.0,
        gt=0,
        description="largest height difference between neighbours when both heights are known: decoys "
        "loitering at 120 m over the same ground as a swarm skimming at 20 m are not its members",
    )
    height_known_sigma_m: float = Field(
        30.0, gt=0, description="a height is known when its standard deviation is under this"
    )
    passive_recent_s: float = Field(
        8.0, gt=0, description="members must have been updated by a passive sensor this recently"
    )
    interval_s: float = Field(
        1.0,
        ge=0,
        description="groups are formed at most once per this many seconds of track time; between, each "
        "track keeps its group id and a new track has none. A swarm forms and splits over many seconds: "
        "a second is far inside what an operator needs, and it spares the grouping on most updates of "
        "a multi-sensor picture (0: every update)",
    )


class InferConfig(_Strict):
    """All settings of :class:`~skyfence.track.infer.TrackInference`."""

    classify: ClassifyConfig = Field(default_factory=ClassifyConfig)
    rf_silent: RfSilentConfig = Field(default_factory=RfSilentConfig)
    relay: RelayConfig = Field(default_factory=RelayConfig)
    swarm: SwarmConfig = Field(default_factory=SwarmConfig)
    passive_share_tau_s: float = Field(
        15.0,
        gt=0,
        description="time constant of passive_share: the recent share of time a radar, camera or "
        "microphone updated the track (a track held by RF bearings with a stray camera or microphone "
        "plot now and then is still mostly a bearing track)",
    )
    passive_fresh_s: float = Field(
        2.0, gt=0, description="a passive update this recent counts as holding the track now"
    )
