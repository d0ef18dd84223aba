"""Fixtures for the simulator tests: the shipped scenarios and a small valid scenario
document to mutate (scene helpers are in ``simkit.py``)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from simkit import SMALL


@pytest.fixture
def small_doc() -> dict[str, Any]:
    """A small valid scenario document (a fresh deep copy per test)."""
    return copy.deepcopy(SMALL)


@pytest.fixture
def write_doc(tmp_path: Path) -> Callable[[dict[str, Any] | str, str], Path]:
    """Write a scenario document (dict or YAML text) to ``tmp_path/name``."""

    def write(doc: dict[str, Any] | str, name: str = "scenario.yaml") -> Path:
        text = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        return p

    return write
