"""`skyfence track run`: detections JSONL + sensors.json -> tracks JSONL, and the
per-class summary of a tracks file (`summarize_tracks`) that the demo prints."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import RenderableType

__all__ = ["register", "run_tracker", "summarize_tracks"]


def _count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            n += chunk.count(b"\n")
    return n


def run_tracker(
    detections: Path,
    sensors: Path,
    out: Path,
    config: Path | None = None,
    show_progress: bool = False,
    zones: Path | None = None,
) -> dict[str, Any]:
    """Track a detections file; write one snapshot of every live track per time step.
    ``zones`` (GeoJSON) gives relay recognition its border lines. Returns counts for the
    caller to print."""
    from skyfence.cli._common import progress
    from skyfence.errors import FormatError
    from skyfence.model.records import iter_detections, read_sensors, track_records, write_jsonl
    from skyfence.track import Tracker, TrackerConfig

    registry = read_sensors(sensors)
    cfg = TrackerConfig.from_yaml(config) if config is not None else TrackerConfig()
    zone_list = None
    if zones is not None:
        from skyfence.model.geojson import zones_from_geojson

        zone_list = zones_from_geojson(zones, registry.site)
    tracker = Tracker(cfg, registry, zones=zone_list)
    total = _count_lines(detections) if show_progress else 0
    n_det = snapshots = records = 0
    ids: set[int] = set()
    last_t: float | None = None
    try:
        fh = out.open("w", encoding="utf-8")
    except OSError as exc:
        raise FormatError(f"cannot write file: {exc.strerror or exc}", path=out) from None

    written: list[float] = []

    def write(tracks: Any) -> None:
        nonlocal snapshots, records
        # With a latency window the picture may lag the input: write each time once.
        if written and tracks.t <= written[-1]:
            return
        written.append(tracks.t)
        if len(tracks):
            records += write_jsonl(fh, track_records(tracks, registry.site))
            ids.update(int(i) for i in tracks.id)
            snapshots += 1

    with fh:
        bar = progress() if show_progress else None
        task = bar.add_task(f"track {detections.name}", total=total) if bar is not None else None
        if bar is not None:
            bar.start()
        try:
            tracks = None
            for batch in iter_detections(detections):
                t = float(batch.t.max())
                # A new time: the previous step is complete, write its picture.
                if tracks is not None and last_t is not None and t > last_t:
                    write(tracks)
                    tracks = None
                tracks = tracker.update(batch)
                last_t = tracker.t
                n_det += len(batch)
                if bar is not None and task is not None:
                    bar.advance(task, len(batch))
            final = tracker.flush()
            if tracks is not None or final.t != last_t:
                write(final)
        finally:
            if bar is not None:
                bar.stop()
    st = tracker.stats
    return {
        "detections": n_det,
        "snapshots": snapshots,
        "track_records": records,
        "tracks": len(ids),
        "dropped_late": st.dropped_late,
        "duplicates": st.duplicates,
        "invalid": st.invalid,
        "out": str(out),
    }


def summarize_tracks(tracks_path: str | Path, max_rows: int = 40) -> RenderableType:
    """Tracks by class with their flags: a count per class, then one row per track that
    was ever confirmed (its last record), most threatening classes first."""
    from rich.console import Group
    from rich.table import Table

    from skyfence.model import CLASSES
    from skyfence.model.records import iter_jsonl

    last: dict[int, dict[str, Any]] = {}
    first_t: dict[int, float] = {}
    firm: set[int] = set()
    for _, rec in iter_jsonl(tracks_path):
        tid = int(rec.get("id", -1))
        first_t.setdefault(tid, float(rec.get("t", 0.0)))
        if rec.get("status") in ("confirmed", "coasting"):
            firm.add(tid)
        last[tid] = rec
    rows = [last[i] for i in sorted(firm)]
    order = {c: k for k, c in enumerate(CLASSES)}
    rows.sort(key=lambda r: (order.get(str(r.get("cls")), 99), int(r["id"])))

    counts = Table(title=f"Tracks by class ({len(rows)} confirmed)", show_lines=False)
    for col in ("class", "tracks", "rf-silent", "relay", "in swarm", "identified"):
        counts.add_column(col, justify="right" if col != "class" else "left")
    for cls in CLASSES:
        mine = [r for r in rows if r.get("cls") == cls]
        if not mine:
            continue
        counts.add_row(
            cls,
            str(len(mine)),
            str(sum(1 for r in mine if float(r.get("rf_silent", 0.0)) >= 0.5)),
            str(sum(1 for r in mine if r.get("relay"))),
            str(sum(1 for r in mine if int(r.get("group_id", -1)) >= 0)),
            str(sum(1 for r in mine if r.get("identity"))),
        )

    detail = Table(title="Confirmed tracks (last state)")
    for col in ("id", "class", "p", "status", "seen s", "speed m/s", "height m", "sensors", "flags"):
        detail.add_column(
            col, justify="right" if col not in ("class", "status", "sensors", "flags") else "left"
        )
    for r in rows[:max_rows]:
        x = r.get("x") or [0.0] * 6
        prob = r.get("cls_prob") or []
        k = order.get(str(r.get("cls")), 0)
        flags = []
        if float(r.get("rf_silent", 0.0)) >= 0.5:
            flags.append(f"rf-silent {float(r['rf_silent']):.2f}")
        if r.get("relay"):
            flags.append("relay")
        if int(r.get("relay_id", -1)) >= 0 and not r.get("relay"):
            flags.append(f"via relay {int(r['relay_id'])}")
        if int(r.get("group_id", -1)) >= 0:
            flags.append(f"swarm {int(r['group_id'])}")
        if r.get("identity"):
            flags.append(f"id {r['identity']}")
        if r.get("spoofed"):
            flags.append("spoofed")
        detail.add_row(
            str(r["id"]),
            str(r.get("cls")),
            f"{float(prob[k]):.2f}" if len(prob) > k else "",
            str(r.get("status")),
            f"{float(r.get('t', 0.0)) - first_t[int(r['id'])]:.0f}",
            f"{(float(x[3]) ** 2 + float(x[4]) ** 2) ** 0.5:.1f}",
            f"{float(x[2]):.0f}",
            ",".join(r.get("sensors", [])),
            ", ".join(flags),
        )
    parts: list[Any] = [counts, detail]
    if len(rows) > max_rows:
        parts.append(f"... and {len(rows) - max_rows} more confirmed tracks")
    return Group(*parts)


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        detections: Annotated[Path, typer.Argument(help="Detections, JSON Lines (docs/formats.md).")],
        sensors: Annotated[Path, typer.Option("--sensors", help="sensors.json: site and sensor registry.")],
        out: Annotated[Path, typer.Option("--out", help="Write track snapshots here (JSON Lines).")],
        config: Annotated[
            Path | None, typer.Option("--config", help="Tracker settings (YAML, TrackerConfig fields).")
        ] = None,
        zones: Annotated[
            Path | None, typer.Option("--zones", help="Zones GeoJSON (border lines for relay recognition).")
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="One JSON line of counts on stdout.")] = False,
    ) -> None:
        """Fuse every sensor's detections into tracks (one snapshot per time step)."""
        from skyfence.cli._common import console, emit_json

        result = run_tracker(detections, sensors, out, config, show_progress=not json_out, zones=zones)
        if json_out:
            emit_json(result)
            return
        console.print(
            f"[bold]{result['detections']}[/] detections -> [bold]{result['tracks']}[/] tracks, "
            f"{result['snapshots']} snapshots in {out} "
            f"(late {result['dropped_late']}, duplicates {result['duplicates']}, invalid {result['invalid']})"
        )
        console.print(summarize_tracks(out))

    @app.command("summary")
    def summary(
        tracks: Annotated[Path, typer.Argument(help="Tracks JSON Lines written by `skyfence track run`.")],
    ) -> None:
        """Tracks by class with their flags (RF-silent, relay, swarm, identity)."""
        from skyfence.cli._common import console

        console.print(summarize_tracks(tracks))
