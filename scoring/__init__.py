"""Scoring kernels and psychometric checks: reliability, items, careless responding, norms.

The psychometric functions are imported lazily (``from screening.scoring import
cronbach_alpha``), so that importing the package stays light.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_EXPORTS = {
    "cronbach_alpha": "screening.scoring.reliability",
    "item_statistics": "screening.scoring.reliability",
    "reliability_by": "screening.scoring.reliability",
    "ReliabilityAccumulator": "screening.scoring.reliability",
    "ReliabilityTables": "screening.scoring.reliability",
    "mcdonald_omega": "screening.scoring.omega",
    "careless": "screening.scoring.careless",
    "careless_rates": "screening.scoring.careless",
    "norms": "screening.scoring.norms",
    "apply_norms": "screening.scoring.norms",
    "NormTable": "screening.scoring.norms",
    "quality_by_school": "screening.scoring.quality",
    "quality_tables": "screening.scoring.quality",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'screening.scoring' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def _function(name: str) -> property:
    """The exported function ``name``, which a submodule of the same name must not hide.

    Importing a submodule sets the package attribute of its name to the module (the
    pipeline imports ``screening.scoring.norms`` at start), and ``__getattr__`` only answers
    for missing names: without this, ``from screening.scoring import norms`` would give
    the module. The setter takes the import system's assignment and drops it.
    """
    return property(lambda _package: __getattr__(name), lambda _package, _module: None)


class _Package(types.ModuleType):
    careless = _function("careless")
    norms = _function("norms")


sys.modules[__name__].__class__ = _Package
