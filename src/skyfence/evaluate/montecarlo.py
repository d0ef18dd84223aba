"""Monte Carlo exercises: many seeded runs of one scenario, on a local process pool or a
Ray cluster, scored and aggregated into a :class:`~skyfence.evaluate.scorecard.Scorecard`.

Run ``k`` of a scenario with seed ``s`` simulates with ``SeedSequence(s, spawn_key=(k,))``
(the ``k``-th child of ``SeedSequence(s)``), so a run's seed does not depend on how many
runs there are or on which worker runs it; results are put back in run order before they
are aggregated, so the scorecard is the same for any number of workers.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from skyfence.errors import ConfigError
from skyfence.evaluate.metrics import RunScore, ScoreConfig, score_run
from skyfence.evaluate.record import RunRecord
from skyfence.evaluate.scorecard import UNIT_RANGE, Scorecard, metric_info, summarise
from skyfence.model.classes import N_CLASSES
from skyfence.model.tracks import TrackStatus
from skyfence.track.warm import warm_up

if TYPE_CHECKING:
    from skyfence.model.scenario import Scenario

__all__ = [
    "MapData",
    "RunResult",
    "RunTask",
    "aggregate",
    "execute",
    "load_score_config",
    "load_stage_config",
    "make_tasks",
    "run_exercise",
    "run_one",
    "run_seed",
]

Progress = Callable[[int, int], None]


def run_seed(base_seed: int, run: int) -> int:
    """The simulator seed of run ``run`` of a scenario whose seed is ``base_seed``."""
    state = np.random.SeedSequence(base_seed, spawn_key=(run,)).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 32 | int(state[1])


@dataclass(frozen=True, slots=True)
class RunTask:
    """Everything a worker needs for one run (pickles into a process or a Ray task)."""

    scenario: Scenario
    run: int
    seed: int
    score: ScoreConfig
    tracker_config: dict[str, Any] | None = None
    assess_config: dict[str, Any] | None = None
    use_assessor: bool = True
    keep_dir: str | None = None
    cot_url: str | None = None
    want_map: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class MapData:
    """What the report's map draws of one run: truth and scored track paths in ENU metres."""

    truth: dict[int, NDArray[np.float64]]
    truth_role: dict[int, str]
    tracks: dict[int, NDArray[np.float64]]


@dataclass(frozen=True, slots=True, eq=False)
class RunResult:
    run: int
    seed: int
    score: RunScore
    assess_ran: bool
    wall_s: float
    map: MapData | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _map_data(rec: RunRecord) -> MapData:
    truth = {}
    for tid in np.unique(rec.truth_target).tolist():
        truth[int(tid)] = rec.truth_x[rec.truth_target == tid, :2].copy()
    roles = {ti.id: ti.role for ti in rec.targets}
    scored = (rec.track_status == TrackStatus.CONFIRMED) | (rec.track_status == TrackStatus.COASTING)
    tracks = {}
    for tid in np.unique(rec.track_id[scored]).tolist():
        tracks[int(tid)] = rec.track_x[scored & (rec.track_id == tid), :2].copy()
    return MapData(truth, {k: roles.get(k, "unknown") for k in truth}, tracks)


def run_one(task: RunTask) -> RunResult:
    """Simulate, track, assess and score one run (a top-level function: spawn- and Ray-safe)."""
    from skyfence.evaluate.pipeline import run_pipeline

    t0 = time.perf_counter()
    sink = None
    if task.cot_url:
        from skyfence.share.cot import CotSink

        sink = CotSink(task.cot_url, task.scenario.site_frame())
    rec = run_pipeline(
        task.scenario,
        task.seed,
        tracker_config=task.tracker_config,
        assess_config=task.assess_config,
        use_assessor=task.use_assessor,
        keep_dir=task.keep_dir,
        sink=sink,
    )
    score = score_run(rec, task.score)
    return RunResult(
        task.run,
        task.seed,
        score,
        rec.assess_ran,
        time.perf_counter() - t0,
        _map_data(rec) if task.want_map else None,
    )


def execute(
    tasks: Sequence[RunTask],
    workers: int = 1,
    ray_address: str | None = None,
    on_done: Progress | None = None,
    fn: Callable[[RunTask], RunResult] = run_one,
) -> list[RunResult]:
    """Run ``tasks`` (``workers`` spawned processes, or ``workers=0`` in this process, or
    on Ray at ``ray_address``) and return the results in run order."""
    results: list[RunResult] = []
    total = len(tasks)

    def done(r: RunResult) -> None:
        results.append(r)
        if on_done is not None:
            on_done(len(results), total)

    if ray_address is not None:
        _execute_ray(tasks, ray_address, done, fn)
    elif workers <= 0:
        for task in tasks:
            done(fn(task))
    else:
        # Compile (or load) the tracker's kernels here once, so the spawned workers load
        # them from the cache instead of each compiling them at the same time.
        warm_up()
        ctx = get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, max(total, 1)), mp_context=ctx) as pool:
            pending: set[Future[RunResult]] = {pool.submit(fn, t) for t in tasks}
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    done(f.result())
    return sorted(results, key=lambda r: r.run)


def _execute_ray(
    tasks: Sequence[RunTask],
    address: str,
    done: Callable[[RunResult], None],
    fn: Callable[[RunTask], RunResult],
) -> None:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "Ray is not installed; install the 'ray' extra (pip install 'skyfence[ray]')", field="--ray"
        ) from None
    started = False
    if not ray.is_initialized():
        ray.init(
            address=None if address == "local" else address, include_dashboard=False, log_to_driver=False
        )
        started = True
    try:
        remote = ray.remote(fn)
        pending = [remote.remote(t) for t in tasks]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                done(ray.get(ref))
    finally:
        if started:
            ray.shutdown()


def aggregate(
    scenario: Scenario,
    scenario_path: str,
    results: Sequence[RunResult],
    score: ScoreConfig,
) -> Scorecard:
    """Put the runs together: per-metric means and intervals, summed confusion and Pd bins,
    every threat's outcome, and GOSPA over time (mean and interval per step)."""
    names: list[str] = []
    for r in results:
        for n in r.score.metrics:
            if n not in names:
                names.append(n)
    metrics = {
        n: summarise([r.score.metrics.get(n, math.nan) for r in results], UNIT_RANGE.get(metric_info(n).unit))
        for n in names
    }
    confusion = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
    pd_range: dict[str, dict[str, Any]] = {}
    threats = []
    for r in results:
        confusion += r.score.confusion
        for sid, edges in r.score.pd_range_edges.items():
            d = pd_range.setdefault(
                sid,
                {
                    "edges": [float(e) for e in edges],
                    "hits": [0] * (len(edges) - 1),
                    "opportunities": [0] * (len(edges) - 1),
                },
            )
            d["hits"] = [a + int(b) for a, b in zip(d["hits"], r.score.pd_range_hits[sid], strict=True)]
            d["opportunities"] = [
                a + int(b)
                for a, b in zip(d["opportunities"], r.score.pd_range_opportunities[sid], strict=True)
            ]
        for o in r.score.threats:
            threats.append(
                {
                    "run": r.run,
                    "name": o.name,
                    "behaviour": o.behaviour,
                    "cls": o.cls,
                    "group": o.group,
                    "entered": o.entered,
                    "warning_s": o.warning_s if math.isfinite(o.warning_s) else None,
                    "engagement_window_s": o.engagement_window_s
                    if math.isfinite(o.engagement_window_s)
                    else None,
                }
            )
    steps = min((len(r.score.gospa_total) for r in results), default=0)
    g = np.array([r.score.gospa_total[:steps] for r in results]).reshape(len(results), steps)
    summaries = [summarise(g[:, k]) for k in range(steps)]
    gospa_t = results[0].score.gospa_t[:steps] - results[0].score.gospa_t[0] if steps else np.zeros(0)
    sensors = tuple(
        {"id": s.id, "type": s.type, "cost": s.cost, "max_range_m": s.max_range_m} for s in scenario.sensors
    )
    costs = [s.cost for s in scenario.sensors]
    cost = float(sum(c for c in costs if c is not None)) if any(c is not None for c in costs) else None
    return Scorecard(
        scenario=scenario.name,
        scenario_path=scenario_path,
        base_seed=scenario.seed,
        seeds=tuple(r.seed for r in results),
        score_config=score.model_dump(),
        metrics=metrics,
        per_run=tuple(dict(r.score.metrics) for r in results),
        confusion=confusion,
        pd_range=pd_range,
        threats=tuple(threats),
        gospa_t=np.asarray(gospa_t, dtype=np.float64),
        gospa_mean=np.array([s.mean for s in summaries]),
        gospa_low=np.array([s.ci_low for s in summaries]),
        gospa_high=np.array([s.ci_high for s in summaries]),
        sensors=sensors,
        cost=cost,
        assess_ran=all(r.assess_ran for r in results),
    )


def load_stage_config(value: str | Path | dict[str, Any] | None, stage: str) -> dict[str, Any] | None:
    """A tracker/assessor config validated here (bad files fail before any run starts) and
    passed to the workers as a plain dict."""
    if value is None:
        return None
    if stage == "track":
        from skyfence.track import TrackerConfig

        cfg: Any = (
            TrackerConfig.model_validate(value) if isinstance(value, dict) else TrackerConfig.from_yaml(value)
        )
    else:
        from skyfence.assess import AssessConfig

        cfg = AssessConfig.model_validate(value) if isinstance(value, dict) else AssessConfig.from_yaml(value)
    out: dict[str, Any] = cfg.model_dump(mode="json")
    return out


def _load_yaml_dict(path: str | Path | None, what: str) -> dict[str, Any] | None:
    from skyfence.settings import read_yaml_mapping

    return None if path is None else read_yaml_mapping(path, what)


def load_score_config(path: str | Path | None) -> ScoreConfig:
    """A :class:`ScoreConfig` from a YAML file (defaults without one)."""
    from pydantic import ValidationError

    doc = _load_yaml_dict(path, "score config")
    if doc is None:
        return ScoreConfig()
    try:
        return ScoreConfig.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(err["msg"], path=path, field=".".join(str(x) for x in err["loc"])) from None


def make_tasks(
    scenario: Scenario,
    runs: int,
    score: ScoreConfig,
    *,
    base_seed: int | None = None,
    out_dir: Path | None = None,
    keep: bool = False,
    cot_url: str | None = None,
    tracker_config: dict[str, Any] | None = None,
    assess_config: dict[str, Any] | None = None,
    use_assessor: bool = True,
) -> list[RunTask]:
    if runs < 1:
        raise ConfigError(f"need at least one run, got {runs}", field="--runs")
    seed = scenario.seed if base_seed is None else base_seed
    return [
        RunTask(
            scenario,
            k,
            run_seed(seed, k),
            score,
            tracker_config,
            assess_config,
            use_assessor,
            str(out_dir / "runs" / f"{k:03d}") if keep and out_dir is not None else None,
            cot_url if k == 0 else None,
            want_map=k == 0,
        )
        for k in range(runs)
    ]


def run_exercise(
    scenario_path: str | Path,
    runs: int,
    workers: int | None = None,
    out_dir: str | Path | None = None,
    *,
    ray_address: str | None = None,
    keep: bool = False,
    cot_url: str | None = None,
    score_config: ScoreConfig | str | Path | None = None,
    tracker_config: str | Path | dict[str, Any] | None = None,
    assess_config: str | Path | dict[str, Any] | None = None,
    base_seed: int | None = None,
    on_progress: Progress | None = None,
    report: bool = True,
) -> Scorecard:
    """Run ``runs`` seeded runs of the scenario at ``scenario_path`` and aggregate them.

    With ``out_dir``: writes ``scorecard.json`` and (``report``) ``report.html`` there, and
    with ``keep`` each run's JSONL files under ``runs/NNN/``. ``workers`` defaults to the
    CPU count (0 runs in this process); ``ray_address`` (``"local"`` starts a local Ray)
    sends the runs to Ray instead. ``cot_url`` streams run 0's tracks and alerts as CoT.
    """
    from skyfence.simulate import load_scenario

    scenario = load_scenario(scenario_path)
    score = score_config if isinstance(score_config, ScoreConfig) else load_score_config(score_config)
    out = None if out_dir is None else Path(out_dir)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    tasks = make_tasks(
        scenario,
        runs,
        score,
        base_seed=base_seed,
        out_dir=out,
        keep=keep,
        cot_url=cot_url,
        tracker_config=load_stage_config(tracker_config, "track"),
        assess_config=load_stage_config(assess_config, "assess"),
    )
    n_workers = (os.cpu_count() or 1) if workers is None else workers
    results = execute(tasks, n_workers, ray_address, on_progress)
    card = aggregate(scenario, str(scenario_path), results, score)
    if out is not None:
        card.write(out / "scorecard.json")
        if report:
            from skyfence.evaluate.report import write_report

            write_report(card, out / "report.html", scenario=scenario, map_data=results[0].map)
    return card
