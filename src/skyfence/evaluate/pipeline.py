"""One exercise run: the simulator's world through the real live stages (track, assess),
recorded for scoring. The stages are composed exactly as a live driver composes them; only
the simulator and this recorder ever see truth.

What the stages are given is what an agency would configure: the sensor registry, the
zones, the terrain, and the allow-list of registered drones. The scenario has no separate
notion of registration, so a compliant target's Remote ID ``serial`` counts as registered
unless the target is marked ``spoofed_remote_id`` (a spoofer broadcasts someone else's or a
made-up serial; nobody registered it). That is configuration, not truth about the run."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from skyfence.evaluate.record import RunRecord, RunRecorder
from skyfence.model.alert import Alert
from skyfence.model.records import alert_record, detection_records, track_records, truth_records, write_jsonl
from skyfence.model.tracks import Tracks

if TYPE_CHECKING:
    from skyfence.model.scenario import Scenario

__all__ = ["TrackSink", "registered_serials", "run_pipeline"]


class TrackSink(Protocol):
    """Where a run's picture is streamed as it happens (e.g. ``skyfence.share.cot.CotSink``)."""

    def send_tracks(self, tracks: Tracks) -> Any: ...

    def send_alerts(self, alerts: Sequence[Alert], details: Any = None) -> Any: ...

    def send_areas(self, areas: Any, t: float | None = None) -> Any: ...

    def close(self) -> Any: ...


def registered_serials(scenario: Scenario) -> list[str]:
    """The Remote ID serials an agency would have on its allow-list for ``scenario``: every
    compliant target's serial, except targets that spoof their broadcast."""
    out: list[str] = []
    for target in scenario.targets:
        if getattr(target, "behaviour", None) != "compliant":
            continue
        serial = getattr(target, "serial", None)
        if serial and not getattr(target, "spoofed_remote_id", False):
            out.append(str(serial))
    return out


def _assess_available() -> bool:
    return importlib.util.find_spec("skyfence.assess") is not None


def run_pipeline(
    scenario: Scenario,
    seed: int,
    *,
    tracker_config: dict[str, Any] | None = None,
    assess_config: dict[str, Any] | None = None,
    use_assessor: bool = True,
    keep_dir: str | Path | None = None,
    sink: TrackSink | None = None,
) -> RunRecord:
    """Simulate ``scenario`` with ``seed``, track and assess every step, and record it.

    With ``keep_dir`` the run's ``truth.jsonl``, ``detections.jsonl``, ``tracks.jsonl``
    and ``alerts.jsonl`` are written there as it goes; ``sink`` receives tracks and alerts.
    """
    from skyfence.simulate import scenario_terrain, scenario_zones, sensor_registry, simulate
    from skyfence.track import Tracker, TrackerConfig

    registry = sensor_registry(scenario)
    zones = scenario_zones(scenario)
    terrain = scenario_terrain(scenario)
    site = scenario.site_frame()
    tracker = Tracker(
        TrackerConfig.model_validate(tracker_config) if tracker_config else TrackerConfig(),
        sensors=registry,
        zones=zones,
        terrain=terrain,
    )
    assessor: Any = None
    step_fn: Any = None
    if use_assessor and _assess_available():
        from skyfence.assess import AllowList, AssessConfig, Assessor
        from skyfence.assess.run import assess_events

        cfg = AssessConfig.model_validate(assess_config) if assess_config else AssessConfig()
        allow = AllowList.of(registered_serials(scenario))
        assessor = Assessor(zones, cfg, site, allow_list=allow, ground=terrain)
        step_fn = assess_events
    recorder = RunRecorder(registry, zones, assess_ran=assessor is not None)
    with ExitStack() as stack:
        files: dict[str, IO[str]] = {}
        if keep_dir is not None:
            out = Path(keep_dir)
            out.mkdir(parents=True, exist_ok=True)
            for name in ("truth", "detections", "tracks", "alerts"):
                files[name] = stack.enter_context((out / f"{name}.jsonl").open("w", encoding="utf-8"))
        if sink is not None:
            stack.callback(sink.close)
        for step in simulate(scenario, seed):
            tracks = tracker.update(list(step.detections))
            alerts: list[Alert] = []
            lines: list[dict[str, Any]] = []
            if assessor is not None:
                # The shared driver step: the sink gets the tracks, the alerts with their
                # details, and the launch/operator markers, exactly as a live run sends them.
                alerts, lines = step_fn(assessor, tracks, sink=sink)
            elif sink is not None:
                sink.send_tracks(tracks)
            recorder.add_step(step.t, step.truth, step.detections, step.sources, tracks, alerts)
            if files:
                write_jsonl(files["truth"], truth_records(step.truth))
                for batch in step.detections:
                    write_jsonl(files["detections"], detection_records(batch))
                write_jsonl(files["tracks"], track_records(tracks, site))
                write_jsonl(files["alerts"], lines or (alert_record(a) for a in alerts))
    return recorder.finish()
