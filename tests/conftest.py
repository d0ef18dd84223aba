"""Shared fixtures: where the third-party test data lives, and reproducible generators."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent

# `make fuzz` raises the example count; `make test` keeps fuzzing short.
settings.register_profile(
    "fuzz", max_examples=int(os.environ.get("SKYFENCE_FUZZ_EXAMPLES", "100000")), deadline=None
)
settings.register_profile("default", max_examples=200, deadline=None)
settings.load_profile("fuzz" if os.environ.get("SKYFENCE_FUZZ_EXAMPLES") else "default")


def shared_data_dir() -> Path:
    """``../shared/data`` beside the checkout (or ``$SKYFENCE_SHARED_DATA``)."""
    env = os.environ.get("SKYFENCE_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"third-party test data not found at {path} (set SKYFENCE_SHARED_DATA)")
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261125)
