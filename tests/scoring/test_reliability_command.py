"""``screening reliability``: files, report, flagged schools, errors."""

from __future__ import annotations

import polars as pl
import pytest

from screening.cli import main
from screening.demo import generate_city, write_city


@pytest.fixture(scope="module")
def city_file(tmp_path_factory):
    frame = generate_city(5000, n_schools=10, seed=11, careless_share=0.0)
    school = frame["school_id"].unique().sort()[0]
    frame = frame.with_columns(
        pl.when(pl.col("school_id") == school)
        .then(3 - pl.col("gad7_3"))
        .otherwise(pl.col("gad7_3"))
        .alias("gad7_3")
    )
    path = tmp_path_factory.mktemp("city") / "city.csv"
    write_city(frame, path)
    return path, frame, school


def test_writes_tables_and_an_offline_report(city_file, tmp_path):
    path, frame, school = city_file
    out = tmp_path / "rel"
    code = main(
        [
            "reliability",
            str(path),
            "--battery",
            "default",
            "--by",
            "school_id",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    for name in ("reliability", "items", "careless", "quality"):
        assert (out / f"{name}.parquet").is_file()
    reliability = pl.read_parquet(out / "reliability.parquet")
    assert reliability.height == 10 * 2  # schools x (phq9.total, gad7.total)
    quality = pl.read_parquet(out / "quality.parquet")
    row = quality.filter(pl.col("school_id") == school).row(0, named=True)
    assert "reverse key" in row["flags"] and row["negative_items"] == ["gad7_3"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert school in html and "gad7_3" in html
    # self-contained: no scripts, no links to fetch, no student ids
    assert "<script" not in html and "<link" not in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html
    assert not any(sid in html for sid in frame["student_id"].head(50).to_list())


def test_group_columns_by_comma_and_results(city_file, tmp_path):
    path, _, _ = city_file
    scored = tmp_path / "scored"
    assert main(["score", str(path), "--battery", "default", "--out", str(scored), "-q"]) == 0
    results = next(scored.glob("*.parquet"))
    out = tmp_path / "rel2"
    code = main(
        [
            "reliability",
            str(path),
            "-i",
            "phq9",
            "--by",
            "school_id,sex",
            "--results",
            str(results),
            "--out",
            str(out),
            "-q",
        ]
    )
    assert code == 0
    quality = pl.read_parquet(out / "quality.parquet")
    assert quality.columns[:2] == ["school_id", "sex"]
    assert quality["flagged"].null_count() == 0


def test_usage_errors(city_file, tmp_path):
    path, _, _ = city_file
    assert main(["reliability", str(path), "--out", str(tmp_path / "x")]) != 0
    code = main(
        ["reliability", str(path), "-i", "phq9", "--by", "nope", "--out", str(tmp_path / "y")]
    )
    assert code == 2
    assert not (tmp_path / "y").exists()


def test_invalid_answers_name_file_row_and_student(city_file, tmp_path, capsys):
    _, frame, _ = city_file
    bad = tmp_path / "bad.csv"
    answers = frame["phq9_3"].cast(pl.String).scatter(40, "x").scatter(5, "1.5")
    frame.with_columns(answers).write_csv(bad)
    out = tmp_path / "rel"
    assert main(["reliability", str(bad), "-i", "phq9", "--out", str(out), "-q"]) == 2
    error = capsys.readouterr().err
    assert f"{bad}: 2 invalid answers in 2 rows" in error and "'1.5', 'x'" in error
    student = frame["student_id"][5]
    assert f"(first: row 6, student '{student}')" in error and not out.exists()
    # counted as missing on request
    args = ["reliability", str(bad), "-i", "phq9", "--on-invalid", "missing", "--out", str(out)]
    assert main([*args, "-q"]) == 0


def test_a_group_column_named_by_its_header_before_the_mapping_is_explained(
    city_file, tmp_path, capsys
):
    _, frame, _ = city_file
    chinese = tmp_path / "city_zh.csv"
    frame.rename({"school_id": "学校", "grade": "年级"}).write_csv(chinese)
    mapping = tmp_path / "map.toml"
    mapping.write_text('[columns]\n"学校" = "school_id"\n"年级" = "grade"\n', encoding="utf-8")
    args = ["reliability", str(chinese), "-i", "phq9", "--map", str(mapping), "-q"]
    assert main([*args, "--by", "学校,年级", "--out", str(tmp_path / "x")]) == 2
    error = capsys.readouterr().err
    assert "group columns ['学校', '年级'] are not in the inputs" in error
    assert "--by names the columns as --map renames them: use --by school_id,grade" in error
    assert main([*args, "--by", "school_id,grade", "--out", str(tmp_path / "y")]) == 0
