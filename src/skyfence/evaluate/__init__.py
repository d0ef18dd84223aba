"""Exercise scoring: set distances (GOSPA/OSPA), track continuity, detection, warning time,
classification and engagement windows from truth, tracks and alerts; the Monte Carlo
runner, the scorecard, the offline HTML report and layout comparison (``docs/scorecard.md``)."""

from skyfence.evaluate.gospa import (
    GospaResult,
    GospaSeries,
    OspaResult,
    gospa,
    gospa_series,
    ospa,
    ospa_series,
)
from skyfence.evaluate.metrics import RunScore, ScoreConfig, score_run
from skyfence.evaluate.montecarlo import run_exercise, run_seed
from skyfence.evaluate.record import RunRecord, RunRecorder
from skyfence.evaluate.scorecard import MetricSummary, Scorecard, scorecard_table

__all__ = [
    "GospaResult",
    "GospaSeries",
    "MetricSummary",
    "OspaResult",
    "RunRecord",
    "RunRecorder",
    "RunScore",
    "ScoreConfig",
    "Scorecard",
    "gospa",
    "gospa_series",
    "ospa",
    "ospa_series",
    "run_exercise",
    "run_seed",
    "score_run",
    "scorecard_table",
]
