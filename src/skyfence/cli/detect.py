"""`skyfence detect rf|audio`: raw IQ (SigMF) or microphone audio (WAV) to detections JSONL.

Detections with a bearing go to ``--out`` as ``bearing`` records that ``skyfence track run``
reads; every emission (RF) or window (audio), with or without a bearing, goes to the event
log beside it (``--events``, default ``<out stem>.events.jsonl``), see docs/detect.md.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register", "run_audio", "run_rf"]


def _events_path(out: Path, events: Path | None) -> Path:
    if events is not None:
        return events
    return out.with_name(out.name.removesuffix(".jsonl") + ".events.jsonl")


def _open(path: Path) -> Any:
    from skyfence.errors import FormatError

    try:
        return path.open("w", encoding="utf-8")
    except OSError as exc:
        raise FormatError(f"cannot write file: {exc.strerror or exc}", path=path) from None


def run_rf(
    meta: Path,
    out: Path,
    *,
    events: Path | None = None,
    follow: bool = False,
    stdin: bool = False,
    array: Path | None = None,
    sensor_id: str | None = None,
    idle_timeout: float = 2.0,
    report_interval: float | None = None,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Detect emissions in a SigMF recording; returns counts per protocol for the caller."""
    from skyfence.cli._common import progress
    from skyfence.detect.rf import RfDetectorConfig, emission_records, read_array
    from skyfence.detect.rf.stream import detect_recording, detector_for
    from skyfence.model.records import detection_records, write_jsonl
    from skyfence.sources.sigmf import open_sigmf

    rec = open_sigmf(meta)
    geom = read_array(array) if array is not None else None
    config = None if report_interval is None else RfDetectorConfig(report_interval_s=report_interval)
    det = detector_for(rec, config, array=geom, sensor_id=sensor_id)
    stream = sys.stdin.buffer if stdin else None
    counts: dict[str, int] = {}
    n_det = 0
    total = 0 if (follow or stdin) else max(rec.num_samples() // det.config.block_len, 1)
    with _open(out) as fh_det, _open(_events_path(out, events)) as fh_ev:
        bar = progress() if show_progress and total > 0 else None
        task = bar.add_task(f"detect {meta.name}", total=total) if bar is not None else None
        if bar is not None:
            bar.start()
        try:
            for em in detect_recording(rec, det, follow=follow, stream=stream, idle_timeout=idle_timeout):
                if len(em):
                    write_jsonl(fh_ev, emission_records(em))
                    for p in em.protocol:
                        counts[str(p)] = counts.get(str(p), 0) + 1
                # Reports of an interval may close on a block with no emission of its own.
                dets = em.to_detections()
                if len(dets):
                    n_det += write_jsonl(fh_det, detection_records(dets))
                if follow or stdin:
                    fh_ev.flush()
                    fh_det.flush()
                if bar is not None and task is not None:
                    bar.advance(task)
        finally:
            if bar is not None:
                bar.stop()
    return {
        "emissions": sum(counts.values()),
        "detections": n_det,
        "protocols": counts,
        "sensor": det.sensor_id,
    }


def run_audio(
    wav: Path,
    out: Path,
    *,
    events: Path | None = None,
    array: Path | None = None,
    sensor_id: str | None = None,
    t0: float = 0.0,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Score a WAV file window by window; returns counts for the caller."""
    import numpy as np

    from skyfence.cli._common import progress
    from skyfence.detect.acoustic import AcousticDetector, acoustic_records
    from skyfence.detect.rf import read_array
    from skyfence.errors import FormatError
    from skyfence.model.records import detection_records, write_jsonl
    from skyfence.sources.wav import read_wav

    audio = read_wav(wav)
    geom = read_array(array) if array is not None else None
    if geom is not None and geom.channels != audio.channels:
        raise FormatError(
            f"array has {geom.channels} microphones but the file has {audio.channels} channels",
            path=wav,
            field="fmt.nChannels",
        )
    sid = sensor_id or (geom.sensor_id if geom is not None and geom.sensor_id else wav.stem)
    det = AcousticDetector(sensor_id=sid, array=geom)
    # Chunks of whole windows so that a progress bar can move on long recordings.
    chunk = int(60 * audio.sample_rate)
    step = int(det.config.hop_s * audio.sample_rate)
    chunk = max(chunk // step * step, step)
    overlap = int(det.config.window_s * audio.sample_rate) - step
    n = audio.samples.shape[1]
    starts = list(range(0, max(n - overlap, 1), chunk))
    n_det = windows = drones = 0
    with _open(out) as fh_det, _open(_events_path(out, events)) as fh_ev:
        bar = progress() if show_progress and len(starts) > 1 else None
        task = bar.add_task(f"detect {wav.name}", total=len(starts)) if bar is not None else None
        if bar is not None:
            bar.start()
        try:
            for s in starts:
                part = audio.samples[:, s : s + chunk + max(overlap, 0)]
                ev = det.detect(part, audio.sample_rate, t0 + s / audio.sample_rate)
                write_jsonl(fh_ev, acoustic_records(ev))
                windows += len(ev)
                drones += int(np.sum(ev.p_drone >= det.config.threshold))
                dets = ev.to_detections(det.config.threshold)
                if len(dets):
                    n_det += write_jsonl(fh_det, detection_records(dets))
                if bar is not None and task is not None:
                    bar.advance(task)
        finally:
            if bar is not None:
                bar.stop()
    return {"windows": windows, "drone_windows": drones, "detections": n_det, "sensor": sid}


def register(app: typer.Typer) -> None:
    @app.command("rf")
    def rf(
        meta: Annotated[Path, typer.Argument(help="SigMF metadata file (.sigmf-meta)")],
        out: Annotated[Path, typer.Option("--out", "-o", help="bearing detections JSONL (for track run)")],
        events: Annotated[
            Path | None, typer.Option(help="emission log JSONL (default: <out>.events.jsonl)")
        ] = None,
        follow: Annotated[bool, typer.Option(help="the data file is still being written: follow it")] = False,
        stdin: Annotated[bool, typer.Option(help="read samples from stdin, described by META")] = False,
        array: Annotated[Path | None, typer.Option(help="ARRAY.json antenna geometry for bearings")] = None,
        sensor_id: Annotated[str | None, typer.Option(help="sensor id in the records")] = None,
        idle_timeout: Annotated[
            float, typer.Option(help="--follow ends after this long without data (s)")
        ] = 2.0,
        report_interval: Annotated[
            float | None,
            typer.Option(min=0.0, help="one bearing report per emitter per this many seconds (0: every one)"),
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="summary as a JSON line")] = False,
    ) -> None:
        """Detect RF emissions (ELRS, analog/digital video, Wi-Fi, narrowband) in IQ samples."""
        from skyfence.cli._common import console, emit_json

        res = run_rf(
            meta,
            out,
            events=events,
            follow=follow,
            stdin=stdin,
            array=array,
            sensor_id=sensor_id,
            idle_timeout=idle_timeout,
            report_interval=report_interval,
            show_progress=not json_out and not follow and not stdin,
        )
        if json_out:
            emit_json(res)
        else:
            protos = ", ".join(f"{k} {v}" for k, v in sorted(res["protocols"].items())) or "none"
            console.print(
                f"[bold]{res['emissions']}[/] emissions ({protos}); "
                f"[bold]{res['detections']}[/] bearing detections -> {out}"
            )

    @app.command("audio")
    def audio(
        wav: Annotated[Path, typer.Argument(help="WAV file (mono or one channel per microphone)")],
        out: Annotated[Path, typer.Option("--out", "-o", help="bearing detections JSONL (for track run)")],
        events: Annotated[
            Path | None, typer.Option(help="window log JSONL (default: <out>.events.jsonl)")
        ] = None,
        array: Annotated[
            Path | None, typer.Option(help="ARRAY.json microphone geometry for bearings")
        ] = None,
        sensor_id: Annotated[str | None, typer.Option(help="sensor id in the records")] = None,
        t0: Annotated[float, typer.Option(help="epoch time of the first sample (s)")] = 0.0,
        json_out: Annotated[bool, typer.Option("--json", help="summary as a JSON line")] = False,
    ) -> None:
        """Detect drones by their rotor sound; bearings with a microphone array."""
        from skyfence.cli._common import console, emit_json

        res = run_audio(
            wav, out, events=events, array=array, sensor_id=sensor_id, t0=t0, show_progress=not json_out
        )
        if json_out:
            emit_json(res)
        else:
            console.print(
                f"[bold]{res['drone_windows']}[/] of {res['windows']} windows sound like a drone; "
                f"[bold]{res['detections']}[/] bearing detections -> {out}"
            )
