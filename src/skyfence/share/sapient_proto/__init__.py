"""SAPIENT (BSI Flex 335 v2.0) protobuf definitions and their generated Python modules.

The ``.proto`` files here are written for skyfence from the published standard's message and
field names and numbers (so the bytes on the wire are the standard's); the ``*_pb2.py`` modules
are generated from them with the pinned ``grpcio-tools`` and committed. Regenerate with
``python -m skyfence.share.sapient_proto`` after editing a ``.proto``; a test checks that the
committed modules equal a fresh generation.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

__all__ = ["PROTO_DIR", "generate"]

PROTO_DIR = Path(__file__).resolve().parent
#: the include root: protos import each other as "skyfence/share/sapient_proto/<file>.proto"
_SRC_ROOT = PROTO_DIR.parents[2]


def generate(out_root: Path | None = None) -> list[Path]:
    """Run protoc (from grpcio-tools) on every ``.proto`` here; write ``*_pb2.py`` and ``.pyi``
    under ``out_root`` (default: in place). Returns the generated files."""
    from grpc_tools import protoc  # type: ignore[import-untyped]  # dev dependency: regeneration only

    target = _SRC_ROOT if out_root is None else Path(out_root)
    rel = PROTO_DIR.relative_to(_SRC_ROOT)
    protos = sorted(str(p.relative_to(_SRC_ROOT)) for p in PROTO_DIR.glob("*.proto"))
    well_known = Path(protoc.__file__).resolve().parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "protoc",
            f"-I{_SRC_ROOT}",
            f"-I{well_known}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            *protos,
        ]
        rc = protoc.main(args)
        if rc != 0:
            raise RuntimeError(f"protoc failed with exit code {rc}")
        out: list[Path] = []
        for gen in sorted((Path(tmp) / rel).glob("*_pb2.py*")):
            dest = target / rel / gen.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(gen, dest)
            out.append(dest)
    return out
