"""Column mapping files: loading, validation and renaming."""

from __future__ import annotations

import polars as pl
import pytest

from screening.errors import InputFileError
from screening.mapping import ColumnMapping, load_mapping


def _mapping_file(tmp_path, text: str):
    path = tmp_path / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_and_apply_chinese_headers(tmp_path):
    path = _mapping_file(tmp_path, '[columns]\n"学号" = "student_id"\n"题1" = "phq9_1"\n')
    mapping = load_mapping(path)
    assert dict(mapping.columns) == {"学号": "student_id", "题1": "phq9_1"}
    frame = pl.DataFrame({"学号": ["S1"], "题1": [2], "备注": ["x"]})
    renamed = mapping.apply(frame)
    assert renamed.columns == ["student_id", "phq9_1", "备注"]
    assert renamed.row(0) == ("S1", 2, "x")


def test_two_headers_to_one_target_is_an_error(tmp_path):
    path = _mapping_file(tmp_path, '[columns]\n"学号" = "student_id"\n"编号" = "student_id"\n')
    with pytest.raises(InputFileError, match=r"'student_id' <- '学号', '编号'"):
        load_mapping(path)


def test_unknown_target_names_the_choices():
    mapping = ColumnMapping({"题10": "phq9_10"}, source="m.toml")
    with pytest.raises(InputFileError, match=r"'题10' -> 'phq9_10'.*'phq9_1'") as info:
        mapping.check_targets(["phq9_1", "phq9_2"])
    assert "m.toml" in str(info.value)
    mapping.check_targets(["phq9_10"])  # known: no error


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[columns\n", "not valid TOML"),
        ('[other]\n"a" = "b"\n', "unexpected key"),
        ("title = 1\n", "unexpected key"),
        ("", "non-empty \\[columns\\]"),
        ('[columns]\n"a" = 1\n', "must be strings"),
        ('[columns]\n"a" = ""\n', "empty names"),
        ('[answers]\n"2" = 1\n', "not a number"),
        ('[answers]\n" " = 1\n', "not empty"),
        ('[answers]\n"好几天" = 1.5\n', "whole number"),
        ('[answers]\n"好几天" = true\n', "whole number"),
        ('[answers]\n"好几天" = 300\n', "whole number"),
        ('[answers]\n"好几天" = 1\n" 好几天" = 2\n', "two codes"),
        ("[answers]\n", "non-empty"),
        ("[options]\n", "non-empty"),
        ("[options]\nnumbered_from = true\n", "whole number from 0 to 100"),
        ('[options]\nnumbered_from = "1"\n', "whole number from 0 to 100"),
        ("[options]\nnumbered_from = 101\n", "whole number from 0 to 100"),
        ("[options]\nnumbered_from = -1\n", "whole number from 0 to 100"),
        ("[options]\nstart = 1\n", "unexpected key\\(s\\) 'start' in \\[options\\]"),
        ('[answers]\n"好几天" = 1\n[options]\nnumbered_from = 1\n', "cannot be used together"),
    ],
)
def test_malformed_mapping_files(tmp_path, text, message):
    with pytest.raises(InputFileError, match=message) as info:
        load_mapping(_mapping_file(tmp_path, text))
    assert "mapping.toml" in str(info.value)


def test_missing_mapping_file(tmp_path):
    with pytest.raises(InputFileError, match="cannot read"):
        load_mapping(tmp_path / "absent.toml")


def test_clash_after_mapping_names_both_columns():
    mapping = ColumnMapping({"学号": "student_id"})
    with pytest.raises(InputFileError, match=r"'student_id' <- columns '学号', 'student_id'"):
        mapping.rename(["学号", "student_id", "phq9_1"], path="data.csv")


def test_missing_sources():
    mapping = ColumnMapping({"学号": "student_id", "题1": "phq9_1"})
    assert mapping.missing_sources(["学号", "x"]) == ["题1"]


LABELS = '[answers]\n"完全不会" = 0\n"好几天" = 1\n"一半以上的天数" = 2\n"几乎每天" = 3\n'


def test_answer_labels_alone_or_beside_columns(tmp_path):
    alone = load_mapping(_mapping_file(tmp_path, LABELS))
    assert dict(alone.columns) == {} and alone.answers["几乎每天"] == 3
    both = load_mapping(_mapping_file(tmp_path, '[columns]\n"题1" = "phq9_1"\n' + LABELS))
    assert dict(both.columns) == {"题1": "phq9_1"} and len(both.answers) == 4


def test_recode_strips_and_leaves_other_text():
    mapping = ColumnMapping({}, answers={"好几天": 1, " 几乎每天 ": 3})
    text = pl.Series(["好几天", " 几乎每天", "2", "没有", None])
    assert mapping.recode(text).to_list() == ["1", "3", "2", "没有", None]


def test_options_numbering_alone_or_beside_columns(tmp_path):
    alone = load_mapping(_mapping_file(tmp_path, "[options]\nnumbered_from = 1\n"))
    assert alone.numbered_from == 1 and dict(alone.columns) == {} and not alone.answers
    both = load_mapping(
        _mapping_file(tmp_path, '[columns]\n"题1" = "phq9_1"\n[options]\nnumbered_from = 0\n')
    )
    assert both.numbered_from == 0 and dict(both.columns) == {"题1": "phq9_1"}
    assert load_mapping(_mapping_file(tmp_path, LABELS)).numbered_from is None
