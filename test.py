#!/usr/bin/env python3
"""Run the whole test suite: `python3 test.py [pytest args]`. On first use it installs what it needs."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bootstrap import ensure_ready  # noqa: E402

# Guarded: render workers are spawned processes, which import the main module again.
if __name__ == "__main__":
    ensure_ready(__file__, groups=("run", "test"))

    import pytest

    sys.exit(pytest.main(sys.argv[1:]))
