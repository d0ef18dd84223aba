"""One typed decorator for compiled kernels.

Kernels are plain Python functions over numpy arrays and scalars, compiled by numba on
first use and cached on disk next to their module (``cache=True``), so a process pays
the compile time once per machine, not once per run. ``NUMBA_DISABLE_JIT=1`` runs them
as plain Python (for a debugger or coverage). The wrapper keeps mypy's view of the
function's signature, which numba's own decorator would erase.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

__all__ = ["kernel"]

F = TypeVar("F", bound=Callable[..., Any])


def kernel(fn: F) -> F:
    """Compile ``fn`` in nopython mode, cached, releasing the GIL."""
    return cast(F, numba.njit(cache=True, nogil=True, error_model="numpy")(fn))
