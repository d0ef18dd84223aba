"""SigMF reading: the official example, every datatype, multi-capture files, bad files, fuzzing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skyfence.errors import FormatError
from skyfence.sources.sigmf import DATATYPES, open_sigmf, parse_datatype, require_data, write_sigmf


def test_official_logo_example(shared_data: Path) -> None:
    meta = shared_data / "sigmf-logo-example" / "sigmf_logo.sigmf-meta"
    rec = open_sigmf(meta)
    assert rec.datatype.name == "ri16_le" and not rec.datatype.is_complex
    assert rec.num_channels == 2 and rec.sample_rate == 48000
    assert rec.num_samples() == 288000
    rec.check_size()
    assert [a["core:sample_start"] for a in rec.annotations] == [6000, 48000, 186000]
    raw = rec.data_path.read_bytes()
    assert hashlib.sha512(raw).hexdigest() == rec.global_info["core:sha512"]
    x = rec.read(1000, 4)
    ints = np.frombuffer(raw[1000 * 4 : 1004 * 4], dtype="<i2").reshape(4, 2).T
    np.testing.assert_allclose(x.real, ints / 32768.0)
    assert np.all(x.imag == 0)
    blocks = list(rec.blocks(100_000))
    assert [b.samples.shape[1] for b in blocks] == [100_000, 100_000, 88_000]
    assert blocks[1].t0 == pytest.approx(rec.captures[0].datetime + 100_000 / 48000)


@pytest.mark.parametrize("datatype", DATATYPES)
def test_every_datatype_round_trips(tmp_path: Path, datatype: str, rng: np.random.Generator) -> None:
    x = (rng.uniform(-0.9, 0.9, (3, 257)) + 1j * rng.uniform(-0.9, 0.9, (3, 257))).astype(np.complex64)
    rec = write_sigmf(tmp_path / "r.sigmf-meta", x, 1e6, frequency=915e6, datatype=datatype)
    y = rec.read()
    assert y.shape == (3, 257)
    dt = parse_datatype(datatype)
    want = x if dt.is_complex else x.real.astype(np.complex64)
    tol = 1e-6 if dt.component.kind == "f" else 2.5 * dt.scale
    np.testing.assert_allclose(y, want, atol=tol)


def test_multi_capture_blocks_follow_the_captures(tmp_path: Path) -> None:
    x = np.arange(1000, dtype=np.float32).astype(np.complex64)
    rec = write_sigmf(tmp_path / "m.sigmf-meta", x, 1000.0)
    meta = json.loads(rec.meta_path.read_text())
    meta["captures"] = [
        {"core:sample_start": 0, "core:frequency": 100.0, "core:datetime": "2026-01-01T00:00:00Z"},
        {"core:sample_start": 600, "core:frequency": 200.0, "core:datetime": "2026-01-01T00:01:00Z"},
    ]
    rec.meta_path.write_text(json.dumps(meta))
    rec = open_sigmf(rec.meta_path)
    blocks = list(rec.blocks(256))
    assert [b.samples.shape[1] for b in blocks] == [256, 256, 88, 256, 144]
    assert [b.frequency for b in blocks] == [100.0, 100.0, 100.0, 200.0, 200.0]
    assert blocks[3].t0 - blocks[0].t0 == pytest.approx(60.0)
    assert blocks[3].samples[0, 0].real == 600


def test_header_bytes_of_a_non_conforming_dataset(tmp_path: Path) -> None:
    data = b"HEAD" + np.arange(8, dtype="<i2").tobytes()
    (tmp_path / "n.dat").write_bytes(data)
    meta = {
        "global": {
            "core:datatype": "ci16_le",
            "core:version": "1.2.0",
            "core:sample_rate": 10,
            "core:dataset": "n.dat",
        },
        "captures": [{"core:sample_start": 0, "core:header_bytes": 4}],
        "annotations": [],
    }
    (tmp_path / "n.sigmf-meta").write_text(json.dumps(meta))
    rec = open_sigmf(tmp_path / "n.sigmf-meta")
    rec.check_size()
    np.testing.assert_allclose(rec.read()[0] * 32768, [0 + 1j, 2 + 3j, 4 + 5j, 6 + 7j])


def _meta(tmp_path: Path, doc: object, data: bytes | None = b"\0" * 8) -> Path:
    p = tmp_path / "bad.sigmf-meta"
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    if data is not None:
        (tmp_path / "bad.sigmf-data").write_bytes(data)
    return p


GOOD = {
    "global": {"core:datatype": "cf32_le", "core:version": "1.2.0", "core:sample_rate": 1e6},
    "captures": [],
    "annotations": [],
}


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ("{not json", None),
        ([1, 2], None),
        ({"captures": []}, "global"),
        ({**GOOD, "global": {"core:version": "1.2.0", "core:sample_rate": 1}}, "global.core:datatype"),
        ({**GOOD, "global": {**GOOD["global"], "core:datatype": "cq16_le"}}, "core:datatype"),
        ({**GOOD, "global": {**GOOD["global"], "core:sample_rate": -5}}, "global.core:sample_rate"),
        ({**GOOD, "global": {**GOOD["global"], "core:num_channels": 0}}, "global.core:num_channels"),
        (
            {**GOOD, "captures": [{"core:sample_start": 5}, {"core:sample_start": 2}]},
            "captures.1.core:sample_start",
        ),
        (
            {**GOOD, "captures": [{"core:sample_start": 0, "core:datetime": "yesterday"}]},
            "captures.0.core:datetime",
        ),
    ],
)
def test_bad_metadata_names_the_field(tmp_path: Path, doc: object, field: str | None) -> None:
    with pytest.raises(FormatError) as err:
        open_sigmf(_meta(tmp_path, doc))
    assert "bad.sigmf-meta" in str(err.value)
    if field is not None:
        assert err.value.field is not None and field.split(".")[-1] in err.value.field


def test_missing_data_file_names_it(tmp_path: Path) -> None:
    rec = open_sigmf(_meta(tmp_path, GOOD, data=None))
    with pytest.raises(FormatError, match=r"bad\.sigmf-data"):
        require_data(rec)
    with pytest.raises(FormatError, match=r"bad\.sigmf-data"):
        list(rec.blocks(4))


def test_wrong_datatype_is_caught_by_the_file_size(tmp_path: Path) -> None:
    rec = open_sigmf(_meta(tmp_path, GOOD, data=b"\0" * 12))  # 1.5 cf32 samples
    with pytest.raises(FormatError, match="wrong datatype") as err:
        rec.check_size()
    assert err.value.field == "global.core:datatype"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=16), inner, max_size=5),
    max_leaves=20,
)
meta_like = st.fixed_dictionaries(
    {
        "global": st.dictionaries(
            st.sampled_from(
                ["core:datatype", "core:version", "core:sample_rate", "core:num_channels", "core:dataset"]
            ),
            st.sampled_from(["cf32_le", "ri16_le", "cu8", "1.2.0", "x"]) | json_values,
        ),
        "captures": st.lists(
            st.dictionaries(
                st.sampled_from(
                    ["core:sample_start", "core:frequency", "core:datetime", "core:header_bytes"]
                ),
                st.integers(-3, 40) | json_values,
            ),
            max_size=3,
        )
        | json_values,
        "annotations": json_values,
    }
)


@pytest.mark.fuzz
@given(doc=meta_like | json_values, data=st.binary(max_size=96))
def test_fuzzed_recordings_raise_only_format_errors(
    tmp_path_factory: pytest.TempPathFactory, doc: object, data: bytes
) -> None:
    d = tmp_path_factory.mktemp("fz")
    p = d / "f.sigmf-meta"
    p.write_text(json.dumps(doc))
    (d / "f.sigmf-data").write_bytes(data)
    try:
        rec = open_sigmf(p)
        rec.check_size()
        for blk in rec.blocks(5):
            assert blk.samples.dtype == np.complex64
    except FormatError:
        pass
