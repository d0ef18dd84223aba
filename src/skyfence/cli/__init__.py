"""`skyfence <area> <verb>`: parses arguments and calls a driver; nothing else lives here.

Each area is a module ``skyfence.cli.<area>`` (or several, see ``AREAS``) exposing
``register(app: typer.Typer) -> None``. Heavy imports happen inside the commands so
``skyfence --help`` stays fast. Every :class:`~skyfence.errors.SkyfenceError` becomes a
one-line message on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import typer

from skyfence.errors import SkyfenceError

__all__ = ["AREAS", "build_app", "main"]

#: area name -> (help, modules contributing its verbs)
AREAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "exercise": (
        "Simulate, run and score FPV attack exercises.",
        ("skyfence.cli.exercise_sim", "skyfence.cli.exercise_run", "skyfence.cli.exercise_raw"),
    ),
    "track": ("Fuse detections into tracks.", ("skyfence.cli.track",)),
    "assess": ("Threat assessment and alerts.", ("skyfence.cli.assess",)),
    "detect": ("Raw RF and audio signals to detections.", ("skyfence.cli.detect",)),
    "remoteid": ("Decode Remote ID and DJI DroneID.", ("skyfence.cli.remoteid",)),
    "interop": ("ASTERIX, ADS-B and SAPIENT inputs and outputs.", ("skyfence.cli.interop",)),
    "store": ("The event log.", ("skyfence.cli.store",)),
}


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="skyfence",
        help="skyfence: counter-drone detection, tracking and exercises (defensive only).",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @app.callback()
    def root() -> None:
        """skyfence: counter-drone detection, tracking and exercises (defensive only)."""

    @app.command("version")
    def version() -> None:
        """Print the skyfence version."""
        from skyfence import __version__

        print(__version__)

    for area, (help_text, modules) in AREAS.items():
        present = [m for m in modules if importlib.util.find_spec(m) is not None]
        if not present:
            continue
        sub = typer.Typer(name=area, help=help_text, no_args_is_help=True)
        for mod in present:
            importlib.import_module(mod).register(sub)
        app.add_typer(sub, name=area)
    return app


def main(argv: list[str] | None = None) -> int:
    app = build_app()
    try:
        app(args=argv, prog_name="skyfence")
    except SkyfenceError as exc:
        print(f"skyfence: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("skyfence: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:
        if exc.code is None:
            return 0
        return exc.code if isinstance(exc.code, int) else 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
