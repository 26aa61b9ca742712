"""Messages of the service layer (English, for the API) in the user's language.

The service's row-level reasons and conflict messages follow fixed templates; each is
matched here and given its catalogue label with the same values. A message that matches
no template is shown as it is (it still names the row, column and value).
"""

from __future__ import annotations

import re

from screening.i18n import t

PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^student_id is empty"), "web.err.student_id_empty"),
    (re.compile(r"^(?P<column>\w+) contains a NUL byte"), "web.err.nul_byte"),
    (
        re.compile(r"^school_id is empty: fill in the school \((?P<school>[^)]*)\)"),
        "web.err.school_empty",
    ),
    (re.compile(r"^(?P<column>\w+) is longer than (?P<limit>\d+) characters$"), "web.err.too_long"),
    (
        re.compile(
            r"^school_id (?P<value>.*) is not the school of this upload \((?P<school>[^)]*)\)"
        ),
        "web.err.other_school",
    ),
    (
        re.compile(r"^the student_id appears more than once in the file; row (?P<row>\d+)"),
        "web.err.duplicate_student",
    ),
    (
        re.compile(
            r"^Item '(?P<column>[^']*)' of instrument '(?P<instrument>[^']*)' must be an integer "
            r"in \[(?P<low>-?\d+), (?P<high>-?\d+)\]"
        ),
        "web.err.item_range",
    ),
    (
        re.compile(
            r"^(?P<instrument>\w+): the answers look like option numbers counted from 1, not "
            r"answer codes: none of the (?P<n>[\d,]+) students who answered it chose the lowest "
            r"answer \(0\) on any item, and (?P<above>[\d,]+) answers are one above"
        ),
        "web.err.misnumbered",
    ),
    (
        re.compile(
            r"^(?P<instrument>\w+): none of the (?P<n>[\d,]+) students who answered it chose "
            r"the lowest answer \((?P<codes>[^)]*)\).*numbers the options from (?P<first>\d+)"
        ),
        "web.err.lowest_code_unused",
    ),
    (
        re.compile(
            r"^(?P<instrument>\w+): none of the (?P<n>[\d,]+) students answered any of its "
            r"items, and it counts a missing answer as an answer"
        ),
        "web.err.instrument_unanswered_imputed",
    ),
    (
        re.compile(
            r"^(?P<instrument>\w+): none of the (?P<n>[\d,]+) students answered any of its items"
        ),
        "web.err.instrument_unanswered",
    ),
    (
        re.compile(
            r"^This file was stored before as upload (?P<upload>\d+), and later uploads of the "
            r"same school and window \((?P<later>[\d, ]+)\)"
        ),
        "web.err.superseded_duplicate",
    ),
    (
        re.compile(
            r"^student_id: (?P<n>[\d,]+) ids of 16 or more digits look like numbers that Excel "
            r"has rounded \(e\.g\. (?P<example>'[^']*')\)"
        ),
        "web.err.ids_rounded",
    ),
    (
        re.compile(
            r"^student_id: (?P<n>[\d,]+) ids are numbers in scientific notation \(e\.g\. "
            r"(?P<example>'[^']*')\)"
        ),
        "web.err.ids_scientific",
    ),
    (
        re.compile(
            r"^(?P<n>[\d,]+) rejected rows scored red or orange \(rows (?P<rows>[^)]*)\) and are "
            r"NOT in the counselling-room queue"
        ),
        "web.err.flagged_rejected",
    ),
    (
        re.compile(
            r"^(?P<column>\w+) longer than (?P<limit>\d+) characters or holding a NUL byte in "
            r"(?P<n>[\d,]+) rows \(rows (?P<rows>[^)]*)\) was shortened"
        ),
        "web.err.label_shortened",
    ),
    (
        re.compile(
            r"^rows that answered no item at all: (?P<n>[\d,]+) of (?P<rows>[\d,]+)"
            r"(?: \(e\.g\. (?P<example>'[^']*')\))?\. (?P<instruments>[\w, ]+?) counts? a "
            r"missing answer as an answer \(a refusal\), so these rows were scored from "
            r"missing answers alone: (?P<outcome>.*?)\. If they are"
        ),
        "web.err.blank_rows_imputed",
    ),
    (
        re.compile(
            r"^rows that answered no item at all: (?P<n>[\d,]+) of (?P<rows>[\d,]+)"
            r"(?: \(e\.g\. (?P<example>'[^']*')\))?\."
        ),
        "web.err.blank_rows",
    ),
    (
        re.compile(
            r"^(?P<column>\w+) is empty in (?P<n>[\d,]+) of (?P<rows>[\d,]+) rows \(first: row "
            r"(?P<row>\d+)\) though other rows have one"
        ),
        "web.err.group_gaps",
    ),
    (
        re.compile(
            r"^Instrument '(?P<instrument>[^']*)': none of its answers could be read: "
            r"(?P<n>[\d,]+) answers in (?P<rows>[\d,]+) rows are not its answer codes \(first: "
            r"column '(?P<column>[^']*)', row (?P<row>\d+), value (?P<value>'.*')\)\. Nothing"
        ),
        "web.err.unreadable_answers",
    ),
    (
        re.compile(
            r"^None of the (?P<n>[\d,]+) rows can be stored as students of school "
            r"(?P<school>.*?), so nothing was stored\. Row (?P<row>\d+): (?P<reason>.*)$",
            re.S,
        ),
        "web.err.no_row_stored",
    ),
    (re.compile(r"^The case is closed"), "web.err.case_closed"),
    (re.compile(r"^Claim the case first"), "web.err.claim_first"),
    (re.compile(r"^The case has already been claimed"), "web.err.already_claimed"),
    (re.compile(r"^Only the counsellor who claimed"), "web.err.release_not_yours"),
    (re.compile(r"^Record the referral first"), "web.err.refer_first"),
    (re.compile(r"^An urgent case closes only"), "web.err.urgent_close"),
    (re.compile(r"^Escalate the case with the reason first"), "web.err.escalate_first"),
    (
        re.compile(
            r"^The (?:next follow-up|referral) date (?P<on>[\d-]+) is out of range: give a date "
            r"from (?P<earliest>[\d-]+) to (?P<latest>[\d-]+)"
        ),
        "web.err.date_out_of_range",
    ),
    (re.compile(r"^The case has changed since you read it"), "web.err.case_changed"),
    (re.compile(r"^Unknown file type (?P<suffix>'[^']*')"), "web.err.unknown_file_type"),
    (re.compile(r"^(The )?screening window", re.IGNORECASE), "web.err.bad_window"),
    (
        re.compile(
            r"missing (?:item )?columns (?P<columns>.*?)\. The file has (?P<present>.*?)\. Name"
        ),
        "web.err.missing_columns",
    ),
    (
        re.compile(
            r"missing the id column '(?P<column>[^']*)'\. The file has (?P<present>.*?)\. Name"
        ),
        "web.err.missing_id_column",
    ),
    (
        re.compile(r"duplicate column names: (?P<where>.*)\. Rename or delete"),
        "web.err.duplicate_columns",
    ),
    (re.compile(r"cannot read the Excel file: it is not a valid \.xlsx"), "web.err.bad_xlsx"),
    (re.compile(r": the file is UTF-16 text"), "web.err.utf16"),
    (re.compile(r": the file is empty"), "web.err.empty_file"),
    (
        re.compile(r"NUL byte at line (?P<line>\d+) \(byte \d+\): this is not a plain text CSV"),
        "web.err.not_text",
    ),
    (
        re.compile(r"neither UTF-8 nor GB18030/GBK text: byte \d+ \(line (?P<line>\d+)\)"),
        "web.err.unknown_encoding",
    ),
    (
        re.compile(r"line (?P<line>\d+) \(byte \d+\) is not UTF-8 although the file starts"),
        "web.err.mixed_encoding",
    ),
    (
        re.compile(r"starts with a UTF-8 mark but line (?P<line>\d+) \(byte \d+\) is not"),
        "web.err.mixed_encoding",
    ),
    (re.compile(r"the file has a header but no data rows"), "web.err.header_only"),
    (
        re.compile(r"the sheet (?P<sheet>'.*') has a header but no data rows"),
        "web.err.sheet_header_only",
    ),
    (re.compile(r"the sheet (?P<sheet>'.*') is empty\.$"), "web.err.sheet_empty"),
    (
        re.compile(
            r"rows with a different number of fields than the header \((?P<n>\d+)\): "
            r"(?P<lines>.*?)\. Each line must"
        ),
        "web.err.ragged_rows",
    ),
    (re.compile(r"line 1 \(the header\) opens a quote"), "web.err.header_quote"),
    (
        re.compile(r"line 1 \(the header\) has a stray carriage return after (?P<cell>'.*?')\. "),
        "web.err.header_line_break",
    ),
    (
        re.compile(
            r"line (?P<line>\d+) has a double quote \(\"\) inside the value (?P<value>'.*?')\. A "
            r"value that holds a quote must be quoted, with the quote doubled \((?P<quoted>.*?)\):"
        ),
        "web.err.value_quote",
    ),
    (
        re.compile(
            r"the columns (?P<where>.*) are all read as (?P<column>'[^']*') \(headers are matched"
        ),
        "web.err.same_column",
    ),
    (
        re.compile(r"(?P<column>column \d+ \([A-Z]+\)) has values but no header"),
        "web.err.no_header",
    ),
    (
        re.compile(r"empty row\(s\) (?P<rows>.*?) \(rows counted from 1 after the header\)"),
        "web.err.empty_rows",
    ),
    (
        re.compile(r"^Unknown battery (?P<battery>'[^']*'): use one of (?P<known>.*)\.$"),
        "web.err.unknown_battery",
    ),
    (
        re.compile(
            r"the sheets (?P<sheets>.*?) all hold rows, but under different headers: sheet "
            r"(?P<other>.*?) has (?P<found>.*?) in (?P<column>column \d+ \([A-Z]+\)) where there "
            r"is (?P<expected>.*?) in the header of sheet (?P<first>.*?)\. Every visible sheet"
        ),
        "web.err.sheets_differ",
    ),
    (
        re.compile(
            r"the hidden sheet\(s\) (?P<hidden>.*?) hold rows under the same header as the "
            r"visible sheet\(s\) (?P<visible>.*?): students nobody sees"
        ),
        "web.err.hidden_sheets",
    ),
    (
        re.compile(
            r"no visible sheet holds responses: only the hidden sheet\(s\) (?P<hidden>.*?) "
            r"have rows\. Unhide"
        ),
        "web.err.only_hidden_sheets",
    ),
    (re.compile(r": no sheet holds data rows: "), "web.err.no_sheet_rows"),
    (
        re.compile(r"refused: part .+? expands (?P<ratio>\d+)-fold \(limit (?P<limit>\d+)\)"),
        "web.err.xlsx_bomb",
    ),
    (
        re.compile(r"refused: the workbook expands to more than (?P<mib>\d+) MiB"),
        "web.err.xlsx_too_large",
    ),
    (re.compile(r"refused: the workbook holds (?P<n>\d+) parts"), "web.err.xlsx_too_many_parts"),
    (re.compile(r"refused: part .+? declares a DTD or XML entities"), "web.err.xlsx_dtd"),
    (re.compile(r"cannot read the Parquet file: "), "web.err.parquet_unreadable"),
    (re.compile(r": the Parquet file has no rows\.$"), "web.err.parquet_empty"),
    # the last of the CSV messages: a quote the reader found has its own message above
    (re.compile(r"cannot parse the CSV: "), "web.err.csv_unparsable"),
]


def translate(message: str, locale: str) -> str:
    """``message`` in ``locale`` when it follows a known template; otherwise unchanged.

    Examples
    --------
    >>> translate("The case is closed.", "zh-CN")
    '此个案已结案。'
    """
    for pattern, key in PATTERNS:
        match = pattern.search(message)
        if match:
            values = {name: _parts(value, locale) for name, value in match.groupdict().items()}
            if values.get("reason"):  # a row's reason: a template of its own
                values["reason"] = translate(match["reason"], locale)
            return t(key, locale, **values)
    return message


#: Parts of the English messages inside a matched value: column labels, the names of a
#: repeated column, and the end of a shortened list.
PARTS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"column (?P<n>\d+) \((?P<letters>[A-Z]+)\)"), "web.err.column_label"),
    (re.compile(r"(?P<name>'[^']*') in "), "web.err.found_in"),
    (re.compile(r" and (?P<n>[\d,]+) more$"), "web.err.and_more"),
    (re.compile(r"; (?=line \d+ )"), "web.err.list_separator"),
    (re.compile(r"line (?P<line>\d+) has (?P<n>\d+) fields"), "web.err.line_fields"),
    (re.compile(r"line (?P<line>\d+) is blank"), "web.err.line_blank"),
    (re.compile(r"'\(no extension\)'"), "web.err.no_extension"),
    (re.compile(r"^None$"), "web.err.nothing"),
    (
        re.compile(r"\. The headers must be on the first row: delete any title rows above them$"),
        "web.err.hint_title_row",
    ),
    (
        re.compile(
            r"\. Its header is separated by semicolons: save the file as comma-separated CSV$"
        ),
        "web.err.hint_semicolons",
    ),
    (
        re.compile(r"\. Its header is separated by tabs: save the file as comma-separated CSV$"),
        "web.err.hint_tabs",
    ),
]


def _parts(value: str | None, locale: str) -> str | None:
    """``value`` with the English parts of :data:`PARTS` in ``locale``."""
    if value is None:
        return None
    for pattern, key in PARTS:
        value = pattern.sub(lambda match, key=key: t(key, locale, **match.groupdict()), value)
    return value


__all__ = ["translate"]
