"""Reading response files: types, encodings, malformed files, Excel safety, batches."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from unittest import mock

import polars as pl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import screening.io
from screening.errors import InputFileError
from screening.io import iter_response_batches, read_responses, read_upload, sha256_file
from screening.mapping import ColumnMapping

ITEMS = ["phq9_1", "phq9_2", "phq9_3"]
HEADER = "student_id,school_id,sex,phq9_1,phq9_2,phq9_3"


@pytest.fixture(params=[5, 64, 1 << 18], ids=["chunk5", "chunk64", "chunk256k"])
def chunk(request, monkeypatch):
    """Run the vectorised scans with chunks small enough to cut fields, quotes and UTF-8."""
    monkeypatch.setattr(screening.io, "_CHUNK", request.param)
    return request.param


def _csv(tmp_path, text: str | bytes, name: str = "responses.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return path


def _read(path, **kwargs):
    return read_responses(path, item_columns=kwargs.pop("item_columns", ITEMS), **kwargs)


def _error(path, **kwargs) -> str:
    with pytest.raises(InputFileError) as info:
        _read(path, **kwargs)
    assert str(path.name) in str(info.value)
    return str(info.value)


# ------------------------------------------------------------------------------ contract


def test_types_and_missing_cells(tmp_path):
    path = _csv(
        tmp_path,
        f"{HEADER}\n007,S01,F,0,3,\n008,S01,M, , 2,\u3000\n009,S02,F,+1,02,1\n",
    )
    frame = _read(path)
    assert frame.columns == HEADER.split(",")
    assert frame.schema["student_id"] == pl.String
    assert frame.schema["school_id"] == pl.String
    assert all(frame.schema[c] == pl.Int8 for c in ITEMS)
    assert frame["student_id"].to_list() == ["007", "008", "009"]  # leading zeros kept
    assert frame.rows() == [
        ("007", "S01", "F", 0, 3, None),
        ("008", "S01", "M", None, 2, None),
        ("009", "S02", "F", 1, 2, 1),
    ]


def test_integral_decimals_count_as_integers(tmp_path):
    path = _csv(tmp_path, f"{HEADER}\n1,S,F,2.0,1.,3.00\n2,S,F,1,1,1\n")
    frame = _read(path)
    assert frame.schema["phq9_1"] == pl.Int8
    assert frame.row(0) == ("1", "S", "F", 2, 1, 3)


@pytest.mark.parametrize("retries", [0, 1, 4])
def test_bad_cells_leave_the_column_as_text_for_the_pipeline(tmp_path, monkeypatch, retries):
    # 0: every column re-read as text at once; 1: one column retried, then all; 4: one by one
    monkeypatch.setattr(screening.io, "_TEXT_RETRIES", retries)
    path = _csv(
        tmp_path,
        f"{HEADER}\n1,S,F,x,300,1\n2,S,F, 2.0 ,2.5,2\n3,S,F,,-1,3\n4,S,F,١,2,0\n",
    )
    frame = _read(path)
    assert frame.schema["phq9_1"] == pl.String
    assert frame.schema["phq9_2"] == pl.String
    assert frame.schema["phq9_3"] == pl.Int8
    assert frame["phq9_1"].to_list() == ["x", "2", None, "١"]
    assert frame["phq9_2"].to_list() == ["300", "2.5", "-1", "2"]
    assert frame["phq9_3"].to_list() == [1, 2, 3, 0]


@pytest.mark.parametrize("mark", ["NA", "N/A", "#N/A", "NaN", "nan", "NULL", " None "])
def test_missing_marks_of_other_software_are_missing_answers(tmp_path, mark, chunk):
    path = _csv(tmp_path, f"{HEADER}\nS1,{mark},F,1,{mark},3\nS2,B,M,{mark},2,0\n")
    frame = _read(path)
    assert frame.select(ITEMS).dtypes == [pl.Int8] * 3
    assert frame.select(ITEMS).rows() == [(1, None, 3), (None, 2, 0)]
    assert frame["school_id"].to_list() == [mark, "B"]  # passthrough text is kept as it is


def test_missing_marks_beside_bad_cells_stay_missing(tmp_path):
    frame = _read(_csv(tmp_path, f"{HEADER}\nS1,A,F,1,NA,x\nS2,B,M,NA,2,NA\n"))
    assert frame["phq9_2"].to_list() == [None, 2] and frame["phq9_3"].to_list() == ["x", None]


def test_other_columns_pass_through_as_text(tmp_path):
    path = _csv(tmp_path, "student_id,grade,备注,phq9_1,phq9_2,phq9_3\nA,7,留守,1,1,1\n")
    frame = _read(path)
    assert frame.schema["grade"] == pl.String
    assert frame.row(0) == ("A", "7", "留守", 1, 1, 1)


def test_quoted_fields_with_commas_and_line_breaks(tmp_path):
    path = _csv(tmp_path, f'{HEADER}\n"1","S, north","F",1,2,3\n2,"line\nbreak",M,0,0,0\n')
    frame = _read(path)
    assert frame["school_id"].to_list() == ["S, north", "line\nbreak"]
    assert frame["phq9_3"].to_list() == [3, 0]


def test_crlf_and_trailing_blank_lines(tmp_path):
    path = _csv(tmp_path, f"{HEADER}\r\n1,S,F,1,2,3\r\n2,S,M,0,0,0\r\n\r\n\r\n")
    frame = _read(path)
    assert frame.height == 2
    assert frame["sex"].to_list() == ["F", "M"]


@pytest.mark.parametrize("tail", [",,,,,\n", ",,,,,\r\n,,,,,\r\n\r\n", ",,,,,"])
def test_trailing_lines_of_commas_are_not_rows(tmp_path, tail, chunk):
    # Excel saves formatted but empty rows below the data as lines of commas
    path = _csv(tmp_path, f"{HEADER}\n1,S,F,1,2,3\n2,S,M,0,,\n{tail}")
    frame = _read(path)
    assert frame["student_id"].to_list() == ["1", "2"]
    assert frame["phq9_3"].to_list() == [3, None]  # the last record keeps its empty cells
    batches = list(iter_response_batches(path, item_columns=ITEMS, batch_rows=1))
    assert [b["student_id"].to_list() for b in batches] == [["1"], ["2"]]


def test_only_lines_of_commas_below_the_header(tmp_path, chunk):
    assert "no data rows" in _error(_csv(tmp_path, f"{HEADER}\n,,,,,\n,,,,,\n"))
    assert "the file is empty" in _error(_csv(tmp_path, ",,,,,\r\n,,,,,\r\n"))


def test_full_width_digits_are_numbers(tmp_path):
    # typed with a Chinese input method in full-width mode
    path = _csv(tmp_path, f"{HEADER}\n1,S,F,\uff11,\uff12\uff0e\uff10,\u30003\n")
    frame = _read(path)
    assert frame.select(ITEMS).row(0) == (1, 2, 3)
    assert frame.schema["phq9_2"] == pl.Int8


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
@pytest.mark.parametrize("in_cell", ["\r", "\n", "\r\n"], ids=["cr", "lf", "crlf"])
def test_classic_mac_line_ends(tmp_path, encoding, in_cell, chunk):
    # Excel for Mac's "CSV (Macintosh)" ends lines with a bare carriage return; a quoted
    # cell may hold another line break
    text = f'{HEADER},备注\r1,S,F,1,2,3,"两{in_cell}行"\r2,S,M,0,,,\r'
    path = _csv(tmp_path, text, encoding=encoding)
    lf = text.replace("\r\n", "\n").replace("\r", "\n")
    expected = _read(_csv(tmp_path, lf, "lf.csv", encoding))
    assert expected["备注"].to_list() == ["两\n行", None]
    assert _read(path).equals(expected)
    batches = list(iter_response_batches(path, item_columns=ITEMS, batch_rows=1))
    assert pl.concat(batches).equals(expected)
    assert read_upload(path.read_bytes(), "r.csv", item_columns=ITEMS).equals(expected)


def test_header_names_are_stripped(tmp_path):
    path = _csv(tmp_path, " student_id , school_id,sex,phq9_1 ,phq9_2,phq9_3\n1,S,F,1,2,3\n")
    assert _read(path).columns == HEADER.split(",")


def test_headers_in_other_case_or_width(tmp_path):
    path = _csv(tmp_path, "Student_ID,School_ID,SEX,PHQ9_1,ｐｈｑ９_２,Phq9_3\n1,S,F,1,2,3\n")
    frame = _read(path)
    assert frame.columns == HEADER.split(",")
    assert frame.row(0) == ("1", "S", "F", 1, 2, 3)


@pytest.mark.parametrize(
    ("header", "shown"),
    [
        (f"{HEADER},PHQ9_1", "'phq9_1' in column 4 (D), 'PHQ9_1' in column 7 (G)"),
        ("student_id,PHQ9_1,Phq9_1,phq9_2,phq9_3", "'PHQ9_1' in column 2 (B), 'Phq9_1' in"),
        (f"{HEADER},Student_ID", "'student_id' in column 1 (A), 'Student_ID' in column 7"),
    ],
)
def test_two_spellings_of_one_column_are_an_error(tmp_path, header, shown):
    # reading one of them would drop the other's answers without a word
    width = header.count(",") + 1
    path = _csv(tmp_path, f"{header}\n" + ",".join(["1"] * width) + "\n")
    message = _error(path)
    assert f"the columns {shown}" in message
    assert "Delete or rename all but one of them" in message


def test_two_spellings_after_the_mapping_name_the_files_header(tmp_path):
    path = _csv(tmp_path, "学号,STUDENT_ID,school_id,sex,phq9_1,phq9_2,phq9_3\nA,B,S,F,1,2,3\n")
    message = _error(path, mapping=ColumnMapping({"学号": "student_id"}))
    assert "'student_id' (mapped from '学号') in column 1 (A), 'STUDENT_ID' in column 2" in message


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "polars"])
@pytest.mark.parametrize("empty", [1, 3])
def test_empty_unnamed_trailing_columns_are_dropped(tmp_path, fast, empty):
    commas = "," * empty
    text = f"{HEADER}{commas}\r\n1,S,F,1,2,3{commas}\r\n2,S,F,1,2,3{commas}\r\n"
    path = _csv(tmp_path, text)
    with mock.patch.object(screening.io, "_FAST_CSV", fast):
        assert _read(path).columns == HEADER.split(",")
        batches = iter_response_batches(path, item_columns=ITEMS, batch_rows=1)
        assert [b.columns for b in batches] == [HEADER.split(",")] * 2


# ----------------------------------------------------------------------------- encodings

CHINESE = "学号,学校,性别,题1,题2,题3\nS001,第一中学,女,1,2,3\nS002,实验小学,男,0,,2\n"
CHINESE_MAP = ColumnMapping(
    {"学号": "student_id", "学校": "school_id", "性别": "sex", "题1": "phq9_1"}
    | {"题2": "phq9_2", "题3": "phq9_3"}
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_same_data_in_every_encoding_gives_the_same_frame(tmp_path, encoding, chunk):
    expected = pl.DataFrame(
        {
            "student_id": ["S001", "S002"],
            "school_id": ["第一中学", "实验小学"],
            "sex": ["女", "男"],
            "phq9_1": pl.Series([1, 0], dtype=pl.Int8),
            "phq9_2": pl.Series([2, None], dtype=pl.Int8),
            "phq9_3": pl.Series([3, 2], dtype=pl.Int8),
        }
    )
    path = _csv(tmp_path, CHINESE, encoding=encoding)
    frame = _read(path, mapping=CHINESE_MAP)
    assert frame.equals(expected)
    upload = read_upload(path.read_bytes(), "x.csv", item_columns=ITEMS, mapping=CHINESE_MAP)
    assert upload.equals(expected)
    batches = list(
        iter_response_batches(path, item_columns=ITEMS, mapping=CHINESE_MAP, batch_rows=1)
    )
    assert len(batches) == 2
    assert pl.concat(batches).equals(expected)


def test_gbk_body_under_an_ascii_header(tmp_path):
    path = _csv(tmp_path, f"{HEADER}\n1,第一中学,女,1,2,3\n", encoding="gbk")
    assert _read(path)["school_id"].to_list() == ["第一中学"]


def test_gb18030_characters_outside_gbk(tmp_path):
    path = _csv(tmp_path, f"{HEADER}\n1,𠮷野家,女,1,2,3\n", encoding="gb18030")
    assert _read(path)["school_id"].to_list() == ["𠮷野家"]


def test_neither_utf8_nor_gb18030(tmp_path, chunk):
    path = _csv(tmp_path, HEADER.encode() + b"\n1,S,F,1,2,3\n2,\xff\xff,F,1,2,3\n")
    message = _error(path)
    assert "neither UTF-8 nor GB18030" in message
    assert "line 3" in message


def test_mixed_encodings_are_refused(tmp_path, chunk):
    text = "学号,school_id,sex,phq9_1,phq9_2,phq9_3\n".encode() + "1,第一中学,女,1,2,3\n".encode(
        "gbk"
    )
    message = _error(path := _csv(tmp_path, text), mapping=ColumnMapping({"学号": "student_id"}))
    assert "mixes encodings" in message and "line 2" in message
    assert path.exists()


def test_utf8_mark_with_gbk_body_is_refused(tmp_path):
    text = b"\xef\xbb\xbf" + HEADER.encode() + b"\n" + "1,第一中学,女,1,2,3\n".encode("gbk")
    assert "line 2" in _error(_csv(tmp_path, text))


def test_utf16_is_refused(tmp_path):
    assert "UTF-16" in _error(_csv(tmp_path, (HEADER + "\n1,S,F,1,2,3\n").encode("utf-16")))


# ------------------------------------------------------------------------ malformed files


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("1,S,F,1,2,3\n2,S,F,1,2\n3,S,F,1,2,3\n", "line 3 has 5 fields"),
        ("1,S,F,1,2,3\n2,S,F,1,2,3,4\n", "line 3 has 7 fields"),
        ("1,S,F,1,2,3\n\n2,S,F,1,2,3\n", "line 3 is blank"),
        ('1,"S\nx",F,1,2,3\n2,S,F,1\n', "line 4 has 4 fields"),
    ],
)
def test_ragged_rows_name_the_line(tmp_path, body, expected, chunk):
    message = _error(_csv(tmp_path, f"{HEADER}\n{body}"))
    assert expected in message
    assert "header (6)" in message


@pytest.mark.parametrize("rows", [1, 70])
@pytest.mark.parametrize("batch_rows", [None, 1, 50])
def test_quote_inside_an_unquoted_value_names_line_and_value(tmp_path, rows, batch_rows, chunk):
    # parsers take the quote for the start of a quoted value; their messages do not say so
    before, after = (
        "".join(f'{side}{i},"S, ""No. 1""",F,1,2,3\r\n' for i in range(rows)) for side in "ab"
    )
    path = _csv(tmp_path, f'{HEADER}\r\n{before}2,3"班,F,1,2,3\r\n{after}')
    if batch_rows is None:
        message = _error(path)
    else:
        with pytest.raises(InputFileError) as info:
            list(iter_response_batches(path, item_columns=ITEMS, batch_rows=batch_rows))
        message = str(info.value)
    assert (
        f"A likely cause: line {rows + 2} has a double quote (\") inside the value '3\"班'"
        in message
    )
    assert '("3""班")' in message
    fixed = _read(_csv(tmp_path, f'{HEADER}\n{before}2,"3""班",F,1,2,3\n{after}', "fixed.csv"))
    assert fixed["school_id"][rows] == '3"班' and fixed["school_id"][0] == 'S, "No. 1"'


def test_a_quote_does_not_hide_the_problem_found(tmp_path):
    # 3"A"班 alone parses; the ragged line is what stops the file
    ragged = f'{HEADER}\n1,3"A"班,F,1,2,3\n2,S,F,1,2,3,4\n'
    message = _error(_csv(tmp_path, ragged))
    assert "line 3 has 7 fields" in message and "A likely cause: line 2" in message


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_header_cell_with_a_line_break_inside_quotes(tmp_path, newline, chunk):
    """Excel quotes a header cell typed with Alt+Enter; the break is part of the name."""
    header = HEADER.replace("sex", f'"sex{newline}(M/F)"').replace("phq9_3", f'"phq9_3{newline}"')
    frame = _read(_csv(tmp_path, f"{header}{newline}1,S,F,0,1,2{newline}2,S,M,3,,1{newline}"))
    assert frame.columns[-1] == "phq9_3" and frame.columns[2] == f"sex{newline}(M/F)"
    assert frame["phq9_3"].to_list() == [2, 1] and frame["student_id"].to_list() == ["1", "2"]


def test_ragged_rows_count_the_lines_of_a_two_line_header(tmp_path, chunk):
    header = HEADER.replace("phq9_3", '"phq9_3\n"')
    message = _error(_csv(tmp_path, f"{header}\n1,S,F,1,2,3\n2,S,F,1\n"))
    assert "line 4 has 4 fields" in message


def test_stray_carriage_return_in_the_header(tmp_path):
    message = _error(_csv(tmp_path, HEADER.replace("phq9_2", "phq9\r_2") + "\n1,S,F,1,2,3\n"))
    assert "line 1 (the header) has a stray carriage return after 'phq9'" in message


@pytest.mark.parametrize("rows", [1, 20], ids=["to the end", "past the limit"])
def test_unclosed_quote_in_the_header(tmp_path, rows):
    body = HEADER.replace("phq9_1", '"phq9_1') + "\n" + "1,S,F,1,2,3\n" * rows
    assert 'opens a quote (") that does not close' in _error(_csv(tmp_path, body))


ANSWER_LABELS = ColumnMapping({}, answers={"完全不会": 0, "好几天": 1, "几乎每天": 3})


@pytest.mark.parametrize("kind", ["csv", "gbk", "xlsx", "parquet"])
def test_answer_labels_of_the_mapping_become_codes(tmp_path, kind):
    rows = [["1", "S", "F", "完全不会", " 几乎每天 ", ""], ["2", "S", "M", "好几天", "没有", "3"]]
    if kind in ("csv", "gbk"):
        text = HEADER + "\n" + "\n".join(",".join(row) for row in rows) + "\n"
        path = _csv(tmp_path, text, encoding="gbk" if kind == "gbk" else "utf-8")
    elif kind == "xlsx":
        path = _xlsx(tmp_path / "r.xlsx", [HEADER.split(","), *rows])
    else:
        path = tmp_path / "r.parquet"
        pl.DataFrame(rows, schema=HEADER.split(","), orient="row").write_parquet(path)
    frame = _read(path, mapping=ANSWER_LABELS)
    assert frame["phq9_1"].to_list() == [0, 1]
    assert frame["phq9_2"].to_list() == ["3", "没有"]  # an unknown label stays for the pipeline
    assert frame["phq9_3"].to_list() == [None, 3]
    batches = iter_response_batches(path, item_columns=ITEMS, mapping=ANSWER_LABELS, batch_rows=1)
    batched = pl.concat(list(batches), how="vertical_relaxed")  # a batch types its own columns
    assert batched.select(pl.col(ITEMS).cast(pl.String)).equals(
        frame.select(pl.col(ITEMS).cast(pl.String))
    )


def test_nul_bytes(tmp_path, chunk):
    message = _error(_csv(tmp_path, f"{HEADER}\n1,S,F,1,2,3\n2,S\x00,F,1,2,3\n"))
    assert "NUL byte at line 3" in message


@pytest.mark.parametrize("content", ["", "\n\n", "\r\n"])
def test_empty_file(tmp_path, content):
    assert "empty" in _error(_csv(tmp_path, content))


@pytest.mark.parametrize("content", [HEADER, HEADER + "\n", HEADER + "\r\n\r\n"])
def test_header_only(tmp_path, content):
    assert "no data rows" in _error(_csv(tmp_path, content))


def test_missing_item_columns_suggest_a_mapping(tmp_path):
    path = _csv(tmp_path, "student_id,题1,phq9_2\n1,1,2\n")
    message = _error(path)
    assert "missing item columns 'phq9_1', 'phq9_3'" in message
    assert "--map" in message


def test_a_missing_id_and_items_are_missing_columns(tmp_path):
    """Not 'missing item columns' for student_id: a title row above the header, say."""
    message = _error(_csv(tmp_path, "2026年心理筛查\nstudent_id,phq9_1\nS1,1\n"))
    assert "missing columns 'student_id', 'phq9_1'" in message
    assert "delete any title rows" in message


@pytest.mark.parametrize(
    ("separator", "named"), [(";", "separated by semicolons"), ("\t", "separated by tabs")]
)
def test_header_with_another_separator_says_so(tmp_path, separator, named):
    body = f"{HEADER}\nS1,A,F,1,2,3\n".replace(",", separator)
    message = _error(_csv(tmp_path, body))
    assert named in message and "comma-separated" in message


@pytest.mark.parametrize(
    "title", ["2026年心理筛查,,,,,\n", "2026年心理筛查\n"], ids=["padded", "one field"]
)
def test_title_row_above_the_header_says_to_delete_it(tmp_path, title):
    message = _error(_csv(tmp_path, f"{title}{HEADER}\nS1,A,F,1,2,3\n"))
    assert "'2026年心理筛查'" in message and "delete any title rows" in message


def test_ordinary_missing_columns_get_no_header_hint(tmp_path):
    message = _error(_csv(tmp_path, "student_id,题1,phq9_2\n1,1,2\n"))
    assert "title rows" not in message and "separated by" not in message


def test_missing_columns_with_a_mapping_name_the_unused_headers(tmp_path):
    path = _csv(tmp_path, "student_id,题一,phq9_2,phq9_3\n1,1,2,3\n")
    message = _error(path, mapping=ColumnMapping({"题1": "phq9_1"}))
    assert "'phq9_1'" in message and "not in the file: '题1'" in message


def test_missing_id_column(tmp_path):
    path = _csv(tmp_path, "id,phq9_1,phq9_2,phq9_3\n1,1,2,3\n")
    assert "missing the id column 'student_id'" in _error(path)
    assert _read(path, id_column=None).height == 1


def test_duplicate_student_ids_name_ids_and_rows(tmp_path):
    path = _csv(tmp_path, f"{HEADER}\nA,S,F,1,1,1\nB,S,F,1,1,1\nA,S,F,1,1,1\nB,S,F,1,1,1\n")
    message = _error(path)
    assert "'A' in rows 1, 3" in message and "'B' in rows 2, 4" in message


def test_one_id_in_two_schools_is_two_students(tmp_path, chunk):
    """A 学号 is a school's own number: ids are unique per school when the file names it."""
    path = _csv(tmp_path, f"{HEADER}\n00001,S,F,1,1,1\n00001,T,F,1,1,1\n00002,S,F,1,1,1\n")
    assert _read(path)["student_id"].to_list() == ["00001", "00001", "00002"]
    batches = iter_response_batches(path, item_columns=ITEMS, batch_rows=1)
    assert sum(b.height for b in batches) == 3
    again = _csv(tmp_path, f"{HEADER}\n00001,S,F,1,1,1\n00001,T,F,1,1,1\n00001, Ｓ,F,1,1,1\n")
    assert "'00001' in rows 1, 3 (school 'S')" in _error(again)


def test_ids_excel_wrote_in_scientific_notation_get_their_own_advice(tmp_path):
    path = _csv(tmp_path, f"{HEADER}\n1.10101E+17,S,F,1,1,1\n1.10101E+17,S,F,1,1,1\n")
    message = _error(path)
    assert "'1.10101E+17' in rows 1, 2" in message
    assert "scientific notation" in message and "do not delete these rows" in message
    assert "scientific" not in _error(_csv(tmp_path, f"{HEADER}\nA,S,F,1,1,1\nA,S,F,1,1,1\n"))


def test_student_ids_lose_surrounding_whitespace(tmp_path, chunk):
    frame = _read(_csv(tmp_path, f"{HEADER}\n S1 ,S ,F,1,1,1\n\u3000S2,S,F,1,1,1\n   ,S,F,1,1,1\n"))
    assert frame["student_id"].to_list() == ["S1", "S2", None]
    assert frame["school_id"].to_list() == ["S ", "S", "S"]  # other text is kept as written


def test_ids_that_differ_only_in_whitespace_are_duplicates(tmp_path):
    message = _error(_csv(tmp_path, f"{HEADER}\nS1 ,S,F,1,1,1\nS1,S,F,1,1,1\n"))
    assert "'S1' in rows 1, 2" in message


def test_a_quoted_empty_id_is_missing_whatever_the_other_ids(tmp_path):
    # found by Hypothesis: it was null only where another id of the batch was not ASCII
    path = _csv(tmp_path, f'{HEADER}\n"",S,F,1,2,3\nS1,S,F,1,2,3\n学生2,S,F,1,2,3\n')
    whole = _read(path)
    assert whole["student_id"].to_list() == [None, "S1", "学生2"]
    batches = iter_response_batches(path, item_columns=ITEMS, batch_rows=1)
    assert pl.concat(batches).equals(whole)


def test_full_width_ids_are_read_as_ascii(tmp_path):
    # typed with a Chinese input method in full-width mode
    frame = _read(_csv(tmp_path, f"{HEADER}\n\uff33\uff11,S,F,1,1,1\n学\uff10２,S,F,1,1,1\n"))
    assert frame["student_id"].to_list() == ["S1", "学02"]
    message = _error(_csv(tmp_path, f"{HEADER}\n\uff33\uff11,S,F,1,1,1\nS1,S,F,1,1,1\n", "d.csv"))
    assert "'S1' in rows 1, 2" in message


def test_missing_ids_are_not_duplicates(tmp_path):
    frame = _read(_csv(tmp_path, f"{HEADER}\n,S,F,1,1,1\n,S,F,1,1,1\n"))
    assert frame["student_id"].null_count() == 2


def test_duplicate_header_names(tmp_path):
    message = _error(_csv(tmp_path, f"{HEADER},sex\n1,S,F,1,2,3,M\n"))
    assert "duplicate column names: 'sex' in column 3 (C), column 7 (G)" in message


def test_duplicate_columns_after_mapping(tmp_path):
    path = _csv(tmp_path, f"学号,{HEADER}\nX,1,S,F,1,2,3\n")
    message = _error(path, mapping=ColumnMapping({"学号": "student_id"}))
    assert "duplicate column names after applying the column mapping" in message


def test_unknown_mapping_target(tmp_path):
    path = _csv(tmp_path, f"{HEADER},题4\n1,S,F,1,2,3,1\n")
    assert "unknown target" in _error(path, mapping=ColumnMapping({"题4": "phq9_10"}))


def test_one_mapping_serves_several_batteries(tmp_path):
    """Targets that are items of other bundled instruments are allowed and read as extra
    columns, so a district keeps one mapping for its PHQ-9 + GAD-7 + ASQ export."""
    path = _csv(tmp_path, f"{HEADER},题4,题10\n1,S,F,1,2,3,1,0\n")
    mapping = ColumnMapping({"题4": "phq9_4", "题10": "gad7_1", "问卷外": "asq_5"})
    frame = _read(path, mapping=mapping)
    assert frame.columns[-2:] == ["phq9_4", "gad7_1"] and frame["phq9_3"].to_list() == [3]


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "polars"])
def test_values_without_a_header(tmp_path, fast):
    path = _csv(tmp_path, f"{HEADER},,\n1,S,F,1,2,3,,\n2,S,F,1,2,3,,oops\n")
    with mock.patch.object(screening.io, "_FAST_CSV", fast):
        assert "column 8 (H) has values but no header" in _error(path)


def test_empty_row_in_the_middle(tmp_path):
    message = _error(_csv(tmp_path, f"{HEADER}\n1,S,F,1,2,3\n,,,,,\n2,S,F,1,2,3\n"))
    assert "empty row(s) 2" in message


def test_unknown_extension(tmp_path):
    assert "save an old .xls" in _error(_csv(tmp_path, "x", name="r.xls")).lower()
    assert "unknown file type '.json'" in _error(_csv(tmp_path, "x", name="r.json"))


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        _read(tmp_path / "absent.csv")


def test_sha256_file(tmp_path):
    path = _csv(tmp_path, "abc")
    assert sha256_file(path) == hashlib.sha256(b"abc").hexdigest()


# --------------------------------------------------------------------------------- Excel


def _xlsx(path, rows):
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, value)
    workbook.close()
    return path


def test_excel_title_row_above_the_header_says_to_delete_it(tmp_path):
    header = HEADER.split(",")
    path = _xlsx(tmp_path / "r.xlsx", [["2026年心理筛查"], header, ["S1", "A", "F", 1, 2, 3]])
    assert "delete any title rows" in _error(path)


def test_excel_numbers_and_text(tmp_path):
    rows = [
        ["学号", "school_id", "sex", "题1", "phq9_2", "phq9_3"],
        [20230001, "第一中学", "女", 1, 2.0, " "],
        ["S2", 7, "男", 0, "3", 2],
        [None, None, None, None, None, None],
    ]
    path = _xlsx(tmp_path / "r.xlsx", rows)
    mapping = ColumnMapping({"学号": "student_id", "题1": "phq9_1"})
    frame = _read(path, mapping=mapping)
    assert frame.rows() == [
        ("20230001", "第一中学", "女", 1, 2, None),
        ("S2", "7", "男", 0, 3, 2),
    ]
    assert frame.schema["phq9_1"] == pl.Int8 and frame.schema["school_id"] == pl.String
    upload = read_upload(path.read_bytes(), "R.XLSX", item_columns=ITEMS, mapping=mapping)
    assert upload.equals(frame)


def test_excel_bad_cells_and_duplicates(tmp_path):
    rows = [HEADER.split(","), ["A", "S", "F", 2.5, "x", 1], ["A", "S", "F", 1, 1, 1]]
    message = _error(_xlsx(tmp_path / "r.xlsx", rows))
    assert "'A' in rows 1, 2" in message
    frame = _read(_xlsx(tmp_path / "r2.xlsx", rows[:2]))
    assert frame["phq9_1"].to_list() == ["2.5"] and frame["phq9_2"].to_list() == ["x"]


def test_excel_empty_and_header_only(tmp_path):
    assert "empty" in _error(_xlsx(tmp_path / "e.xlsx", []))
    assert "no data rows" in _error(_xlsx(tmp_path / "h.xlsx", [HEADER.split(",")]))


def test_excel_responses_on_a_later_sheet(tmp_path):
    workbook = xlsxwriter.Workbook(tmp_path / "r.xlsx")
    workbook.add_worksheet("说明")
    workbook.add_worksheet("数据").write_row(0, 0, HEADER.split(","))
    workbook.close()
    message = _error(tmp_path / "r.xlsx")
    assert "no sheet holds data rows: '说明' (empty), '数据' (a header only)" in message
    # with rows below the header, the later sheet is read (empty sheets are left out)
    workbook = xlsxwriter.Workbook(tmp_path / "r2.xlsx")
    workbook.add_worksheet("说明")
    sheet = workbook.add_worksheet("数据")
    sheet.write_row(0, 0, HEADER.split(","))
    sheet.write_row(1, 0, ["S1", "A", "F", 1, 2, 3])
    workbook.close()
    assert _read(tmp_path / "r2.xlsx").rows() == [("S1", "A", "F", 1, 2, 3)]


def test_excel_booleans_are_one_and_zero(tmp_path):
    rows = [HEADER.split(","), ["A", "S", "F", True, False, None], ["B", "S", "M", 1, "TRUE", "0"]]
    frame = _read(_xlsx(tmp_path / "r.xlsx", rows))
    assert frame.select(ITEMS).rows() == [(1, 0, None), (1, 1, 0)]
    # as Excel saves them in a CSV
    path = _csv(tmp_path, f"{HEADER}\nA,S,F,TRUE,FALSE,\nB,S,M,1,true,0\n")
    assert _read(path).select(ITEMS).rows() == [(1, 0, None), (1, 1, 0)]


def _workbook(path, sheets, hidden=()):
    """A workbook of named sheets (name -> rows); the sheets named in ``hidden`` hidden."""
    workbook = xlsxwriter.Workbook(path)
    for name, rows in sheets.items():
        sheet = workbook.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None:
                    sheet.write(r, c, value)
        if name in hidden:
            sheet.hide()
    visible = [s for s in workbook.worksheets() if s.name not in hidden]
    if hidden:
        visible[0].activate()  # Excel shows a visible sheet first
    workbook.close()
    return path


def test_excel_sheets_with_the_same_header_are_read_as_one_table(tmp_path):
    header = HEADER.split(",")
    sheets = {
        "一班": [header, ["S1", "A", "F", 1, 2, 3], ["S2", "A", "M", 0, 0, 0]],
        "空": [],  # an empty sheet is left out
        "二班": [header, ["S3", "A", "F", 3, 3, 3]],
        "三班": [header],  # a class not screened yet: nothing to read
    }
    path = _workbook(tmp_path / "r.xlsx", sheets)
    frame = _read(path)
    assert frame["student_id"].to_list() == ["S1", "S2", "S3"]
    assert frame.select(ITEMS).rows() == [(1, 2, 3), (0, 0, 0), (3, 3, 3)]
    upload = read_upload(path.read_bytes(), "r.xlsx", item_columns=ITEMS)
    assert upload.equals(frame)
    # a duplicate across sheets names each sheet and its own row
    sheets["二班"].append(["S1", "A", "F", 0, 0, 0])
    message = _error(_workbook(tmp_path / "d.xlsx", sheets))
    assert "'S1' in sheet '一班' row 1, sheet '二班' row 2" in message
    # so does an empty row within a sheet
    sheets["二班"][2:] = [[None] * 6, ["S4", "A", "F", 0, 0, 0]]
    message = _error(_workbook(tmp_path / "e.xlsx", sheets))
    assert "(sheet '二班'): empty row(s) 2" in message


def test_excel_sheets_with_different_headers_are_refused_by_name(tmp_path):
    header = HEADER.split(",")
    other = [*header[:3], "phq9_2", "phq9_1", "phq9_3"]
    sheets = {
        "一班": [header, ["S1", "A", "F", 1, 2, 3]],
        "二班": [other, ["S2", "A", "F", 1, 2, 3]],
    }
    message = _error(_workbook(tmp_path / "r.xlsx", sheets))
    assert "'一班', '二班'" in message and "different headers" in message
    assert "sheet '二班' has 'phq9_2' in column 4 (D)" in message
    # an instructions sheet with several lines is named the same way: delete or hide it
    sheets = {"说明": [["请填写"], ["每班一张表"]], "数据": [header, ["S1", "A", "F", 1, 2, 3]]}
    assert "delete or hide" in _error(_workbook(tmp_path / "n.xlsx", sheets))
    frame = _read(_workbook(tmp_path / "h.xlsx", sheets, hidden={"说明"}))
    assert frame["student_id"].to_list() == ["S1"]


def test_excel_hidden_sheets(tmp_path):
    header = HEADER.split(",")
    lookup = [["好几天", 1], ["几乎每天", 3]]
    data = [header, ["S1", "A", "F", 1, 2, 3]]
    # a hidden helper table (a VLOOKUP list) is left out, also before the responses
    path = _workbook(tmp_path / "r.xlsx", {"lookup": lookup, "data": data}, hidden={"lookup"})
    assert _read(path)["student_id"].to_list() == ["S1"]
    # a hidden sheet with the responses' header holds students nobody sees: refused
    sheets = {"一班": data, "二班": [header, ["S2", "A", "F", 1, 1, 1]]}
    message = _error(_workbook(tmp_path / "s.xlsx", sheets, hidden={"二班"}))
    assert "hidden sheet(s) '二班'" in message and "Unhide" in message
    # only hidden sheets hold rows: said so, not "the first sheet has no data rows"
    sheets = {"lookup": lookup, "data": [header]}
    message = _error(_workbook(tmp_path / "o.xlsx", sheets, hidden={"lookup"}))
    assert "only the hidden sheet(s) 'lookup' have rows" in message
    assert "first sheet" not in message


def test_excel_error_cells_are_their_text_as_in_csv(tmp_path):
    """A failed formula is an invalid answer (its text), as in the CSV Excel saves; #N/A
    is a missing mark in both."""
    path = tmp_path / "r.xlsx"
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, HEADER.split(","))
    sheet.write_row(1, 0, ["S1", "A", "F", 1, 2, 3])
    sheet.write_formula(1, 3, "=1/0", None, "#DIV/0!")
    sheet.write_formula(1, 4, "=NA()", None, "#N/A")
    sheet.write_row(2, 0, ["S2", "A", "F", 1, 2, 3])
    sheet.write_formula(2, 5, '=1+"x"', None, "#VALUE!")
    sheet.write_formula(2, 1, "=A1", None, "#REF!")  # a passthrough cell: its text too
    workbook.close()
    frame = _read(path)
    expected = [("S1", "A", "F", "#DIV/0!", None, "3"), ("S2", "#REF!", "F", "1", 2, "#VALUE!")]
    assert frame.rows() == expected
    csv = _csv(tmp_path, f"{HEADER}\nS1,A,F,#DIV/0!,#N/A,3\nS2,#REF!,F,1,2,#VALUE!\n")
    assert _read(csv).equals(frame)


def _formatted(path, cells, header=("student_id", "school_id", "class_id", *ITEMS), at=(0, 0)):
    """One row of ``cells`` ((value, number format or None) each) below ``header``."""
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet()
    row, column = at
    sheet.write_row(row, column, header)
    for c, (value, code) in enumerate(cells):
        style = workbook.add_format({"num_format": code}) if code else None
        sheet.write(row + 1, column + c, value, style)
    workbook.close()
    return path


def test_excel_ids_padded_with_zeros_are_read_as_excel_shows_them(tmp_path):
    cells = [(123, "00000"), (7, "000"), (3, "00"), (1, "00"), (2, None), (3, None)]
    frame = _read(_formatted(tmp_path / "r.xlsx", cells))
    # ids as Excel shows them (and saves them to CSV); answers are numbers whatever the format
    assert frame.rows() == [("00123", "007", "03", 1, 2, 3)]
    csv = _csv(tmp_path, "student_id,school_id,class_id,phq9_1,phq9_2,phq9_3\n00123,007,03,1,2,3\n")
    assert _read(csv).equals(frame)
    # literal text around the zeros, an id longer than the format, a negative number
    cells = [(123, '"S"00000'), (1234567, "00000"), (-5, "000"), *[(1, None)] * 3]
    frame = _read(_formatted(tmp_path / "t.xlsx", cells))
    assert frame.row(0)[:3] == ("S00123", "1234567", "-005")
    # formats that show an integer as calamine writes it, decimals, long numbers, text
    cells = [(123, "0"), (45, "@"), (1.5, "000"), *[(1, None)] * 3]
    assert _read(_formatted(tmp_path / "g.xlsx", cells)).row(0)[:3] == ("123", "45", "1.5")
    cells = [(110101200501011000, "000000000000000000"), ("00042", "@"), (9, "General")]
    cells += [(1, None)] * 3
    frame = _read(_formatted(tmp_path / "l.xlsx", cells))
    assert frame.row(0)[1:3] == ("00042", "9")
    assert frame.row(0)[0].startswith("1101012005010")  # not padded: over 15 digits


def test_excel_padded_ids_of_a_table_away_from_a1_and_on_later_sheets(tmp_path):
    """calamine's table starts at the first cell with a value (C3 here), not at A1."""
    cells = [(123, "00000"), ("S", None), ("1", None), *[(1, None)] * 3]
    frame = _read(_formatted(tmp_path / "r.xlsx", cells, at=(2, 2)))
    assert frame.row(0)[:3] == ("00123", "S", "1")
    header = ["student_id", *ITEMS]
    workbook = xlsxwriter.Workbook(tmp_path / "s.xlsx")
    padded = workbook.add_format({"num_format": "00000"})
    for name, number in (("一班", 1), ("二班", 2)):
        sheet = workbook.add_worksheet(name)
        sheet.write_row(0, 0, header)
        sheet.write_number(1, 0, number, padded)
        sheet.write_row(1, 1, [1, 2, 3])
    workbook.close()
    assert _read(tmp_path / "s.xlsx")["student_id"].to_list() == ["00001", "00002"]


def test_unreadable_excel(tmp_path):
    path = _csv(tmp_path, b"this is not a zip file", name="r.xlsx")
    assert "not a valid .xlsx workbook" in _error(path)


def test_excel_zip_bomb_is_refused(tmp_path):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (8 << 20))
    assert "zip bomb" in _error(path)


def test_excel_with_xml_entities_is_refused(tmp_path):
    source = _xlsx(tmp_path / "ok.xlsx", [HEADER.split(","), ["1", "S", "F", 1, 2, 3]])
    path = tmp_path / "evil.xlsx"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
        for member in old.infolist():
            data = old.read(member)
            if member.filename == "xl/workbook.xml":
                head, rest = data.split(b"?>", 1)
                doctype = b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                data = head + b"?>" + doctype + rest
            new.writestr(member, data)
    assert "DTD or XML entities" in _error(path)


# ------------------------------------------------------------------------------- Parquet


def test_parquet_factors_and_logicals_are_answers(tmp_path):
    """R factors and pandas categories arrive as categories; R logicals as booleans."""
    path = tmp_path / "r.parquet"
    pl.DataFrame(
        {
            "student_id": ["1", "2", "3"],
            "phq9_1": pl.Series(["0", "3", None], dtype=pl.Categorical),
            "phq9_2": pl.Series(["1", "NA", "2"], dtype=pl.Enum(["1", "2", "NA"])),
            "phq9_3": [True, False, None],
        }
    ).write_parquet(path)
    frame = _read(path)
    assert frame["phq9_1"].to_list() == [0, 3, None]
    assert frame["phq9_2"].to_list() == [1, None, 2]
    assert frame["phq9_3"].to_list() == [1, 0, None]


@pytest.mark.parametrize(
    "column",
    [
        pl.Series("phq9_2", [[1], [2]]),
        pl.Series("phq9_2", [{"a": 1}, {"a": 2}]),
        pl.Series("phq9_2", [b"1", b"2"]),
        pl.Series("phq9_2", [dt.date(2026, 9, 1), None]),
        pl.Series("phq9_2", [dt.timedelta(1), None]),
    ],
    ids=["list", "struct", "binary", "date", "duration"],
)
def test_item_columns_of_other_types_are_refused(tmp_path, column):
    path = tmp_path / "r.parquet"
    frame = pl.DataFrame({"student_id": ["1", "2"], "phq9_1": [1, 2], "phq9_3": [0, 1]})
    frame.with_columns(column).write_parquet(path)
    message = _error(path)
    assert f"item column 'phq9_2' holds {column.dtype} values" in message


def test_parquet_types(tmp_path):
    path = tmp_path / "r.parquet"
    pl.DataFrame(
        {
            "student_id": [1, 2, 3],
            "grade": [7.0, 8.0, None],
            "phq9_1": pl.Series([0, 1, None], dtype=pl.Int64),
            "phq9_2": [1.0, float("nan"), 3.0],
            "phq9_3": [1, 300, 2],
        }
    ).write_parquet(path)
    frame = _read(path)
    assert frame.schema["student_id"] == pl.String and frame["grade"].to_list() == ["7", "8", None]
    assert frame.schema["phq9_1"] == pl.Int8 and frame.schema["phq9_2"] == pl.Int8
    assert frame["phq9_2"].to_list() == [1, None, 3]
    assert frame.schema["phq9_3"] == pl.String and frame["phq9_3"].to_list() == ["1", "300", "2"]
    upload = read_upload(path.read_bytes(), "r.parquet", item_columns=ITEMS)
    assert upload.equals(frame)


def test_parquet_errors(tmp_path):
    empty = tmp_path / "empty.parquet"
    pl.DataFrame({"student_id": [], "phq9_1": []}).write_parquet(empty)
    assert "no rows" in _error(empty)
    broken = _csv(tmp_path, b"PAR1 not really", name="broken.parquet")
    assert "cannot read the Parquet file" in _error(broken)


# ------------------------------------------------------------------------------- batches


def _big_csv(tmp_path, rows: int, *, dirty: bool = False, quoted: bool = False) -> str:
    lines = [HEADER]
    for i in range(rows):
        school = f'"S{i % 3}, ""east"""' if quoted and i % 4 == 0 else f"S{i % 3}"
        bad = "x" if dirty and i == rows - 2 else str(i % 4)
        lines.append(f"ID{i:05d},{school},{'FM'[i % 2]},{i % 4},{bad},{'' if i % 5 else 2}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("dirty", [False, True])
@pytest.mark.parametrize("quoted", [False, True])
@pytest.mark.parametrize("batch_rows", [1, 7, 50, 1000])
def test_batches_concatenate_to_the_in_memory_read(tmp_path, dirty, quoted, batch_rows, chunk):
    path = _csv(tmp_path, _big_csv(tmp_path, 50, dirty=dirty, quoted=quoted))
    whole = _read(path)
    batches = list(iter_response_batches(path, item_columns=ITEMS, batch_rows=batch_rows))
    assert [b.height for b in batches[:-1]] == [batch_rows] * (len(batches) - 1)
    assert sum(b.height for b in batches) == 50
    assert pl.concat(batches, how="vertical_relaxed").equals(whole)
    assert whole.schema["phq9_2"] == (pl.String if dirty else pl.Int8)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batch_rows=st.integers(1, 40),
    rows=st.integers(1, 40),
    quoted=st.booleans(),
    dirty=st.booleans(),
    chunk=st.integers(1, 300),
)
def test_batches_hypothesis(tmp_path, batch_rows, rows, quoted, dirty, chunk):
    path = _csv(tmp_path, _big_csv(tmp_path, rows, dirty=dirty and rows > 1, quoted=quoted))
    with mock.patch.object(screening.io, "_CHUNK", chunk):
        whole = _read(path)
        batches = list(iter_response_batches(path, item_columns=ITEMS, batch_rows=batch_rows))
    assert pl.concat(batches, how="vertical_relaxed").equals(whole)


def test_duplicate_ids_across_batches_raise_after_the_last_batch(tmp_path):
    path = _csv(tmp_path, f"{HEADER}\nA,S,F,1,1,1\nB,S,F,1,1,1\nC,S,F,1,1,1\nA,S,F,1,1,1\n")
    seen = []
    with pytest.raises(InputFileError, match="'A' in rows 1, 4"):
        for batch in iter_response_batches(path, item_columns=ITEMS, batch_rows=2):
            seen.append(batch.height)
    assert seen == [2, 2]


def test_errors_in_a_batch_count_rows_from_the_start_of_the_file(tmp_path):
    path = _csv(tmp_path, f"{HEADER}\nA,S,F,1,1,1\nB,S,F,1,1,1\nC,S,F,1,1,1\nC,S,F,1,1,1\n")
    with pytest.raises(InputFileError, match="'C' in rows 3, 4"):
        list(iter_response_batches(path, item_columns=ITEMS, batch_rows=2))


def test_ragged_rows_raise_before_the_first_batch(tmp_path):
    path = _csv(tmp_path, f"{HEADER}\nA,S,F,1,1,1\nB,S,F,1,1,1\nC,S,F,1,1\n")
    batches = iter_response_batches(path, item_columns=ITEMS, batch_rows=1)
    with pytest.raises(InputFileError, match="line 4 has 5 fields"):
        next(batches)


def test_gbk_body_is_detected_before_the_first_batch(tmp_path, chunk):
    text = f"{HEADER}\n" + "".join(f"{i},S,F,1,1,1\n" for i in range(5)) + "9,第一中学,女,1,2,3\n"
    path = _csv(tmp_path, text, encoding="gbk")
    batches = list(iter_response_batches(path, item_columns=ITEMS, batch_rows=2))
    assert pl.concat(batches).equals(_read(path))
    assert batches[-1]["school_id"].to_list() == ["S", "第一中学"]


def test_parquet_and_excel_batches(tmp_path):
    frame = pl.read_csv(io.StringIO(_big_csv(tmp_path, 30)), infer_schema=False)
    parquet = tmp_path / "r.parquet"
    frame.write_parquet(parquet, row_group_size=8)
    excel = _xlsx(tmp_path / "r.xlsx", [frame.columns, *frame.rows()])
    for path in (parquet, excel):
        batches = list(iter_response_batches(path, item_columns=ITEMS, batch_rows=7))
        assert [b.height for b in batches] == [7, 7, 7, 7, 2]
        assert pl.concat(batches).equals(_read(path))


def test_excel_part_in_an_unknown_compression_is_refused(tmp_path):
    path = _xlsx(tmp_path / "r.xlsx", [HEADER.split(","), ["A", "S", "F", 1, 2, 3]])
    data = bytearray(path.read_bytes())
    # compression method 99 (AES in WinZip's extension), in every local and central header
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = data.find(signature)
        while start != -1:
            data[start + offset : start + offset + 2] = (99).to_bytes(2, "little")
            start = data.find(signature, start + 4)
    path.write_bytes(bytes(data))
    message = _error(path)
    assert "not a valid .xlsx workbook" in message or "cannot read" in message
    assert "compression" in message.lower()


def test_missing_columns_after_a_mapping_list_the_files_own_headers(tmp_path):
    path = _csv(tmp_path, "学号,学校,性别,题1,题2\nS1,S,F,1,2\n")
    mapping = ColumnMapping({"学号": "student_id", "学校": "school_id", "题1": "phq9_1"})
    message = _error(path, mapping=mapping)
    assert "missing item columns 'phq9_2', 'phq9_3'" in message
    assert "The file has '学号', '学校', '性别', '题1', '题2'." in message


def test_canonical_ids_drop_format_characters_and_width():
    from screening.io import canonical_ids

    ids = pl.Series(["\ufeffS2", "S2\u200b", "Ｓ２ ", "S\u20602", "S2"])
    assert canonical_ids(ids).to_list() == ["S2"] * 5
