"""Shared test setup: the naive reference implementations live beside the kernel tests."""

import sys
from pathlib import Path

NAIVE = Path(__file__).parent / "scoring"
if str(NAIVE) not in sys.path:
    sys.path.insert(0, str(NAIVE))
