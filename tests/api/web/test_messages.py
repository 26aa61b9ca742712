"""The reader's messages about files that cannot be read, in the user's language."""

from __future__ import annotations

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
    ],
)
def test_reader_messages_are_translated(message, chinese):
    assert chinese in translate(message, "zh-CN")
    assert translate(message, "en").isascii()
