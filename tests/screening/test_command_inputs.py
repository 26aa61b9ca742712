"""Inputs of the psychometric commands: the mapping's option numbering applies there too."""

from __future__ import annotations

import json

import polars as pl
import pytest

from screening.cli import main
from screening.commands.inputs import read_item_frame
from screening.demo import generate_city, write_city
from screening.instruments import load_instrument

PHQ9 = [f"phq9_{k}" for k in range(1, 10)]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The same city twice: answers as codes, and as option numbers from 1 with a mapping."""
    folder = tmp_path_factory.mktemp("numbering")
    city = generate_city(2000, n_schools=4, seed=5, instruments=("phq9",))
    write_city(city, folder / "codes.csv")
    write_city(city.with_columns(pl.col(PHQ9) + 1), folder / "numbered.csv")
    (folder / "map.toml").write_text("[options]\nnumbered_from = 1\n", encoding="utf-8")
    return folder


def test_read_item_frame_turns_option_numbers_into_codes(files):
    phq9 = load_instrument("phq9")
    codes = read_item_frame([files / "codes.csv"], [phq9], None)
    read = read_item_frame([files / "numbered.csv"], [phq9], files / "map.toml")
    assert read.select(PHQ9).equals(codes.select(PHQ9))
    unread = read_item_frame([files / "numbered.csv"], [phq9], None)
    assert unread.select(PHQ9).equals(codes.select(pl.col(PHQ9) + 1))


def test_norms_and_reliability_of_option_numbers_equal_those_of_codes(files, tmp_path):
    for name, extra in (("codes", []), ("numbered", ["--map", str(files / "map.toml")])):
        source = str(files / f"{name}.csv")
        norms_args = ["norms", source, "-i", "phq9", "--version", "t", "--min-n", "10"]
        assert main([*norms_args, *extra, "--out", str(tmp_path / f"{name}.json")]) == 0
        reliability = ["reliability", source, "-i", "phq9", "-q", *extra]
        assert main([*reliability, "--out", str(tmp_path / name)]) == 0
    norms = [json.loads((tmp_path / f"{n}.json").read_text()) for n in ("codes", "numbered")]
    assert norms[0]["groups"] == norms[1]["groups"]
    items = [pl.read_parquet(tmp_path / n / "items.parquet") for n in ("codes", "numbered")]
    assert items[0].equals(items[1])
