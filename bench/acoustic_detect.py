"""Acoustic detector throughput on one core: seconds of audio per second of CPU.

Two loads measured in the same run: one microphone (detection only) and a 4-microphone square
array at 48 kHz (detection plus SRP-PHAT bearing every window). Prints one JSON line;
``realtime_ratio`` is the array case, the goal is >= 100.
"""

from __future__ import annotations

import json
import math
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from skyfence.detect.acoustic import AcousticDetector
from skyfence.detect.rf.bearing import ArrayGeometry
from skyfence.simulate.audio import array_audio, drone_audio, negative_audio

FS = 48000
SECONDS = 60.0


def main() -> None:
    rng = np.random.default_rng(3)
    parts = [
        drone_audio(5.0, FS, rng) if k % 2 else negative_audio(5.0, FS, rng) for k in range(int(SECONDS / 5))
    ]
    mono = np.concatenate(parts)
    el = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.5, 0.0]])
    mics = array_audio(mono, FS, el, math.radians(30.0))
    one = AcousticDetector(sensor_id="mic")
    arr = AcousticDetector(sensor_id="arr", array=ArrayGeometry(el, np.zeros(3), "arr"))
    one.detect(mono[: 2 * FS], FS)  # warm caches
    t = time.process_time()
    ev1 = one.detect(mono, FS)
    cpu_mono = time.process_time() - t
    t = time.process_time()
    ev4 = arr.detect(mics, FS)
    cpu_array = time.process_time() - t
    print(
        json.dumps(
            {
                "bench": "acoustic_detect",
                "sample_rate": FS,
                "seconds_of_audio": SECONDS,
                "windows": len(ev1),
                "cpu_s_mono": round(cpu_mono, 3),
                "cpu_s_array4": round(cpu_array, 3),
                "realtime_ratio_mono": round(SECONDS / cpu_mono, 1),
                "realtime_ratio": round(SECONDS / cpu_array, 1),
                "array_vs_mono_cost": round(cpu_array / cpu_mono, 2),
                "drone_windows_array": int(np.sum(ev4.p_drone >= 0.5)),
            }
        )
    )


if __name__ == "__main__":
    main()
