"""``python -m skyfence`` runs the CLI."""

import sys

from skyfence.cli import main

sys.exit(main())
