"""DJI DroneID RF decoder speed on one core; prints one JSON line.

Figures: seconds to decode the shared Mavic Air 2 capture (4.5 ms of 50 MS/s IQ) and the ratio
to real time; turbo decoding of one noisy synthetic codeword (-2 dB) against the systematic-only
path a clean burst takes (its peer; the ratio is printed).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from skyfence.detect.droneid_rf import decode_droneid_file  # noqa: E402
from skyfence.detect.droneid_rf.coding import (  # noqa: E402
    BLOCK_BITS,
    crc24a,
    rate_dematch,
    rate_match,
    turbo_decode,
    turbo_encode,
)

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SKYFENCE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _best(fn: object, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    out: dict[str, object] = {"bench": "droneid_rf"}
    capture = SHARED / "dji-droneid-iq-dronesecurity" / "mavic_air_2"
    if capture.is_file():
        secs = _best(lambda: decode_droneid_file(capture, 50e6))
        duration = capture.stat().st_size / 8 / 50e6
        out["capture_decode_s"] = round(secs, 4)
        out["capture_realtime_ratio"] = round(secs / duration, 1)
    rng = np.random.default_rng(1)
    info = rng.integers(0, 2, BLOCK_BITS - 24).astype(np.uint8)
    crc = crc24a(info)
    blk = np.concatenate((info, ((crc >> np.arange(23, -1, -1)) & 1).astype(np.uint8)))
    e = rate_match(turbo_encode(blk))
    sigma = 10 ** (2 / 20)
    noisy = rate_dematch(2 * ((1.0 - 2.0 * e) + rng.normal(0, sigma, e.size)) / sigma**2)
    clean = rate_dematch(4.0 * (1.0 - 2.0 * e))
    turbo = _best(lambda: turbo_decode(noisy))
    systematic = _best(lambda: turbo_decode(clean))
    out["turbo_noisy_s"] = round(turbo, 4)
    out["turbo_iterations"] = turbo_decode(noisy).iterations
    out["systematic_only_s"] = round(systematic, 5)
    out["turbo_vs_systematic_ratio"] = round(turbo / systematic, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
