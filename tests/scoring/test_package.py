"""``screening.scoring`` exports its functions by name, whatever was imported before."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

import screening.scoring
import screening.scoring.careless
import screening.scoring.norms


def test_every_export_is_the_named_object_even_after_its_submodule_is_imported():
    # the submodules careless and norms are imported above, as the pipeline imports norms
    for name in screening.scoring.__all__:
        exported = getattr(screening.scoring, name)
        assert not inspect.ismodule(exported), name
        assert exported.__name__ == name
    from screening.scoring import careless, norms

    assert inspect.isfunction(careless) and careless.__module__ == "screening.scoring.careless"
    assert inspect.isfunction(norms) and norms.__module__ == "screening.scoring.norms"


def test_submodules_stay_importable_by_their_full_names():
    careless_module = importlib.import_module("screening.scoring.careless")
    assert inspect.ismodule(careless_module) and callable(careless_module.careless_rates)
    from screening.scoring.norms import NormTable, apply_norms

    assert inspect.isclass(NormTable) and callable(apply_norms)


def test_a_fresh_process_gets_the_functions_after_the_pipeline_import():
    code = (
        "import inspect, screening.pipeline, screening.scoring.careless\n"
        "from screening.scoring import careless, norms\n"
        "assert inspect.isfunction(careless) and inspect.isfunction(norms)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_careless_called_through_the_package():
    import numpy as np
    import polars as pl

    data = pl.DataFrame(np.tile(np.arange(4.0), (40, 2))[:, :6], schema=[f"i{k}" for k in range(6)])
    with pytest.warns(UserWarning, match="no variance"):  # every item repeats another
        flags = screening.scoring.careless(data)
    assert flags.height == 40
