"""Read response files (CSV, Excel, Parquet) into polars frames with one contract.

Contract of every reader here
-----------------------------
- One row per data row of the file, in file order; nothing is dropped except blank lines
  (CSV) or empty rows (Excel) *after* the last data row. An empty row before the last
  data row is an error (it is almost always a pasting accident; delete it).
- Passthrough columns (``student_id``, ``school_id``, ``class_id``, ``grade``, ``sex``
  and any other non-item column) are ``pl.String``, as written, except that student ids
  lose surrounding whitespace (a blank id is null).
- Each item column is ``pl.Int8`` (missing = null) when every non-empty cell is an
  integer in [-128, 127]; the range of the instrument is checked later by the pipeline.
  Otherwise the column is ``pl.String``: the integers written in canonical form ("2") and
  every other cell as its text with surrounding whitespace removed, so that the pipeline
  can report each bad cell with its row and value.
- A cell is missing when it is empty or whitespace only (full-width spaces included), or
  a missing mark such as ``NA`` or ``#N/A`` (:mod:`screening.missing`).
- A cell counts as an integer when it reads ``[+-]digits`` with an optional decimal point
  followed only by zeros ("2", "+2", "02", "2.0", "2."). Values such as "2.5", "1e0",
  "２" (full-width) or "two" are not integers: the column stays String and the pipeline
  reports them. Excel numbers are floats; 2.0 counts as the integer 2.
- Excel: the visible sheets with data rows, in order, under one header (see
  :func:`_response_sheets`); error cells are their text (``#VALUE!``), as in a CSV that
  Excel saves; ids in cells that pad numbers with zeros read as Excel shows them
  (:mod:`screening._xlsx`).
- Concatenating the batches of :func:`iter_response_batches` with
  ``pl.concat(batches, how="vertical_relaxed")`` equals :func:`read_responses` exactly
  (a batch whose item column is clean is Int8 while another batch's is String; relaxed
  concatenation casts the Int8 to the same canonical text).

CSV fast path
-------------
The file is memory-mapped once and its header read (BOM, NUL bytes, empty file, header
only, names and mapping checked). A clean file, that is UTF-8 without quote characters,
``\\n`` or ``\\r\\n`` line ends and as many fields on every line as in the header, whose
item cells are all empty or unsigned integers of 1 to 3 digits in 0..127, is tokenised
by a numba kernel (:mod:`screening._csv_kernels`, one part of the file per thread)
straight into Int8 item columns and Arrow text columns. Any other file takes the general
path, which gives exactly the same frames for clean files and the precise error messages
for the rest (``_FAST_CSV = False`` forces it, for tests): the field counts of every
line are checked with vectorised byte counts (no decoding in Python), then polars parses
the file with a schema that makes every item column Int8. When polars rejects a cell,
the column it names is read as text and the parse repeated (a few times at most, then
every column is read as text); clean item columns become Int8 again afterwards.

Encoding: a UTF-8 BOM means UTF-8; otherwise UTF-8 is tried first (the kernel or polars
validates it while parsing) and a file that is not valid UTF-8 is transcoded from
GB18030 (a superset of GBK, what Chinese Excel writes) in memory, or to a temporary file
for batches. A file that starts as UTF-8 (BOM, or a non-ASCII UTF-8 header) but is not
UTF-8 further down is refused as mixed, never guessed.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import itertools
import logging
import mmap
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import polars as pl

from screening.errors import NAMING_ADVICE, InputFileError
from screening.mapping import PASSTHROUGH_COLUMNS, ColumnMapping
from screening.missing import answer_cells, answer_text

if TYPE_CHECKING:
    from screening import _csv_kernels

logger = logging.getLogger(__name__)

#: File extensions read, and the reader of each.
FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".txt": "csv",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".parquet": "parquet",
    ".pq": "parquet",
}
#: Excel (.xlsx) safety limits, checked on the zip members before any parsing.
MAX_XLSX_UNCOMPRESSED = 2 << 30  # bytes, all members together
MAX_XLSX_RATIO = 200  # uncompressed / compressed size of one member above 1 MiB
MAX_XLSX_MEMBERS = 10_000

_CHUNK = 1 << 18  # bytes per step of the vectorised scans (fits in cache)
_HEAD = 1 << 16  # bytes that tell how a CSV's lines end
_MAX_HEADER_LINES = 10  # lines a header record may span (quoted cells with line breaks)
_TEXT_RETRIES = 4  # item columns re-read as text one by one before reading all as text
_BOMS = {
    codecs.BOM_UTF32_LE: "UTF-32",
    codecs.BOM_UTF32_BE: "UTF-32",
    codecs.BOM_UTF16_LE: "UTF-16",
    codecs.BOM_UTF16_BE: "UTF-16",
}
_INTEGRAL = r"^[+-]?[0-9]+(?:\.0*)?$"
_NEWLINE, _COMMA, _QUOTE = 10, 44, 34
_FIX_ENCODING = 'In Excel use "Save as" > "CSV UTF-8", or save it as GBK/GB18030 text.'
_FAST_CSV = True  # private switch: False always parses with polars (tests compare the two)


# --------------------------------------------------------------------------- public API


def read_responses(
    path: str | os.PathLike[str],
    *,
    item_columns: Sequence[str],
    mapping: ColumnMapping | None = None,
    id_column: str | None = "student_id",
) -> pl.DataFrame:
    """Read one response file (CSV, Excel .xlsx or Parquet) into a typed frame.

    Parameters
    ----------
    path
        The file; its extension (``.csv``, ``.xlsx``, ``.parquet``) picks the reader.
    item_columns
        Columns that hold answers (after mapping). All must be present.
    mapping
        Renaming of headers applied before typing (``--map``).
    id_column
        Column of student ids: must be present and unique within the file; None to skip.

    Returns
    -------
    polars.DataFrame
        Columns in file order; see the module docstring for the types.

    Raises
    ------
    InputFileError
        When the file cannot be read as a table of responses: unknown extension, empty
        file, header only, encoding, NUL bytes, ragged rows, empty rows, missing item or id
        columns, duplicate columns, duplicate ids, unsafe or unreadable Excel.
    """
    path = Path(path)
    kind = _kind(path.name)
    _exists(path)
    if kind == "csv":
        with _mapped(path) as buffer:
            return _read_csv(buffer, path, path, item_columns, mapping, id_column)
    if kind == "excel":
        return _read_excel(path, path, item_columns, mapping, id_column)
    return _read_parquet(path, path, item_columns, mapping, id_column)


def iter_response_batches(
    path: str | os.PathLike[str],
    *,
    item_columns: Sequence[str],
    mapping: ColumnMapping | None = None,
    batch_rows: int = 250_000,
    id_column: str | None = "student_id",
) -> Iterator[pl.DataFrame]:
    """Read a response file in batches of at most ``batch_rows`` rows (bounded memory).

    The checks of :func:`read_responses` run before the first batch, except two that
    need every row: empty rows and duplicate ids within a batch raise at that batch, and
    duplicate ids across batches raise after the last batch. Treat a run as failed when
    the iterator raises at any point (atomic outputs make that automatic).

    Row numbers in errors count from 1 at the first data row of the file, not the batch.
    A GB18030 CSV is first transcoded to a temporary UTF-8 file, removed at the end.
    """
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    path = Path(path)
    kind = _kind(path.name)
    _exists(path)
    ids: list[pl.DataFrame] = []
    if kind == "csv":
        batches = _csv_batches(path, item_columns, mapping, id_column, batch_rows)
    elif kind == "excel":
        frame = _read_excel(path, path, item_columns, mapping, id_column)
        batches = (frame.slice(i, batch_rows) for i in range(0, frame.height, batch_rows))
    else:
        batches = _parquet_batches(path, item_columns, mapping, id_column, batch_rows)
    for batch in batches:
        if id_column is not None:
            ids.append(batch.select(c for c in ("school_id", id_column) if c in batch.columns))
        yield batch
    if len(ids) > 1:
        _check_unique_ids(pl.concat(ids), path, id_column, 0)


def read_upload(
    data: bytes,
    filename: str,
    *,
    item_columns: Sequence[str],
    mapping: ColumnMapping | None = None,
    id_column: str | None = "student_id",
) -> pl.DataFrame:
    """Read an uploaded response file from its bytes; ``filename`` picks the reader.

    Same contract and errors as :func:`read_responses`; messages name ``filename``.
    """
    kind = _kind(filename)
    if kind == "csv":
        return _read_csv(data, data, filename, item_columns, mapping, id_column)
    if kind == "excel":
        return _read_excel(data, filename, item_columns, mapping, id_column)
    return _read_parquet(io.BytesIO(data), filename, item_columns, mapping, id_column)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in blocks."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# ------------------------------------------------------------------------ shared helpers


def _kind(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    kind = FORMATS.get(suffix)
    if kind is None:
        hint = " Save an old .xls workbook as .xlsx." if suffix == ".xls" else ""
        raise InputFileError(
            filename,
            f"unknown file type {suffix or '(no extension)'!r}: responses are read from "
            f".csv, .xlsx or .parquet files.{hint}",
        )
    return kind


def _exists(path: Path) -> None:
    if not path.is_file():
        raise InputFileError(path, "no such file (check the path).")


def _column_label(index: int) -> str:
    """'column 3 (C)' for the 0-based ``index``."""
    letters, n = "", index + 1
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return f"column {index + 1} ({letters})"


def _listed(values: Iterable[Any], limit: int = 10) -> str:
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


# Placeholder names of header cells left empty: a private-use character no real header
# holds (not NUL, which Arrow's C interface takes for the end of a name).
_UNNAMED = "\ue000unnamed"


def _unnamed(index: int) -> str:
    return f"{_UNNAMED}{index}"


def _resolve_header(
    raw: Sequence[str | None],
    label: str | Path,
    item_columns: Sequence[str],
    mapping: ColumnMapping | None,
    id_column: str | None,
) -> list[str]:
    """Final column names: stripped, checked for duplicates, mapped, checked for presence.

    An empty header becomes a placeholder name; its column must be empty (checked later).
    """
    names = [(name or "").strip().lstrip("\ufeff").strip() for name in raw]
    names = [name or _unnamed(i) for i, name in enumerate(names)]
    headers = list(names)  # as the file writes them, for messages after the mapping
    repeated = sorted({n for n in names if names.count(n) > 1}, key=names.index)
    if repeated:
        where = "; ".join(
            f"{name!r} in " + ", ".join(_column_label(i) for i, n in enumerate(names) if n == name)
            for name in repeated[:10]
        )
        raise InputFileError(
            label, f"duplicate column names: {where}. Rename or delete the repeated columns."
        )
    known = [*item_columns, *PASSTHROUGH_COLUMNS, *([id_column] if id_column else [])]
    if mapping is not None:
        mapping.check_targets(known, path=label)
        names = mapping.rename(names, path=label)
    names = _spelled_as_known(names, known, label, headers)
    required = [*([id_column] if id_column else []), *item_columns]
    missing = [column for column in required if column not in names]
    if missing:
        kind = (
            "the id column"
            if missing == [id_column]
            else "columns"
            if id_column in missing
            else "item columns"
        )
        problem = f"missing {kind} {_listed(missing, 12)}."
        # the file's own headers, as the clerk sees them (not the names they map to)
        present = [h for h, n in zip(headers, names, strict=True) if not n.startswith(_UNNAMED)]
        problem += f" The file has {_listed(present, 12)}." + _header_hint(present, len(names))
        if mapping is not None:
            unused = mapping.missing_sources((name or "").strip() for name in raw)
            if unused:
                problem += f" Headers named in the mapping but not in the file: {_listed(unused)}."
            problem += " Fix the mapping file or the headers."
        else:
            problem += f" {NAMING_ADVICE}"
        raise InputFileError(label, problem)
    return names


def _folded(name: str) -> str:
    return unicodedata.normalize("NFKC", name).casefold()


def _spelled_as_known(
    names: list[str], known: Sequence[str], label: str | Path, headers: Sequence[str]
) -> list[str]:
    """Headers that differ from a column the toolkit reads only in letter case or character
    width (``PHQ9_1``, ``Student_ID``, full-width ``ｐｈｑ９_１``) take its name.

    Raises
    ------
    InputFileError
        When two headers are spellings of one such column (``phq9_1`` and ``PHQ9_1``):
        reading one would drop the other's answers without a word.
    """
    spellings: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        spellings.setdefault(_folded(name), []).append(i)
    reads = set(known)
    renamed = list(names)
    for column in dict.fromkeys(known):
        matches = [
            i
            for i in spellings.get(_folded(column), [])
            if names[i] == column or names[i] not in reads
        ]
        if len(matches) > 1:
            shown = ", ".join(
                f"{names[i]!r}"
                + (f" (mapped from {headers[i]!r})" if headers[i] != names[i] else "")
                + f" in {_column_label(i)}"
                for i in matches
            )
            raise InputFileError(
                label,
                f"the columns {shown} are all read as {column!r} (headers are matched "
                "whatever their letter case and character width). Delete or rename all "
                "but one of them.",
            )
        if matches:
            renamed[matches[0]] = column
    return renamed


def _header_hint(present: Sequence[str], width: int) -> str:
    """A likely cause when the header has none of the required columns, or nothing."""
    for separator, name in ((";", "semicolons"), ("\t", "tabs")):
        if len(present) == 1 and separator in present[0]:
            return f" Its header is separated by {name}: save the file as comma-separated CSV."
    if len(present) <= 1 or len(present) * 2 < width:
        return " The headers must be on the first row: delete any title rows above them."
    return ""


def _coerce_item(series: pl.Series) -> pl.Series:
    """An item column as Int8 when every cell is a clean integer, else canonical text."""
    dtype = series.dtype
    if dtype == pl.Int8:
        return series
    if dtype in (pl.Null, pl.Boolean):  # R's logical and Excel's TRUE/FALSE: 1 and 0
        return series.cast(pl.Int8)
    if dtype.is_integer():
        low, high = series.min(), series.max()
        if low is None or (low >= -128 and high <= 127):
            return series.cast(pl.Int8)
        return series.cast(pl.String)
    if dtype.is_float():
        series = series.fill_nan(None)
    text = answer_text(series.cast(pl.String))
    number = text.cast(pl.Int64, strict=False)  # accepts exactly [+-]digits
    if number.null_count() == text.null_count():
        low, high = number.min(), number.max()
        if low is None or (low >= -128 and high <= 127):
            return number.cast(pl.Int8)
    number = text.str.replace(r"\.0*$", "").cast(pl.Int64, strict=False)
    clean = text.str.contains(_INTEGRAL) & number.is_between(-128, 127)
    if (clean | text.is_null()).all():
        return number.cast(pl.Int8)
    canonical = pl.select(
        pl.when(clean).then(number.cast(pl.String)).otherwise(text).alias(series.name)
    )
    return canonical.to_series()


def _coerce_passthrough(series: pl.Series) -> pl.Series:
    """A passthrough column as String (integral floats without their '.0')."""
    if series.dtype == pl.String:
        return series
    if series.dtype.is_float():
        finite = series.fill_nan(None)
        if (finite.is_null() | (finite == finite.floor())).all():
            series = finite.cast(pl.Int64, strict=False)
    try:
        return series.cast(pl.String)
    except pl.exceptions.PolarsError:
        return pl.Series(series.name, [None if v is None else str(v) for v in series], pl.String)


def _finish(
    frame: pl.DataFrame,
    label: str | Path,
    item_columns: Sequence[str],
    id_column: str | None,
    row_offset: int,
    mapping: ColumnMapping | None = None,
) -> pl.DataFrame:
    """Drop empty unnamed columns, type the columns (answer labels of the mapping become
    their codes), check empty rows and duplicate ids."""
    unnamed = [c for c in frame.columns if c.startswith(_UNNAMED)]
    for column in unnamed:
        if frame.get_column(column).null_count() < frame.height:
            index = int(column.removeprefix(_UNNAMED))
            raise InputFileError(
                label,
                f"{_column_label(index)} has values but no header. Give it a name or delete it.",
            )
    if unnamed:
        frame = frame.drop(unnamed)
    items = set(item_columns)
    recode = mapping.recode if mapping is not None else _unchanged
    schema = frame.schema  # built anew on each access
    frame = frame.with_columns(
        [
            _coerce_item(recode(answer_cells(frame.get_column(c), label)))
            if c in items
            else _coerce_passthrough(frame[c])
            for c in frame.columns
            if schema[c] != (pl.Int8 if c in items else pl.String)
        ]
    )
    if id_column is not None:
        frame = _strip_ids(frame, id_column)
    _check_empty_rows(frame, label, id_column, row_offset)
    if id_column is not None:
        _check_unique_ids(frame, label, id_column, row_offset)
    return frame


def _unchanged(series: pl.Series) -> pl.Series:
    return series


def canonical_ids(ids: pl.Series) -> pl.Series:
    """Ids as they read: in NFKC form (``Ｓ１`` typed in full-width mode is ``S1``), without
    format characters (a zero-width space pasted from a web page, the byte-order mark of
    files joined with ``copy /b``) and without surrounding whitespace."""
    return ids.str.normalize("NFKC").str.replace_all(r"\p{Cf}", "").str.strip_chars()


def _strip_ids(frame: pl.DataFrame, id_column: str) -> pl.DataFrame:
    """Student ids as :func:`canonical_ids` reads them (``S1 `` from Excel is ``S1``); blank
    is null."""
    ids = frame.get_column(id_column)
    wide = (ids.str.len_bytes() != ids.str.len_chars()).any()  # not ASCII only
    if not wide and not ids.str.contains(r"^\s|\s$").any() and not (ids == "").any():
        return frame
    stripped = canonical_ids(ids) if wide else ids.str.strip_chars()
    return frame.with_columns(stripped.set(stripped == "", None))


def _check_empty_rows(
    frame: pl.DataFrame, label: str | Path, id_column: str | None, row_offset: int
) -> None:
    if id_column is not None and frame.get_column(id_column).null_count() == 0:
        return
    empty = frame.select(pl.all_horizontal(pl.all().is_null())).to_series()
    if empty.any():
        rows = (empty.arg_true() + row_offset + 1).to_list()
        raise InputFileError(
            label,
            f"empty row(s) {_listed(rows)} (rows counted from 1 after the header): every "
            "cell is empty. Delete the empty rows.",
        )


_SCIENTIFIC = r"^\d(\.\d+)?[eE]\+?\d+$"  # 1.10101E+17: how Excel writes a long number
#: What to do about ids that Excel has rounded (said wherever such ids come up).
EXCEL_ROUNDED = "Format the id column as text in Excel, enter the ids again and save the file again"


def looks_rounded(ids: pl.Series) -> pl.Series:
    """Ids of 16 digits or more that look like numbers Excel has rounded to 15 digits.

    Such an id has only zeros after its 15th digit (as Excel shows it and saves it to
    CSV), or, read from the .xlsx itself, is the exact value of the binary number nearest
    a 15-digit one (``110101200812091008`` for 1.10101200812091E+17). A real 18-digit id
    looks like either about one time in a thousand, a real 16-digit one one time in ten.
    """
    long = ids.str.contains(r"^[0-9]{16,}$").fill_null(False)
    zeros = ids.str.slice(15).str.contains(r"^0+$").fill_null(False)
    value = ids.cast(pl.Float64, strict=False)
    exact = (value.cast(pl.Int64, strict=False).cast(pl.String) == ids).fill_null(False)
    v = value.fill_null(0).to_numpy()
    scale = 10.0 ** np.maximum(np.floor(np.log10(np.maximum(v, 1.0))) - 14, 0)
    fifteen = pl.Series(np.round(v / scale) * scale == v)
    return long & (zeros | (exact & fifteen))


def student_keys(frame: pl.DataFrame, id_column: str) -> pl.DataFrame:
    """The columns that name a student: the school's id (stripped, in NFKC form) with the
    student id when the frame has a ``school_id`` column (a 学号 is a school's own number),
    else the student id."""
    if "school_id" not in frame.columns:
        return frame.select(id_column)
    school = frame.get_column("school_id").cast(pl.String)
    if (school.str.len_bytes() != school.str.len_chars()).any():  # not ASCII only
        school = canonical_ids(school)
    return pl.DataFrame([school.str.strip_chars(), frame.get_column(id_column)])


def _check_unique_ids(
    frame: pl.DataFrame,
    label: str | Path,
    id_column: str,
    row_offset: int,
    where: pl.Series | None = None,
) -> None:
    """Each student (school and id, see :func:`student_keys`) once in the file.

    ``where`` names the rows (``sheet '二班' row 3``) in place of numbers counted from 1
    after the header."""
    ids = frame.get_column(id_column)
    present = ids.drop_nulls()
    if present.hash().n_unique() == present.len():
        return  # distinct 64-bit hashes: certainly distinct ids (a collision only costs time)
    keys = student_keys(frame, id_column)
    repeated = keys.is_duplicated() & ids.is_not_null()
    if not repeated.any():
        return
    rows = pl.int_range(1, ids.len() + 1, eager=True) + row_offset if where is None else where
    groups = (
        keys.with_columns(row=rows)
        .filter(repeated)
        .group_by(keys.columns, maintain_order=True)
        .agg(pl.col("row"))
    )
    of_school = keys.width > 1
    shown = "; ".join(
        f"{key[-2]!r} in {'rows ' if where is None else ''}{', '.join(map(str, key[-1][:5]))}"
        f"{' …' if len(key[-1]) > 5 else ''}{f' (school {key[0]!r})' if of_school else ''}"
        for key in groups.head(10).iter_rows()
    )
    more = f" ({groups.height} ids in all)" if groups.height > 10 else ""
    scope = "per school and file" if of_school else "per file"
    message = (
        f"duplicate student ids in column {id_column!r}: {shown}{more} (rows counted from 1 "
        f"after the header{'' if where is None else ' of each sheet'}). Each student must "
        f"appear once {scope}: remove the repeated rows or correct the ids."
    )
    raise InputFileError(label, message + excel_rounding_advice(groups.get_column(id_column)))


def excel_rounding_advice(repeated: pl.Series) -> str:
    """For repeated ids that look like numbers Excel has rounded (``1.10101E+17``, or 18
    digits ending in zeros), the warning not to delete rows of different students."""
    rounded = repeated.str.contains(_SCIENTIFIC).fill_null(False) | looks_rounded(repeated)
    if not rounded.any():
        return ""
    return (
        " These ids look like numbers that Excel has rounded to 15 digits (or written in "
        "scientific notation, such as 1.10101E+17), so that different students now share "
        f"one: do not delete these rows. {EXCEL_ROUNDED}."
    )


def _drop_trailing_empty(frame: pl.DataFrame) -> pl.DataFrame:
    if frame.height == 0 or frame.width == 0:
        return frame
    empty = frame.select(pl.all_horizontal(pl.all().is_null())).to_series()
    if not empty[-1]:
        return frame
    trailing = empty.height if empty.all() else int(empty.reverse().arg_min())
    return frame.head(frame.height - trailing)


# ----------------------------------------------------------------------------------- CSV


@contextlib.contextmanager
def _mapped(path: Path) -> Iterator[mmap.mmap | bytes]:
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            yield b""
            return
        buffer = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            yield buffer
        finally:
            with contextlib.suppress(BufferError):  # a view still alive: closed when collected
                buffer.close()


@dataclass
class _Header:
    """The header of a CSV, read and checked (the text before the data is UTF-8)."""

    names: list[str]
    data_start: int  # offset of the first data record
    data_end: int  # offset after the last record, trailing line breaks excluded
    clean: bool  # no quote or carriage return inside the header line


@dataclass
class _Layout:
    """A CSV whose structure has been checked; ``buffer`` is UTF-8."""

    buffer: mmap.mmap | bytes
    header: _Header
    n_records: int
    quoted: bool  # the file holds quote characters
    parity_ok: bool  # newline positions outside quotes are reliable for cutting


def _lines_before(buffer: mmap.mmap | bytes, offset: int) -> int:
    array = np.frombuffer(buffer, dtype=np.uint8, count=offset)
    return int(
        sum(np.count_nonzero(array[i : i + _CHUNK] == _NEWLINE) for i in range(0, offset, _CHUNK))
    )


def _first_invalid_utf8(buffer: mmap.mmap | bytes, start: int) -> int | None:
    """Offset of the first byte that is not valid UTF-8, or None (bounded memory)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    array = np.frombuffer(buffer, dtype=np.uint8)
    pending = 0
    for lo in range(start, len(buffer), _CHUNK):
        if not pending and array[lo : lo + _CHUNK].max() < 128:
            continue  # ASCII: valid, and no sequence left open
        try:
            decoder.decode(buffer[lo : lo + _CHUNK], final=lo + _CHUNK >= len(buffer))
        except UnicodeDecodeError as error:
            return lo - pending + error.start
        pending = len(decoder.getstate()[0])
    return None


def _transcode(buffer: mmap.mmap | bytes, label: str | Path, out: IO[bytes]) -> None:
    """Write ``buffer`` decoded as GB18030 to ``out`` as UTF-8 (bounded memory)."""
    decoder = codecs.getincrementaldecoder("gb18030")("strict")
    for lo in range(0, len(buffer), _CHUNK):
        pending = len(decoder.getstate()[0])
        chunk = buffer[lo : lo + _CHUNK]
        try:
            out.write(decoder.decode(chunk, final=lo + _CHUNK >= len(buffer)).encode("utf-8"))
        except UnicodeDecodeError as error:
            offset = max(lo - pending + error.start, 0)
            line = _lines_before(buffer, offset) + 1
            raise InputFileError(
                label,
                f"the file is neither UTF-8 nor GB18030/GBK text: byte {offset} (line {line}) "
                f"cannot be decoded. {_FIX_ENCODING}",
            ) from None


def _carriage_returns_only(buffer: mmap.mmap | bytes) -> bool:
    """Whether the lines end with a bare carriage return (classic Mac OS, and the
    "CSV (Macintosh)" that Excel for Mac still saves): the file's first 64 KiB hold more
    bare carriage returns than line feeds (a quoted cell may hold a line feed)."""
    head = bytes(buffer[:_HEAD])
    return head.count(b"\r") - head.count(b"\r\n") > head.count(b"\n")


def _to_line_feeds(buffer: mmap.mmap | bytes, out: IO[bytes]) -> None:
    """Write ``buffer`` to ``out`` with every ``\\r\\n`` and bare ``\\r`` made a ``\\n``."""
    carry = b""  # a carriage return at the end of a chunk: the next may start with \n
    for lo in range(0, len(buffer), _CHUNK):
        chunk = carry + buffer[lo : lo + _CHUNK]
        carry = b"\r" if chunk.endswith(b"\r") else b""
        out.write(chunk[: len(chunk) - len(carry)].replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
    out.write(carry.replace(b"\r", b"\n"))


def _content_end(buffer: mmap.mmap | bytes) -> int:
    """Offset after the last line that holds a value: trailing line breaks and trailing
    lines of commas only (Excel saves those for formatted but empty rows below the data)
    are not records."""
    data = np.frombuffer(buffer, dtype=np.uint8)
    for hi in range(len(data), 0, -_CHUNK):  # from the end: the last byte of a value
        chunk = data[max(hi - _CHUNK, 0) : hi]
        values = np.flatnonzero((chunk != _COMMA) & (chunk != _NEWLINE) & (chunk != 13))
        if values.size:
            last = hi - len(chunk) + int(values[-1])
            stop = buffer.find(b"\n", last)
            end = len(buffer) if stop == -1 else stop
            return end - 1 if end > last + 1 and buffer[end - 1] == 13 else end
    return 0


def _scan(
    buffer: mmap.mmap | bytes, start: int, end: int, quoted: bool
) -> Iterator[tuple[int, np.ndarray, int]]:
    """Per chunk of ``buffer[start:end]``: (chunk start, newline positions, separators),
    counting only line breaks and separators outside quoted fields."""
    array = np.frombuffer(buffer, dtype=np.uint8)
    inside = False
    for lo in range(start, end, _CHUNK):
        chunk = array[lo : min(lo + _CHUNK, end)]
        newline = chunk == _NEWLINE
        comma = chunk == _COMMA
        if quoted:  # parity of the quotes seen so far (uint8 wraps, parity survives)
            quotes = chunk == _QUOTE
            outside = (np.cumsum(quotes, dtype=np.uint8) & 1) == int(inside)
            newline &= outside
            comma &= outside
            inside ^= bool(np.count_nonzero(quotes) & 1)
        yield lo, np.flatnonzero(newline), int(np.count_nonzero(comma))


def _exact_records(
    buffer: mmap.mmap | bytes, start: int, end: int, n_fields: int
) -> tuple[list[int], list[str]]:
    """Parse ``buffer[start:end]`` with the csv module (slow; used only when needed).

    Returns the offset after each record and descriptions of lines whose field count is
    not ``n_fields`` (at most 10).
    """
    position = start

    def lines() -> Iterator[str]:
        nonlocal position
        while position < end:
            stop = buffer.find(b"\n", position, end)
            stop = end if stop == -1 else stop + 1
            line = buffer[position:stop].decode("utf-8", errors="replace")
            position = stop
            yield line

    reader = csv.reader(lines(), strict=False)
    ends: list[int] = []
    problems: list[str] = []
    header_lines = _lines_before(buffer, start)  # 1, or more when a header cell has a break
    line_of_previous = header_lines
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(f"line {line_of_previous + 1}: {error}")
            break
        first_line = line_of_previous + 1
        line_of_previous = header_lines + reader.line_num
        ends.append(position)
        if len(record) != n_fields and len(problems) < 10:
            if not record:
                problems.append(f"line {first_line} is blank")
            else:
                problems.append(f"line {first_line} has {len(record)} fields")
    return ends, problems


def _stray_quote(buffer: mmap.mmap | bytes, start: int, end: int) -> int | None:
    """Offset of the first double quote in ``buffer[start:end]`` that neither opens a value
    (after a comma or a line break), closes one (before one) nor is doubled: a quote inside
    an unquoted value (``3"班``), which CSV parsers read as the start of a quoted value."""
    data = np.frombuffer(buffer, dtype=np.uint8)
    for lo in range(start, end, _CHUNK):
        quotes = lo + np.flatnonzero(data[lo : min(lo + _CHUNK, end)] == _QUOTE)
        before = np.where(quotes > start, data[np.maximum(quotes - 1, 0)], _NEWLINE)
        after = np.where(quotes + 1 < end, data[np.minimum(quotes + 1, len(data) - 1)], _NEWLINE)
        opens = (before == _COMMA) | (before == _NEWLINE)
        closes = (after == _COMMA) | (after == _NEWLINE) | (after == 13)
        doubled = (before == _QUOTE) | (after == _QUOTE)
        stray = quotes[~(opens | closes | doubled)]
        if stray.size:
            return int(stray[0])
    return None


def _malformed(buffer: mmap.mmap | bytes, header: _Header, label: str | Path, problem: str):
    """The error for a CSV that does not parse: ``problem``, and a quote inside an unquoted
    value when there is one (the usual cause, which the parsers' messages do not name)."""
    offset = _stray_quote(buffer, header.data_start, header.data_end)
    if offset is None:
        return InputFileError(label, problem)
    problem = problem.removesuffix(".")
    value_start = max(buffer.rfind(b",", 0, offset), buffer.rfind(b"\n", 0, offset)) + 1
    stops = [buffer.find(mark, offset) for mark in (b",", b"\n", b"\r")]
    value_end = min([stop for stop in stops if stop != -1] or [len(buffer)])
    value = buffer[value_start:value_end].decode("utf-8", errors="replace")
    quoted = '"' + value.replace('"', '""') + '"'
    return InputFileError(
        label,
        f"{problem}. A likely cause: line {_lines_before(buffer, offset) + 1} has a double "
        f'quote (") inside the value {value!r}. A value that holds a quote must be quoted, '
        f"with the quote doubled ({quoted}): delete the quote, or save the file from Excel "
        "again as CSV.",
    )


def _read_header(
    buffer: mmap.mmap | bytes,
    label: str | Path,
    item_columns: Sequence[str],
    mapping: ColumnMapping | None,
    id_column: str | None,
) -> _Header | None:
    """Check a CSV's encoding and read its header; None means: not UTF-8, transcode it."""
    content_end = _content_end(buffer)
    if content_end == 0:
        raise InputFileError(label, "the file is empty. Export the responses again.")
    for bom, name in _BOMS.items():
        if buffer[: len(bom)] == bom:
            raise InputFileError(label, f"the file is {name} text. {_FIX_ENCODING}")
    start = 3 if buffer[:3] == codecs.BOM_UTF8 else 0
    nul = buffer.find(b"\x00")
    if nul != -1:
        line = _lines_before(buffer, nul) + 1
        raise InputFileError(
            label,
            f"NUL byte at line {line} (byte {nul}): this is not a plain text CSV (it may be "
            f"UTF-16 or a binary file). {_FIX_ENCODING}",
        )
    header_end = _header_end(buffer, start, label)
    try:
        header_text = buffer[start:header_end].decode("utf-8")
    except UnicodeDecodeError:
        if start:
            offset = _first_invalid_utf8(buffer, start)
            raise InputFileError(
                label,
                f"the file starts with a UTF-8 mark but line 1 (byte {offset}) is not UTF-8. "
                f"{_FIX_ENCODING}",
            ) from None
        return None
    header_line = header_text.rstrip("\r")
    try:
        raw = next(csv.reader([header_line]), [])
    except csv.Error:  # a line break outside quotes: the record parser stops there
        cell = header_line[: header_line.find("\r")].rsplit(",", 1)[-1]
        raise InputFileError(
            label,
            f"line 1 (the header) has a stray carriage return after {cell!r}. Delete the "
            "line break in that header cell, or save the file from Excel again as CSV.",
        ) from None
    names = _resolve_header(raw, label, item_columns, mapping, id_column)
    data_start, data_end = header_end + 1, content_end
    if data_start >= data_end:
        raise InputFileError(
            label, "the file has a header but no data rows. Export the responses again."
        )
    clean = '"' not in header_line and "\r" not in header_line
    return _Header(names, data_start, data_end, clean)


def _header_end(buffer: mmap.mmap | bytes, start: int, label: str | Path) -> int:
    """Offset of the line break that ends the header record, or the end of the buffer.

    A quoted header cell may hold line breaks (Excel writes a cell typed with Alt+Enter
    that way), so the record ends at the first line break outside quotes.
    """
    quotes, position = 0, start
    for _ in range(_MAX_HEADER_LINES):
        stop = buffer.find(b"\n", position)
        stop = len(buffer) if stop == -1 else stop
        quotes += buffer[position:stop].count(b'"')
        if quotes % 2 == 0:
            return stop
        if stop == len(buffer):
            break
        position = stop + 1
    raise InputFileError(
        label,
        'line 1 (the header) opens a quote (") that does not close within '
        f"{_MAX_HEADER_LINES} lines. Close the quote or delete it from the header.",
    )


def _check_records(buffer: mmap.mmap | bytes, header: _Header, label: str | Path) -> _Layout:
    """Count the records of a CSV and check that each has as many fields as the header."""
    names, data_start, data_end = header.names, header.data_start, header.data_end
    quoted = buffer.find(b'"', 3 if buffer[:3] == codecs.BOM_UTF8 else 0) != -1
    newlines = separators = 0
    for _, positions, commas in _scan(buffer, data_start, data_end, quoted):
        newlines += len(positions)
        separators += commas
    n_records = newlines + 1
    if separators == n_records * (len(names) - 1):
        return _Layout(buffer, header, n_records, quoted, True)
    ends, problems = _exact_records(buffer, data_start, data_end, len(names))
    if problems:
        raise _malformed(
            buffer,
            header,
            label,
            f"rows with a different number of fields than the header ({len(names)}): "
            + "; ".join(problems)
            + ". Each line must have one value (possibly empty) per column: fix or delete "
            "those lines, or quote values that contain commas.",
        )
    return _Layout(buffer, header, len(ends), quoted, False)


def _parse(
    source: bytes | Path,
    names: list[str],
    int8_columns: Iterable[str],
    *,
    has_header: bool,
) -> pl.DataFrame:
    """polars.read_csv with every column String except ``int8_columns``."""
    overrides = {c: pl.Int8 for c in int8_columns} or None
    return pl.read_csv(
        source,
        has_header=has_header,
        new_columns=names,
        infer_schema=False,
        schema_overrides=overrides,
        raise_if_empty=False,
    )


def _parse_region(
    layout: _Layout,
    source: bytes | Path,
    label: str | Path,
    item_columns: Sequence[str],
    has_header: bool,
    *,
    check_utf8: bool = False,
) -> pl.DataFrame:
    """Parse with Int8 item columns; read the columns polars rejects as text.

    polars names the column of the first cell it cannot parse; that column is read as
    text and the parse repeated, at most :data:`_TEXT_RETRIES` times, after which every
    column is read as text. With ``check_utf8``, a file that polars rejects for another
    reason is first checked for invalid UTF-8 (raising :class:`_NotUtf8`): far cheaper
    than letting polars fail on it as text.
    """
    int8 = [c for c in layout.header.names if c in set(item_columns)]
    for _ in range(_TEXT_RETRIES + 1):
        try:
            return _parse(source, layout.header.names, int8, has_header=has_header)
        except pl.exceptions.PolarsError as error:
            failing = re.search(r"at column '([^']*)'", str(error))
            if failing is None or failing.group(1) not in int8:
                break
            int8.remove(failing.group(1))
    if check_utf8 and _first_invalid_utf8(layout.buffer, 0) is not None:
        raise _NotUtf8
    try:
        return _parse(source, layout.header.names, (), has_header=has_header)
    except pl.exceptions.PolarsError as error:
        if "utf-8" in str(error).lower():
            raise _NotUtf8 from None
        problem = f"cannot parse the CSV: {str(error).splitlines()[0]}"
        raise _malformed(layout.buffer, layout.header, label, problem) from None


class _NotUtf8(Exception):
    """The body of a CSV whose header is UTF-8 is not UTF-8."""


def _read_csv(
    buffer: mmap.mmap | bytes,
    source: Path | bytes,
    label: str | Path,
    item_columns: Sequence[str],
    mapping: ColumnMapping | None,
    id_column: str | None,
) -> pl.DataFrame:
    if _carriage_returns_only(buffer):
        out = io.BytesIO()
        _to_line_feeds(buffer, out)
        buffer = source = out.getvalue()
    header = _read_header(buffer, label, item_columns, mapping, id_column)
    if header is not None:
        try:
            frame = _read_body(buffer, source, header, label, item_columns, check_utf8=True)
        except _NotUtf8:
            header = _utf8_body_or_fail(buffer, header.data_start, label)
    if header is None:
        out = io.BytesIO()
        _transcode(buffer, label, out)
        logger.info("read a GB18030 CSV (transcoded to UTF-8)")
        utf8 = out.getvalue()
        header = _read_header(utf8, label, item_columns, mapping, id_column)
        if header is None:  # pragma: no cover - transcoded text is UTF-8
            raise InputFileError(label, "cannot decode the header.")
        frame = _read_body(utf8, utf8, header, label, item_columns)
    return _finish(frame, label, item_columns, id_column, 0, mapping)


def _read_body(
    buffer: mmap.mmap | bytes,
    source: Path | bytes,
    header: _Header,
    label: str | Path,
    item_columns: Sequence[str],
    *,
    check_utf8: bool = False,
) -> pl.DataFrame:
    """The data rows, untyped beyond Int8 items: tokenised by the fast path when the file
    is clean, else parsed by polars (``check_utf8``: see :func:`_parse_region`)."""
    tokens = _fast_tokens(buffer, header, item_columns, header.data_start, header.data_end)
    if tokens is not None:
        return _fast_frame(buffer, header, item_columns, tokens)
    layout = _check_records(buffer, header, label)
    frame = _parse_region(
        layout, source, label, item_columns, has_header=True, check_utf8=check_utf8
    )
    if frame.height > layout.n_records:
        extra = frame.slice(layout.n_records)
        if extra.null_count().sum_horizontal().item() != extra.height * extra.width:
            problem = "cannot parse the CSV: unexpected extra rows."
            raise _malformed(buffer, header, label, problem)
        frame = frame.head(layout.n_records)
    elif frame.height < layout.n_records:
        raise _malformed(
            buffer,
            header,
            label,
            f"cannot parse the CSV: found {frame.height} rows where {layout.n_records} "
            "lines were counted (check quotes in the file).",
        )
    return frame


def _utf8_body_or_fail(buffer: mmap.mmap | bytes, data_start: int, label: str | Path) -> None:
    """The body is not UTF-8: return None (transcode from GB18030) when that is safe, that
    is when neither a UTF-8 mark nor a non-ASCII UTF-8 header says the file is UTF-8."""
    offset = _first_invalid_utf8(buffer, 0)
    if offset is None:
        raise InputFileError(label, "cannot parse the CSV: polars reports invalid UTF-8.")
    if buffer[:3] != codecs.BOM_UTF8 and buffer[:data_start].isascii():
        return None
    line = _lines_before(buffer, offset) + 1
    raise InputFileError(
        label,
        f"line {line} (byte {offset}) is not UTF-8 although the file starts as UTF-8: it "
        f"mixes encodings. {_FIX_ENCODING}",
    )


def _csv_batches(
    path: Path,
    item_columns: Sequence[str],
    mapping: ColumnMapping | None,
    id_column: str | None,
    batch_rows: int,
) -> Iterator[pl.DataFrame]:
    with contextlib.ExitStack() as stack:
        buffer = stack.enter_context(_mapped(path))
        if _carriage_returns_only(buffer):
            buffer = _temporary_copy(stack, lambda out: _to_line_feeds(buffer, out))
        header = _read_header(buffer, path, item_columns, mapping, id_column)
        cuts = layout = None
        if header is not None:
            cuts, layout = _batches_of(buffer, header, path, item_columns, batch_rows)
        # the fast path checks UTF-8 itself; else the header or the body is not UTF-8
        if header is None or (
            cuts is None and _first_invalid_utf8(buffer, header.data_start) is not None
        ):
            if header is not None:
                _utf8_body_or_fail(buffer, header.data_start, path)
            gb18030 = buffer
            buffer = _temporary_copy(stack, lambda out: _transcode(gb18030, path, out))
            header = _read_header(buffer, path, item_columns, mapping, id_column)
            if header is None:  # pragma: no cover - transcoded text is UTF-8
                raise InputFileError(path, "cannot decode the header.")
            cuts, layout = _batches_of(buffer, header, path, item_columns, batch_rows)
        if cuts is not None:
            yield from _fast_batches(buffer, header, path, item_columns, id_column, cuts)
        else:
            yield from _polars_batches(layout, path, item_columns, id_column, batch_rows, mapping)


def _batches_of(
    buffer: mmap.mmap | bytes,
    header: _Header,
    path: Path,
    item_columns: Sequence[str],
    batch_rows: int,
) -> tuple[list[int] | None, _Layout | None]:
    """Where the batches of a file start (fast path) or, when the fast path declines, its
    checked layout (polars path); the other of the two is None."""
    cuts = _fast_cuts(buffer, header, item_columns, batch_rows)
    return (cuts, None) if cuts is not None else (None, _check_records(buffer, header, path))


def _temporary_copy(stack: contextlib.ExitStack, write: Callable[[IO[bytes]], None]) -> mmap.mmap:
    """What ``write`` writes (a file converted in bounded memory), as a temporary file,
    memory-mapped; removed when ``stack`` closes."""
    handle = stack.enter_context(tempfile.TemporaryFile(suffix=".csv"))
    write(handle)
    handle.flush()
    return stack.enter_context(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))


def _polars_batches(
    layout: _Layout,
    path: Path,
    item_columns: Sequence[str],
    id_column: str | None,
    batch_rows: int,
    mapping: ColumnMapping | None,
) -> Iterator[pl.DataFrame]:
    cuts = _cut_points(layout, batch_rows)
    start, row = layout.header.data_start, 0
    for stop in [*cuts, layout.header.data_end]:
        if stop <= start:
            continue
        region = layout.buffer[start:stop]
        frame = _parse_region(layout, region, path, item_columns, has_header=False)
        yield _finish(frame, path, item_columns, id_column, row, mapping)
        row += frame.height
        start = stop
    if row != layout.n_records:  # a guard: the cuts must respect record boundaries
        raise _malformed(
            layout.buffer,
            layout.header,
            path,
            f"cannot parse the CSV: found {row} rows where {layout.n_records} lines were "
            "counted (check quotes in the file).",
        )


def _cut_points(layout: _Layout, batch_rows: int) -> list[int]:
    """Offsets (just after a record's line break) where the batches start."""
    buffer, header = layout.buffer, layout.header
    if not layout.parity_ok:
        ends, _ = _exact_records(buffer, header.data_start, header.data_end, len(header.names))
        return ends[batch_rows - 1 : -1 : batch_rows]
    cuts: list[int] = []
    seen = 0  # records finished since the start of the data
    for lo, positions, _ in _scan(buffer, header.data_start, header.data_end, layout.quoted):
        # the k-th record ends at the k-th newline; cut after records batch_rows, 2*batch_rows...
        first = (-seen) % batch_rows or batch_rows
        picks = positions[first - 1 :: batch_rows]
        cuts.extend(int(p) + lo + 1 for p in picks)
        seen += len(positions)
    return cuts


# ------------------------------------------------------------------------- CSV fast path


def _fast_tokens(
    buffer: mmap.mmap | bytes,
    header: _Header,
    item_columns: Sequence[str],
    start: int,
    end: int,
    *,
    store: bool = True,
    every: int = 0,
) -> _csv_kernels.Tokens | None:
    """The cells of the records in ``buffer[start:end]`` when the file is clean (see
    :mod:`screening._csv_kernels`), else None: parse it with polars."""
    if not (_FAST_CSV and header.clean and _only_line_breaks(buffer, header.data_end)):
        return None
    from screening import _csv_kernels  # numba: imported when a CSV is read

    items = set(item_columns)
    is_item = np.array([name in items for name in header.names], dtype=bool)
    data = np.frombuffer(buffer, dtype=np.uint8)
    tokens = _csv_kernels.tokenise(data, start, end, is_item, store=store, every=every)
    if tokens.status != _csv_kernels.OK:
        logger.debug("CSV fast path declined: %s", _csv_kernels.REASONS[tokens.status])
        return None
    return tokens


def _only_line_breaks(buffer: mmap.mmap | bytes, offset: int) -> bool:
    """Whether ``buffer[offset:]`` holds only ``\\n`` and ``\\r\\n`` line breaks."""
    return not buffer[offset:].replace(b"\r\n", b"").replace(b"\n", b"")


def _fast_frame(
    buffer: mmap.mmap | bytes,
    header: _Header,
    item_columns: Sequence[str],
    tokens: _csv_kernels.Tokens,
) -> pl.DataFrame:
    """The frame of tokenised cells: Int8 items, String text, empty cells null."""
    from screening import _csv_kernels

    return _csv_kernels.to_frame(
        np.frombuffer(buffer, dtype=np.uint8), header.names, item_columns, tokens
    )


def _fast_cuts(
    buffer: mmap.mmap | bytes, header: _Header, item_columns: Sequence[str], batch_rows: int
) -> list[int] | None:
    """Check the whole file for the fast path; the offsets where batches 2, 3, ... start,
    or None: parse it with polars."""
    tokens = _fast_tokens(
        buffer,
        header,
        item_columns,
        header.data_start,
        header.data_end,
        store=False,
        every=batch_rows,
    )
    return None if tokens is None else tokens.cuts.tolist()


def _fast_batches(
    buffer: mmap.mmap | bytes,
    header: _Header,
    path: Path,
    item_columns: Sequence[str],
    id_column: str | None,
    cuts: list[int],
) -> Iterator[pl.DataFrame]:
    """The batches of a file that :func:`_fast_cuts` accepted, cut at ``cuts``."""
    bounds = [header.data_start, *cuts, header.data_end]
    row = 0
    for start, stop in itertools.pairwise(bounds):
        tokens = _fast_tokens(buffer, header, item_columns, start, stop)
        if tokens is None:  # pragma: no cover - the whole file was checked
            raise RuntimeError("the CSV fast path declined a part of a file it accepted")
        frame = _fast_frame(buffer, header, item_columns, tokens)
        yield _finish(frame, path, item_columns, id_column, row)
        row += frame.height


# --------------------------------------------------------------------------------- Excel


def _check_xlsx(data: bytes | Path, label: str | Path) -> None:
    """Refuse zip bombs and XML with DTDs or entities before the workbook is parsed.

    Every member is decompressed once in a stream (never held in memory): its real size
    is counted against :data:`MAX_XLSX_UNCOMPRESSED`, its compression ratio against
    :data:`MAX_XLSX_RATIO`, its CRC is verified, and the prolog of every XML member is
    parsed with defusedxml (DTDs, entities and external references forbidden).
    """
    import defusedxml
    import defusedxml.ElementTree as SafeET

    unreadable = (
        "cannot read the Excel file: it is not a valid .xlsx workbook ({}). "
        "Open it in Excel and save it again as .xlsx, or export CSV UTF-8."
    )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data)
    except (zipfile.BadZipFile, OSError) as error:
        raise InputFileError(label, unreadable.format(error)) from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_XLSX_MEMBERS:
            raise InputFileError(label, f"refused: the workbook holds {len(members)} parts.")
        total = 0
        for member in members:
            declared, packed = member.file_size, max(member.compress_size, 1)
            if declared > (1 << 20) and declared > MAX_XLSX_RATIO * packed:
                raise InputFileError(
                    label,
                    f"refused: part {member.filename!r} expands {declared // packed}-fold "
                    f"(limit {MAX_XLSX_RATIO}); this looks like a zip bomb. "
                    "Export the responses again as .xlsx or CSV.",
                )
            total += declared
            if total > MAX_XLSX_UNCOMPRESSED:
                raise InputFileError(
                    label,
                    f"refused: the workbook expands to more than {MAX_XLSX_UNCOMPRESSED >> 20} MiB."
                    " Split it or export CSV.",
                )
            try:
                with archive.open(member) as stream:
                    if member.filename.lower().endswith((".xml", ".rels", ".vml")):
                        for _ in SafeET.iterparse(
                            stream, events=("start",), forbid_dtd=True, forbid_entities=True
                        ):
                            break
                    while stream.read(1 << 20):
                        pass
            except defusedxml.DefusedXmlException:
                raise InputFileError(
                    label,
                    f"refused: part {member.filename!r} declares a DTD or XML entities, which "
                    "real workbooks never do. Export the responses again from Excel.",
                ) from None
            # NotImplementedError: zipfile meets a compression method it cannot read
            except (
                zipfile.BadZipFile,
                SafeET.ParseError,
                OSError,
                EOFError,
                NotImplementedError,
            ) as error:
                detail = f"part {member.filename!r}: {error}"
                raise InputFileError(label, unreadable.format(detail)) from None


#: The text Excel shows for each kind of error cell calamine reports (``Error(Div0)``).
_EXCEL_ERRORS = {
    "Div0": "#DIV/0!",
    "NA": "#N/A",
    "Name": "#NAME?",
    "Null": "#NULL!",
    "Num": "#NUM!",
    "Ref": "#REF!",
    "Value": "#VALUE!",
    "GettingData": "#GETTING_DATA",
}
_ERROR_KIND = re.compile(r"Error\((\w+)\)")
#: Passthrough columns read as Excel shows them when their cells pad numbers with zeros.
_ID_COLUMNS = ("student_id", "school_id", "class_id")


@dataclass
class _Sheet:
    name: str
    visible: bool
    cells: pl.DataFrame  # every cell as text, header row first; trailing empty rows dropped

    @property
    def header(self) -> list[str]:
        """The header cells, stripped, without empty ones at the end (for comparing)."""
        names = [(v or "").strip().lstrip("\ufeff").strip() for v in self.cells.row(0)]
        while names and not names[-1]:
            names.pop()
        return names


def _load_sheets(data: bytes | Path, label: str | Path) -> list[_Sheet]:
    """Every sheet of the workbook, each cell as text. An error cell (``#VALUE!``, a
    formula that failed) is its error text, as Excel saves it to CSV, not an empty cell."""
    import fastexcel  # polars' calamine engine: installed with it

    try:
        reader = fastexcel.read_excel(data)
        sheets = []
        for index, name in enumerate(reader.sheet_names):
            sheet = reader.load_sheet(index, header_row=None, dtypes="string")
            visible = sheet.visible == "visible"
            table, errors = sheet.to_arrow_with_errors()
            cells = pl.DataFrame(table)
            cells.columns = [f"column_{i}" for i in range(cells.width)]
            if errors is not None and errors.errors:
                cells = _with_error_texts(cells, errors.errors)
            sheets.append(_Sheet(name, visible, _drop_trailing_empty(cells)))
    except Exception as error:  # fastexcel raises its own exception types
        raise InputFileError(
            label,
            f"cannot read the Excel file ({type(error).__name__}: {str(error)[:200]}). "
            "Open it in Excel and save it again as .xlsx, or export CSV UTF-8.",
        ) from None
    return sheets


def _with_error_texts(cells: pl.DataFrame, errors: Sequence[Any]) -> pl.DataFrame:
    """Put the text of each error cell where calamine left it empty."""
    by_column: dict[int, dict[int, str]] = {}
    for error in errors:
        row, column = error.position
        match = _ERROR_KIND.search(error.detail)
        text = _EXCEL_ERRORS.get(match.group(1), f"#{match.group(1)}") if match else "#ERROR"
        by_column.setdefault(column, {})[row] = text
    columns = []
    for column, texts in by_column.items():
        values = cells.to_series(column).to_list()
        for row, text in texts.items():
            values[row] = text
        columns.append(pl.Series(cells.columns[column], values, pl.String))
    return cells.with_columns(columns)


def _read_excel(
    data: bytes | Path,
    label: str | Path,
    item_columns: Sequence[str],
    mapping: ColumnMapping | None,
    id_column: str | None,
) -> pl.DataFrame:
    """Read the responses of a workbook: every visible sheet with rows under the same
    header, as one table (see the README: one sheet per class is read whole)."""
    _check_xlsx(data, label)
    sheets = _load_sheets(data, label)
    chosen = _response_sheets(sheets, label)
    names = _resolve_header(chosen[0].cells.row(0), label, item_columns, mapping, id_column)
    if len(sheets) == 1:
        frame = _sheet_frame(data, chosen[0], names)
        return _finish(frame, label, item_columns, id_column, 0, mapping)
    frames = []
    for sheet in chosen:
        where = f"{label} (sheet {sheet.name!r})"
        frame = _sheet_frame(data, sheet, names)
        frames.append(_finish(frame, where, item_columns, id_column, 0, mapping))
    frame = pl.concat(frames, how="vertical_relaxed")
    if id_column is not None and len(frames) > 1:
        sheet_of = pl.Series([s.name for s, f in zip(chosen, frames, strict=True)]).gather(
            pl.Series([i for i, f in enumerate(frames) for _ in range(f.height)])
        )
        rows = pl.concat([pl.int_range(1, f.height + 1, eager=True) for f in frames])
        where = pl.select(pl.format("sheet '{}' row {}", sheet_of, rows)).to_series()
        _check_unique_ids(frame, label, id_column, 0, where=where)
    return frame


def _sheet_frame(data: bytes | Path, sheet: _Sheet, names: list[str]) -> pl.DataFrame:
    """The data rows of a sheet under the final column names, ids as Excel shows them."""
    cells = sheet.cells
    width = len(names)
    if cells.width < width:  # a sheet whose last columns are empty
        cells = cells.with_columns(
            pl.lit(None, pl.String).alias(f"column_{i}") for i in range(cells.width, width)
        )
    elif cells.width > width:  # values beyond the header of the first sheet
        extra = cells.select(cells.columns[width:]).slice(1)
        if extra.null_count().sum_horizontal().item() < extra.width * extra.height:
            names = names + [_unnamed(i) for i in range(width, cells.width)]
        else:
            cells = cells.select(cells.columns[:width])
    frame = cells.slice(1)
    frame.columns = names
    return _zero_padded_ids(data, sheet.name, frame)


def _response_sheets(sheets: list[_Sheet], label: str | Path) -> list[_Sheet]:
    """The sheets that hold the responses: every visible sheet with data rows. Refused:
    none; sheets with data rows under different headers; a hidden sheet with data rows
    under the same header (students nobody sees). Empty sheets, sheets with a header
    only, and hidden sheets of other tables (lookup lists) are left out."""
    if len(sheets) == 1 and sheets[0].visible:  # the usual workbook: messages as before
        cells = sheets[0].cells
        if cells.height <= 1:
            problem = "is empty" if cells.height == 0 else "has a header but no data rows"
            raise InputFileError(label, f"the sheet {sheets[0].name!r} {problem}.")
        return sheets
    data = [s for s in sheets if s.visible and s.cells.height > 1]
    hidden = [s for s in sheets if not s.visible and s.cells.height > 1]
    if not data:
        if hidden:
            raise InputFileError(
                label,
                f"no visible sheet holds responses: only the hidden sheet(s) "
                f"{_listed(s.name for s in hidden)} have rows. Unhide the sheet of the "
                "responses (right-click a sheet tab > Unhide) and save the file again.",
            )
        shown = ", ".join(
            f"{s.name!r} ({'empty' if s.cells.height == 0 else 'a header only'}"
            + ("" if s.visible else ", hidden")
            + ")"
            for s in sheets
        )
        raise InputFileError(
            label, f"no sheet holds data rows: {shown}. Put the responses below the header."
        )
    header = data[0].header
    different = [s for s in data[1:] if s.header != header]
    if different:
        other = different[0]
        raise InputFileError(
            label,
            f"the sheets {_listed(s.name for s in data)} all hold rows, but under different "
            f"headers: sheet {other.name!r} has {_header_difference(header, other.header)} "
            f"of sheet {data[0].name!r}. Every visible sheet with rows is read as part of "
            "one table: give all the sheets of responses the same header (the same columns "
            "in the same order), and delete or hide sheets that hold something else.",
        )
    same = [s for s in hidden if s.header == header]
    if same:
        raise InputFileError(
            label,
            f"the hidden sheet(s) {_listed(s.name for s in same)} hold rows under the same "
            f"header as the visible sheet(s) {_listed(s.name for s in data)}: students "
            "nobody sees would be scored or left out. Unhide them (right-click a sheet "
            "tab > Unhide) to score those students too, or delete them, and save the file "
            "again.",
        )
    return data


def _header_difference(first: list[str], other: list[str]) -> str:
    for index, (a, b) in enumerate(itertools.zip_longest(first, other)):
        if a != b:
            return f"{b!r} in {_column_label(index)} where there is {a!r} in the header"
    return "another header"  # not reached: the headers differ


def _zero_padded_ids(data: bytes | Path, sheet: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Ids typed as numbers into cells formatted to pad with zeros (``00000``) as Excel
    shows them and saves them to CSV (``00123``), not as the stored number (123)."""
    columns = [c for c in _ID_COLUMNS if c in frame.columns]
    numeric = [c for c in columns if frame.get_column(c).str.contains(r"^-?[0-9]+$").any()]
    if not numeric:
        return frame
    from screening import _xlsx

    with zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data) as archive:
        book = _xlsx.workbook(archive)
        member = book.sheets.get(sheet)
        if not book.paddings or member is None:
            return frame
        # the sheet is read a second time (a few seconds per 100,000 rows) only when
        # padding could change an id: one shorter than the widest padding, or literal text
        paddings = book.paddings.values()
        width = max(p.width for p in paddings)
        if not any(p.prefix or p.suffix for p in paddings):
            lengths = [
                frame.get_column(c).str.extract(r"^-?([0-9]+)$").str.len_chars() for c in numeric
            ]
            if not any((n < width).any() for n in lengths):
                return frame
        shown, row0, col0 = _xlsx.padded_cells(archive, member, book.paddings)
    if not shown:
        return frame
    replaced = []
    for name in numeric:
        j = frame.columns.index(name)
        values = frame.get_column(name).to_list()
        changed = False
        for (row, col), (stored, text) in shown.items():
            i = row - row0 - 1  # the frame starts below the header row
            # the cell holds the number calamine read there (else it is not this cell)
            if col - col0 == j and 0 <= i < len(values) and values[i] is not None:
                if re.fullmatch(r"-?[0-9]+", values[i]) and int(values[i]) == stored:
                    values[i] = text
                    changed = True
        if changed:
            replaced.append(pl.Series(name, values, pl.String))
    return frame.with_columns(replaced) if replaced else frame


# ------------------------------------------------------------------------------- Parquet


def _prepare_parquet(
    frame: pl.DataFrame,
    label: str | Path,
    item_columns: Sequence[str],
    mapping: ColumnMapping | None,
    id_column: str | None,
    row_offset: int,
) -> pl.DataFrame:
    names = _resolve_header(frame.columns, label, item_columns, mapping, id_column)
    frame.columns = names
    items = set(item_columns)
    blanks = [  # an empty text cell is null, as in CSV and Excel files
        pl.col(c).replace("", None)
        for c, dtype in frame.schema.items()
        if c not in items and dtype == pl.String and (frame[c].str.len_bytes() == 0).any()
    ]
    if blanks:
        frame = frame.with_columns(blanks)
    return _finish(frame, label, item_columns, id_column, row_offset, mapping)


def _read_parquet(
    source: Path | IO[bytes],
    label: str | Path,
    item_columns: Sequence[str],
    mapping: ColumnMapping | None,
    id_column: str | None,
) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(source)
    except (pl.exceptions.PolarsError, OSError, ValueError) as error:
        raise InputFileError(
            label, f"cannot read the Parquet file: {str(error).splitlines()[0]}"
        ) from None
    if frame.height == 0:
        raise InputFileError(label, "the Parquet file has no rows.")
    return _prepare_parquet(frame, label, item_columns, mapping, id_column, 0)


def _parquet_batches(
    path: Path,
    item_columns: Sequence[str],
    mapping: ColumnMapping | None,
    id_column: str | None,
    batch_rows: int,
) -> Iterator[pl.DataFrame]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises ArrowInvalid and OSError subclasses
        raise InputFileError(path, f"cannot read the Parquet file: {error}") from None
    if parquet.metadata.num_rows == 0:
        raise InputFileError(path, "the Parquet file has no rows.")
    row = 0
    with parquet:
        for batch in parquet.iter_batches(batch_size=batch_rows):
            frame = pl.from_arrow(batch)
            yield _prepare_parquet(frame, path, item_columns, mapping, id_column, row)
            row += frame.height
