"""RF detector throughput at 20 MS/s on one core: seconds of IQ processed per second of CPU.

Two loads, measured in the same run: noise only (the common case on a quiet band) and a busy
band (hopping ELRS, analog video, Wi-Fi bursts, a narrowband carrier). Prints one JSON line;
``realtime_ratio`` >= 1 means the detector keeps up with the radio.
"""

from __future__ import annotations

import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from skyfence.detect.rf import RfDetector, RfDetectorConfig
from skyfence.simulate.iq import Emitter, synthesize

FS = 20e6
SECONDS = 1.0


def _time(samples: np.ndarray, cfg: RfDetectorConfig) -> tuple[float, int]:
    det = RfDetector(cfg, sample_rate=FS)
    det.detect(samples[:, : cfg.block_len * cfg.batch_blocks])  # warm caches
    det = RfDetector(cfg, sample_rate=FS)
    t = time.process_time()
    n = 0
    step = cfg.block_len * cfg.batch_blocks
    for i in range(0, samples.shape[1], step):
        n += len(det.detect(samples[:, i : i + step], i / FS))
    return time.process_time() - t, n


def main() -> None:
    cfg = RfDetectorConfig(**json.loads(os.environ.get("RF_CONFIG", "{}")))
    rng = np.random.default_rng(1)
    n = int(SECONDS * FS) // cfg.block_len * cfg.block_len
    quiet = synthesize([], sample_rate=FS, n=n, rng=rng).samples
    busy = synthesize(
        [
            Emitter("elrs", 0.0, 10.0, params=dict(sf=7, bw=500e3, hop_channels=[-6e6, -2e6, 3e6, 7e6])),
            Emitter("analog_video", 5e6, 12.0),
            Emitter("wifi", 0.0, 8.0, params=dict(duty=0.2)),
            Emitter("narrowband", -8.5e6, 10.0),
        ],
        sample_rate=FS,
        n=n,
        rng=rng,
    ).samples
    cpu_quiet, _ = _time(quiet, cfg)
    cpu_busy, n_busy = _time(busy, cfg)
    seconds = n / FS
    print(
        json.dumps(
            {
                "bench": "rf_detect",
                "sample_rate": FS,
                "seconds_of_iq": round(seconds, 3),
                "cpu_s_quiet": round(cpu_quiet, 3),
                "cpu_s_busy": round(cpu_busy, 3),
                "realtime_ratio_quiet": round(seconds / cpu_quiet, 2),
                "realtime_ratio": round(seconds / cpu_busy, 2),
                "emissions_busy": n_busy,
                "busy_vs_quiet_cost": round(cpu_busy / cpu_quiet, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
