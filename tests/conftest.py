"""Shared test setup.

- The naive reference implementations live beside the kernel tests (``tests/scoring``).
- Subprocesses started by tests run Python with ``PYTHONSAFEPATH=1``: the current folder
  (often the repository root, where the source folder ``screening/`` lies) never shadows
  the installed package.
- Under CI (``CI`` set) Hypothesis runs derandomised, so a run is reproducible and a red
  build names an example anyone can replay; locally it explores new examples each run.
"""

import os
import sys
from pathlib import Path

from hypothesis import settings

NAIVE = Path(__file__).parent / "scoring"
if str(NAIVE) not in sys.path:
    sys.path.insert(0, str(NAIVE))

os.environ["PYTHONSAFEPATH"] = "1"

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
