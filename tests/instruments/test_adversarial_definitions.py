"""Adversarial user-written instrument and battery files: each is scored as it says or
refused with the file, the field path and how to fix it (never a traceback)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from screening.cli import main
from screening.errors import InstrumentDefinitionError
from screening.instruments.loader import load_battery, load_instrument

DATA = resources.files("screening.instruments.data")

INSTRUMENT = """\
id = "mine"
version = "1"
licence = "Free to use"
citation = "Local scale, 2026"
[name]
"zh-CN" = "自编量表"
en = "Local scale"
[response_scale]
values = [0, 1, 2, 3]
[response_scale.labels]
"zh-CN" = ["无", "轻", "中", "重"]
en = ["none", "mild", "moderate", "severe"]
[[items]]
id = "1"
label = { "zh-CN" = "一", en = "one" }
[[items]]
id = "2"
label = { "zh-CN" = "二", en = "two" }
[[items]]
id = "3"
label = { "zh-CN" = "三", en = "three" }
reverse = true
[[scales]]
id = "total"
name = { "zh-CN" = "总分", en = "Total" }
items = ["1", "2", "3"]
[scales.bands]
cuts = [3, 6]
labels."zh-CN" = ["低", "中", "高"]
labels.en = ["low", "mid", "high"]
[[golden]]
name = "reverse-keyed third item"
responses = [1, 2, 0]
scores = { total = 6 }
bands = { total = "high" }
"""


def battery(*rules: str, level: int = 3, instruments: str = '["phq9", "gad7"]') -> str:
    quoted = ", ".join(f'"{rule}"' for rule in rules)
    return (
        f'id = "mine"\ninstruments = {instruments}\n[[tier]]\nlevel = {level}\nany = [{quoted}]\n'
    )


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["instruments", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")


def test_utf8_with_bom_is_read(tmp_path: Path, capsys) -> None:
    # Windows Notepad saves UTF-8 with a byte-order mark; the CSV inputs accept it too
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + INSTRUMENT.encode("utf-8"))
    assert load_instrument(path).id == "mine"
    code, out, err = run(capsys, "validate", str(path))
    assert code == 0, err
    assert "instrument 'mine'" in out


def test_battery_with_bom_is_read_as_a_battery(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bom_battery.toml"
    path.write_bytes(b"\xef\xbb\xbf" + battery("phq9.total >= 20").encode("utf-8"))
    code, out, err = run(capsys, "validate", str(path))
    assert code == 0, err
    assert "battery 'mine'" in out


def test_directory_is_named_as_a_directory(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "scales.toml"
    folder.mkdir()
    with pytest.raises(InstrumentDefinitionError, match="is a folder, not a file"):
        load_instrument(folder)
    with pytest.raises(InstrumentDefinitionError, match="is a folder, not a file"):
        load_battery(folder)
    code, _, err = run(capsys, "validate", str(folder))
    assert code != 0 and "is a folder, not a file" in err and "Traceback" not in err


def test_duplicate_tier_level_names_the_tier(tmp_path: Path, capsys) -> None:
    path = tmp_path / "battery.toml"
    path.write_text(
        battery("phq9.total >= 20") + '[[tier]]\nlevel = 3\nany = ["gad7.total >= 15"]\n',
        encoding="utf-8",
    )
    with pytest.raises(InstrumentDefinitionError) as caught:
        load_battery(path)
    assert caught.value.field == "tier[1].level"
    assert "also tier[0].level" in caught.value.problem


def test_instrument_listed_twice_names_the_position(tmp_path: Path) -> None:
    path = tmp_path / "battery.toml"
    path.write_text(battery("phq9.total >= 20", instruments='["phq9", "gad7", "phq9"]'), "utf-8")
    with pytest.raises(InstrumentDefinitionError) as caught:
        load_battery(path)
    assert caught.value.field == "instruments[2]"
    assert "also instruments[0]" in caught.value.problem


def test_scale_item_listed_twice_names_the_item(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        INSTRUMENT.replace('items = ["1", "2", "3"]', 'items = ["1", "2", "2"]'), "utf-8"
    )
    with pytest.raises(InstrumentDefinitionError) as caught:
        load_instrument(path)
    assert caught.value.field == "scales[0].items[2]"
    assert "'2' is also items[1]" in caught.value.problem


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("phq9.total >= 270", "phq9.total is 0 to 27"),  # a typo for 27: red would never fire
        ("phq9.total > 27", "phq9.total is 0 to 27"),
        ("gad7.total < 0", "gad7.total is 0 to 21"),
        ("phq9.item9 >= 5", "phq9.item9 is 0 to 3"),
        ("phq9.item9 == -1", "phq9.item9 is 0 to 3"),
        ("phq9.total >= 1e999", "not a finite number"),
        ("phq9.total <= -1e999", "not a finite number"),
    ],
)
def test_rule_that_can_never_hold_is_refused(tmp_path: Path, capsys, rule: str, expected) -> None:
    path = tmp_path / "battery.toml"
    path.write_text(
        battery("phq9.total >= 20") + f'[[tier]]\nlevel = 2\nany = ["{rule}"]\n', "utf-8"
    )
    code, _, err = run(capsys, "validate", str(path))
    assert code != 0
    assert "tier[1].any[0]" in err and expected in err and "Traceback" not in err


@pytest.mark.parametrize("rule", ["phq9.total >= 27", "phq9.total > 26.5", "phq9.total <= 0"])
def test_rule_at_the_edge_of_the_range_is_accepted(tmp_path: Path, capsys, rule: str) -> None:
    path = tmp_path / "battery.toml"
    path.write_text(battery(rule), "utf-8")
    code, _, err = run(capsys, "validate", str(path))
    assert code == 0, err


def test_validity_rule_that_can_never_hold_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        INSTRUMENT
        + '[[validity]]\nscale = "total"\nop = ">="\nvalue = 30\n'
        + 'reason = { "zh-CN" = "测谎", en = "lie scale" }\n',
        "utf-8",
    )
    with pytest.raises(InstrumentDefinitionError) as caught:
        load_instrument(path)
    assert caught.value.field == "validity[0].value"
    assert "0 to 9" in caught.value.problem


def test_longstring_limit_above_the_item_count_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(INSTRUMENT + "[careless]\nmax_longstring = 4\n", "utf-8")
    with pytest.raises(InstrumentDefinitionError) as caught:
        load_instrument(path)
    assert caught.value.field == "careless.max_longstring"
    assert "3 items" in caught.value.problem


def test_item_ids_that_differ_only_in_case_are_refused(tmp_path: Path) -> None:
    # input headers are matched whatever their letter case: mine_a and mine_A would be one
    path = tmp_path / "mine.toml"
    text = INSTRUMENT.replace('id = "2"', 'id = "a"').replace('id = "3"', 'id = "A"')
    path.write_text(text.replace('items = ["1", "2", "3"]', 'items = ["1", "a", "A"]'), "utf-8")
    with pytest.raises(InstrumentDefinitionError) as caught:
        load_instrument(path)
    assert caught.value.field == "items[2].id"
    assert "differ only in letter case" in caught.value.problem


def test_instruments_whose_columns_differ_only_in_case_are_refused(tmp_path: Path) -> None:
    first = INSTRUMENT.replace('id = "mine"', 'id = "ab"').replace('id = "1"', 'id = "c_D"')
    first = first.replace('items = ["1", "2", "3"]', 'items = ["c_D", "2", "3"]')
    (tmp_path / "ab.toml").write_text(first, "utf-8")
    second = INSTRUMENT.replace('id = "mine"', 'id = "ab_c"').replace('id = "1"', 'id = "d"')
    second = second.replace('items = ["1", "2", "3"]', 'items = ["d", "2", "3"]')
    (tmp_path / "ab_c.toml").write_text(second, "utf-8")
    path = tmp_path / "battery.toml"
    path.write_text('id = "b"\ninstruments = ["ab.toml", "ab_c.toml"]\n', "utf-8")
    with pytest.raises(InstrumentDefinitionError, match="'ab_c_D' and 'ab_c_d'"):
        load_battery(path)


@pytest.mark.parametrize("name", ["Mine.TOML", "mine"])
def test_an_existing_file_is_read_whatever_its_suffix(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    (tmp_path / name).write_text(INSTRUMENT, "utf-8")
    monkeypatch.chdir(tmp_path)  # a bare file name, as typed in its folder
    assert load_instrument(name).id == "mine"
    code, out, err = run(capsys, "validate", name)
    assert code == 0, err
    assert "instrument 'mine'" in out


def test_a_battery_names_an_instrument_file_with_an_upper_case_suffix(tmp_path: Path) -> None:
    (tmp_path / "Mine.TOML").write_text(INSTRUMENT, "utf-8")
    path = tmp_path / "battery.toml"
    path.write_text(battery("mine.total >= 6", instruments='["phq9", "Mine.TOML"]'), "utf-8")
    assert [inst.id for inst in load_battery(path).instruments] == ["phq9", "mine"]


def test_test_command_runs_the_instruments_of_a_battery_file(tmp_path: Path, capsys) -> None:
    (tmp_path / "mine.toml").write_text(
        INSTRUMENT.replace("scores = { total = 6 }", "scores = { total = 7 }"), "utf-8"
    )
    path = tmp_path / "battery.toml"
    path.write_text(battery("mine.total >= 6", instruments='["gad7", "mine.toml"]'), "utf-8")
    code, out, err = run(capsys, "test", str(path))
    assert code != 0
    assert "PASS gad7" in out
    assert "FAIL mine / reverse-keyed third item" in out and "total: expected 7.0, got 6.0" in out
    assert "Field required" not in err


def test_battery_with_a_misspelt_key_is_checked_as_a_battery(tmp_path: Path, capsys) -> None:
    path = tmp_path / "battery.toml"
    path.write_text(battery("phq9.total >= 20").replace("instruments =", "instrument ="), "utf-8")
    code, _, err = run(capsys, "validate", str(path))
    assert code != 0
    assert "unknown key 'instrument'; did you mean 'instruments'?" in err
    assert "citation" not in err  # not read as an instrument


@pytest.mark.parametrize("key", ["citation", "licence", "version"])
def test_blank_citation_licence_or_version_is_refused(tmp_path: Path, key: str) -> None:
    path = tmp_path / "mine.toml"
    lines = [
        f'{key} = "  "' if line.startswith(f"{key} =") else line for line in INSTRUMENT.splitlines()
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    with pytest.raises(InstrumentDefinitionError) as caught:
        load_instrument(path)
    assert caught.value.field == key
    assert "empty" in caught.value.problem


def test_missing_key_says_to_add_it(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(INSTRUMENT.replace('citation = "Local scale, 2026"\n', ""), "utf-8")
    with pytest.raises(InstrumentDefinitionError) as caught:
        load_instrument(path)
    assert caught.value.field == "citation"
    assert caught.value.problem == "missing; add citation = ..."


def test_empty_file_says_it_is_empty(tmp_path: Path, capsys) -> None:
    path = tmp_path / "mine.toml"
    path.write_bytes(b"\xef\xbb\xbf\n  \n")
    with pytest.raises(InstrumentDefinitionError, match="the file is empty"):
        load_instrument(path)


@pytest.mark.parametrize(
    ("old", "new", "field", "expected"),
    [
        ('id = "2"', 'id = "二"', "items[1].id", "'二' may use only the letters A-Z and a-z"),
        ('id = "mine"', 'id = "我的量表"', "id", "'我的量表' may use only lower-case letters a-z"),
        ('id = "total"', 'id = "Total"', "scales[0].id", "'Total' may use only lower-case"),
    ],
)
def test_id_outside_its_pattern_says_what_is_allowed(
    tmp_path: Path, old, new, field, expected
) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(INSTRUMENT.replace(old, new, 1), "utf-8")
    with pytest.raises(InstrumentDefinitionError) as caught:
        load_instrument(path)
    assert caught.value.field == field
    assert expected in caught.value.problem
    assert "name or label" in caught.value.problem  # where Chinese text goes


@pytest.mark.parametrize(
    ("bands", "expected"),
    [
        ('{ total = "severe" }', "'severe' is not a band of total; its bands are low, mid, high"),
        ('{ total = "高" }', "'高' is not a band of total; its bands are low, mid, high"),
    ],
)
def test_golden_band_that_the_scale_does_not_have_is_refused(
    tmp_path: Path, bands, expected
) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(INSTRUMENT.replace('bands = { total = "high" }', f"bands = {bands}"), "utf-8")
    with pytest.raises(InstrumentDefinitionError) as caught:
        load_instrument(path)
    assert caught.value.field == "golden[0].bands.total"
    assert expected in caught.value.problem


def test_golden_band_of_a_scale_without_bands_is_refused(tmp_path: Path) -> None:
    text = (
        INSTRUMENT.split("[scales.bands]")[0]
        + INSTRUMENT.split('labels.en = ["low", "mid", "high"]\n')[1]
    )
    path = tmp_path / "mine.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(InstrumentDefinitionError) as caught:
        load_instrument(path)
    assert caught.value.field == "golden[0].bands.total"
    assert "total has no bands" in caught.value.problem


def test_golden_band_of_a_scale_id_with_digits_names_the_field(tmp_path: Path) -> None:
    text = INSTRUMENT.replace('id = "total"', 'id = "s2"').replace("total =", "s2 =")
    path = tmp_path / "mine.toml"
    path.write_text(text.replace('bands = { s2 = "high" }', 'bands = { s2 = "top" }'), "utf-8")
    with pytest.raises(InstrumentDefinitionError) as caught:
        load_instrument(path)
    assert caught.value.field == "golden[0].bands.s2"
