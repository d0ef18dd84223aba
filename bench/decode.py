"""Decoder throughput on one core; prints one JSON line.

Remote ID: Location messages decoded per second by the batched numpy decoder (the goal is at
least one million per second) against the per-message pure-Python decoder (its peer, the
ratio is printed), plus whole-capture frames per second when the shared captures are present.

Each decoder family adds a ``<name>_figures() -> dict`` function and one entry in ``FIGURES``;
``main`` calls them all and prints a single line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# One core: keep numpy's helper threads from spreading over the machine.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings)

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SKYFENCE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})


def _best_rate(fn: Callable[[], int], repeats: int) -> float:
    """Items per second of the fastest of ``repeats`` runs (the least disturbed by others)."""
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = fn()
        dt = time.perf_counter() - t0
        best = max(best, n / dt)
    return best


def remoteid_figures(n_batch: int = 1_000_000, n_single: int = 50_000) -> dict[str, Any]:
    from skyfence.detect.remoteid import decode_capture
    from skyfence.detect.remoteid.batch import decode_locations
    from skyfence.detect.remoteid.messages import decode_location

    rng = np.random.default_rng(7)
    # Random field bytes behind a Location header: every value path (unknowns included) is hit,
    # and the work per message is the same as for real traffic.
    msgs = rng.integers(0, 256, size=(n_batch, 25), dtype=np.uint8)
    msgs[:, 0] = 0x12
    batched = _best_rate(lambda: len(decode_locations(msgs)), 5)
    rows = [bytes(r) for r in msgs[:n_single]]

    def one_by_one() -> int:
        for r in rows:
            decode_location(r)
        return len(rows)

    per_message = _best_rate(one_by_one, 3)
    out: dict[str, Any] = {
        "location_batched_msgs_per_s": round(batched),
        "location_per_message_msgs_per_s": round(per_message),
        "batched_over_per_message": round(batched / per_message, 1),
        "batched_goal_met": batched >= 1e6,
    }
    capture = SHARED / "remoteidreceiver-wifi-pcaps" / "parrot_anafi4_real.pcapng"
    if capture.exists():
        frames = _best_rate(lambda: decode_capture(capture).packets, 3)
        out["capture_frames_per_s"] = round(frames)
    return out


#: decoder family -> function returning its figures
FIGURES: dict[str, Callable[[], dict[str, Any]]] = {
    "remoteid": remoteid_figures,
}


def main() -> None:
    _pin_one_core()
    sys.path.insert(0, str(ROOT / "src"))
    figures = {name: fn() for name, fn in FIGURES.items()}
    print(json.dumps({"bench": "decode", "cores": 1, **figures}, separators=(",", ":")))


if __name__ == "__main__":
    main()
