"""`skyfence interop ...`: ASTERIX and ADS-B files into detections, and SAPIENT in and out
(the decoders are :mod:`skyfence.sources.asterix`, :mod:`skyfence.sources.adsb` and
:mod:`skyfence.share.sapient`)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from skyfence.cli._common import parse_site
from skyfence.errors import ConfigError

if TYPE_CHECKING:
    from skyfence.model.detections import Detections

__all__ = ["parse_host_port", "register"]

_SITE_HELP = "Site origin LAT,LON[,ALT] (degrees, metres above the WGS84 ellipsoid)."


def parse_host_port(text: str, option: str = "--to") -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    try:
        if not sep or not host:
            raise ValueError("expected HOST:PORT")
        number = int(port)
        if not 0 < number < 65536:
            raise ValueError("port out of range")
    except ValueError as exc:
        raise ConfigError(f"{exc} (got {text!r})", field=option) from None
    return host.strip("[]"), number


def _write_detections(out: Path, batches: list[Detections]) -> int:
    from skyfence.model.records import detection_records, write_jsonl

    records = [rec for det in batches for rec in detection_records(det)]
    records.sort(key=lambda r: r["t"])
    try:
        with out.open("w", encoding="utf-8") as fh:
            return write_jsonl(fh, records)
    except OSError as exc:
        raise ConfigError(f"cannot write: {exc.strerror or exc}", field="--out") from None


def _report(
    json_out: bool,
    what: str,
    path: str,
    batches: list[Detections],
    errors: Counter[str],
    extra: dict[str, Any],
) -> None:
    from skyfence.cli._common import console, emit_json

    per_sensor = Counter[str]()
    for det in batches:
        per_sensor[det.sensor_id] += len(det)
    if json_out:
        emit_json(
            {
                "input": path,
                "format": what,
                "detections": sum(per_sensor.values()),
                "per_sensor": dict(per_sensor),
                "errors": dict(errors),
                **extra,
            }
        )
        return
    from rich.table import Table

    table = Table(title=f"{what}: {path}")
    table.add_column("sensor")
    table.add_column("detections", justify="right")
    for sensor, n in sorted(per_sensor.items()):
        table.add_row(sensor, str(n))
    console.print(table)
    if errors:
        console.print("skipped, by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(errors.items())))
    for key, value in extra.items():
        console.print(f"{key}: {value}")


def register(app: typer.Typer) -> None:
    @app.command("asterix")
    def asterix_cmd(
        file: Annotated[
            Path, typer.Argument(help="Raw ASTERIX (.ast/.raw) or a pcap/pcapng of UDP ASTERIX.")
        ],
        site: Annotated[str, typer.Option("--site", help=_SITE_HELP)],
        out: Annotated[Path, typer.Option("--out", help="Detections JSONL to write.")],
        date: Annotated[
            str | None,
            typer.Option(
                "--date", help="UTC day YYYY-MM-DD of a raw file's times of day (captures carry it)."
            ),
        ] = None,
        config: Annotated[
            Path | None,
            typer.Option("--config", help="AsterixConfig YAML (noise, radar positions, SDPS origin)."),
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Summary as a JSON line on stdout.")] = False,
    ) -> None:
        """Decode CAT048 target reports (polar plots), CAT062 system tracks and CAT021 ADS-B
        reports (site-frame positions) into detections; undecodable blocks are counted by
        reason and skipped."""
        import datetime as dt

        from skyfence.sources.asterix import AsterixConfig, read_asterix_file, records_to_detections

        origin = parse_site(site)
        cfg = _load_model(AsterixConfig, config)
        t_ref = None
        if date is not None:
            try:
                day = dt.date.fromisoformat(date)
            except ValueError:
                raise ConfigError(f"expected YYYY-MM-DD, got {date!r}", field="--date") from None
            t_ref = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp()
        errors: Counter[str] = Counter()
        records = read_asterix_file(file, errors, t_ref=t_ref)
        batches = records_to_detections(records, origin, cfg, errors)
        n = _write_detections(out, batches)
        _report(json_out, "asterix", str(file), batches, errors, {"records": len(records), "written": n})

    @app.command("adsb")
    def adsb_cmd(
        file: Annotated[Path, typer.Argument(help="SBS/BaseStation text, a Beast binary capture or raw IQ.")],
        site: Annotated[str, typer.Option("--site", help=_SITE_HELP)],
        out: Annotated[Path, typer.Option("--out", help="Detections JSONL to write.")],
        sbs: Annotated[
            bool, typer.Option("--sbs", help="The file is SBS/BaseStation text (MSG lines).")
        ] = False,
        beast: Annotated[bool, typer.Option("--beast", help="The file is a Beast binary stream.")] = False,
        iq: Annotated[
            bool, typer.Option("--iq", help="The file is raw 1090 MHz IQ (2 MS/s, unsigned 8-bit, RTL-SDR).")
        ] = False,
        t0: Annotated[
            float,
            typer.Option("--t0", help="UTC epoch of the first Beast frame (Beast clocks are relative)."),
        ] = 0.0,
        sensor_id: Annotated[str, typer.Option("--sensor-id", help="Sensor id of the receiver.")] = "adsb",
        json_out: Annotated[bool, typer.Option("--json", help="Summary as a JSON line on stdout.")] = False,
    ) -> None:
        """Decode ADS-B into 3-D position detections labelled with ICAO address and callsign."""
        from skyfence.sources.adsb import AdsbConfig, read_adsb_file

        if sbs + beast + iq != 1:
            raise ConfigError("give exactly one of --sbs, --beast or --iq", field="--sbs/--beast/--iq")
        origin = parse_site(site)
        errors: Counter[str] = Counter()
        fmt = "sbs" if sbs else "beast" if beast else "iq"
        det = read_adsb_file(file, fmt, origin, AdsbConfig(sensor_id=sensor_id), errors, t0)
        n = _write_detections(out, [det] if len(det) else [])
        aircraft = len(set(det.attrs["icao"].tolist())) if len(det) else 0
        _report(json_out, "adsb", str(file), [det], errors, {"aircraft": aircraft, "written": n})

    @app.command("sapient-listen")
    def sapient_listen(
        port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port to listen on.")],
        out: Annotated[Path, typer.Option("--out", help="Detections JSONL to write.")],
        site: Annotated[str, typer.Option("--site", help=_SITE_HELP)],
        host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
        max_messages: Annotated[
            int | None, typer.Option("--max-messages", min=1, help="Stop after this many valid messages.")
        ] = None,
        duration: Annotated[
            float | None, typer.Option("--duration", min=0.0, help="Stop after this many seconds.")
        ] = None,
        node_id: Annotated[str, typer.Option("--node-id", help="This fusion node's UUID.")] = "",
        json_out: Annotated[bool, typer.Option("--json", help="Summary as a JSON line on stdout.")] = False,
    ) -> None:
        """Act as a SAPIENT fusion node: acknowledge registrations, collect detection reports,
        write them as detections when stopped (max messages, duration or Ctrl-C)."""
        import asyncio

        from skyfence.cli._common import err_console
        from skyfence.share.sapient import SapientServer, detection_reports_to_detections

        origin = parse_site(site)
        received: list[Any] = []

        async def serve() -> SapientServer:
            done = asyncio.Event()

            def on_message(msg: Any, peer: str) -> None:
                received.append(msg)
                if max_messages is not None and len(received) >= max_messages:
                    done.set()

            server = SapientServer(on_message, node_id=node_id, host=host, port=port)
            try:
                bound = await server.start()
            except OSError as exc:
                raise ConfigError(
                    f"cannot listen on {host}:{port}: {exc.strerror or exc}", field="--port"
                ) from None
            err_console.print(f"SAPIENT fusion node listening on {host}:{bound}")
            try:
                await asyncio.wait_for(done.wait(), duration)
            except TimeoutError:
                pass
            finally:
                await server.close()
            return server

        try:
            server = asyncio.run(serve())
            errors = server.errors
        except KeyboardInterrupt:
            errors = Counter()
        batches = detection_reports_to_detections(received, origin, errors)
        n = _write_detections(out, batches)
        kinds = Counter(str(m.WhichOneof("content")) for m in received)
        _report(
            json_out, "sapient", f"{host}:{port}", batches, errors, {"messages": dict(kinds), "written": n}
        )

    @app.command("sapient-send")
    def sapient_send(
        tracks_file: Annotated[Path, typer.Argument(help="Tracks JSONL (skyfence track records).")],
        to: Annotated[str, typer.Option("--to", help="SAPIENT fusion node HOST:PORT.")],
        site: Annotated[str, typer.Option("--site", help=_SITE_HELP)],
        alerts_file: Annotated[
            Path | None, typer.Option("--alerts", help="Alerts JSONL to send too.")
        ] = None,
        node_id: Annotated[str, typer.Option("--node-id", help="This node's UUID (default: random).")] = "",
        json_out: Annotated[bool, typer.Option("--json", help="Summary as a JSON line on stdout.")] = False,
    ) -> None:
        """Register with a SAPIENT fusion node and send tracks as detection reports (and alerts)."""
        import asyncio
        import os
        import random
        import time

        from skyfence.model.records import read_alerts, read_tracks
        from skyfence.share.sapient import SapientClient, SapientTranslator, node_uuid, registration_message

        origin = parse_site(site)
        host, port = parse_host_port(to)
        snapshots = read_tracks(tracks_file)
        alerts = read_alerts(alerts_file) if alerts_file is not None else []
        rng = random.Random(os.urandom(16))
        node = node_id or node_uuid(rng)
        translator = SapientTranslator(node, origin, rng)
        # Alerts go out after the snapshot of their time, so their track positions are known.
        events: list[tuple[float, int, Any]] = [(s.t, 0, s) for s in snapshots] + [
            (a.t, 1, a) for a in alerts
        ]
        events.sort(key=lambda e: (e[0], e[1]))

        async def send() -> tuple[int, int]:
            client = SapientClient(host, port)
            await client.connect()
            try:
                await client.register(registration_message(node, time.time()))
                n_reports = n_alerts = 0
                for _t, kind, item in events:
                    if kind == 0:
                        msgs = translator.detection_reports(item)
                        n_reports += len(msgs)
                    else:
                        msgs = [translator.alert(item)]
                        n_alerts += 1
                    if msgs:
                        await client.send(msgs)
                return n_reports, n_alerts
            finally:
                await client.close()

        try:
            n_reports, n_alerts = asyncio.run(send())
        except (ConnectionError, TimeoutError) as exc:
            raise ConfigError(f"SAPIENT node {host}:{port}: {exc}", field="--to") from None
        from skyfence.cli._common import console, emit_json

        summary = {"to": to, "node_id": node, "detection_reports": n_reports, "alerts": n_alerts}
        if json_out:
            emit_json(summary)
        else:
            console.print(f"sent {n_reports} detection reports and {n_alerts} alerts to {to} as node {node}")


def _load_model(model: Any, path: Path | None) -> Any:
    """A pydantic settings model from YAML (defaults when no file)."""
    from skyfence.settings import load_settings

    return load_settings(model, path)
