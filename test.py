#!/usr/bin/env python3
"""Run the whole test suite: `python3 test.py [pytest args]`. On first use it installs what it needs."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bootstrap import ensure_ready  # noqa: E402

ensure_ready(__file__, groups=("run", "test"))

import pytest  # noqa: E402

sys.exit(pytest.main(sys.argv[1:]))
