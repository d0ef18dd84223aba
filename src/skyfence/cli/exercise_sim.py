"""`skyfence exercise simulate`: scenario YAML -> truth, detections and the sensor
registry of one simulated exercise (the driver is :mod:`skyfence.simulate`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML.")],
        out: Annotated[Path, typer.Option("--out", help="Output directory for the exercise files.")],
        seed: Annotated[
            int | None, typer.Option("--seed", min=0, help="Seed (default: the scenario's).")
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="JSON lines on stdout.")] = False,
    ) -> None:
        """Simulate a scenario: writes truth.jsonl, detections.jsonl, associations.jsonl,
        sensors.json, zones.geojson, targets.json, summary.json and a copy of the scenario."""
        from skyfence.cli._common import console, emit_json, err_console, progress
        from skyfence.simulate import load_scenario, write_exercise
        from skyfence.simulate.summary import load_summary, summarize

        sc = load_scenario(scenario)
        t0 = time.perf_counter()
        if err_console.is_terminal:
            with progress() as bar:
                task = bar.add_task(f"simulate {sc.name}", total=sc.n_steps + 1)
                write_exercise(sc, out, seed, progress=lambda done, total: bar.update(task, completed=done))
        else:
            # No terminal to draw a bar on (a pipe, a CI log): keep stderr for errors only.
            write_exercise(sc, out, seed)
        wall = time.perf_counter() - t0
        if json_out:
            doc = load_summary(out)
            for sid, rec in doc["sensors"].items():
                emit_json({"type": "sensor", "sensor": sid, **rec})
            for rec in doc["targets"]:
                emit_json({"type": "target", **rec})
            emit_json(
                {
                    "type": "exercise",
                    "scenario": doc["scenario"],
                    "seed": doc["seed"],
                    "out": str(out),
                    "truth_points": doc["truth_points"],
                    "detections": doc["detections"],
                    "wall_s": round(wall, 3),
                }
            )
        else:
            console.print(summarize(out))
            console.print(f"[green]wrote[/green] {out} in {wall:.1f} s")
