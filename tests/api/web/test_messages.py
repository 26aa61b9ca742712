"""The reader's messages about files that cannot be read, in the user's language."""

from __future__ import annotations

import re

import pytest

from screening.api.web.messages import translate


@pytest.mark.parametrize(
    ("message", "chinese"),
    [
        (
            "a.csv: the file is neither UTF-8 nor GB18030/GBK text: byte 812 (line 4) cannot "
            'be decoded. In Excel use "Save as" > "CSV UTF-8", or save it as GBK/GB18030 text.',
            "第 4 行的文字无法识别",
        ),
        (
            "a.csv: line 9 (byte 4100) is not UTF-8 although the file starts as UTF-8: it "
            'mixes encodings. In Excel use "Save as" > "CSV UTF-8"',
            "第 9 行不是 UTF-8",
        ),
        (
            "a.csv: the file starts with a UTF-8 mark but line 1 (byte 20) is not UTF-8. In",
            "第 1 行不是 UTF-8",
        ),
        (
            "Unknown file type '(no extension)': upload a CSV (.csv, UTF-8 or GBK)",
            "不支持的文件类型 （无扩展名）",
        ),
        ("Unknown battery 'nope': use one of default, default-asq.", "没有名为 'nope' 的筛查方案"),
        (
            "b.xlsx: the sheets '一班', '二班' all hold rows, but under different headers: sheet "
            "'二班' has 'school' in column 2 (B) where there is 'school_id' in the header of "
            "sheet '一班'. Every visible sheet with rows is read as part of one table: give all "
            "the sheets of responses the same header (the same columns in the same order), and "
            "delete or hide sheets that hold something else.",
            "工作表 '二班' 第 2 列（B）是 'school'，而工作表 '一班' 的这一列是 'school_id'",
        ),
        (
            "b.xlsx: the sheets '一', '二' all hold rows, but under different headers: sheet '二' "
            "has None in column 3 (C) where there is 'phq9_1' in the header of sheet '一'. Every "
            "visible sheet with rows is read as part of one table",
            "工作表 '二' 第 3 列（C）是 （空），而工作表 '一' 的这一列是 'phq9_1'",
        ),
        (
            "b.xlsx: the hidden sheet(s) '旧' hold rows under the same header as the visible "
            "sheet(s) '一班': students nobody sees would be scored or left out. Unhide them "
            "(right-click a sheet tab > Unhide) to score those students too, or delete them, and "
            "save the file again.",
            "隐藏的工作表 '旧' 里有作答行",
        ),
        (
            "b.xlsx: no visible sheet holds responses: only the hidden sheet(s) '旧' have rows. "
            "Unhide the sheet of the responses (right-click a sheet tab > Unhide) and save the "
            "file again.",
            "只有隐藏的工作表 '旧' 有作答行",
        ),
        (
            "b.xlsx: no sheet holds data rows: '一班' (a header only), '二班' (empty, hidden). "
            "Put the responses below the header.",
            "没有一个工作表有学生的作答行",
        ),
        (
            "b.xlsx: refused: part 'xl/media/big.bin' expands 1026-fold (limit 200); this looks "
            "like a zip bomb. Export the responses again as .xlsx or CSV.",
            "膨胀到原来的 1026 倍（上限 200 倍）",
        ),
        (
            "b.xlsx: refused: the workbook expands to more than 2048 MiB. Split it or export CSV.",
            "解压后超过 2048 MB",
        ),
        ("b.xlsx: refused: the workbook holds 10001 parts.", "由 10001 个部件组成"),
        (
            "b.xlsx: refused: part 'xl/workbook.xml' declares a DTD or XML entities, which real "
            "workbooks never do. Export the responses again from Excel.",
            "正常的工作簿不会有的内容",
        ),
        (
            "b.parquet: cannot read the Parquet file: parquet: File out of specification: The "
            "file must end with PAR1 or PARE",
            "无法读取这个 Parquet 文件",
        ),
        ("b.parquet: the Parquet file has no rows.", "这个 Parquet 文件没有数据行"),
        ('a.csv: cannot parse the CSV: could not parse `"1', "文件无法按 CSV 读取"),
        ("a.csv: cannot parse the CSV: unexpected extra rows.", "文件无法按 CSV 读取"),
        (
            "a.csv: cannot parse the CSV: found 3 rows where 4 lines were counted (check quotes "
            "in the file).",
            "文件无法按 CSV 读取",
        ),
        ("a.csv: cannot parse the CSV: polars reports invalid UTF-8.", "文件无法按 CSV 读取"),
        (
            'a.csv: cannot parse the CSV: could not parse `"S"x` as dtype `str` at column '
            "'school_id' (column number 2). A likely cause: line 2 has a double quote (\") inside "
            "the value '\"S\"x'. A value that holds a quote must be quoted, with the quote "
            'doubled ("""S""x"): delete the quote, or save the file from Excel again as CSV.',
            "第 2 行的值",  # the quote named, not the generic message
        ),
    ],
)
def test_reader_messages_are_translated(message, chinese):
    assert chinese in translate(message, "zh-CN")
    english = re.compile(r"[A-Za-z]{3,}(?: [A-Za-z]{2,}){2,}")
    assert not english.search(translate(message, "zh-CN"))
    assert translate(message, "en").isascii() or not message.isascii()  # sheet names
