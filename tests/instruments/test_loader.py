"""The loader: bundled ids and paths, hashes, batteries with their instruments, errors."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import pytest

from screening.errors import InstrumentDefinitionError
from screening.instruments.loader import (
    bundled_batteries,
    bundled_instruments,
    load_battery,
    load_instrument,
    single_instrument_battery,
)

DATA = resources.files("screening.instruments.data")


def bundled_text(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def test_bundled_lists() -> None:
    assert bundled_instruments() == ["asq", "cesd", "dass21", "gad7", "phq9", "scared", "who5"]
    assert bundled_batteries() == ["default", "default-asq"]


def test_load_bundled_by_id_is_cached_and_hashed() -> None:
    inst = load_instrument("gad7")
    assert inst is load_instrument("gad7")
    assert inst.source == "bundled:gad7"
    expected = hashlib.sha256((DATA / "gad7.toml").read_bytes()).hexdigest()
    assert inst.sha256 == expected


def test_load_by_path_gives_the_same_instrument(tmp_path: Path) -> None:
    path = tmp_path / "copy.toml"
    path.write_text(bundled_text("who5.toml"), encoding="utf-8")
    inst = load_instrument(path)
    assert inst.source == str(path)
    assert inst.model_dump() == load_instrument("who5").model_dump()
    assert inst.sha256 == load_instrument("who5").sha256
    # a str path is recognised by its suffix
    assert load_instrument(str(path)).id == "who5"


def test_unknown_id_lists_the_bundled_ones() -> None:
    with pytest.raises(InstrumentDefinitionError) as error:
        load_instrument("bdi")
    assert error.value.path == "bdi"
    assert "unknown instrument id" in str(error.value)
    assert "phq9" in str(error.value) and "path to a .toml" in str(error.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(InstrumentDefinitionError, match="no such instrument file") as error:
        load_instrument(path)
    assert error.value.path == str(path)


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "gbk.toml"
    path.write_bytes(bundled_text("phq9.toml").encode("gb18030"))
    with pytest.raises(InstrumentDefinitionError, match="must be UTF-8") as error:
        load_instrument(path)
    assert error.value.path == str(path)


def test_several_problems_are_counted(tmp_path: Path) -> None:
    text = bundled_text("gad7.toml").replace('version = "1.0"', "colour = 1", 1)
    path = tmp_path / "two.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InstrumentDefinitionError, match=r"also colour: unknown key 'colour'"):
        load_instrument(path)
    text = text.replace('citation = "', 'colour2 = 2\ncolour3 = 3\ncitation = "', 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InstrumentDefinitionError, match=r"\(and 1 more problems\)$") as error:
        load_instrument(path)
    assert [field for field, _ in error.value.problems] == [
        "version",
        "colour",
        "colour2",
        "colour3",
    ]


def test_validate_lists_every_problem(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from screening.cli import cli

    text = bundled_text("gad7.toml").replace('version = "1.0"', "colour = 1", 1)
    text = text.replace('citation = "', 'colour2 = 2\ncolour3 = 3\ncitation = "', 1)
    path = tmp_path / "four.toml"
    path.write_text(text, encoding="utf-8")
    done = CliRunner().invoke(cli, ["instruments", "validate", str(path)])
    assert done.exit_code == 1
    assert f"error: {path}: 4 problems" in done.output
    for field in ("version", "colour", "colour2", "colour3"):
        assert f"\n  {field}: " in done.output


def test_field_path_reaches_into_lists(tmp_path: Path) -> None:
    text = bundled_text("dass21.toml").replace("cuts = [8, 10, 15, 20]", "cuts = [8, 10, 20, 15]")
    path = tmp_path / "dass.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InstrumentDefinitionError) as error:
        load_instrument(path)
    assert error.value.field == "scales[1].bands.cuts"
    assert str(error.value).startswith(f"{path}: scales[1].bands.cuts: cuts must be strictly")


def test_bundled_battery_loads_its_instruments_in_order() -> None:
    loaded = load_battery("default-asq")
    assert loaded.battery.source == "bundled:default-asq"
    assert [inst.id for inst in loaded.instruments] == ["phq9", "gad7", "asq"]
    columns = loaded.item_columns()
    assert columns[:9] == [f"phq9_{k}" for k in range(1, 10)]
    assert columns[9:16] == [f"gad7_{k}" for k in range(1, 8)]
    assert columns[16:] == [f"asq_{k}" for k in range(1, 6)]
    assert loaded.has_tiers
    assert loaded.queue_due_hours == {3: 24, 2: 168}


def test_battery_file_names_instruments_by_relative_path(tmp_path: Path) -> None:
    (tmp_path / "scales").mkdir()
    (tmp_path / "scales" / "mine.toml").write_text(
        bundled_text("who5.toml").replace('id = "who5"', 'id = "mywell"', 1), encoding="utf-8"
    )
    battery = tmp_path / "city.toml"
    battery.write_text(
        'id = "city"\ninstruments = ["phq9", "scales/mine.toml"]\n'
        '[[tier]]\nlevel = 1\nany = ["mywell.raw < 13"]\n',
        encoding="utf-8",
    )
    loaded = load_battery(battery)
    assert [inst.id for inst in loaded.instruments] == ["phq9", "mywell"]
    assert loaded.instruments[1].source == str(tmp_path / "scales" / "mine.toml")
    assert loaded.battery.source == str(battery)


def test_battery_with_a_broken_instrument_names_the_position(tmp_path: Path) -> None:
    battery = tmp_path / "b.toml"
    battery.write_text('id = "b"\ninstruments = ["phq9", "bdi"]\n', encoding="utf-8")
    with pytest.raises(InstrumentDefinitionError) as error:
        load_battery(battery)
    assert error.value.path == str(battery)
    assert error.value.field == "instruments[1]"
    assert "cannot load 'bdi'" in str(error.value)


def test_battery_whose_instruments_share_an_id(tmp_path: Path) -> None:
    (tmp_path / "again.toml").write_text(bundled_text("gad7.toml"), encoding="utf-8")
    battery = tmp_path / "b.toml"
    battery.write_text('id = "b"\ninstruments = ["gad7", "again.toml"]\n', encoding="utf-8")
    with pytest.raises(InstrumentDefinitionError, match="two instruments share an id"):
        load_battery(battery)


def test_battery_whose_instruments_read_one_column(tmp_path: Path) -> None:
    # instrument "my" with item "scale_1" and instrument "my_scale" with item "1": my_scale_1
    text = bundled_text("gad7.toml").replace('id = "gad7"', 'id = "my_scale"', 1)
    (tmp_path / "my_scale.toml").write_text(text, encoding="utf-8")
    mine = text.replace('id = "my_scale"', 'id = "my"', 1).replace('id = "1"', 'id = "scale_1"')
    mine = mine.replace('items = ["1",', 'items = ["scale_1",')
    (tmp_path / "my.toml").write_text(mine, encoding="utf-8")
    battery = tmp_path / "b.toml"
    battery.write_text('id = "b"\ninstruments = ["my.toml", "my_scale.toml"]\n', "utf-8")
    with pytest.raises(InstrumentDefinitionError) as error:
        load_battery(battery)
    assert error.value.field == "instruments"
    assert "'my' and 'my_scale' both read the input column 'my_scale_1'" in str(error.value)


def test_unknown_battery_id() -> None:
    with pytest.raises(InstrumentDefinitionError, match="unknown battery id") as error:
        load_battery("nightly")
    assert "default-asq" in str(error.value)


def test_single_instrument_battery_has_bands_but_no_tiers() -> None:
    loaded = single_instrument_battery("asq")
    assert loaded.battery.id == "asq"
    assert loaded.battery.critical_tier is None
    assert loaded.battery.tier == []
    assert not loaded.has_tiers
    assert loaded.item_columns() == [f"asq_{k}" for k in range(1, 6)]
    assert loaded.battery.sha256 == load_instrument("asq").sha256
