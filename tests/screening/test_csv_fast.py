"""The CSV fast path: the numba tokeniser against its plain-Python reference, and
``read_responses`` / ``iter_response_batches`` with the fast path against the polars path."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from unittest import mock

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import screening.io
from screening import _csv_kernels
from screening.errors import InputFileError
from screening.io import iter_response_batches, read_responses, read_upload

_spec = importlib.util.spec_from_file_location(
    "naive_csv", Path(__file__).with_name("naive_csv.py")
)
naive_csv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(naive_csv)

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# ------------------------------------------------------------------ kernel vs reference

PIECES = [b"0", b"1", b"7", b"02", b"127", b"128", b"0127", b",", b",", b",", b"\n", b"\r\n"]
PIECES += [b"\r", b'"', b"a", b" ", b"+", b"-", b".", "中".encode(), b"\xe4\xb8", b"\xff"]
PIECES += ["é".encode(), "😀".encode(), b"\xed\xa0\x80", b"\xc0\xaf"]


def _kernel(data: bytes, is_item: list[bool], every: int, n_parts: int):
    array = np.frombuffer(data, dtype=np.uint8)
    tokens = _csv_kernels.tokenise(
        array, 0, len(data), np.array(is_item), every=every, n_parts=n_parts
    )
    if tokens.status != _csv_kernels.OK:
        return None
    offsets, values = _csv_kernels.gather(array, tokens.text_starts, tokens.text_ends)
    texts = [
        [bytes(v[o[r] : o[r + 1]]) for r in range(tokens.n_records)]
        for o, v in zip(offsets, values, strict=True)
    ]
    views, long_values = _csv_kernels.string_views(array, tokens.text_starts, tokens.text_ends)
    assert [_read_views(*column) for column in zip(views, long_values, strict=True)] == texts
    return tokens.items.tolist(), texts, tokens.cuts.tolist()


def _read_views(views: np.ndarray, long_values: np.ndarray) -> list[bytes]:
    """The cells of Arrow string views (16 bytes each: length, then inline bytes or
    prefix, buffer index and offset)."""
    cells = []
    for view in views.reshape(-1, 16):
        view = view.tobytes()
        length = int.from_bytes(view[:4], "little")
        if length <= _csv_kernels.VIEW_INLINE:
            assert view[4 + length :] == bytes(12 - length)  # zero padding
            cells.append(view[4 : 4 + length])
        else:
            offset = int.from_bytes(view[12:], "little")
            cell = long_values[offset : offset + length].tobytes()
            assert view[4:8] == cell[:4] and view[8:12] == bytes(4)
            cells.append(cell)
    return cells


@st.composite
def _clean_regions(draw):
    """Mostly clean CSV regions, with a few rule breakers mixed in."""
    is_item = draw(st.lists(st.booleans(), min_size=1, max_size=12))
    cell = {  # mostly one digit: runs of them are read eight bytes at a time
        True: st.sampled_from(["0", "1", "4", "9", "3", "", "09", "007", "127", "99"]),
        False: st.sampled_from(
            ["", "a", "S01", "中文", "é", " x ", "😀", "第一中学初三", "a" * 13]
        ),
    }
    n_rows = draw(st.integers(1, 12))
    rows = [",".join(draw(cell[item]) for item in is_item) for _ in range(n_rows)]
    if all(not row for row in rows):
        rows[0] = "x" if not is_item[0] else "1"  # an empty line is a rule breaker
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    text = ending.join(rows) + draw(st.sampled_from(["", ending]))
    data = text.encode()
    if draw(st.booleans()):  # break a rule somewhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from(PIECES)) + data[at:]
    return data, is_item


@given(region=_clean_regions(), every=st.integers(0, 4), n_parts=st.integers(1, 5))
@settings(max_examples=300, deadline=None)
def test_kernel_equals_reference_on_near_clean_regions(region, every, n_parts):
    data, is_item = region
    expected = naive_csv.tokenise(data, 0, len(data), is_item, every)
    assert _kernel(data, is_item, every, n_parts) == expected


@given(
    data=st.lists(st.sampled_from(PIECES), min_size=1, max_size=40).map(b"".join),
    is_item=st.lists(st.booleans(), min_size=1, max_size=4),
    n_parts=st.integers(1, 4),
)
@settings(max_examples=300, deadline=None)
def test_kernel_equals_reference_on_random_bytes(data, is_item, n_parts):
    assert _kernel(data, is_item, 2, n_parts) == naive_csv.tokenise(data, 0, len(data), is_item, 2)


def test_kernel_cells_and_reasons():
    data = b"1,ab,02\n,\xe4\xb8\xad,\r\n127,x,3"
    assert _kernel(data, [True, False, True], 2, 2) == (
        [[1, -1, 127], [2, -1, 3]],
        [[b"ab", "中".encode(), b"x"]],
        [15],
    )

    def status(text: bytes, is_item=(True, False)) -> int:
        array = np.frombuffer(text, dtype=np.uint8)
        return _csv_kernels.tokenise(array, 0, len(text), np.array(is_item)).status

    assert status(b"1,a\n2,b,c") == _csv_kernels.FIELD_COUNT
    assert status(b"1,a\n2") == _csv_kernels.FIELD_COUNT
    assert status(b"1,a\n128,b") == _csv_kernels.BAD_ITEM
    assert status(b"1,a\n 1,b") == _csv_kernels.BAD_ITEM
    assert status(b'1,a\n1,"b"') == _csv_kernels.QUOTE
    assert status(b"1,a\r\r\n1,b") == _csv_kernels.STRAY_CR
    assert status(b"1,\xff\n") == _csv_kernels.NOT_UTF8
    assert status(b"1,a\n\n1,b") == _csv_kernels.EMPTY_LINE
    assert all(reason for reason in _csv_kernels.REASONS.values())


# ------------------------------------------------------------ fast path vs polars path

ITEMS = ["phq9_1", "phq9_2", "gad7_1", "gad7_2"]
TEXT = ["school_id", "class_id", "sex", "备注"]
CLEAN_ITEM = ["", "0", "1", "2", "3", "02", "007", "127"]
BAD_ITEM = [" 1", "+1", "-1", "1.0", "2.5", "128", "x", "１", "\u3000"]
TEXT_CELL = [
    "",
    "S01",
    "F",
    "中文",
    "Zoë",
    "  ",
    "a b",
    "😀",
    "第一中学初三（2）班",
    "x" * 12,
    "y" * 13,
]


@st.composite
def _response_csvs(draw):
    """A CSV as Excel or a school's system would write it, sometimes with a flaw."""
    columns = ["student_id", *draw(st.permutations(ITEMS + TEXT))]
    columns = [c for c in columns if c in ITEMS or c == "student_id" or draw(st.booleans())]
    if draw(st.integers(0, 3)) == 0:  # a column without a header: must be empty
        columns.insert(draw(st.integers(0, len(columns))), "")
    n_rows = draw(st.integers(1, 8))
    rows = []
    for r in range(n_rows):
        cells = []
        for column in columns:
            if column == "student_id":
                cells.append(draw(st.sampled_from([f"S{r:03d}", f"学生{r}", ""])))
            elif column in ITEMS:
                cells.append(draw(st.sampled_from(CLEAN_ITEM)))
            elif column == "":
                cells.append(draw(st.sampled_from(["", "", "", "x"])))
            else:
                cells.append(draw(st.sampled_from(TEXT_CELL)))
        rows.append(cells)
    flaw = draw(st.sampled_from(["none"] * 4 + ["bad item", "ragged", "quotes", "empty line"]))
    row = draw(st.integers(0, n_rows - 1))
    if flaw == "bad item":
        rows[row][columns.index(draw(st.sampled_from(ITEMS)))] = draw(st.sampled_from(BAD_ITEM))
    elif flaw == "ragged":
        rows[row] = rows[row][:-1] if draw(st.booleans()) else [*rows[row], "1"]
    elif flaw == "quotes":
        column = draw(st.sampled_from(range(len(columns))))
        rows[row][column] = '"' + rows[row][column].replace('"', "") + '"'
    lines = [",".join(columns)] + [",".join(cells) for cells in rows]
    if flaw == "empty line":
        lines.insert(draw(st.integers(1, len(lines))), "")
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    text = ending.join(lines) + draw(st.sampled_from(["", ending, ending * 2]))
    bom = draw(st.sampled_from(["", "\ufeff"]))
    return bom + text, flaw


def _outcome(read):
    """The frame read, or the message of the InputFileError raised."""
    try:
        return read()
    except InputFileError as error:
        return str(error)


def _assert_same(fast, slow):
    if isinstance(slow, str) or isinstance(fast, str):
        assert fast == slow
        return
    assert fast.columns == slow.columns
    assert fast.schema == slow.schema
    assert fast.equals(slow)


def _both_paths(read):
    """(outcome with the fast path, outcome with the polars path, fast frames built)."""
    with mock.patch.object(screening.io, "_fast_frame", wraps=screening.io._fast_frame) as spy:
        fast = _outcome(read)
    with mock.patch.object(screening.io, "_FAST_CSV", False):
        slow = _outcome(read)
    return fast, slow, spy.call_count


@SETTINGS
@given(csv=_response_csvs())
def test_read_responses_fast_path_equals_polars_path(tmp_path, csv):
    text, flaw = csv
    path = tmp_path / "responses.csv"
    path.write_bytes(text.encode())
    fast, slow, built = _both_paths(lambda: read_responses(path, item_columns=ITEMS))
    _assert_same(fast, slow)
    if flaw == "none" and not isinstance(slow, str):
        assert built == 1, "a clean file must take the fast path"


@SETTINGS
@given(csv=_response_csvs(), batch_rows=st.integers(1, 5))
def test_batches_fast_path_equal_polars_path(tmp_path, csv, batch_rows):
    text, _ = csv
    path = tmp_path / "responses.csv"
    path.write_bytes(text.encode())

    def read():
        return list(iter_response_batches(path, item_columns=ITEMS, batch_rows=batch_rows))

    fast, slow, _ = _both_paths(read)
    if isinstance(fast, str) or isinstance(slow, str):
        assert fast == slow
        return
    assert len(fast) == len(slow)
    for fast_batch, slow_batch in zip(fast, slow, strict=True):
        _assert_same(fast_batch, slow_batch)
    whole = read_responses(path, item_columns=ITEMS)
    assert pl.concat(fast, how="vertical_relaxed").equals(whole)


@SETTINGS
@given(csv=_response_csvs())
def test_upload_fast_path_equals_polars_path(csv):
    data = csv[0].encode()
    fast, slow, _ = _both_paths(lambda: read_upload(data, "up.csv", item_columns=ITEMS))
    _assert_same(fast, slow)


# ------------------------------------------------------------------------- encodings

CHINESE = (
    "student_id,school_id,姓名,phq9_1,phq9_2,gad7_1,gad7_2\r\n"
    "S001,第一中学,张三,0,1,2,3\r\n"
    "S002,第一中学,李四,,3,02,\r\n"
    "S003,第二中学,,1,1,1,127\r\n"
)


@pytest.mark.parametrize("batch_rows", [None, 1, 2])
def test_gbk_gb18030_and_utf8_bom_give_the_same_frame(tmp_path, batch_rows):
    def read(path):
        if batch_rows is None:
            return read_responses(path, item_columns=ITEMS)
        batches = iter_response_batches(path, item_columns=ITEMS, batch_rows=batch_rows)
        return pl.concat(list(batches))

    frames = {}
    for name, data in {
        "utf8": CHINESE.encode("utf-8"),
        "bom": b"\xef\xbb\xbf" + CHINESE.encode("utf-8"),
        "gbk": CHINESE.encode("gbk"),
        "gb18030": CHINESE.encode("gb18030"),
    }.items():
        path = tmp_path / f"{name}.csv"
        path.write_bytes(data)
        with mock.patch.object(screening.io, "_fast_frame", wraps=screening.io._fast_frame) as spy:
            frames[name] = read(path)
        assert spy.called, f"{name}: the fast path was not taken"
        with mock.patch.object(screening.io, "_FAST_CSV", False):
            assert read(path).equals(frames[name])
    for name, frame in frames.items():
        assert frame.equals(frames["utf8"]), name
    assert frames["utf8"]["姓名"].to_list() == ["张三", "李四", None]
    assert frames["utf8"]["gad7_2"].to_list() == [3, None, 127]


def test_mixed_encodings_are_refused_as_before(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes(CHINESE.encode("utf-8") + "S004,第三中学,王五,1,1,1,1\r\n".encode("gbk"))
    fast, slow, built = _both_paths(lambda: read_responses(path, item_columns=ITEMS))
    assert isinstance(fast, str) and "mixes encodings" in fast
    assert fast == slow
    assert built == 0


def test_empty_cells_are_null_and_the_types_are_the_contract(tmp_path):
    path = tmp_path / "responses.csv"
    path.write_text("student_id,sex,phq9_1,phq9_2,gad7_1,gad7_2\nA,,1,,0,\nB,F,,,,3\n")
    frame = read_responses(path, item_columns=ITEMS)
    assert frame.schema == {
        "student_id": pl.String,
        "sex": pl.String,
        **dict.fromkeys(ITEMS, pl.Int8),
    }
    assert frame["sex"].to_list() == [None, "F"]
    assert frame["phq9_2"].to_list() == [None, None]
    with mock.patch.object(screening.io, "_FAST_CSV", False):
        assert read_responses(path, item_columns=ITEMS).equals(frame)


def test_text_too_long_for_string_views_is_read_as_large_strings(tmp_path, monkeypatch):
    path = tmp_path / "responses.csv"
    path.write_text(CHINESE)
    views = read_responses(path, item_columns=ITEMS)
    monkeypatch.setattr(_csv_kernels, "VIEW_DATA_LIMIT", 0)
    with mock.patch.object(_csv_kernels, "_string_array", wraps=_csv_kernels._string_array) as spy:
        large = read_responses(path, item_columns=ITEMS)
    assert spy.call_count == 3
    assert large.equals(views)
    assert large.schema == views.schema
