"""JSON Schemas of the JSONL records, shipped with the package (see docs/formats.md)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["SCHEMA_NAMES", "load_schema"]

SCHEMA_NAMES: tuple[str, ...] = ("detection", "track", "truth", "alert", "sensors")


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The JSON Schema named ``name`` (one of :data:`SCHEMA_NAMES`)."""
    if name not in SCHEMA_NAMES:
        raise KeyError(f"unknown schema {name!r}; expected one of {', '.join(SCHEMA_NAMES)}")
    text = resources.files(__package__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc
