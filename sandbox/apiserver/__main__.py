"""``python -m sandbox.apiserver --config FILE``: run the simulated OpenShift API until SIGTERM/SIGINT."""

from __future__ import annotations

import sys

from .main import main

if __name__ == "__main__":
    sys.exit(main())
