"""Run the RF detector over a SigMF recording: a finished file, one an SDR tool is still
writing (``follow``), or a byte stream such as stdin described by a metadata file."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from typing import IO

import numpy as np

from skyfence.detect.rf.bearing import ArrayGeometry
from skyfence.detect.rf.detector import Emissions, RfDetector, RfDetectorConfig
from skyfence.detect.rf.report import ReportThinner
from skyfence.errors import FormatError
from skyfence.model.detections import Detections
from skyfence.sources.sigmf import SigmfRecording, require_data

__all__ = ["detect_recording", "detector_for"]


def detector_for(
    rec: SigmfRecording,
    config: RfDetectorConfig | None = None,
    *,
    array: ArrayGeometry | None = None,
    sensor_id: str | None = None,
) -> RfDetector:
    """A detector set up for ``rec`` (its rate, centre frequency and channel count)."""
    freq = rec.captures[0].frequency
    if array is not None:
        if array.channels != rec.num_channels:
            raise FormatError(
                f"array has {array.channels} elements but the recording has {rec.num_channels} channels",
                path=rec.meta_path,
                field="global.core:num_channels",
            )
        if not math.isfinite(freq) and not math.isfinite(array.frequency):
            raise FormatError(
                "bearings need the RF centre frequency: set core:frequency or frequency_hz in the array file",
                path=rec.meta_path,
                field="captures[0].core:frequency",
            )
    sid = sensor_id or (array.sensor_id if array is not None and array.sensor_id else rec.meta_path.stem)
    return RfDetector(config, sample_rate=rec.sample_rate, frequency=freq, sensor_id=sid, array=array)


def detect_recording(
    rec: SigmfRecording,
    detector: RfDetector,
    *,
    follow: bool = False,
    stream: IO[bytes] | None = None,
    idle_timeout: float = 2.0,
    stop: Callable[[], bool] | None = None,
) -> Iterator[Emissions]:
    """Emissions block by block, as soon as each block of samples is complete.

    Their :meth:`Emissions.to_detections` gives the bearing reports pooled over
    ``report_interval_s`` (see :mod:`skyfence.detect.rf.report`). Reading a finished file,
    the last block also carries the reports still pending at its end; following a live
    stream, reports leave as soon as their interval is over and those of the last
    interval before the stream ends are not reported."""
    if stream is None:
        if not follow:
            require_data(rec)
        elif not rec.data_path.exists():
            # An SDR tool may not have created the file yet: give it the idle timeout to appear.
            import time

            t_end = time.monotonic() + idle_timeout
            while not rec.data_path.exists():
                if time.monotonic() > t_end or (stop is not None and stop()):
                    require_data(rec)
                time.sleep(0.01)
    block = detector.config.block_len
    thin = ReportThinner(detector.sensor_id, detector.config.report_interval_s)
    live = follow or stream is not None
    held: Emissions | None = None  # a finished file: one block held back to carry the flush
    last: Emissions | None = None  # a live stream: the last block, to carry what is pending at its end
    for blk in rec.blocks(block, follow=follow, idle_timeout=idle_timeout, stop=stop, stream=stream):
        if blk.samples.shape[1] < block:
            continue  # a short tail cannot be judged against the block's noise floor
        if math.isfinite(blk.frequency):
            detector.frequency = blk.frequency  # a multi-capture recording may retune
        em = detector.detect(blk.samples, blk.t0)
        em = dataclasses.replace(em, reports=thin.add(em, blk.t0 + block / rec.sample_rate))
        if live:
            last = em
            yield em
            continue
        if held is not None:
            yield held
        held = em
    if live and last is not None:
        # The stream ended: the reports of its last interval go out with no emission repeated.
        pending = thin.flush()
        if len(pending):
            yield dataclasses.replace(last.take(np.zeros(0, np.int64)), reports=pending)
    if held is not None:
        pending = thin.flush()
        reports = held.to_detections()
        yield dataclasses.replace(
            held, reports=Detections.concat([reports, pending]) if len(pending) else reports
        )
