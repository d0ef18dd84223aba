"""Settings files: YAML read into pydantic models, with errors naming the file and field.

Every stage's configuration (tracker, assessment, scoring, decoders) is a pydantic model;
this is the one place that reads them from disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from skyfence.errors import ConfigError

__all__ = ["load_settings", "read_yaml_mapping", "validate_settings"]

M = TypeVar("M", bound=BaseModel)


def read_yaml_mapping(path: str | Path, what: str = "settings") -> dict[str, Any]:
    """The top-level mapping of a YAML file (empty file: ``{}``)."""
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror or exc}", path=p) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"invalid YAML: {exc}", path=p) from None
    if not isinstance(doc, dict):
        raise ConfigError("expected a mapping of settings at the top level", path=p)
    return doc


def validate_settings(model: type[M], doc: dict[str, Any], path: str | Path | None = None) -> M:
    """``model`` from a mapping; the first problem becomes a ConfigError naming its field."""
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        raise ConfigError(err["msg"], path=path, field=field) from None


def load_settings(model: type[M], path: str | Path | None, what: str = "settings") -> M:
    """``model`` read from a YAML file, or its defaults when ``path`` is None."""
    if path is None:
        return model()
    return validate_settings(model, read_yaml_mapping(path, what), path)
