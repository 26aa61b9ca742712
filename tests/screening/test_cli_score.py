"""``screening score`` end to end: outputs, atomicity, chunking, encodings, mapping, errors."""

from __future__ import annotations

import codecs
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from screening.cli import main

PHQ = [f"phq9_{i}" for i in range(1, 10)]
GAD = [f"gad7_{i}" for i in range(1, 8)]


def city(n: int = 300, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {
        "student_id": [f"学{i:05d}" for i in range(n)],
        "school_id": [f"S{i % 4:03d}" for i in range(n)],
        "grade": [str(4 + i % 9) for i in range(n)],
        "sex": rng.choice(["男", "女"], n).tolist(),
    }
    level = rng.integers(0, 4, n)
    for column in PHQ + GAD:
        answers = np.clip(level + rng.integers(-1, 2, n), 0, 3).astype(float)
        answers[rng.random(n) < 0.03] = np.nan
        data[column] = answers
    frame = pl.DataFrame(data).with_columns(pl.col(PHQ + GAD).fill_nan(None).cast(pl.Int8))
    return frame


def run(*args: str | Path) -> int:
    return main([str(a) for a in args])


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "responses.csv"
    city().write_csv(path)
    return path


def test_score_writes_results_and_run_record(csv_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("score", csv_file, "--battery", "default", "--out", out, "-q") == 0
    results = pl.read_parquet(out / "scores.parquet")
    assert results.height == 300
    assert results["student_id"].to_list() == city()["student_id"].to_list()
    record = json.loads((out / "run.json").read_text("utf-8"))
    assert record["counts"]["rows_in"] == record["counts"]["rows_out"] == 300
    assert sum(record["counts"]["status"].values()) == 300
    assert sum(record["counts"]["tier"].values()) == 300
    assert len(record["inputs"][0]["sha256"]) == 64
    assert [i["id"] for i in record["instruments"]] == ["phq9", "gad7"]
    assert all(len(i["sha256"]) == 64 for i in record["instruments"])
    assert {row["school_id"] for row in record["quality_by_school"]} == {
        "S000",
        "S001",
        "S002",
        "S003",
    }
    assert set(results.columns) >= {
        "phq9.total",
        "phq9.total.band",
        "gad7.total",
        "tier",
        "tier_label",
        "status",
        "reasons",
    }


def test_chunked_equals_in_memory(csv_file: Path, tmp_path: Path) -> None:
    assert run("score", csv_file, "--out", tmp_path / "a", "-q") == 0
    assert run("score", csv_file, "--out", tmp_path / "b", "--chunk-rows", "1000", "-q") == 0
    big = tmp_path / "big.csv"
    pl.concat(
        [city(1500, seed=s).with_columns(pl.col("student_id") + str(s)) for s in range(3)]
    ).write_csv(big)
    assert run("score", big, "--out", tmp_path / "c", "-q") == 0
    assert run("score", big, "--out", tmp_path / "d", "--chunk-rows", "1000", "-q") == 0
    a, b = (pl.read_parquet(tmp_path / x / "scores.parquet") for x in "ab")
    c, d = (pl.read_parquet(tmp_path / x / "scores.parquet") for x in "cd")
    assert a.equals(b)
    assert c.equals(d) and c.height == 4500


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_encodings_give_identical_results(csv_file: Path, tmp_path: Path, encoding: str) -> None:
    text = csv_file.read_text("utf-8")
    encoded = tmp_path / f"{encoding}.csv"
    encoded.write_bytes(text.encode(encoding))
    assert run("score", csv_file, "--out", tmp_path / "ref", "-q") == 0
    assert run("score", encoded, "--out", tmp_path / encoding, "-q") == 0
    reference = pl.read_parquet(tmp_path / "ref" / "scores.parquet")
    assert pl.read_parquet(tmp_path / encoding / "scores.parquet").equals(reference)


def test_mapping_of_chinese_headers_and_excel(tmp_path: Path) -> None:
    frame = city(50)
    renamed = frame.rename(
        {"student_id": "学号", "school_id": "学校", **{c: f"题{i + 1}" for i, c in enumerate(PHQ)}}
    )
    xlsx = tmp_path / "answers.xlsx"
    renamed.write_excel(xlsx)
    mapping = tmp_path / "mapping.toml"
    lines = ['"学号" = "student_id"', '"学校" = "school_id"'] + [
        f'"题{i + 1}" = "{c}"' for i, c in enumerate(PHQ)
    ]
    mapping.write_text("[columns]\n" + "\n".join(lines) + "\n", encoding="utf-8")
    assert run("score", xlsx, "--map", mapping, "--out", tmp_path / "x", "-q") == 0
    csv = tmp_path / "plain.csv"
    frame.write_csv(csv)
    assert run("score", csv, "--out", tmp_path / "y", "-q") == 0
    x, y = (pl.read_parquet(tmp_path / d / "scores.parquet") for d in "xy")
    assert x.drop("grade", "sex").equals(y.drop("grade", "sex"))


def test_invalid_answer_fails_and_leaves_no_output(tmp_path: Path, capsys) -> None:
    frame = city(40).with_columns(pl.col("phq9_3").cast(pl.String))
    frame = frame.with_columns(frame["phq9_3"].scatter([5, 9], ["7", "often"]))
    path = tmp_path / "bad.csv"
    frame.write_csv(path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "scores.parquet").write_bytes(b"previous run")
    assert run("score", path, "--out", out, "-q") == 2
    error = capsys.readouterr().err
    assert "Item 'phq9_3' of instrument 'phq9' must be an integer in [0, 3]" in error
    assert "row 6" in error and "学00005" in error and "'often'" in error
    assert (out / "scores.parquet").read_bytes() == b"previous run"
    assert sorted(p.name for p in out.iterdir()) == ["scores.parquet"]


def test_invalid_answer_names_its_file_among_several(tmp_path: Path, capsys) -> None:
    good, bad = tmp_path / "school_a.csv", tmp_path / "school_b.csv"
    city(40).write_csv(good)
    frame = city(80).slice(40).with_columns(pl.col("phq9_3").cast(pl.String))
    frame.with_columns(frame["phq9_3"].scatter([2], ["7"])).write_csv(bad)
    assert run("score", good, bad, "--out", tmp_path / "out", "-q") == 2
    error = capsys.readouterr().err
    assert f"{bad}: 1 invalid answer in 1 row" in error and "row 3" in error
    assert str(good) not in error
    assert not (tmp_path / "out").exists()


def test_on_invalid_flag_keeps_every_row(tmp_path: Path) -> None:
    frame = city(40).with_columns(pl.col("gad7_1").cast(pl.String))
    frame = frame.with_columns(frame["gad7_1"].scatter([0], ["9"]))
    path = tmp_path / "bad.csv"
    frame.write_csv(path)
    out = tmp_path / "out"
    assert run("score", path, "--out", out, "--on-invalid", "flag", "--format", "csv", "-q") == 0
    results = pl.read_csv(out / "scores.csv", infer_schema=False)
    assert results.height == 40
    assert results["status"][0] == "invalid"
    assert "invalid answer gad7_1 = '9'" in results["reasons"][0]
    failures = pl.read_csv(out / "failures.csv")
    assert failures.select("row", "column", "value").row(0) == (1, "gad7_1", 9)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty"),
        (b"student_id," + ",".join(PHQ + GAD).encode() + b"\n", "no data rows"),
        (b"student_id,phq9_1\nA,1\n", "missing item columns"),
        (
            b"student_id,"
            + ",".join(PHQ + GAD).encode()
            + b"\nA,"
            + b"0," * 15
            + b"0\nA,"
            + b"1," * 15
            + b"1\n",
            "duplicate",
        ),
        (b"student_id," + ",".join(PHQ + GAD).encode() + b"\nA," + b"0," * 15 + b"0,9\n", "line 2"),
        (b"student_id," + ",".join(PHQ + GAD).encode() + b"\nA\x00," + b"0," * 15 + b"0\n", "NUL"),
    ],
    ids=["empty", "header-only", "missing-columns", "duplicate-ids", "ragged", "nul-bytes"],
)
def test_malformed_files_fail_clearly_without_output(
    tmp_path: Path, capsys, content: bytes, fragment: str
) -> None:
    path = tmp_path / "input.csv"
    path.write_bytes(content)
    out = tmp_path / "out"
    assert run("score", path, "--out", out, "-q") == 2
    assert fragment.lower() in capsys.readouterr().err.lower()
    assert not out.exists() or not any(out.iterdir())


def test_single_instrument_has_bands_but_no_tiers(tmp_path: Path) -> None:
    path = tmp_path / "who5.csv"
    pl.DataFrame(
        {"student_id": ["a", "b"], **{f"who5_{i}": [5, 1] for i in range(1, 6)}}
    ).write_csv(path)
    assert run("score", path, "--instrument", "who5", "--out", tmp_path / "o", "-q") == 0
    results = pl.read_parquet(tmp_path / "o" / "scores.parquet")
    assert "tier" not in results.columns
    assert results["who5.raw"].to_list() == [25.0, 5.0]
    assert results["who5.percentage"].to_list() == [100.0, 20.0]


def test_console_script_runs_from_outside_the_repository(csv_file: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "screening.cli",
            "score",
            str(csv_file),
            "--out",
            str(tmp_path / "o"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "300" in done.stdout and "scores.parquet" in done.stdout


def test_student_in_two_input_files_is_an_error(tmp_path: Path, capsys) -> None:
    frame = city(20)
    frame.head(12).write_csv(tmp_path / "a.csv")
    frame.tail(10).write_csv(tmp_path / "b.csv")  # rows 10 and 11 are in both files
    assert run("score", tmp_path / "a.csv", tmp_path / "b.csv", "--out", tmp_path / "o", "-q") == 2
    error = capsys.readouterr().err
    assert (
        "student ids that appear in more than one input file: 2 (" in error and "学00010" in error
    )
    assert f"{tmp_path / 'a.csv'} (row 11), {tmp_path / 'b.csv'} (row 1)" in error
    assert not (tmp_path / "o").exists()
    # two schools' files that number their students alike are two sets of students
    other = frame.tail(10).with_columns(school_id=pl.lit("ANOTHER"))
    other.write_csv(tmp_path / "d.csv")
    assert run("score", tmp_path / "a.csv", tmp_path / "d.csv", "--out", tmp_path / "o", "-q") == 0
    shutil.rmtree(tmp_path / "o")
    frame.tail(8).write_csv(tmp_path / "c.csv")
    assert run("score", tmp_path / "a.csv", tmp_path / "c.csv", "--out", tmp_path / "o", "-q") == 0
    assert pl.read_parquet(tmp_path / "o" / "scores.parquet").height == 20


def test_quality_flag_records_per_school_checks(csv_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "q"
    assert run("score", csv_file, "--out", out, "--quality", "-q") == 0
    record = json.loads((out / "run.json").read_text("utf-8"))
    quality = {row["school_id"]: row for row in record["quality"]}
    assert set(quality) == {"S000", "S001", "S002", "S003"}
    assert all(0 < row["alpha_min"] <= 1 for row in quality.values())
    assert {"hash", "write", "summaries", "validate", "kernel", "read"} <= set(record["timings_s"])


@pytest.mark.parametrize("chunk_rows", ["0", "1000"])
def test_csv_outputs_open_in_chinese_excel(tmp_path: Path, chunk_rows: str) -> None:
    """Results and failures as CSV carry one UTF-8 byte-order mark (Excel reads a CSV
    without it as GBK), also when the results are written batch by batch."""
    frame = city(2500).with_columns(pl.col("phq9_3").cast(pl.String))
    frame.with_columns(frame["phq9_3"].scatter([3], ["7"])).write_csv(tmp_path / "in.csv")
    out = tmp_path / "out"
    options = ["--format", "csv", "--on-invalid", "flag", "-q"]
    options += ["--chunk-rows", chunk_rows] if chunk_rows != "0" else []
    assert run("score", tmp_path / "in.csv", "--out", out, *options) == 0
    for name in ("scores.csv", "failures.csv"):
        data = (out / name).read_bytes()
        assert data.startswith(codecs.BOM_UTF8) and data.count(codecs.BOM_UTF8) == 1
    results = pl.read_csv(out / "scores.csv")
    assert results.height == 2500 and results["student_id"][0] == "学00000"
    assert pl.read_csv(out / "failures.csv")["row"].to_list() == [4]


def test_several_files_keep_every_passthrough_column(tmp_path: Path) -> None:
    """A column that only a later file has is kept (the first file's rows are empty
    there), and the columns do not depend on the order of the files."""
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    city(30).drop("sex").write_csv(first)
    later = city(60).slice(30).drop("grade")
    later.with_columns(class_id=pl.col("school_id") + "-1").write_csv(second)
    outputs = []
    for k, order in enumerate(((first, second), (second, first))):
        assert run("score", *order, "--out", tmp_path / f"o{k}", "-q") == 0
        outputs.append(pl.read_parquet(tmp_path / f"o{k}" / "scores.parquet"))
    ab, ba = outputs
    assert ab.columns[:5] == ["student_id", "school_id", "class_id", "grade", "sex"]
    assert ab.columns == ba.columns
    assert ab["class_id"].null_count() == 30 and ab["class_id"][30:].null_count() == 0
    assert ab["grade"][:30].null_count() == 0 and ab["grade"][30:].null_count() == 30
    assert ab["sex"][:30].null_count() == 30 and ab["sex"][30:].null_count() == 0
    assert ab.sort("student_id").equals(ba.sort("student_id"))


def test_several_files_in_batches_equal_one_file_at_a_time(tmp_path: Path) -> None:
    """Batches of several inputs are read ahead in a thread: same rows, order, counts and
    row numbers as scoring the files one by one, each file's own hash and row count."""
    import hashlib

    paths = []
    for k, n in enumerate((2500, 300, 1700)):
        frame = city(n, seed=k).with_columns(pl.col("student_id") + f"-{k}")
        paths.append(tmp_path / f"part{k}.csv")
        frame.write_csv(paths[-1])
    out = tmp_path / "all"
    assert run("score", *paths, "--out", out, "--chunk-rows", "1000", "-q") == 0
    singles = []
    for k, path in enumerate(paths):
        assert run("score", path, "--out", tmp_path / f"one{k}", "-q") == 0
        singles.append(pl.read_parquet(tmp_path / f"one{k}" / "scores.parquet"))
    together = pl.read_parquet(out / "scores.parquet")
    assert together.select(singles[0].columns).equals(pl.concat(singles))
    added = [c for c in together.columns if c not in singles[0].columns]
    assert together.select(added).null_count().row(0) == (together.height,) * len(added)
    record = json.loads((out / "run.json").read_text("utf-8"))
    assert [i["rows"] for i in record["inputs"]] == [2500, 300, 1700]
    assert [i["sha256"] for i in record["inputs"]] == [
        hashlib.sha256(p.read_bytes()).hexdigest() for p in paths
    ]


def test_bad_later_input_leaves_the_previous_output(tmp_path: Path, capsys) -> None:
    good = tmp_path / "good.csv"
    city(2500).write_csv(good)
    out = tmp_path / "out"
    assert run("score", good, "--out", out, "-q") == 0
    before = (out / "scores.parquet").read_bytes()
    bad = city(1200, seed=9).with_columns(pl.col("student_id") + "-b")
    bad = bad.with_columns(
        pl.when(pl.int_range(pl.len()) == 1100).then(7).otherwise("phq9_3").alias("phq9_3")
    )
    bad.write_csv(tmp_path / "bad.csv")
    code = run("score", good, tmp_path / "bad.csv", "--out", out, "--chunk-rows", "1000", "-q")
    assert code != 0
    error = capsys.readouterr().err
    assert "phq9_3" in error and "row 1101" in error  # counted within bad.csv, across batches
    assert (out / "scores.parquet").read_bytes() == before


@pytest.mark.slow
def test_read_ahead_is_safe_on_numba_workqueue_threads(tmp_path: Path) -> None:
    """numba's workqueue layer aborts on concurrent parallel launches; the batch run reads
    (CSV kernel) in one thread while it scores (scoring kernel) in another."""
    paths = []
    for k in range(3):
        paths.append(tmp_path / f"p{k}.csv")
        city(2500, seed=k).with_columns(pl.col("student_id") + f"-{k}").write_csv(paths[-1])
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue"}
    command = [sys.executable, "-m", "screening.cli", "score", *map(str, paths)]
    command += ["--chunk-rows", "1000", "-q", "--out", str(tmp_path / "o")]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert pl.read_parquet(tmp_path / "o" / "scores.parquet").height == 7500


LABELS = ["完全不会", "好几天", "一半以上的天数", "几乎每天"]


def test_survey_export_with_answer_labels(tmp_path: Path, capsys) -> None:
    """A 问卷星-style export: Chinese headers, GBK, the text of each chosen option."""
    frame = city(40)
    headers = {"student_id": "学号", **{c: f"题{i}" for i, c in enumerate(PHQ + GAD, 1)}}
    labelled = frame.select(
        pl.col("student_id"),
        *(pl.col(c).map_elements(LABELS.__getitem__, return_dtype=pl.String) for c in PHQ + GAD),
    ).rename(headers)
    path = tmp_path / "wjx.csv"
    path.write_bytes(labelled.write_csv().encode("gbk"))
    mapping = tmp_path / "wjx.toml"
    lines = ["[columns]", *(f'"{h}" = "{c}"' for c, h in headers.items()), "[answers]"]
    lines += [f'"{label}" = {code}' for code, label in enumerate(LABELS)]
    mapping.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert run("score", path, "--map", mapping, "--out", tmp_path / "labels", "-q") == 0
    codes = tmp_path / "codes.csv"
    frame.select("student_id", *PHQ, *GAD).write_csv(codes)
    assert run("score", codes, "--out", tmp_path / "codes", "-q") == 0
    got, expected = (pl.read_parquet(tmp_path / d / "scores.parquet") for d in ("labels", "codes"))
    assert got.equals(expected)

    mapping.write_text(mapping.read_text("utf-8").replace('"几乎每天" = 3\n', ""), "utf-8")
    out = tmp_path / "missing-label"
    assert run("score", path, "--map", mapping, "--out", out, "-q") == 2
    assert not out.exists()
    error = capsys.readouterr().err
    assert f"'几乎每天' is not among the answer labels of [answers] in {mapping}" in error
    assert f"In the files' own headers ({mapping}): phq9_1 is '题1'" in error


def test_results_in_the_other_format_are_removed(csv_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert run("score", csv_file, "--battery", "default", "--out", out, "-q") == 0
    assert (
        run("score", csv_file, "--battery", "default", "--out", out, "-q", "--format", "csv") == 0
    )
    assert sorted(p.name for p in out.iterdir()) == ["run.json", "scores.csv"]
    assert run("score", csv_file, "--battery", "default", "--out", out, "-q") == 0
    assert sorted(p.name for p in out.iterdir()) == ["run.json", "scores.parquet"]
    # an input is never removed, even one named like our results in the output folder
    (out / "scores.csv").write_bytes(csv_file.read_bytes())
    assert run("score", out / "scores.csv", "--battery", "default", "--out", out, "-q") == 0
    assert sorted(p.name for p in out.iterdir()) == ["run.json", "scores.csv", "scores.parquet"]
    assert run("score", out / "scores.csv", "--out", out, "-q", "--format", "csv") != 0
    assert (out / "scores.csv").read_bytes() == csv_file.read_bytes()  # refused, kept
    assert "would write its results over this input file" in capsys.readouterr().err


@pytest.mark.parametrize("chunk_rows", [None, 1000])
def test_every_invalid_answer_of_every_file_is_reported(tmp_path: Path, capsys, chunk_rows) -> None:
    # a district centre fixes all its schools' files after one run, not one batch per run
    first, second, out = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "out"
    a = city(2500).with_columns(pl.col("phq9_3").cast(pl.String))
    a.with_columns(a["phq9_3"].scatter([5, 2400], ["7", "9"])).write_csv(first)
    b = city(300, seed=9).with_columns(
        pl.col("student_id") + "-b", pl.col("gad7_1").cast(pl.String)
    )
    b.with_columns(b["gad7_1"].scatter([10], ["x"])).write_csv(second)
    chunks = ["--chunk-rows", str(chunk_rows)] if chunk_rows else []
    assert run("score", first, second, "--out", out, "-q", *chunks) == 2
    error = capsys.readouterr().err
    assert f"{first}: 2 invalid answers in 2 rows" in error and "'7', '9' in 2 rows" in error
    assert f"{second}: 1 invalid answer in 1 row" in error and "(first: row 11," in error
    assert error.count("Correct the answers") == 1
    assert not out.exists()
    # a later file that cannot be read is named after them, not instead of them
    unreadable = tmp_path / "c.csv"
    unreadable.write_text("student_id\nx\n", encoding="utf-8")
    assert run("score", first, unreadable, "--out", out, "-q", *chunks) == 2
    error = capsys.readouterr().err
    assert f"{first}: 2 invalid answers" in error
    assert f"Then: {unreadable}: missing item columns" in error
    # ... and given first, it hides neither the others' answers nor another such file
    again = tmp_path / "d.csv"
    again.write_bytes(b"")
    assert run("score", unreadable, first, again, "--out", out, "-q", *chunks) == 2
    error = capsys.readouterr().err
    assert f"{first}: 2 invalid answers" in error
    assert f"Then: {unreadable}: missing item columns" in error
    assert f"Then: {again}: the file is empty" in error
    for mode in ("flag", "raise"):  # unreadable files alone: each named, nothing written
        args = ("score", unreadable, second, again, "--out", out, "-q", "--on-invalid", mode)
        assert run(*args, *chunks) == 2
        error = capsys.readouterr().err
        assert f"{unreadable}: missing item columns" in error and f"{again}: the file" in error
        assert ("invalid answer" in error) == (mode == "raise") and not out.exists()


def test_ids_excel_rounded_that_now_collide_are_not_to_be_deleted(tmp_path: Path, capsys) -> None:
    """Two students whose 18-digit ids share their first 15 digits collide once Excel has
    rounded them: the duplicate error says not to delete rows, within a file and across
    files, and a chunked run with a blank, id-less row reads through."""
    frame = city(30).with_columns(
        pl.Series("student_id", [f"1101012008{n:05d}000" for n in range(30)])
    )
    one = frame.with_columns(frame["student_id"].scatter(7, frame["student_id"][3]))
    one.write_csv(tmp_path / "one.csv")
    assert run("score", tmp_path / "one.csv", "--out", tmp_path / "o", "-q") == 2
    error = capsys.readouterr().err
    assert "in rows 4, 8" in error and "do not delete these rows" in error
    frame.head(10).write_csv(tmp_path / "a.csv")
    frame.slice(9, 10).write_csv(tmp_path / "b.csv")  # row 10 of a is row 1 of b
    assert run("score", tmp_path / "a.csv", tmp_path / "b.csv", "--out", tmp_path / "o", "-q") == 2
    error = capsys.readouterr().err
    assert "more than one input file" in error and "do not delete these rows" in error
    assert "give every file a school_id column" not in error  # they have one
    # a row with neither id nor answers in the first batch only
    blank = frame.with_columns(frame[c].scatter(0, None) for c in ["student_id", *PHQ, *GAD])
    blank.write_csv(tmp_path / "blank.csv")
    from screening.batch import score_files

    summary = score_files(
        [tmp_path / "blank.csv"], tmp_path / "c", battery="default", chunk_rows=10
    )
    assert any("rows that answered no item at all: 1 of 30." in w for w in summary.warnings)


STOP_SCRIPT = """
import os, signal, sys
import screening.batch as batch
from screening.cli import run

original = batch.school_counts
stop = getattr(signal, sys.argv[1])

def counts_then_stop(*args, **kwargs):
    result = original(*args, **kwargs)
    os.kill(os.getpid(), stop)  # as `kill <pid>` would, mid-run
    return result

batch.school_counts = counts_then_stop
sys.argv = ["screening", *sys.argv[2:]]
run()
"""


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("SIGTERM", ["score", "{csv}", "--format", "csv", "--out", "{out}", "-q"]),
        ("SIGHUP", ["score", "{csv}", "--out", "{out}", "-q"]),
        ("SIGTERM", ["demo", "-n", "300", "--out", "{out}", "-q"]),
    ],
)
def test_a_stopped_command_says_so_and_leaves_nothing(
    csv_file: Path, tmp_path: Path, name: str, args: list[str]
) -> None:
    """``timeout``, systemd or a closed terminal stop a run: the command removes its partial
    outputs (students' answers), says that nothing was written, and exits 128 + signal."""
    out = tmp_path / "out"
    argv = [a.format(csv=csv_file, out=out) for a in args]
    done = subprocess.run(
        [sys.executable, "-c", STOP_SCRIPT, name, *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 128 + getattr(signal, name), done.stderr
    assert f"stopped by {name}: the run did not finish and nothing was written" in done.stderr
    assert "Traceback" not in done.stderr
    if args[0] == "score":
        assert sorted(p.name for p in tmp_path.iterdir()) == ["responses.csv"]
    else:  # the synthetic city was written in full; no results, nothing staged
        assert sorted(p.name for p in out.iterdir()) == ["responses.csv"]
