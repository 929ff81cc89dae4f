#!/usr/bin/env python3
"""Build patient handouts: `python build.py --help`. On first use it installs what it needs."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bootstrap import ensure_ready  # noqa: E402

ensure_ready(__file__)

from clearleaf.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
