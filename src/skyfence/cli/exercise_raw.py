"""`skyfence exercise raw`: scenario YAML -> the raw IQ (SigMF) and microphone audio (WAV)
that its RF and acoustic sensors would have recorded during a short window, with the
truth of what each target contributed (the driver is :mod:`skyfence.simulate.raw`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("raw")
    def raw(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML.")],
        out: Annotated[Path, typer.Option("--out", help="Output directory for the recordings.")],
        start: Annotated[
            float, typer.Option("--start", min=0, help="Window start, s from the exercise start.")
        ] = 0.0,
        duration: Annotated[float, typer.Option("--duration", help="Window length (s).")] = 2.0,
        seed: Annotated[
            int | None, typer.Option("--seed", min=0, help="Seed (default: the scenario's).")
        ] = None,
        sensor: Annotated[
            list[str] | None, typer.Option("--sensor", help="Only this sensor id (repeatable).")
        ] = None,
        sample_rate: Annotated[float, typer.Option("--sample-rate", help="IQ sample rate (S/s).")] = 20e6,
        elements: Annotated[int, typer.Option("--elements", help="Antenna elements per RF sensor.")] = 4,
        max_mb: Annotated[
            float, typer.Option("--max-mb", help="Refuse to write more than this (MB).")
        ] = 4096.0,
        wifi: Annotated[bool, typer.Option("--wifi", help="Add background Wi-Fi at 2.4/5.8 GHz.")] = False,
        json_out: Annotated[bool, typer.Option("--json", help="JSON lines on stdout.")] = False,
    ) -> None:
        """Write per RF sensor and band a SigMF recording (+ ARRAY.json), per acoustic sensor
        a multi-channel WAV (+ ARRAY.json), and raw_truth.jsonl, for a short window."""
        from pydantic import ValidationError

        from skyfence.cli._common import console, emit_json, err_console
        from skyfence.errors import ConfigError
        from skyfence.simulate import load_scenario
        from skyfence.simulate.raw import RawConfig, raw_size, write_raw

        sc = load_scenario(scenario)
        try:
            cfg = RawConfig(
                start_s=start,
                duration_s=duration,
                sensors=tuple(sensor) if sensor else None,
                sample_rate=sample_rate,
                elements=elements,
                max_bytes=max(int(max_mb * 1e6), 1),
                wifi=wifi,
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            name = str(err["loc"][0]) if err["loc"] else ""
            option = {"start_s": "start", "duration_s": "duration", "max_bytes": "max-mb"}.get(name, name)
            raise ConfigError(str(err["msg"]), field="--" + option.replace("_", "-")) from None
        size = raw_size(sc, cfg)
        if size > 500e6 and size <= cfg.max_bytes:
            err_console.print(f"[yellow]warning:[/yellow] writing {size / 1e6:.0f} MB of raw recordings")
        t0 = time.perf_counter()
        with (
            err_console.status(f"recording {sc.name}", spinner="dots")
            if err_console.is_terminal
            else _NoStatus()
        ):
            recs = write_raw(sc, out, cfg, seed)
        wall = time.perf_counter() - t0
        for r in recs:
            doc = {
                "type": "recording",
                "sensor": r.sensor,
                "kind": r.kind,
                "band": r.band,
                "path": str(r.path),
                "array": str(r.array) if r.array else None,
                "bytes": r.nbytes,
                "contributors": r.contributors,
            }
            if json_out:
                emit_json(doc)
            else:
                console.print(
                    f"{r.sensor:<20} {r.band:<6} {r.contributors} source(s)  "
                    f"{r.nbytes / 1e6:8.1f} MB  {r.path.name}"
                )
        if json_out:
            emit_json({"type": "raw", "out": str(out), "recordings": len(recs), "wall_s": round(wall, 3)})
        else:
            console.print(
                f"[green]wrote[/green] {len(recs)} recording(s) and raw_truth.jsonl to {out} in {wall:.1f} s"
            )


class _NoStatus:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None
