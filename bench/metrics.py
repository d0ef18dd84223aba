"""GOSPA at 1000 truths x 1000 tracks per step: skyfence.evaluate vs Stone Soup's GOSPAMetric.

Both score the same random scene (truths uniform in 10 km x 10 km, tracks = truths plus 20 m
noise with 10 % dropped and 10 % false), c = 100 m, p = 1, alpha = 2. Prints one JSON line.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import numpy as np

from skyfence.evaluate.gospa import gospa


def scene(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    truth = rng.uniform(0, 10_000, (n, 2))
    keep = truth[rng.random(n) > 0.1]
    tracks = keep + rng.normal(0, 20, keep.shape)
    false = rng.uniform(0, 10_000, (n - len(tracks), 2))
    return truth, np.concatenate([tracks, false])


def main() -> None:
    from stonesoup.metricgenerator.ospametric import GOSPAMetric
    from stonesoup.types.state import State

    rng = np.random.default_rng(5)
    n, c, p = 1000, 100.0, 1.0
    steps = [scene(rng, n) for _ in range(2)]

    t0 = time.perf_counter()
    ours = [gospa(x, y, c, p) for x, y in steps]
    ours_s = (time.perf_counter() - t0) / len(steps)

    metric = GOSPAMetric(c=c, p=p)
    stamp = dt.datetime(2026, 1, 1)
    # Stone Soup's state objects are built outside the timed region: only the metric is timed.
    states = [
        (
            [State(r.reshape(-1, 1), timestamp=stamp) for r in x],
            [State(r.reshape(-1, 1), timestamp=stamp) for r in y],
        )
        for x, y in steps
    ]
    theirs = []
    t0 = time.perf_counter()
    for truth_states, track_states in states:
        result, _ = metric.compute_gospa_metric(track_states, truth_states)
        theirs.append(float(result.value["distance"]))
    theirs_s = (time.perf_counter() - t0) / len(steps)

    agree = max(abs(a.total - b) / max(b, 1.0) for a, b in zip(ours, theirs, strict=True))
    print(
        json.dumps(
            {
                "bench": "gospa_1000x1000",
                "skyfence_s_per_step": round(ours_s, 5),
                "stonesoup_s_per_step": round(theirs_s, 4),
                "ratio": round(theirs_s / ours_s, 1),
                "gospa_skyfence": round(ours[0].total, 6),
                "gospa_stonesoup": round(theirs[0], 6),
                "max_rel_diff": agree,
            }
        )
    )


if __name__ == "__main__":
    main()
