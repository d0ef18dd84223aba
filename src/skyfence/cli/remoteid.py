"""`skyfence remoteid decode`: Remote ID and DJI DroneID from a pcap/pcapng capture to
``remote_id`` detections, a per-message dump and a per-drone spoofing summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    pass

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    _register_droneid_iq(app)

    @app.command("decode")
    def decode(
        capture: Annotated[Path, typer.Argument(help="pcap or pcapng capture (802.11 radiotap or BLE).")],
        out: Annotated[
            Path | None, typer.Option("--out", help="Write remote_id detections here (JSON Lines).")
        ] = None,
        messages: Annotated[
            Path | None,
            typer.Option("--messages", help="Write every decoded message with all its fields (JSON Lines)."),
        ] = None,
        site: Annotated[
            str | None,
            typer.Option("--site", help="Site origin LAT,LON,ALT (default: the first broadcast position)."),
        ] = None,
        sensor: Annotated[str, typer.Option("--sensor", help="Sensor id of the detections.")] = "remoteid",
        summary: Annotated[
            bool, typer.Option("--summary", help="Table per drone: messages, times, speed, spoofing verdict.")
        ] = False,
        keep_bad_crc: Annotated[
            bool, typer.Option("--keep-bad-crc", help="Also decode frames whose CRC/FCS failed.")
        ] = False,
        json_out: Annotated[bool, typer.Option("--json", help="JSON lines on stdout.")] = False,
    ) -> None:
        """Decode Open Drone ID (Wi-Fi beacon, NAN, Bluetooth) and DJI DroneID; flag spoofing."""
        from skyfence.cli._common import console, emit_json, parse_site, progress
        from skyfence.detect.remoteid import (
            check_plausibility,
            default_site,
            position_reports,
            remote_id_detections,
        )
        from skyfence.detect.remoteid.capture import CaptureDecode, decode_packets, message_records
        from skyfence.errors import FormatError
        from skyfence.model.records import detection_records, write_jsonl
        from skyfence.sources.pcap import read_packets

        origin = parse_site(site) if site is not None else None
        result = CaptureDecode()
        packets = read_packets(capture)
        # Captures decode at ~80k frames/s; only big ones get a bar.
        big = capture.stat().st_size > 50_000_000
        try:
            if big:
                with progress() as bar:
                    task = bar.add_task(f"decode {capture.name}", total=None)

                    def counted() -> Any:
                        for k, p in enumerate(packets):
                            if k % 10_000 == 0:
                                bar.update(task, completed=k)
                            yield p

                    decode_packets(counted(), result, keep_bad_crc=keep_bad_crc)
            else:
                decode_packets(packets, result, keep_bad_crc=keep_bad_crc)
        except FormatError:
            if result.packets == 0:
                raise
            result.errors["capture_damaged"] += 1
        reports = position_reports(result.decoded)
        plaus = check_plausibility(reports)
        verdicts = plaus.verdicts(reports)
        origin = origin or default_site(reports)
        n_det = 0
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("w", encoding="utf-8") as fh:
                if origin is not None:
                    dets = remote_id_detections(reports, plaus, origin, sensor)
                    n_det = write_jsonl(fh, detection_records(dets))
        if messages is not None:
            messages.parent.mkdir(parents=True, exist_ok=True)
            with messages.open("w", encoding="utf-8") as fh:
                write_jsonl(fh, message_records(result.decoded))
        errors = dict(sorted(result.errors.items()))
        totals: dict[str, object] = {
            "type": "capture",
            "capture": str(capture),
            "packets": result.packets,
            "payloads": len(result.decoded),
            "positions": len(reports),
            "drones": len(verdicts),
            "spoofed": sum(v.spoofed for v in verdicts),
            "detections": n_det,
            "site": None if origin is None else origin.as_dict(),
            "errors": errors,
        }
        if json_out:
            for v in verdicts:
                emit_json(
                    {
                        "type": "drone",
                        "serial": v.serial,
                        "messages": v.messages,
                        "first_t": v.first_t,
                        "last_t": v.last_t,
                        "max_speed": v.max_speed if v.max_speed == v.max_speed else None,
                        "spoofed": v.spoofed,
                        "reasons": v.reasons,
                    }
                )
            emit_json(totals)
            return
        if summary:
            console.print(_summary_table(verdicts))
        error_text = ", ".join(f"{k} {v}" for k, v in errors.items()) or "none"
        console.print(
            f"{result.packets} frames, {len(result.decoded)} Remote ID payloads, {len(reports)} positions "
            f"from {len(verdicts)} drones ({totals['spoofed']} flagged as spoofed); "
            f"decode errors: {error_text}"
        )
        if out is not None:
            console.print(f"detections: {out} ({n_det})")


def _register_droneid_iq(app: typer.Typer) -> None:
    @app.command("droneid-iq")
    def droneid_iq(
        recording: Annotated[
            Path, typer.Argument(help="Raw complex64 IQ (no header) holding DJI OcuSync DroneID bursts.")
        ],
        sample_rate: Annotated[
            float, typer.Option("--sample-rate", min=1.0, help="Sample rate of the recording, samples/s.")
        ] = 50e6,
        json_out: Annotated[
            bool, typer.Option("--json", help="One JSON line per decoded burst on stdout.")
        ] = False,
    ) -> None:
        """Decode DJI DroneID bursts from a raw baseband recording (receive only)."""
        import dataclasses

        from rich.table import Table

        from skyfence.cli._common import console, emit_json
        from skyfence.detect.droneid_rf import DecodeStats, decode_droneid_file

        stats = DecodeStats()
        frames = decode_droneid_file(recording, sample_rate, stats=stats)
        if json_out:
            for f in frames:
                emit_json(
                    {
                        "t": f.start_s,
                        "crc_ok": f.crc_ok,
                        "payload_crc_ok": f.payload_crc_ok,
                        "subcommand": f.subcommand,
                        "evm_db": f.evm_db,
                        "cfo_hz": f.cfo_hz,
                        "flight_info": None if f.flight_info is None else dataclasses.asdict(f.flight_info),
                    }
                )
            return
        table = Table(title=f"DJI DroneID bursts in {recording.name}", title_justify="left")
        for col in ("start ms", "CRC", "EVM dB", "serial", "seq", "lat", "lon", "height m"):
            table.add_column(col, no_wrap=True)
        for f in frames:
            fi = f.flight_info
            table.add_row(
                f"{f.start_s * 1e3:.3f}",
                "ok" if f.crc_ok and f.payload_crc_ok else "bad",
                f"{f.evm_db:.1f}",
                "" if fi is None else fi.serial_number,
                "" if fi is None else str(fi.sequence_number),
                "" if fi is None or fi.latitude is None else f"{fi.latitude:.6f}",
                "" if fi is None or fi.longitude is None else f"{fi.longitude:.6f}",
                "" if fi is None else f"{fi.height:.1f}",
            )
        console.print(table)
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(stats.errors.items())) or "none"
        console.print(
            f"{stats.candidates} candidates, {stats.demodulated} demodulated, {stats.crc_ok} CRC ok; "
            f"skipped: {skipped}"
        )


def _summary_table(verdicts: list[Any]) -> Any:
    from datetime import UTC, datetime

    from rich.table import Table

    def when(t: float) -> str:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")

    table = Table(title="Remote ID drones")
    table.add_column("serial", no_wrap=True)
    table.add_column("messages", justify="right")
    table.add_column("first (UTC)", min_width=10)
    table.add_column("last (UTC)", min_width=10)
    table.add_column("max m/s", justify="right")
    table.add_column("verdict", no_wrap=True)
    table.add_column("reasons", overflow="fold")
    for v in verdicts:
        speed = f"{v.max_speed:.1f}" if v.max_speed == v.max_speed else "-"
        verdict = "[bold red]SPOOFED[/]" if v.spoofed else "[green]plausible[/]"
        reasons = ", ".join(f"{k} ({n})" for k, n in v.reasons.items())
        table.add_row(v.serial, str(v.messages), when(v.first_t), when(v.last_t), speed, verdict, reasons)
    return table
