"""`skyfence assess run`: tracks and zones in, alert transitions out (file, TAK, event log)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        tracks_path: Annotated[
            Path, typer.Argument(metavar="TRACKS.jsonl", help="track snapshots (JSON Lines)")
        ],
        zones: Annotated[Path, typer.Option("--zones", help="zones as GeoJSON (WGS84)")],
        out: Annotated[
            Path | None, typer.Option("--out", help="write alert transitions here (JSONL)")
        ] = None,
        sensors: Annotated[
            Path | None, typer.Option("--sensors", help="sensors.json: its site is the ENU origin")
        ] = None,
        site: Annotated[
            str | None, typer.Option("--site", help="site origin LAT,LON[,ALT] when no --sensors")
        ] = None,
        cot: Annotated[
            str | None, typer.Option("--cot", help="send to TAK: tcp://HOST:PORT, tls://, udp://, file://")
        ] = None,
        allow_list: Annotated[
            Path | None, typer.Option("--allow-list", help="registered Remote ID serials, one a line")
        ] = None,
        db: Annotated[str | None, typer.Option("--db", help="event store URL or SQLite path")] = None,
        config: Annotated[Path | None, typer.Option("--config", help="AssessConfig YAML")] = None,
        terrain: Annotated[
            Path | None, typer.Option("--terrain", help="height grid (.npz/.csv) for launch areas")
        ] = None,
        terrain_spacing: Annotated[
            float | None, typer.Option(help="grid spacing (m) for a .csv terrain")
        ] = None,
        json_out: Annotated[
            bool, typer.Option("--json", help="alert transitions as JSON lines on stdout")
        ] = False,
    ) -> None:
        """Assess track snapshots against zones; every alert transition is written out."""
        from skyfence.assess import AllowList, AssessConfig, Assessor
        from skyfence.assess.run import run_assessment
        from skyfence.cli._common import console, emit_json, parse_site, progress
        from skyfence.errors import ConfigError, FormatError
        from skyfence.model.geojson import zones_from_geojson
        from skyfence.model.records import read_sensors, read_tracks
        from skyfence.model.terrain import Terrain
        from skyfence.share.cot import CotSink
        from skyfence.store import open_store

        if sensors is not None:
            the_site = read_sensors(sensors).site
        elif site is not None:
            the_site = parse_site(site)
        else:
            raise ConfigError("the site origin is needed: give --sensors SENSORS.json or --site LAT,LON")
        zone_list = zones_from_geojson(zones, the_site)
        cfg = AssessConfig.from_yaml(config) if config is not None else AssessConfig()
        allow = AllowList.load(allow_list) if allow_list is not None else None
        ground = None
        if terrain is not None:
            try:
                ground = Terrain.from_file(terrain, spacing=terrain_spacing)
            except (OSError, ValueError) as exc:
                raise FormatError(f"cannot read terrain: {exc}", path=terrain) from None
        assessor = Assessor(zone_list, cfg, the_site, allow_list=allow, ground=ground)
        snapshots = read_tracks(tracks_path)
        sink = CotSink(cot, the_site) if cot else None
        store = open_store(db) if db else None
        fh = out.open("w", encoding="utf-8") if out is not None else None
        try:
            with progress() as bar:
                task = bar.add_task("assessing", total=len(snapshots))
                n = run_assessment(
                    assessor,
                    snapshots,
                    alerts_out=fh,
                    sink=sink,
                    store=store,
                    on_alert=emit_json if json_out else None,
                    on_step=lambda _t: bar.advance(task),
                )
        finally:
            if fh is not None:
                fh.close()
            if sink is not None:
                sink.close()
            if store is not None:
                store.close()
        if not json_out:
            console.print(
                f"[bold]{len(snapshots)}[/] snapshots against {len(zone_list)} zones: {n} alert transitions, "
                f"{len(assessor.active())} alert(s) still open" + (f"; written to {out}" if out else "")
            )
            if out is not None and n:
                from skyfence.assess.timeline import alerts_timeline

                console.print(alerts_timeline(out))
