"""`make demo`: the flagship border exercise end to end, as an exercise planner would run it.

It simulates the flagship scenario once and shows what the sensors saw, then runs the real
pipeline (simulate -> track -> assess -> score) over many seeded runs, prints what the
operators would have seen in run 0 (tracks by class with their flags, the alerts timeline),
the scorecard with its 95 % intervals, and the path of the offline HTML report.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="skyfence-demo", description=__doc__)
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "border-incursion.yaml")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "demo")
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.rule import Rule

    from skyfence.assess.timeline import alerts_timeline
    from skyfence.cli._common import progress
    from skyfence.cli.track import summarize_tracks
    from skyfence.errors import SkyfenceError
    from skyfence.evaluate import run_exercise, run_seed, scorecard_table
    from skyfence.simulate import load_scenario, write_exercise
    from skyfence.simulate.summary import summarize

    console = Console()
    start = time.perf_counter()
    try:
        scenario = load_scenario(args.scenario)
        console.print(Rule(f"skyfence exercise: {scenario.name}"))
        sim_dir = args.out / "sim"
        write_exercise(scenario, sim_dir, seed=run_seed(scenario.seed, 0))
        console.print(summarize(sim_dir))

        console.print(Rule(f"{args.runs} runs of the real pipeline: simulate, track, assess, score"))
        bar = progress()
        task = bar.add_task("exercise runs", total=args.runs)
        with bar:
            card = run_exercise(
                args.scenario,
                runs=args.runs,
                workers=args.workers,
                out_dir=args.out / "exercise",
                keep=True,
                on_progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        run0 = args.out / "exercise" / "runs" / "000"
        console.print(Rule("Run 0 as the operators saw it"))
        console.print(summarize_tracks(run0 / "tracks.jsonl"))
        console.print(alerts_timeline(run0 / "alerts.jsonl"))
        console.print(Rule("Scorecard"))
        console.print(scorecard_table(card))
    except SkyfenceError as exc:
        print(f"skyfence demo: error: {exc}", file=sys.stderr)
        return 2
    report = (args.out / "exercise" / "report.html").resolve()
    console.print(f"[bold]report:[/bold] {report}")
    console.print(f"[bold]scorecard:[/bold] {(args.out / 'exercise' / 'scorecard.json').resolve()}")
    console.print(f"demo finished in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
