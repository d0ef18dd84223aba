"""`RunRecord`: everything one exercise run produced, kept as columns for scoring.

The runner feeds it one simulator step at a time (truth, detections with their true
sources, the tracker's picture, the assessor's alert transitions); the metrics read only
this record, so they can be tested on hand-made records without running the pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyfence.model.alert import Alert
from skyfence.model.detections import Detections
from skyfence.model.sensors import SensorRegistry
from skyfence.model.tracks import Tracks
from skyfence.model.truth import TargetInfo, Truth
from skyfence.model.zone import Zone

__all__ = ["RunRecord", "RunRecorder"]


@dataclass(frozen=True, slots=True, eq=False)
class RunRecord:
    """One run as columns.

    ``times[T]`` are the step times. Truth rows ``truth_*[N]`` and track rows ``track_*[M]``
    carry the index of their step (``truth_emitting``: the target radiated RF then); track
    states are brought to the step time (a track snapshot a little older than its step is
    moved along its velocity). Detection rows
    ``det_*[D]`` say which sensor (index into ``sensors``) saw which truth target
    (``det_source``, -1 for clutter) at which step; ``scanned[T, S]`` says whether sensor
    ``s`` delivered a batch at step ``k`` (an opportunity to detect). ``alerts`` are the
    assessor's transitions in order; ``assess_ran`` is False when no assessor was present.
    """

    times: NDArray[np.float64]
    targets: tuple[TargetInfo, ...]
    truth_step: NDArray[np.int64]
    truth_target: NDArray[np.int64]
    truth_x: NDArray[np.float64]
    truth_emitting: NDArray[np.bool_]
    track_step: NDArray[np.int64]
    track_id: NDArray[np.int64]
    track_x: NDArray[np.float64]
    track_status: NDArray[np.int8]
    track_cls_prob: NDArray[np.float64]
    track_rf_silent: NDArray[np.float64]
    track_group: NDArray[np.int64]
    det_step: NDArray[np.int64]
    det_t: NDArray[np.float64]
    det_sensor: NDArray[np.int64]
    det_source: NDArray[np.int64]
    scanned: NDArray[np.bool_]
    alerts: tuple[Alert, ...]
    sensors: SensorRegistry
    zones: tuple[Zone, ...]
    assess_ran: bool = True

    @property
    def n_steps(self) -> int:
        return int(self.times.shape[0])

    def info(self, target_id: int) -> TargetInfo | None:
        for ti in self.targets:
            if ti.id == target_id:
                return ti
        return None


def _cat(parts: Sequence[NDArray[Any]], shape: tuple[int, ...], dtype: Any) -> NDArray[Any]:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(shape, dtype=dtype)


class RunRecorder:
    """Accumulates steps into a :class:`RunRecord` (lists of arrays, one concatenate at the end)."""

    def __init__(self, sensors: SensorRegistry, zones: Sequence[Zone], assess_ran: bool = True) -> None:
        self._sensors = sensors
        self._zones = tuple(zones)
        self._assess_ran = assess_ran
        self._sensor_index = {s.id: k for k, s in enumerate(sensors)}
        self._times: list[float] = []
        self._targets: dict[int, TargetInfo] = {}
        self._truth: list[tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_]]] = []
        self._tracks: list[Tracks] = []
        self._det: list[tuple[int, NDArray[np.float64], int, NDArray[np.int64]]] = []
        self._scanned: list[NDArray[np.bool_]] = []
        self._alerts: list[Alert] = []

    def add_step(
        self,
        t: float,
        truth: Truth,
        detections: Sequence[Detections],
        sources: Sequence[NDArray[np.int64]],
        tracks: Tracks,
        alerts: Sequence[Alert] = (),
    ) -> None:
        k = len(self._times)
        self._times.append(float(t))
        for ti in truth.targets:
            self._targets.setdefault(ti.id, ti)
        self._truth.append(
            (
                np.asarray(truth.target, np.int64),
                np.asarray(truth.x, np.float64),
                np.asarray(truth.emitting, bool),
            )
        )
        if len(tracks) and tracks.t != t:
            # The tracker reports at its latest detection time; score it at the step time.
            x = np.array(tracks.x)
            x[:, :3] += x[:, 3:] * (float(t) - tracks.t)
            tracks = Tracks(
                float(t),
                tracks.id,
                x,
                tracks.P,
                tracks.cls_prob,
                tracks.status,
                group_id=tracks.group_id,
                rf_silent=tracks.rf_silent,
            )
        self._tracks.append(tracks)
        scanned = np.zeros(len(self._sensor_index), dtype=bool)
        for batch, src in zip(detections, sources, strict=True):
            s = self._sensor_index.get(batch.sensor_id)
            if s is None:
                continue
            scanned[s] = True
            self._det.append((k, np.asarray(batch.t, np.float64), s, np.asarray(src, np.int64)))
        self._scanned.append(scanned)
        self._alerts.extend(alerts)

    def finish(self) -> RunRecord:
        steps = len(self._times)
        n_truth = [len(ids) for ids, _, _ in self._truth]
        n_tracks = [len(tr) for tr in self._tracks]
        n_det = [len(src) for _, _, _, src in self._det]

        return RunRecord(
            times=np.array(self._times, dtype=np.float64),
            targets=tuple(self._targets[i] for i in sorted(self._targets)),
            truth_step=np.repeat(np.arange(steps, dtype=np.int64), n_truth),
            truth_target=_cat([ids for ids, _, _ in self._truth], (0,), np.int64),
            truth_x=_cat([x for _, x, _ in self._truth], (0, 6), np.float64),
            truth_emitting=_cat([e for _, _, e in self._truth], (0,), np.bool_),
            track_step=np.repeat(np.arange(steps, dtype=np.int64), n_tracks),
            track_id=_cat([tr.id for tr in self._tracks], (0,), np.int64),
            track_x=_cat([tr.x for tr in self._tracks], (0, 6), np.float64),
            track_status=_cat([tr.status for tr in self._tracks], (0,), np.int8),
            track_cls_prob=_cat([tr.cls_prob for tr in self._tracks], (0, 6), np.float64),
            track_rf_silent=_cat([tr.rf_silent for tr in self._tracks], (0,), np.float64),
            track_group=_cat([tr.group_id for tr in self._tracks], (0,), np.int64),
            det_step=np.repeat(np.array([k for k, _, _, _ in self._det], dtype=np.int64), n_det),
            det_t=_cat([t for _, t, _, _ in self._det], (0,), np.float64),
            det_sensor=np.repeat(np.array([s for _, _, s, _ in self._det], dtype=np.int64), n_det),
            det_source=_cat([src for _, _, _, src in self._det], (0,), np.int64),
            scanned=(
                np.stack(self._scanned)
                if self._scanned
                else np.zeros((0, len(self._sensor_index)), dtype=bool)
            ),
            alerts=tuple(self._alerts),
            sensors=self._sensors,
            zones=self._zones,
            assess_ran=self._assess_ran,
        )
