"""`skyfence exercise run` and `skyfence exercise compare`: Monte Carlo exercises, scorecards,
reports and layout comparisons (the driver is :mod:`skyfence.evaluate`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML.")],
        out: Annotated[Path, typer.Option("--out", help="Output directory (scorecard.json, report.html).")],
        runs: Annotated[
            int, typer.Option("--runs", min=1, help="Monte Carlo runs, each with its own seed.")
        ] = 10,
        workers: Annotated[
            int | None,
            typer.Option("--workers", min=0, help="Local worker processes (default: CPU count; 0: inline)."),
        ] = None,
        ray: Annotated[
            str | None,
            typer.Option("--ray", help="Ray cluster address ('local' starts one here); needs the ray extra."),
        ] = None,
        keep: Annotated[
            bool, typer.Option("--keep", help="Keep each run's JSONL files under OUT/runs/NNN/.")
        ] = False,
        cot: Annotated[
            str | None, typer.Option("--cot", help="Stream run 0's tracks and alerts as CoT to this URL.")
        ] = None,
        seed: Annotated[
            int | None, typer.Option("--seed", help="Base seed (default: the scenario's).")
        ] = None,
        score_config: Annotated[
            Path | None, typer.Option("--score-config", help="Scoring settings YAML.")
        ] = None,
        track_config: Annotated[
            Path | None, typer.Option("--track-config", help="Tracker settings YAML.")
        ] = None,
        assess_config: Annotated[
            Path | None, typer.Option("--assess-config", help="Assessment settings YAML.")
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="JSON lines on stdout.")] = False,
    ) -> None:
        """Run a scenario many times with different seeds through the real pipeline and score it."""
        from skyfence.cli._common import console, emit_json, progress
        from skyfence.evaluate.montecarlo import load_score_config, load_stage_config, run_exercise
        from skyfence.evaluate.scorecard import scorecard_table
        from skyfence.simulate import load_scenario

        # Bad input fails here, in one line, before any progress bar is drawn.
        load_scenario(scenario)
        score = load_score_config(score_config)
        tracker = load_stage_config(track_config, "track")
        assess = load_stage_config(assess_config, "assess")
        t0 = time.perf_counter()
        with progress() as bar:
            task = bar.add_task(f"exercise {scenario.name}", total=runs)
            card = run_exercise(
                scenario,
                runs,
                workers,
                out,
                ray_address=ray,
                keep=keep,
                cot_url=cot,
                score_config=score,
                tracker_config=tracker,
                assess_config=assess,
                base_seed=seed,
                on_progress=lambda done, total: bar.update(task, completed=done),
            )
        wall = time.perf_counter() - t0
        if json_out:
            doc = card.to_dict()
            for rec in doc["per_run"]:
                emit_json({"type": "run", **rec})
            emit_json(
                {
                    "type": "scorecard",
                    "scenario": card.scenario,
                    "runs": card.runs,
                    "scorecard": str(out / "scorecard.json"),
                    "report": str(out / "report.html"),
                    "wall_s": round(wall, 2),
                    "metrics": doc["metrics"],
                }
            )
            return
        console.print(scorecard_table(card))
        console.print(f"scorecard: {out / 'scorecard.json'}")
        console.print(f"report:    {out / 'report.html'}")
        console.print(f"{card.runs} runs in {wall:.1f} s")

    @app.command("compare")
    def compare(
        scenarios: Annotated[list[Path], typer.Argument(help="Two or more layout scenarios (same threats).")],
        out: Annotated[Path, typer.Option("--out", help="Output directory.")],
        runs: Annotated[
            int, typer.Option("--runs", min=1, help="Runs per layout (same seeds for every layout).")
        ] = 10,
        workers: Annotated[
            int | None, typer.Option("--workers", min=0, help="Local worker processes.")
        ] = None,
        ray: Annotated[str | None, typer.Option("--ray", help="Ray cluster address.")] = None,
        seed: Annotated[
            int | None, typer.Option("--seed", help="Base seed (default: the first layout's).")
        ] = None,
        score_config: Annotated[
            Path | None, typer.Option("--score-config", help="Scoring settings YAML.")
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="JSON lines on stdout.")] = False,
    ) -> None:
        """Score several sensor layouts against the same threats and seeds; rank them against cost."""
        from skyfence.cli._common import console, emit_json, progress
        from skyfence.evaluate.compare import compare_layouts, compare_table
        from skyfence.evaluate.montecarlo import load_score_config
        from skyfence.simulate import load_scenario

        for path in scenarios:
            load_scenario(path)
        score = load_score_config(score_config)
        with progress() as bar:
            task = bar.add_task("layouts", total=runs * len(scenarios))
            ranked = compare_layouts(
                scenarios,
                runs,
                out,
                workers=workers,
                ray_address=ray,
                score_config=score,
                base_seed=seed,
                on_progress=lambda done, total: bar.update(task, completed=done),
            )
        if json_out:
            for rank, r in enumerate(ranked, start=1):
                emit_json({"type": "layout", "rank": rank, **r.summary()})
            emit_json(
                {"type": "compare", "report": str(out / "compare.html"), "json": str(out / "compare.json")}
            )
            return
        console.print(compare_table(ranked))
        console.print(f"comparison: {out / 'compare.html'}")
