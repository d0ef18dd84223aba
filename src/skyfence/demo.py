"""`make demo`: the flagship border exercise end to end (filled in by the exercise driver)."""

from __future__ import annotations

import sys


def main() -> int:
    print("skyfence demo: the exercise driver is not built yet", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
