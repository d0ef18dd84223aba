"""A rich summary of a written exercise: detections per sensor and class, and per target
(read from its ``summary.json``; reusable by ``make demo``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table

from skyfence.errors import FormatError
from skyfence.model.classes import CLASSES

__all__ = ["load_summary", "summarize"]


def load_summary(out_dir: str | Path) -> dict[str, Any]:
    """The ``summary.json`` of an exercise directory."""
    path = Path(out_dir) / "summary.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FormatError(f"cannot read exercise summary: {exc.strerror or exc}", path=path) from None
    except json.JSONDecodeError as exc:
        raise FormatError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    if not isinstance(doc, dict) or "sensors" not in doc or "targets" not in doc:
        raise FormatError("not an exercise summary", path=path)
    return doc


def summarize(out_dir: str | Path) -> RenderableType:
    """Two tables: detections per sensor by true class (and clutter), and per target by sensor."""
    doc = load_summary(out_dir)
    sensors: dict[str, Any] = doc["sensors"]
    head = (
        f"{doc['scenario']} (seed {doc['seed']}): {doc['duration_s']:g} s, "
        f"{doc['truth_points']} truth points, {doc['detections']} detections"
    )
    by_sensor = Table(title="Detections per sensor and true class", title_justify="left")
    by_sensor.add_column("sensor", no_wrap=True)
    for c in CLASSES[:-1]:
        by_sensor.add_column(_SHORT.get(c, c), justify="right")
    by_sensor.add_column("clutter", justify="right")
    by_sensor.add_column("total", justify="right", style="bold")
    for sid, rec in sensors.items():
        by_sensor.add_row(
            sid,
            *[_n(rec["by_class"].get(c, 0)) for c in CLASSES[:-1]],
            _n(rec["clutter"]),
            _n(rec["total"]),
        )
    per_target = Table(title="Detections per target", title_justify="left")
    per_target.add_column("target", no_wrap=True)
    per_target.add_column("class")
    per_target.add_column("role")
    per_target.add_column("total", justify="right", style="bold")
    per_target.add_column("by sensor")
    for name, rows in _grouped(doc["targets"]):
        first = rows[0]
        by: dict[str, int] = {}
        for rec in rows:
            for sid, n in rec["by_sensor"].items():
                by[sid] = by.get(sid, 0) + int(n)
        role = first["role"]
        per_target.add_row(
            name if len(rows) == 1 else f"{name} ({len(rows)})",
            first["cls"],
            f"[red]{role}[/red]" if role == "threat" else role,
            _n(sum(by.values())),
            ", ".join(f"{sid} {n}" for sid, n in sorted(by.items(), key=lambda kv: -kv[1]))
            or "[dim]unseen[/dim]",
        )
    return Group(head, by_sensor, per_target)


_SHORT = {"multirotor": "multi", "fixed_wing": "fixed", "aircraft": "aircr"}


def _grouped(targets: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Bird flocks, and swarms of more than eight, collapse into one row per group
    (members are named ``GROUP-NN``)."""

    def group_of(rec: dict[str, Any]) -> str | None:
        name = str(rec["name"])
        if rec["behaviour"] in ("bird", "swarm", "decoy") and "-" in name:
            return name.rsplit("-", 1)[0]
        return None

    sizes: dict[str, int] = {}
    for rec in targets:
        g = group_of(rec)
        if g is not None:
            sizes[g] = sizes.get(g, 0) + 1
    out: list[tuple[str, list[dict[str, Any]]]] = []
    index: dict[str, int] = {}
    for rec in targets:
        g = group_of(rec)
        if g is not None and (rec["behaviour"] == "bird" or sizes[g] > 8):
            if g in index:
                out[index[g]][1].append(rec)
                continue
            index[g] = len(out)
            out.append((g, [rec]))
        else:
            out.append((str(rec["name"]), [rec]))
    return out


def _n(v: int) -> str:
    return "[dim]·[/dim]" if v == 0 else str(v)
