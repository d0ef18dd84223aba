"""JSON Lines records for the shared types: one record per detection, track, truth point
or alert (``docs/formats.md``). Readers name the file, line and field of what is wrong."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from skyfence.errors import FormatError
from skyfence.geo import Site
from skyfence.model.alert import Alert, AlertState, ThreatLevel
from skyfence.model.classes import CLASSES, MEASUREMENT_KINDS, N_CLASSES, MeasurementKind
from skyfence.model.detections import MEASUREMENT_DIMS, Detections
from skyfence.model.sensors import SENSOR_TYPES, Sensor, SensorRegistry
from skyfence.model.tracks import STATUS_NAMES, Tracks
from skyfence.model.truth import TargetInfo, Truth

__all__ = [
    "DETECTION_FIELDS",
    "alert_from_record",
    "alert_record",
    "detection_records",
    "iter_detections",
    "iter_jsonl",
    "read_alerts",
    "read_detections",
    "read_sensors",
    "read_tracks",
    "read_truth",
    "track_records",
    "truth_records",
    "write_jsonl",
    "write_sensors",
]

#: Fields of a detection record that are not attributes.
DETECTION_FIELDS = ("t", "sensor", "kind", "z", "R", "cls_lik")


def _py(value: Any) -> Any:
    """numpy scalars/arrays to plain JSON values; non-finite floats to None."""
    if isinstance(value, np.ndarray):
        return [_py(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def detection_records(det: Detections) -> Iterator[dict[str, Any]]:
    """One JSON-ready dict per detection row."""
    z = det.z.tolist()
    R = det.R.tolist()
    t = det.t.tolist()
    lik = None if det.cls_lik is None else det.cls_lik.tolist()
    attrs = {k: v.tolist() for k, v in det.attrs.items()}
    for i in range(len(det)):
        rec: dict[str, Any] = {"t": t[i], "sensor": det.sensor_id, "kind": det.kind, "z": z[i], "R": R[i]}
        if lik is not None:
            rec["cls_lik"] = lik[i]
        for k, col in attrs.items():
            rec[k] = _py(col[i])
        yield rec


def track_records(tracks: Tracks, site: Site | None = None) -> Iterator[dict[str, Any]]:
    """One JSON-ready dict per track; with ``site``, also ``lat``/``lon``/``alt``."""
    geo = site.to_wgs84(tracks.x[:, :3]) if site is not None and len(tracks) else None
    x = tracks.x.tolist()
    P = tracks.P.tolist()
    prob = tracks.cls_prob.tolist()
    cls = tracks.cls.tolist()
    for i in range(len(tracks)):
        rec: dict[str, Any] = {
            "t": tracks.t,
            "id": int(tracks.id[i]),
            "x": x[i],
            "P": P[i],
            "cls": CLASSES[cls[i]],
            "cls_prob": prob[i],
            "status": STATUS_NAMES[int(tracks.status[i])],
            "sensors": tracks.sensors_of(i),
            "rf_silent": float(tracks.rf_silent[i]),
            "relay": bool(tracks.relay[i]),
            "spoofed": bool(tracks.spoofed[i]),
            "identity": str(tracks.identity[i]),
            "group_id": int(tracks.group_id[i]),
            "relay_id": int(tracks.relay_id[i]),
        }
        if geo is not None:
            rec["lat"], rec["lon"], rec["alt"] = (float(v) for v in geo[i])
        for k, col in tracks.attrs.items():
            rec[k] = _py(col[i])
        yield rec


def truth_records(truth: Truth) -> Iterator[dict[str, Any]]:
    info = {ti.id: ti for ti in truth.targets}
    x = truth.x.tolist()
    for i in range(len(truth)):
        tid = int(truth.target[i])
        ti = info.get(tid)
        rec: dict[str, Any] = {"t": float(truth.t[i]), "target": tid}
        if ti is not None:
            rec.update(
                name=ti.name,
                behaviour=ti.behaviour,
                cls=ti.cls,
                role=ti.role,
                link=ti.link,
                flags=list(ti.flags),
                group=ti.group,
                relay=ti.relay,
                zone=ti.zone,
            )
            if ti.serial is not None:
                rec["serial"] = ti.serial
            if ti.icao is not None:
                rec["icao"] = ti.icao
        rec["x"] = x[i]
        rec["emitting"] = bool(truth.emitting[i])
        yield rec


def alert_record(alert: Alert) -> dict[str, Any]:
    rec = asdict(alert)
    rec["level"] = str(alert.level)
    rec["state"] = str(alert.state)
    rec["time_to_zone"] = _py(alert.time_to_zone)
    return rec


def write_jsonl(out: IO[str], records: Iterable[Mapping[str, Any]]) -> int:
    """Write records as compact JSON lines; returns how many were written."""
    n = 0
    dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
    for rec in records:
        out.write(dumps(rec))
        out.write("\n")
        n += 1
    return n


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line_number, record)`` for each non-blank line; malformed JSON names the line."""
    p = Path(path)
    try:
        fh = p.open(encoding="utf-8")
    except OSError as exc:
        raise FormatError(f"cannot read file: {exc.strerror or exc}", path=p) from None
    with fh:
        try:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise FormatError(
                        f"invalid JSON ({exc.msg} at column {exc.colno})", path=p, line=lineno
                    ) from None
                if not isinstance(rec, dict):
                    raise FormatError("expected a JSON object", path=p, line=lineno)
                yield lineno, rec
        except UnicodeDecodeError as exc:
            raise FormatError(f"not UTF-8 text ({exc.reason})", path=p) from None


class _Rec:
    """Typed access to one record's fields with errors naming file, line and field."""

    __slots__ = ("line", "path", "rec")

    def __init__(self, rec: Mapping[str, Any], path: str | Path, line: int) -> None:
        self.rec = rec
        self.path = path
        self.line = line

    def fail(self, name: str, msg: str) -> FormatError:
        return FormatError(msg, path=self.path, line=self.line, field=name)

    def get(self, name: str, default: Any = ...) -> Any:
        if name not in self.rec:
            if default is ...:
                raise self.fail(name, "missing")
            return default
        return self.rec[name]

    def number(self, name: str, default: Any = ...) -> float:
        v = self.get(name, default)
        if v is None and default is None:
            return math.nan
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.fail(name, f"expected a number, got {type(v).__name__}")
        return float(v)

    def string(self, name: str, default: Any = ...) -> str:
        v = self.get(name, default)
        if not isinstance(v, str):
            raise self.fail(name, f"expected a string, got {type(v).__name__}")
        return v

    def array(self, name: str, shape: tuple[int | None, ...], default: Any = ...) -> NDArray[np.float64]:
        v = self.get(name, default)
        try:
            arr = np.array(v, dtype=np.float64)
        except (TypeError, ValueError):
            raise self.fail(name, "expected an array of numbers") from None
        if arr.ndim != len(shape) or any(
            w is not None and g != w for g, w in zip(arr.shape, shape, strict=True)
        ):
            want = "x".join("*" if s is None else str(s) for s in shape)
            got = "x".join(map(str, arr.shape)) or "scalar"
            raise self.fail(name, f"expected shape {want}, got {got}")
        return arr


def _detection_row(
    r: _Rec,
) -> tuple[
    str,
    MeasurementKind,
    float,
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64] | None,
    dict[str, Any],
]:
    sensor = r.string("sensor")
    kind = r.string("kind")
    if kind not in MEASUREMENT_KINDS:
        raise r.fail("kind", f"expected one of {', '.join(MEASUREMENT_KINDS)}, got {kind!r}")
    t = r.number("t")
    z = r.array("z", (None,))
    if z.shape[0] not in MEASUREMENT_DIMS[kind]:
        dims = " or ".join(map(str, MEASUREMENT_DIMS[kind]))
        raise r.fail("z", f"{kind} detections have {dims} coordinates, got {z.shape[0]}")
    m = z.shape[0]
    R = r.array("R", (m, m))
    lik = r.array("cls_lik", (N_CLASSES,)) if "cls_lik" in r.rec else None
    attrs = {k: v for k, v in r.rec.items() if k not in DETECTION_FIELDS}
    return sensor, kind, t, z, R, lik, attrs  # type: ignore[return-value]


def _build_detections(rows: list[tuple[Any, ...]]) -> Detections:
    sensor, kind = rows[0][0], rows[0][1]
    keys: list[str] = []
    for row in rows:
        for k in row[6]:
            if k not in keys:
                keys.append(k)
    attrs: dict[str, Any] = {}
    for k in keys:
        col = [row[6].get(k) for row in rows]
        attrs[k] = _column(col)
    liks = [row[5] for row in rows]
    lik = None
    if any(x is not None for x in liks):
        lik = np.stack([x if x is not None else np.full(N_CLASSES, 1.0 / N_CLASSES) for x in liks])
    return Detections(
        sensor,
        kind,
        np.array([row[2] for row in rows]),
        np.stack([row[3] for row in rows]),
        np.stack([row[4] for row in rows]),
        lik,
        attrs,
    )


def _column(values: list[Any]) -> NDArray[Any]:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return np.array([bool(v) for v in values])
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return np.array([math.nan if v is None else float(v) for v in values])
    if present and all(isinstance(v, str) for v in present):
        return np.array(["" if v is None else v for v in values], dtype=str)
    if present and all(isinstance(v, list) for v in present):
        try:
            return np.array([v if v is not None else np.nan for v in values], dtype=np.float64)
        except (TypeError, ValueError):
            pass
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def iter_detections(path: str | Path) -> Iterator[Detections]:
    """Batches of consecutive records from one sensor at one time, in file order."""
    rows: list[tuple[Any, ...]] = []
    key: tuple[str, str, float, int] | None = None
    for line, rec in iter_jsonl(path):
        row = _detection_row(_Rec(rec, path, line))
        row_key = (row[0], row[1], row[2], row[3].shape[0])
        if key is not None and row_key != key:
            yield _build_detections(rows)
            rows = []
        key = row_key
        rows.append(row)
    if rows:
        yield _build_detections(rows)


def read_detections(path: str | Path) -> list[Detections]:
    """All detections in a file, one batch per (sensor, kind, dimension), time-sorted."""
    groups: dict[tuple[str, str, int], list[Detections]] = {}
    for batch in iter_detections(path):
        groups.setdefault((batch.sensor_id, batch.kind, batch.dim), []).append(batch)
    return [Detections.concat(parts).sorted() for parts in groups.values()]


def read_tracks(path: str | Path) -> list[Tracks]:
    """Track snapshots in file order (one per distinct consecutive ``t``)."""
    out: list[Tracks] = []
    cur: list[_Rec] = []

    def flush() -> None:
        if not cur:
            return
        names: list[str] = []
        for r in cur:
            for s in r.get("sensors", []):
                if s not in names:
                    names.append(s)
        masks = []
        for r in cur:
            m = 0
            for s in r.get("sensors", []):
                m |= 1 << names.index(s)
            masks.append(m)
        status = []
        for r in cur:
            s = r.string("status", "confirmed")
            if s not in STATUS_NAMES:
                raise r.fail("status", f"expected one of {', '.join(STATUS_NAMES)}, got {s!r}")
            status.append(STATUS_NAMES.index(s))
        out.append(
            Tracks(
                cur[0].number("t"),
                [int(r.number("id")) for r in cur],
                np.stack([r.array("x", (6,)) for r in cur]),
                np.stack([r.array("P", (6, 6)) for r in cur]),
                np.stack([r.array("cls_prob", (N_CLASSES,)) for r in cur]),
                status,
                np.array(masks, dtype=np.uint64),
                names,
                [r.number("rf_silent", 0.0) for r in cur],
                [bool(r.get("relay", False)) for r in cur],
                [bool(r.get("spoofed", False)) for r in cur],
                [r.string("identity", "") for r in cur],
                [int(r.number("group_id", -1)) for r in cur],
                [int(r.number("relay_id", -1)) for r in cur],
            )
        )
        cur.clear()

    last_t: float | None = None
    for line, rec in iter_jsonl(path):
        r = _Rec(rec, path, line)
        t = r.number("t")
        if last_t is not None and t != last_t:
            flush()
        last_t = t
        cur.append(r)
    flush()
    return out


def read_truth(path: str | Path) -> Truth:
    ts: list[float] = []
    ids: list[int] = []
    xs: list[NDArray[np.float64]] = []
    em: list[bool] = []
    infos: dict[int, TargetInfo] = {}
    for line, rec in iter_jsonl(path):
        r = _Rec(rec, path, line)
        tid = int(r.number("target"))
        ts.append(r.number("t"))
        ids.append(tid)
        xs.append(r.array("x", (6,)))
        em.append(bool(r.get("emitting", False)))
        if tid not in infos:
            cls = r.string("cls", "unknown")
            if cls not in CLASSES:
                raise r.fail("cls", f"expected one of {', '.join(CLASSES)}, got {cls!r}")
            group = r.get("group", None)
            relay = r.get("relay", None)
            infos[tid] = TargetInfo(
                id=tid,
                name=r.string("name", f"target-{tid}"),
                behaviour=r.string("behaviour", "unknown"),
                cls=cls,
                role=r.string("role", "benign"),
                link=r.get("link", None),
                flags=tuple(r.get("flags", [])),
                group=None if group is None else int(group),
                relay=None if relay is None else int(relay),
                zone=r.get("zone", None),
                serial=r.get("serial", None),
                icao=r.get("icao", None),
            )
    return Truth(
        np.array(ts),
        np.array(ids, dtype=np.int64),
        np.stack(xs) if xs else np.zeros((0, 6)),
        np.array(em, dtype=bool),
        tuple(infos[k] for k in sorted(infos)),
    )


def alert_from_record(rec: Mapping[str, Any], path: str | Path = "<alert>", line: int = 0) -> Alert:
    r = _Rec(rec, path, line)
    level = r.string("level")
    state = r.string("state")
    try:
        lv = ThreatLevel(level)
    except ValueError:
        raise r.fail(
            "level", f"expected one of {', '.join(x.value for x in ThreatLevel)}, got {level!r}"
        ) from None
    try:
        st = AlertState(state)
    except ValueError:
        raise r.fail(
            "state", f"expected one of {', '.join(x.value for x in AlertState)}, got {state!r}"
        ) from None
    ttz = rec.get("time_to_zone")
    return Alert(
        id=r.string("id"),
        t=r.number("t"),
        track_id=int(r.number("track_id")),
        zone_id=r.string("zone_id"),
        level=lv,
        state=st,
        time_to_zone=math.inf if ttz is None else r.number("time_to_zone"),
        reason=r.string("reason", ""),
        score=r.number("score", 0.0),
        p_enter=r.number("p_enter", 0.0),
        group_id=int(r.number("group_id", -1)),
    )


def read_alerts(path: str | Path) -> list[Alert]:
    return [alert_from_record(rec, path, line) for line, rec in iter_jsonl(path)]


def write_sensors(path: str | Path, registry: SensorRegistry) -> None:
    Path(path).write_text(json.dumps(registry.as_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_sensors(path: str | Path) -> SensorRegistry:
    """Read ``sensors.json``: ``{"site": {...}, "sensors": [{...}, ...]}``."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FormatError(f"cannot read file: {exc.strerror or exc}", path=p) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(f"invalid JSON: {exc}", path=p) from None
    if not isinstance(doc, dict):
        raise FormatError("expected a JSON object", path=p)
    site_doc = doc.get("site")
    if not isinstance(site_doc, dict):
        raise FormatError("missing or not an object", path=p, field="site")
    try:
        site = Site(float(site_doc["lat"]), float(site_doc["lon"]), float(site_doc.get("alt", 0.0)))
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"invalid site: {exc}", path=p, field="site") from None
    sensors_doc = doc.get("sensors")
    if not isinstance(sensors_doc, list):
        raise FormatError("missing or not a list", path=p, field="sensors")
    sensors: list[Sensor] = []
    for i, s in enumerate(sensors_doc):
        where = f"sensors[{i}]"
        if not isinstance(s, dict):
            raise FormatError("expected an object", path=p, field=where)
        r = _Rec(s, p, 0)
        try:
            stype = r.string("type")
            kind = r.string("kind", SENSOR_TYPES.get(stype, ""))
            if kind not in MEASUREMENT_KINDS:
                raise r.fail("kind", f"expected one of {', '.join(MEASUREMENT_KINDS)}, got {kind!r}")
            rate = r.number("rate_hz", 1.0)
            if rate <= 0:
                raise r.fail("rate_hz", "must be positive")
            sensors.append(
                Sensor(
                    id=r.string("id"),
                    type=stype,
                    kind=kind,  # type: ignore[arg-type]
                    position=r.array("position", (3,)),
                    rate_hz=rate,
                    max_range_m=r.number("max_range_m", math.inf),
                    params=dict(r.get("params", {})),
                )
            )
        except FormatError as exc:
            raise FormatError(exc.reason, path=p, field=f"{where}.{exc.field}") from None
    try:
        return SensorRegistry(site, sensors)
    except ValueError as exc:
        raise FormatError(str(exc), path=p, field="sensors") from None
