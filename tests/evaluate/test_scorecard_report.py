"""Scorecard aggregation, its JSON Schema, the rich table and the offline HTML report (parsed in
Python and loaded by headless Chromium), on hand-made runs."""

from __future__ import annotations

import base64
import io
import json
import math
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from rich.console import Console

from skyfence.evaluate.metrics import ScoreConfig, score_run
from skyfence.evaluate.montecarlo import RunResult, _map_data, aggregate, run_seed
from skyfence.evaluate.report import FIGURES, render_report
from skyfence.evaluate.scorecard import Scorecard, scorecard_schema, scorecard_table, summarise
from skyfence.model.scenario import Scenario

from .synthetic import SENSORS, ZONE, build_run

SCENARIO = Scenario.model_validate(
    {
        "name": "synthetic",
        "site": {"lat": 48.0, "lon": 22.0},
        "duration_s": 120,
        "seed": 3,
        "sensors": [{"id": "s1", "type": "radar", "position": [0, 0], "max_range_m": 5000, "cost": 250000}],
    }
)


def _card(runs: int = 3) -> tuple[Scorecard, RunResult]:
    cfg = ScoreConfig()
    results = []
    for k in range(runs):
        rec = build_run(steps=120 - 5 * k)
        results.append(
            RunResult(k, run_seed(3, k), score_run(rec, cfg), True, 0.0, _map_data(rec) if k == 0 else None)
        )
    return aggregate(SCENARIO, "synthetic.yaml", results, cfg), results[0]


def test_summarise_student_t() -> None:
    s = summarise([1.0, 2.0, 3.0, math.nan])
    assert s.n == 3 and s.mean == 2.0 and s.std == pytest.approx(1.0)
    assert s.ci_high - s.mean == pytest.approx(4.302652729911275 / math.sqrt(3))
    one = summarise([5.0])
    assert one.mean == 5.0 and math.isnan(one.ci_low)
    assert summarise([]).n == 0


def test_summarise_clips_the_interval_to_the_metric_range() -> None:
    # Four runs of a share near 100 %: the t interval would pass 100 %, and a count's
    # would go below 0; neither can.
    share = summarise([1.0, 1.0, 0.5, 1.0], (0.0, 1.0))
    assert share.ci_high == 1.0 and share.ci_low < share.mean
    count = summarise([0.0, 0.0, 0.0, 4.0], (0.0, math.inf))
    assert count.ci_low == 0.0 and count.ci_high > count.mean


def test_run_seeds_are_independent_of_run_count_and_distinct() -> None:
    seeds = [run_seed(3, k) for k in range(50)]
    assert len(set(seeds)) == 50
    assert run_seed(3, 7) == seeds[7] and run_seed(4, 7) != seeds[7]


def test_scorecard_json_matches_schema_and_values() -> None:
    card, _ = _card()
    doc = json.loads(card.to_json())
    jsonschema.Draft202012Validator.check_schema(scorecard_schema())
    jsonschema.validate(doc, scorecard_schema())
    assert doc["runs"] == 3 and doc["cost"] == 250000
    assert doc["metrics"]["warning_time_s"]["mean"] == pytest.approx(60.0)
    assert doc["metrics"]["warning_time_s"]["n"] == 3
    assert doc["metrics"]["false_alerts_per_hour"]["better"] == "lower"
    assert doc["metrics"]["swarm_saturation"]["n"] == 0 and doc["metrics"]["swarm_saturation"]["mean"] is None
    assert sum(map(sum, doc["confusion"]["matrix"])) == 9
    assert len(doc["gospa_over_time"]["t"]) == 110  # the shortest run's steps
    assert card.to_json() == _card()[0].to_json()  # no clock, no dict-order noise
    bad = dict(doc, runs=0)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, scorecard_schema())


def test_scorecard_table_lists_headline_metrics() -> None:
    card, _ = _card()
    out = io.StringIO()
    Console(file=out, width=140).print(scorecard_table(card))
    text = out.getvalue()
    for name in ("warning_time_s", "false_alerts_per_hour", "gospa", "pd_sensor.s1"):
        assert name in text
    assert "60.0" in text


class _Imgs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[dict[str, str | None]] = []
        self.urls: list[str] = []
        self.tables = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a)
        if tag == "table":
            self.tables += 1
        for key in ("src", "href"):
            if a.get(key):
                self.urls.append(str(a[key]))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    card, first = _card()
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_report(card, zones=[ZONE], registry=SENSORS, map_data=first.map), encoding="utf-8")
    return path


def test_report_is_self_contained_with_every_figure(report: Path) -> None:
    import matplotlib.image

    text = report.read_text(encoding="utf-8")
    p = _Imgs()
    p.feed(text)
    assert [i["id"] for i in p.imgs] == [f"fig-{k}" for k in FIGURES]
    for img in p.imgs:
        src = str(img["src"])
        assert src.startswith("data:image/png;base64,")
        pixels = matplotlib.image.imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1])), format="png")
        assert pixels.shape[0] > 200 and pixels.shape[1] > 300
        assert float(np.std(pixels)) > 0.01  # not a blank canvas
    assert all(u.startswith("data:") for u in p.urls)
    assert "http://" not in text and "https://" not in text
    assert p.tables == 1 and "warning_time_s" in text


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (scripts/system-deps.sh)")
def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    # A copy with a tiny script that writes each image's decoded size into the DOM; the
    # shipped page has no script (its CSP forbids them), so the copy drops the CSP.
    probe = tmp_path / "probe.html"
    text = report.read_text(encoding="utf-8")
    text = (
        text.split("<meta http-equiv=Content-Security-Policy", 1)[0] + text.split("'unsafe-inline'\">", 1)[1]
    )
    script = (
        "<script>window.addEventListener('load',()=>{const o=document.createElement('pre');o.id='probe';"
        "o.textContent=JSON.stringify([...document.images].map(i=>[i.id,i.complete,i.naturalWidth,i.naturalHeight]));"
        "document.body.appendChild(o);});</script>"
    )
    probe.write_text(text.replace("</body>", script + "</body>"), encoding="utf-8")
    args = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
    ]
    dom = subprocess.run(
        [*args, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=90, check=True
    ).stdout
    start = dom.index('<pre id="probe">') + len('<pre id="probe">')
    seen = json.loads(dom[start : dom.index("</pre>", start)].replace("&quot;", '"'))
    assert [s[0] for s in seen] == [f"fig-{k}" for k in FIGURES]
    for _, complete, w, h in seen:
        assert complete and w > 300 and h > 200
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*args, f"--screenshot={shot}", "--window-size=1200,2400", report.as_uri()],
        capture_output=True,
        timeout=90,
        check=True,
    )
    assert shot.stat().st_size > 20_000
