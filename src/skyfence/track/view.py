"""The boundary between the tracker core and track inference (class fusion, RF-silent,
relay, swarm grouping): what the tracker shows after each update, and what it gets back.

The tracker builds one :class:`TrackView` per update (arrays are read-only views of its
struct-of-arrays state, valid until the next update) and calls ``infer.update(view)``;
the inference stage answers with an :class:`InferResult` whose rows follow the view's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from skyfence.model.classes import N_CLASSES
from skyfence.model.detections import Detections
from skyfence.model.sensors import SensorRegistry

__all__ = ["AssocBatch", "InferResult", "Inference", "TrackView", "uniform_result"]


@dataclass(frozen=True, slots=True)
class AssocBatch:
    """One sensor batch of this update and where its detections went.

    ``track[i]`` is the row (in the view) of the track detection ``i`` updated or
    started, or -1 when it stayed unassociated (clutter, or not yet a track).
    """

    sensor_id: str
    track: NDArray[np.int64]
    detections: Detections


@dataclass(frozen=True, slots=True, eq=False)
class TrackView:
    """All live tracks after one update, rows aligned across every array.

    - ``t``: the time of the update (latest detection time released), seconds.
    - ``ids [N]``: stable track ids.
    - ``x [N,6]``, ``P [N,6,6]``: state E,N,U,vE,vN,vU (site ENU) and covariance at ``t``.
    - ``status [N]``: :class:`skyfence.model.TrackStatus` values (int8).
    - ``age_s [N]``: seconds since the track was started.
    - ``last_update_t [N]``: time of the last detection that updated the track.
    - ``last_seen_by [N,S]``: time each sensor (registry order) last updated the track,
      ``-inf`` if never.
    - ``sensors``: the registry (positions, types, max range, params such as bands).
    - ``cls_lik [N,6]``: product of the class likelihoods of the detections associated
      to the track in this update (ones where none).
    - ``identity [N]``: Remote ID serial / ADS-B ICAO bound to the track ("" if none).
    - ``assoc``: one :class:`AssocBatch` per sensor batch processed in this update.
    - ``height_observed [N]``: some sensor measured the track's height (radar elevation,
      3-D position, Remote ID, an elevation bearing) and its standard deviation is at
      most ``height_observed_sigma_m``; where False do not read altitude or climb from
      it (RF azimuths only: a placeholder kept in a plausible band above ground).
      ``None`` in views built by other code (the field is optional).
    - ``spoofed [N]``: a Remote ID broadcast bound to the track was flagged spoofed.
    - ``rid_pos [N,3]``, ``operator_pos [N,3]``: latest Remote ID broadcast position and
      operator position (site ENU), NaN where none.
    """

    t: float
    ids: NDArray[np.int64]
    x: NDArray[np.float64]
    P: NDArray[np.float64]
    status: NDArray[np.int8]
    age_s: NDArray[np.float64]
    last_update_t: NDArray[np.float64]
    last_seen_by: NDArray[np.float64]
    sensors: SensorRegistry
    cls_lik: NDArray[np.float64]
    identity: NDArray[np.str_]
    assoc: Sequence[AssocBatch] = field(default_factory=tuple)
    height_observed: NDArray[np.bool_] | None = None
    spoofed: NDArray[np.bool_] | None = None
    rid_pos: NDArray[np.float64] | None = None
    operator_pos: NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def assoc_attrs(self) -> list[tuple[str, NDArray[np.int64], Detections]]:
        """``assoc`` as plain ``(sensor_id, track index per detection, Detections)`` tuples."""
        return [(b.sensor_id, b.track, b.detections) for b in self.assoc]


@dataclass(frozen=True, slots=True, eq=False)
class InferResult:
    """What inference says about each view row.

    ``cls_prob [N,6]`` posterior over :data:`skyfence.model.CLASSES`; ``rf_silent [N]``
    probability the target is RF-silent; ``relay [N]`` the track is a relay;
    ``relay_id [N]`` id (track id, not row) of the relay serving the track or -1;
    ``group_id [N]`` swarm group or -1; ``attrs`` extra per-track columns (e.g. operator
    bearing) copied into :class:`skyfence.model.Tracks` ``attrs``.
    """

    cls_prob: NDArray[np.float64]
    rf_silent: NDArray[np.float64]
    relay: NDArray[np.bool_]
    relay_id: NDArray[np.int64]
    group_id: NDArray[np.int64]
    attrs: Mapping[str, NDArray[Any]] = field(default_factory=dict)


class Inference(Protocol):
    """The role TRACK-INFER's ``TrackInference(config, sensors)`` plays."""

    def update(self, view: TrackView) -> InferResult: ...


def uniform_result(n: int) -> InferResult:
    """The kinematics-free default: uniform classes, no flags, no groups."""
    return InferResult(
        cls_prob=np.full((n, N_CLASSES), 1.0 / N_CLASSES),
        rf_silent=np.zeros(n),
        relay=np.zeros(n, dtype=bool),
        relay_id=np.full(n, -1, dtype=np.int64),
        group_id=np.full(n, -1, dtype=np.int64),
    )
