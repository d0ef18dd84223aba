"""Threat score per (track, zone) as array operations, and the operator's reason text.

``score = hostility[N] × proximity[N, Z] × priority_factor[Z]``:

- hostility: how much the track looks like an attacker — class probabilities weighted by
  ``class_threat`` (shrunk towards ``unclassified_threat`` when the classifier is
  uncertain), plus RF-silence, swarm membership, closing speed and a spoofed Remote ID;
  an allow-listed compliant drone is scaled down;
- proximity: inside the zone is 1, else the probability of entering within the horizon,
  discounted by how long it takes;
- zone priority: higher-priority zones weigh more.

A product, so a far-away FPV and a bird inside the zone both stay low.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from skyfence.assess.config import AssessConfig
from skyfence.assess.geometry import ZoneGeometry, ZoneSet, zone_geometry
from skyfence.model.alert import LEVELS, ThreatLevel
from skyfence.model.classes import CLASSES, N_CLASSES, TargetClass
from skyfence.model.tracks import Tracks

__all__ = ["CLASS_LABELS", "ThreatPicture", "level_of", "score_tracks", "track_support"]

CLASS_LABELS: tuple[str, ...] = ("FPV", "multirotor", "fixed-wing", "bird", "aircraft", "unknown")

_DRONE = np.zeros(N_CLASSES)
_DRONE[[TargetClass.FPV, TargetClass.MULTIROTOR, TargetClass.FIXED_WING]] = 1.0


def level_of(
    score: NDArray[np.float64], enter: tuple[float, float, float], offset: float = 0.0
) -> NDArray[np.int8]:
    """Level index (0 low … 3 critical) of each score against thresholds lowered by ``offset``."""
    th = np.asarray(enter) - offset
    out: NDArray[np.int8] = np.searchsorted(th, score, side="right").astype(np.int8)
    return out


@dataclass(frozen=True, slots=True, eq=False)
class ThreatPicture:
    """Scores of ``N`` tracks against ``Z`` zones at ``t``, with what explains them."""

    t: float
    tracks: Tracks
    zones: ZoneSet
    geometry: ZoneGeometry
    hostility: NDArray[np.float64]
    confidence: NDArray[np.float64]
    proximity: NDArray[np.float64]
    score: NDArray[np.float64]
    level: NDArray[np.int8]
    spoofed: NDArray[np.bool_]
    rid_offset_m: NDArray[np.float64]
    compliant: NDArray[np.bool_]
    bearing_only: NDArray[np.bool_]
    implausible: NDArray[np.bool_]

    def reason(self, i: int, z: int, extra: tuple[str, ...] = ()) -> str:
        """Short operator text, e.g. ``FPV 0.92, RF-silent, 38 m/s toward Site B, 41 s to zone``."""
        tr = self.tracks
        g = self.geometry
        parts: list[str] = []
        c = int(np.argmax(tr.cls_prob[i]))
        parts.append(f"{CLASS_LABELS[c]} {tr.cls_prob[i, c]:.2f}")
        if tr.rf_silent[i] >= 0.5:
            parts.append("RF-silent")
        if tr.relay[i]:
            parts.append("relay")
        if self.bearing_only[i]:
            parts.append("RF bearings only")
        if self.implausible[i]:
            parts.append("height implausible")
        if self.spoofed[i]:
            off = self.rid_offset_m[i]
            parts.append(
                f"Remote ID spoofed ({off:.0f} m off track)" if np.isfinite(off) else "Remote ID spoofed"
            )
        elif self.compliant[i]:
            parts.append(f"Remote ID compliant {tr.identity[i]}")
        elif tr.identity[i]:
            parts.append(f"ID {tr.identity[i]} not on allow-list")
        zone = self.zones.zones[z]
        speed = math.hypot(float(tr.x[i, 3]), float(tr.x[i, 4]))
        if g.inside[i, z]:
            parts.append(f"{speed:.0f} m/s inside {zone.name}")
        elif g.closing_speed[i, z] > 0.5:
            parts.append(f"{speed:.0f} m/s toward {zone.name}")
        else:
            parts.append(f"{speed:.0f} m/s, {g.distance_m[i, z]:.0f} m from {zone.name}")
        ttz = g.time_to_zone[i, z]
        if 0 < ttz < math.inf:
            parts.append(f"{ttz:.0f} s to zone")
        if not g.inside[i, z]:
            parts.append(f"P(enter) {g.p_enter[i, z]:.2f}")
        parts.extend(extra)
        return ", ".join(parts)


def track_support(
    tracks: Tracks, config: AssessConfig
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_]]:
    """Per track: the hostility factor for how well the track is supported, whether it is
    held by RF bearings alone, and whether its height is implausible (far underground).

    Uses the tracker's ``passive_age_s``, ``passive_share`` and ``height_agl_m`` attrs; without them every
    track counts as supported."""
    n = len(tracks)
    attrs = tracks.attrs
    bearing_only = np.zeros(n, dtype=bool)
    implausible = np.zeros(n, dtype=bool)
    if "passive_age_s" in attrs:
        age = np.asarray(attrs["passive_age_s"], dtype=np.float64).reshape(n)
        # An identity (Remote ID serial, ADS-B address) is a position report of its own.
        weak = age > config.passive_support_s
        if "passive_share" in attrs:
            share = np.asarray(attrs["passive_share"], dtype=np.float64).reshape(n)
            weak = weak | (share < config.min_passive_share)
        bearing_only = weak & (tracks.identity == "")
    if "height_agl_m" in attrs and n:
        agl = np.asarray(attrs["height_agl_m"], dtype=np.float64).reshape(n)
        sz = np.sqrt(np.clip(tracks.P[:, 2, 2], 0.0, None))
        implausible = np.isfinite(agl) & (agl + 3.0 * sz < -config.below_ground_m)
    factor = np.where(bearing_only, config.bearing_only_factor, 1.0) * np.where(
        implausible, config.implausible_factor, 1.0
    )
    return factor, bearing_only, implausible


def score_tracks(
    tracks: Tracks,
    zones: ZoneSet,
    config: AssessConfig,
    spoofed: NDArray[np.bool_],
    compliant: NDArray[np.bool_],
    rid_offset_m: NDArray[np.float64] | None = None,
) -> ThreatPicture:
    n = len(tracks)
    nz = len(zones)
    w = np.array([config.class_threat[c] for c in CLASSES])
    p = np.clip(tracks.cls_prob, 1e-12, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    # Confidence: how far the top class stands above a uniform guess (0 for a uniform
    # vector, 1 for a certain one), raised to a power so a hesitant classifier counts for
    # little: clutter with an uninformative class cannot score like a drone.
    top = p.max(axis=1) if n else np.zeros(0)
    conf = (
        np.clip((top - 1.0 / N_CLASSES) / (1.0 - 1.0 / N_CLASSES), 0.0, 1.0) ** config.class_confidence_power
    )
    cls_threat = conf * (p @ w) + (1.0 - conf) * config.unclassified_threat
    p_drone = p @ _DRONE
    base = (
        cls_threat
        + config.rf_silent_bonus * tracks.rf_silent * p_drone * conf
        + config.swarm_bonus * (tracks.group_id >= 0) * p_drone * conf
        + config.spoof_bonus * spoofed
    )
    support, bearing_only, implausible = track_support(tracks, config)
    base = base * support
    prio = np.clip(0.6 + 0.1 * zones.priority.astype(np.float64), 0.7, 1.0)
    # Only tracks whose best possible score could reach the lowest alert threshold need
    # the sampled probability of entering (the speed bonus is at most speed_bonus).
    ceiling = np.clip(base + config.speed_bonus, 0.0, 1.0) * (prio.max() if nz else 0.0)
    ceiling = np.where(compliant & ~spoofed, ceiling * config.compliant_factor, ceiling)
    floor = config.level_enter[0] - config.hysteresis
    geo = zone_geometry(
        tracks.x, tracks.P, zones, config.horizon_s, config.samples, sample_rows=np.asarray(ceiling >= floor)
    )
    closing = np.clip(geo.closing_speed.max(axis=1) if nz else np.zeros(n), 0.0, None)
    host = np.clip(
        base
        + config.speed_bonus * np.clip(closing / config.speed_ref_mps, 0.0, 1.0) * p_drone * conf * support,
        0.0,
        1.0,
    )
    host = np.where(compliant & ~spoofed, host * config.compliant_factor, host)
    t_eff = np.where(np.isfinite(geo.time_to_zone), geo.time_to_zone, geo.cpa_time)
    urgency = 1.0 - 0.5 * np.clip(t_eff / config.horizon_s, 0.0, 1.0)
    prox = np.where(geo.inside, 1.0, geo.p_enter * urgency)
    score = host[:, None] * prox * prio[None, :]
    return ThreatPicture(
        t=tracks.t,
        tracks=tracks,
        zones=zones,
        geometry=geo,
        hostility=host,
        confidence=conf,
        proximity=prox,
        score=score,
        level=level_of(score, config.level_enter),
        spoofed=spoofed,
        rid_offset_m=np.full(n, np.nan) if rid_offset_m is None else rid_offset_m,
        compliant=compliant & ~spoofed,
        bearing_only=bearing_only,
        implausible=implausible,
    )


def level_name(idx: int) -> ThreatLevel:
    return ThreatLevel(LEVELS[idx])
