"""``screening instruments list | show | validate | test`` end to end through the CLI entry."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from screening.cli import main
from screening.commands.instruments import band_ranges
from screening.instruments.loader import bundled_instruments, load_instrument

DATA = resources.files("screening.instruments.data")


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # rich tables then keep each label on one line


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["instruments", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list(capsys) -> None:
    code, out, _ = run(capsys, "list")
    assert code == 0
    for ref in bundled_instruments():
        assert ref in out
    assert "default-asq" in out and "phq9, gad7, asq" in out
    assert "Public domain" in out and "Free to use" in out
    assert "Screen for Child Anxiety Related Emotional Disorders" in out
    assert "流调中心抑郁量表（CES-D）" in out


def test_show_instrument(capsys) -> None:
    code, out, _ = run(capsys, "show", "gad7")
    assert code == 0
    assert "LOINC: 69737-5" in out
    assert "Hard to relax" in out and "难以放松" in out
    assert "sum, prorated with >= 6 of 7" in out
    assert "10 to < 15 moderate" in out and ">= 15 severe" in out
    assert "golden vectors: 10" in out


def test_show_critical_items_and_missing_rule(capsys) -> None:
    code, out, _ = run(capsys, "show", "asq")
    assert code == 0
    assert "Critical items" in out and "urgent" in out and "answer >= 1" in out
    assert "max of answered, needs >= 1 of 4" in out


def test_show_by_path_and_battery(capsys, tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text((DATA / "who5.toml").read_text("utf-8"), encoding="utf-8")
    code, out, _ = run(capsys, "show", str(path))
    assert code == 0 and "Waking rested" in out and "sum, all 5 required, x 4" in out
    code, out, _ = run(capsys, "show", "default-asq")
    assert code == 0
    assert "asq.item5 >= 1" in out and "asq.screen >= 1" in out
    assert "critical item gives tier 3" in out


def test_show_refuses_a_battery_whose_rule_does_not_parse(capsys, tmp_path: Path) -> None:
    text = (DATA / "batteries" / "default.toml").read_text("utf-8")
    assert "phq9.total >= 20" in text
    path = tmp_path / "mine.toml"
    path.write_text(text.replace("phq9.total >= 20", "phq9.total >="), encoding="utf-8")
    code, out, err = run(capsys, "show", str(path))
    assert code == 2 and out == ""
    assert "mine.toml" in err and "phq9.total >=" in err


def test_show_unknown(capsys) -> None:
    code, _, err = run(capsys, "show", "bdi")
    assert code == 2
    assert "unknown instrument id" in err


def test_validate_good_files(capsys) -> None:
    files = [str(DATA / "cesd.toml"), str(DATA / "batteries" / "default-asq.toml")]
    code, out, err = run(capsys, "validate", *files)
    assert code == 0, err
    assert "instrument 'cesd', 20 items, 1 scales, 8 golden vectors" in out
    assert "battery 'default-asq' with 3 instruments" in out


def test_validate_reports_every_bad_file(capsys, tmp_path: Path) -> None:
    text = (DATA / "gad7.toml").read_text("utf-8")
    cuts = tmp_path / "cuts.toml"
    cuts.write_text(text.replace("cuts = [5, 10, 15]", "cuts = [5, 15, 10]"), encoding="utf-8")
    syntax = tmp_path / "syntax.toml"
    syntax.write_text(text.replace('id = "gad7"', 'id = "gad7'), encoding="utf-8")
    code, out, err = run(capsys, "validate", str(cuts), str(DATA / "gad7.toml"), str(syntax))
    assert code != 0
    assert f"{cuts}: scales[0].bands.cuts: cuts must be strictly ascending" in err
    assert f"{syntax}: not valid TOML" in err
    assert "2 of 3 files are not valid" in err
    assert "ok " in out


def test_validate_parses_the_rules_of_a_battery(capsys, tmp_path: Path) -> None:
    battery = tmp_path / "b.toml"
    rules = '[[tier]]\nlevel = 3\nany = ["phq9.total >= 20"]\n[[tier]]\nlevel = 2\nany = ['
    battery.write_text(f'id = "b"\ninstruments = ["phq9"]\n{rules}"phq9.total >> 3"]\n', "utf-8")
    normed = tmp_path / "normed.toml"
    normed.write_text('id = "n"\ninstruments = ["phq9"]\nnorms = ["bad.json"]\n', "utf-8")
    (tmp_path / "bad.json").write_text("not a norm table", encoding="utf-8")
    code, _, err = run(capsys, "validate", str(normed), str(battery))
    assert code != 0
    assert f"{battery}: tier[1].any[0]: Rule 'phq9.total >> 3': expected a number" in err
    assert "bad.json" in err and "2 of 2 files are not valid" in err  # one does not stop it


def test_test_runs_every_bundled_vector(capsys) -> None:
    total = sum(len(load_instrument(ref).golden) for ref in bundled_instruments())
    code, out, _ = run(capsys, "test")
    assert code == 0
    assert out.count("PASS ") == total
    assert f"{total} passed, 0 failed" in out


def test_test_fails_on_a_wrong_vector(capsys, tmp_path: Path) -> None:
    text = (DATA / "gad7.toml").read_text("utf-8")
    path = tmp_path / "gad7_wrong.toml"
    path.write_text(text.replace("scores = { total = 17.5 }", "scores = { total = 17 }"), "utf-8")
    code, out, err = run(capsys, "test", str(path), "asq")
    assert code != 0
    assert "FAIL gad7 / prorated with one missing" in out
    assert "total: expected 17.0, got 17.5" in out
    assert "PASS asq / acute positive" in out
    assert "1 golden vectors failed" in err


def test_band_ranges() -> None:
    bands = load_instrument("who5").scale("raw").bands
    assert band_ranges(bands) == [
        "< 8 likely depression",
        "8 to < 13 poor well-being",
        ">= 13 adequate well-being",
    ]
    assert band_ranges(bands, "zh-CN")[0] == "< 8 可能抑郁"
