"""Fixtures for the interop decoders: where each third-party sample set lives."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def asterix_dir(shared_data: Path) -> Path:
    path = shared_data / "asterix-croatiacontrol"
    if not path.is_dir():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="session")
def pymodes_dir(shared_data: Path) -> Path:
    path = shared_data / "adsb-pymodes-testdata"
    if not path.is_dir():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="session")
def dump1090_dir(shared_data: Path) -> Path:
    path = shared_data / "adsb-dump1090-iq"
    if not path.is_dir():
        pytest.skip(f"{path} not found")
    return path
