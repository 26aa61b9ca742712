"""Norm tables: percentile ranks and T-scores against scipy and numpy, JSON round trip."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest
from scipy import stats

from screening.errors import ResponseValidationError
from screening.scoring._frames import PsychometricInputError
from screening.scoring.norms import NormsWarning, NormTable, apply_norms, norms


def _sample(n=900, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, size=(n, 9))
    frame = pl.DataFrame({f"phq9_{j + 1}": x[:, j] for j in range(9)})
    return frame.with_columns(
        grade=pl.Series(rng.choice([7, 8, 9], n)),
        sex=pl.Series(rng.choice(["F", "M"], n)),
        student_id=pl.Series([f"S{i}" for i in range(n)]),
    )


def test_norms_equal_scipy_and_numpy():
    frame = _sample()
    table = norms(frame, "phq9", ["grade", "sex"], version="test-1")
    totals = frame.select(pl.sum_horizontal(pl.col(r"^phq9_\d$")).alias("total"), "grade", "sex")
    assert table.groups.height == 6
    for row in table.groups.iter_rows(named=True):
        sel = totals.filter(
            (pl.col("grade").cast(pl.String) == row["grade"]) & (pl.col("sex") == row["sex"])
        )["total"].to_numpy()
        assert row["n"] == sel.size
        assert row["mean"] == pytest.approx(sel.mean(), abs=1e-12)
        assert row["sd"] == pytest.approx(sel.std(ddof=1), abs=1e-12)
        assert row["scores"] == sorted(set(sel.astype(float).tolist()))
        want = [stats.percentileofscore(sel, s, kind="mean") for s in row["scores"]]
        np.testing.assert_allclose(row["percentiles"], want, atol=1e-10)


def test_norms_from_scored_results_equal_norms_from_answers():
    frame = _sample()
    scored = frame.select(
        "grade", "sex", pl.sum_horizontal(pl.col(r"^phq9_\d$")).cast(pl.Float64).alias("phq9.total")
    )
    a = norms(frame, "phq9", ["grade", "sex"], version="v").groups
    b = norms(scored, "phq9", ["grade", "sex"], version="v").groups
    assert a.equals(b)


def test_apply_norms_gives_t_scores_and_percentiles(tmp_path):
    frame = _sample()
    table = norms(frame, "phq9", ["grade", "sex"], version="2024-test")
    path = tmp_path / "phq9-norms.json"
    table.write(path)
    again = NormTable.read(path)
    assert again.groups.equals(table.groups)
    assert again.version == "2024-test" and again.instrument_sha256 == table.instrument_sha256
    results = pl.DataFrame(
        {
            "grade": ["7", "7", "10", "8"],
            "sex": ["F", "F", "F", None],
            "phq9.total": [9.0, 9.5, 9.0, 12.0],
        }
    )
    with pytest.warns(NormsWarning, match="2 scored rows found no phq9 norms"):
        out = apply_norms(results, again)
    g = again.groups.filter((pl.col("grade") == "7") & (pl.col("sex") == "F")).row(0, named=True)
    assert out["phq9.total.t"][0] == pytest.approx(50 + 10 * (9 - g["mean"]) / g["sd"])
    pr9 = g["percentiles"][g["scores"].index(9.0)]
    pr10 = g["percentiles"][g["scores"].index(10.0)]
    assert out["phq9.total.percentile"][0] == pytest.approx(pr9)
    assert out["phq9.total.percentile"][1] == pytest.approx((pr9 + pr10) / 2)  # prorated
    assert out["phq9.total.t"][2] is None  # grade 10 has no norms
    assert out["phq9.total.percentile"][3] is None  # sex unknown


def test_bad_norm_requests_are_explained(tmp_path):
    frame = _sample(n=50)
    with pytest.raises(PsychometricInputError, match=r"Group columns \['school'\]"):
        norms(frame, "phq9", ["school"])
    bad = tmp_path / "x.json"
    bad.write_text('{"format": "other"}', encoding="utf-8")
    with pytest.raises(PsychometricInputError, match="not a norm table"):
        NormTable.read(bad)
    table = norms(frame, "phq9", ["grade"], version="v")
    with pytest.raises(PsychometricInputError, match="group columns"):
        apply_norms(pl.DataFrame({"phq9.total": [1.0]}), table)


def test_norms_command_writes_a_table(tmp_path):
    from screening.cli import main
    from screening.demo import generate_city, write_city

    path = tmp_path / "city.csv"
    write_city(generate_city(3000, n_schools=4, seed=1, instruments=("phq9",)), path)
    out = tmp_path / "phq9-norms.json"
    code = main(
        [
            "norms",
            str(path),
            "-i",
            "phq9",
            "--by",
            "grade,sex",
            "--version",
            "t1",
            "--min-n",
            "20",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    table = NormTable.read(out)
    assert table.version == "t1" and table.by == ["grade", "sex"]
    assert (table.groups["n"] >= 20).all()
    assert (
        main(
            [
                "norms",
                str(path),
                "-i",
                "phq9",
                "--by",
                "nope",
                "--version",
                "x",
                "--out",
                str(tmp_path / "x.json"),
            ]
        )
        == 2
    )


def test_norms_command_refuses_an_empty_table_or_version(tmp_path, capsys):
    from screening.cli import main
    from screening.demo import generate_city, write_city

    path = tmp_path / "city.csv"
    write_city(generate_city(300, n_schools=1, seed=2, instruments=("phq9",)), path)
    out = tmp_path / "n.json"
    base = ["norms", str(path), "-i", "phq9", "--out", str(out)]
    assert main([*base, "--version", "v1", "--min-n", "500"]) != 0
    assert "no group (grade, sex) has 500 or more scores of phq9" in capsys.readouterr().err
    assert main([*base, "--version", " "]) != 0
    assert "give the norm table a version" in capsys.readouterr().err
    assert not out.exists()


def _with_invalid(frame: pl.DataFrame) -> pl.DataFrame:
    """Answer 99 in phq9_2 of rows 4 and 6, and 'x' in phq9_5 of row 7."""
    row = pl.int_range(pl.len())
    return frame.with_columns(
        pl.when(row.is_in([3, 5])).then(99).otherwise(pl.col("phq9_2")).alias("phq9_2"),
        pl.when(row == 6)
        .then(pl.lit("x"))
        .otherwise(pl.col("phq9_5").cast(pl.String))
        .alias("phq9_5"),
    )


def test_norms_refuse_invalid_answers_as_score_does():
    frame = _with_invalid(_sample(n=60))
    with pytest.raises(ResponseValidationError) as error:
        norms(frame, "phq9", ["grade"], version="v")
    message = str(error.value)
    assert "3 invalid answers in 3 rows" in message
    assert "Item 'phq9_2' of instrument 'phq9' must be an integer in [0, 3]" in message
    assert "Got '99' in 2 rows (first: row 4, student 'S3')" in message
    assert "Got 'x' in 1 row (first: row 7, student 'S6')" in message
    assert error.value.failure_cases["row"].to_list() == [4, 6, 7]
    with pytest.raises(PsychometricInputError, match="on_invalid must be 'raise' or 'flag'"):
        norms(frame, "phq9", ["grade"], on_invalid="missing")


def test_norms_on_invalid_flag_counts_invalid_answers_as_missing():
    frame = _with_invalid(_sample(n=60))
    flagged = norms(frame, "phq9", ["grade"], version="v", on_invalid="flag").groups
    blanked = frame.with_columns(
        pl.when(pl.col("phq9_2") <= 3).then(pl.col("phq9_2")).alias("phq9_2"),
        pl.col("phq9_5").cast(pl.Int64, strict=False),
    )
    assert flagged.equals(norms(blanked, "phq9", ["grade"], version="v").groups)


def test_norms_command_names_the_file_row_and_value_of_invalid_answers(tmp_path, capsys):
    from screening.cli import main

    path = tmp_path / "sample.csv"
    _with_invalid(_sample(n=60)).write_csv(path)
    out = tmp_path / "n.json"
    base = ["norms", str(path), "-i", "phq9", "--by", "grade", "--version", "v", "--out", str(out)]
    assert main([*base, "--min-n", "1"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: 3 invalid answers in 3 rows" in err
    assert "Got '99' in 2 rows (first: row 4, student 'S3')" in err
    assert not out.exists()
    assert main([*base, "--min-n", "1", "--on-invalid", "flag"]) == 0
    assert NormTable.read(out).groups["n"].sum() == 60


@pytest.mark.filterwarnings("error")
def test_group_keys_match_whatever_their_dtype():
    frame = _sample()
    table = norms(frame, "phq9", ["grade", "sex"], version="v")
    scored = frame.select("grade", "sex").with_columns(pl.lit(9.0).alias("phq9.total"))
    want = apply_norms(scored, table)
    assert want["phq9.total.t"].null_count() == 0
    # pandas reads a grade column with an empty cell as float64: 7.0
    for grade in (pl.col("grade").cast(pl.Float64), pl.col("grade").cast(pl.String) + ".0"):
        got = apply_norms(scored.with_columns(grade.alias("grade")), table)
        assert got.drop("grade").equals(want.drop("grade"))
    # and norms built from such a column store the keys "7", "8", "9"
    as_float = norms(frame.with_columns(pl.col("grade").cast(pl.Float64)), "phq9", ["grade", "sex"])
    assert as_float.groups.select("grade", "sex").equals(table.groups.select("grade", "sex"))
    # a table written before keys were normalised ("7.0")
    old = NormTable(
        **{**table.__dict__, "groups": table.groups.with_columns(pl.col("grade") + ".0")}
    )
    assert apply_norms(scored, old).equals(want)


def test_rows_without_norms_of_their_group_are_reported():
    table = norms(_sample(), "phq9", ["grade"], version="v")
    results = pl.DataFrame(
        {"grade": [7, 10, 10, 11, None], "phq9.total": [9.0, 9.0, 3.0, None, 4.0]}
    )
    message = (
        r"3 scored rows found no phq9 norms \(table version 'v'\) for their group: "
        r"grade='10' \(2 rows\), grade=None \(1 row\)\. Their T-scores and percentiles are null\. "
        r"The table has grade in \['7', '8', '9'\]"
    )
    with pytest.warns(NormsWarning, match=message):
        out = apply_norms(results, table)
    assert out["phq9.total.t"].is_null().to_list() == [False, True, True, True, True]
    with pytest.raises(PsychometricInputError, match=message):
        apply_norms(results, table, unmatched="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert apply_norms(results, table, unmatched="ignore").equals(out)
    with pytest.raises(PsychometricInputError, match="unmatched must be"):
        apply_norms(results, table, unmatched="skip")
