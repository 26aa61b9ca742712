"""Norm tables as users break them: R reference values, hand-edited tables, group keys
typed differently or left empty."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from screening.scoring._frames import PsychometricInputError
from screening.scoring.norms import NormsWarning, NormTable, apply_norms, norms

# A group of 15 scale scores, prorated ones among them, and scores to look up in it
X = [0.0, 1, 1, 2, 2, 2, 3.5, 4, 4, 7, 9, 9, 9, 12.375, 27]
V = [-1.0, 0, 1, 1.5, 2, 3.5, 3.75, 9, 12.375, 20, 27, 30]


def _one_group(x=X) -> pl.DataFrame:
    return pl.DataFrame({"grade": ["7"] * len(x), "sex": ["F"] * len(x), "phq9.total": x})


def test_percentiles_and_t_scores_equal_r():
    table = norms(_one_group(), "phq9", version="r")
    row = table.groups.row(0, named=True)
    # R: x <- c(0, 1, 1, 2, 2, 2, 3.5, 4, 4, 7, 9, 9, 9, 12.375, 27); F <- ecdf(x)
    #    u <- sort(unique(x)); 100 * (F(u) + sapply(u, function(s) mean(x < s))) / 2
    want_pr = [
        3.3333333333333335,
        13.333333333333334,
        30.000000000000004,
        43.333333333333336,
        53.333333333333336,
        63.33333333333333,
        76.66666666666666,
        90.0,
        96.66666666666667,
    ]
    assert row["scores"] == [0, 1, 2, 3.5, 4, 7, 9, 12.375, 27]
    np.testing.assert_allclose(row["percentiles"], want_pr, rtol=1e-14)
    # R: psych::describeBy(x, rep("a", 15), mat = TRUE)$sd; mean(x)
    assert row["n"] == 15
    assert row["mean"] == pytest.approx(np.mean(X), rel=1e-15)
    looked_up = pl.DataFrame({"grade": [7] * len(V), "sex": ["F"] * len(V), "phq9.total": V})
    out = apply_norms(looked_up, table)
    # R: approx(u, pr_u, xout = V, rule = 2)$y   (rule = 2: nearest end outside)
    want = [
        3.3333333333333335,
        3.3333333333333335,
        13.333333333333334,
        21.666666666666671,
        30.000000000000004,
        43.333333333333336,
        48.333333333333336,
        76.66666666666666,
        90.0,
        93.475783475783473,
        96.66666666666667,
        96.66666666666667,
    ]
    np.testing.assert_allclose(out["phq9.total.percentile"].to_numpy(), want, rtol=1e-13)
    # R: 50 + 10 * (V - mean(x)) / sd(x)
    want_t = [
        39.504607736282431,
        40.963990206324269,
        42.423372676366114,
        43.153063911387029,
        43.882755146407952,
        46.071828851470713,
        46.436674468981174,
        54.098432436700833,
        59.023848273092050,
        70.151639607161087,
        80.367316897453961,
        84.745464307579482,
    ]
    np.testing.assert_allclose(out["phq9.total.t"].to_numpy(), want_t, rtol=1e-13)


def test_group_mean_and_sd_equal_psych_describe_by():
    frame = pl.DataFrame({"g": ["a", "b", "c"] * 5, "phq9.total": X})
    groups = norms(frame, "phq9", ["g"], version="r").groups
    # R: d <- data.frame(x = x, g = rep(c("a", "b", "c"), 5))
    #    describeBy(d$x, d$g, mat = TRUE)[, c("group1", "n", "mean", "sd")]
    assert groups["g"].to_list() == ["a", "b", "c"]
    assert groups["n"].to_list() == [5, 5, 5]
    np.testing.assert_allclose(groups["mean"], [4.3, 5.675, 8.6], rtol=1e-15)
    np.testing.assert_allclose(
        groups["sd"], [3.6674241641784495, 4.8505798622432765, 10.737783756436894], rtol=1e-14
    )


def test_one_member_and_constant_groups_give_a_percentile_but_no_t_score(tmp_path):
    frame = pl.DataFrame({"g": ["one", "same", "same", "same"], "phq9.total": [4.0, 3, 3, 3]})
    table = norms(frame, "phq9", ["g"], version="v")
    table.write(tmp_path / "n.json")
    again = NormTable.read(tmp_path / "n.json")
    out = apply_norms(
        pl.DataFrame({"g": ["one", "same", "same"], "phq9.total": [4.0, 3, 5]}), again
    )
    assert out["phq9.total.t"].to_list() == [None, None, None]  # sd undefined or 0
    assert out["phq9.total.percentile"].to_list() == [50.0, 50.0, 50.0]


def _table(tmp_path: Path) -> tuple[Path, dict]:
    frame = pl.DataFrame({"grade": ["7"] * 6 + ["8"] * 6, "phq9.total": [1.0, 2, 2, 5, 9, 3] * 2})
    path = tmp_path / "n.json"
    norms(frame, "phq9", ["grade"], version="v").write(path)
    return path, json.loads(path.read_text(encoding="utf-8"))


def _edit(doc: dict, where: str, value) -> dict:
    """``doc`` with the field at ``where`` (``groups.1.sd``) set to ``value`` (or deleted)."""
    doc = json.loads(json.dumps(doc))
    *parents, last = where.split(".")
    node = doc
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    key = int(last) if isinstance(node, list) else last
    if value is DELETE:
        del node[key]
    else:
        node[key] = value
    return doc


DELETE = object()


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("by", DELETE, r"'by' is missing"),
        ("groups", DELETE, r"'groups' is missing"),
        ("instrument_sha256", DELETE, r"'instrument_sha256' is missing"),
        ("by", "grade", r"'by' must be a list of column names"),
        ("groups", {}, r"'groups' must be a list"),
        ("groups.1.sd", DELETE, r"groups\[1\]: 'sd' is missing"),
        ("groups.0.mean", "six", r"groups\[0\]\.mean must be a number"),
        ("groups.0.sd", -1, r"groups\[0\]\.sd must be a number of 0 or more"),
        ("groups.0.n", 0, r"groups\[0\]\.n must be a whole number of 1 or more"),
        (
            "groups.0.scores",
            [9.0, 5, 3, 2, 1],
            r"scores must rise from each score to the next; got 5 after 9.0 \(scores\[1\]\)",
        ),
        ("groups.0.scores", [], r"groups\[0\]\.scores must not be empty"),
        ("groups.0.percentiles", [10, 20], r"groups\[0\]\.percentiles must have one"),
        ("groups.0.percentiles", [10, 20, 150, 160, 170], r"between 0 and 100"),
        ("groups.1.grade", "7", r"groups\[1\] repeats the group grade='7' scale 'total'"),
        ("groups.0", [], r"groups\[0\] must be an object"),
    ],
)
def test_a_hand_edited_table_is_refused_naming_the_field(tmp_path, where, value, message):
    path, doc = _table(tmp_path)
    path.write_text(json.dumps(_edit(doc, where, value)), encoding="utf-8")
    with pytest.raises(PsychometricInputError, match=message) as error:
        NormTable.read(path)
    assert str(error.value).startswith(f"{path}: ")
    assert "screening norms" in str(error.value)


def test_a_hand_edited_table_with_integer_numbers_is_read(tmp_path):
    path, doc = _table(tmp_path)
    doc = _edit(doc, "groups.0.percentiles", [10, 30.5, 50, 70, 90])
    doc = _edit(doc, "groups.0.mean", 4)
    doc = _edit(doc, "groups.0.grade", 7)  # a number where the table writes text
    path.write_text(json.dumps(doc), encoding="utf-8")
    table = NormTable.read(path)
    assert table.groups["percentiles"][0].to_list() == [10.0, 30.5, 50.0, 70.0, 90.0]
    assert table.groups["grade"].to_list() == ["7", "8"]


def test_rows_without_a_group_value_make_no_norm_group():
    """An empty grade is no grade: not a group of the table, and never normed."""
    frame = pl.DataFrame(
        {
            "grade": ["7", "7", None, "", "  ", None, "8", "8"],
            "phq9.total": [1.0, 2.0, 20.0, 21.0, 22.0, 23.0, 3.0, 4.0],
        }
    )
    table = norms(frame, "phq9", ["grade"], version="v")
    assert table.groups["grade"].to_list() == ["7", "8"]
    with pytest.warns(NormsWarning, match=r"4 scored rows found no phq9 norms"):
        out = apply_norms(frame, table)
    unknown = [False, False, True, True, True, True, False, False]
    assert out["phq9.total.t"].is_null().to_list() == unknown


@pytest.mark.filterwarnings("error")
def test_group_keys_typed_in_full_width_find_their_norms():
    frame = pl.DataFrame(
        {"grade": ["7", "7", "8", "8"], "sex": ["M", "M", "F", "F"], "phq9.total": [1.0, 2, 3, 5]}
    )
    table = norms(frame, "phq9", version="v")
    typed = frame.with_columns(
        grade=pl.Series(["７", " 7\u3000", "８", "8.0"]),
        sex=pl.Series(["Ｍ", "M\u200b", "F", "Ｆ"]),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = apply_norms(typed, table)
    assert out["phq9.total.t"].null_count() == 0
    assert norms(typed, "phq9", version="v").groups.equals(table.groups)


def _city_csv(tmp_path: Path) -> Path:
    from screening.demo import generate_city, write_city

    path = tmp_path / "city.csv"
    write_city(generate_city(300, n_schools=1, seed=2, instruments=("phq9",)), path)
    return path


def test_norms_command_refuses_to_write_over_its_input(tmp_path, capsys):
    from screening.cli import main

    path = _city_csv(tmp_path)
    before = path.read_bytes()
    args = ["norms", str(path), "-i", "phq9", "--version", "v", "--min-n", "5"]
    assert main([*args, "--out", str(tmp_path / "." / "city.csv")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'city.csv'}" in err and "would be written over this input file" in err
    assert path.read_bytes() == before


def test_norms_command_makes_the_folder_of_its_table_or_says_why_not(tmp_path, capsys):
    from screening.cli import main

    path = _city_csv(tmp_path)
    args = ["norms", str(path), "-i", "phq9", "--version", "v", "--min-n", "5", "--out"]
    assert main([*args, str(tmp_path / "new" / "sub" / "n.json")]) == 0
    assert NormTable.read(tmp_path / "new" / "sub" / "n.json").version == "v"
    capsys.readouterr()
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    assert main([*args, str(tmp_path / "afile" / "n.json")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "cannot write the norm table" in err
    assert f"{tmp_path / 'afile' / 'n.json'}" in err


def test_norms_command_says_how_many_rows_had_no_group(tmp_path, capsys):
    """A second file without a sex column: its rows are in no group, and the run says so."""
    from screening.cli import main

    path = _city_csv(tmp_path)
    city = pl.read_csv(path, infer_schema_length=0)
    city.head(100).write_csv(tmp_path / "a.csv")
    city.slice(100).drop("sex").write_csv(tmp_path / "b.csv")
    out = tmp_path / "n.json"
    args = ["norms", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "-i", "phq9"]
    assert main([*args, "--version", "v", "--min-n", "1", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "200 of 300 rows have no grade or sex and are in no group" in err


LIE_SCALE = """
id = "mht_like"
version = "1"
licence = "Test instrument; free to use."
citation = "A test instrument with a lie scale."
name = { "zh-CN" = "测试", en = "Test" }

[response_scale]
values = [0, 1]
labels = { "zh-CN" = ["否", "是"], en = ["No", "Yes"] }

[[items]]
id = "1"
label = { "zh-CN" = "甲", en = "a" }

[[items]]
id = "2"
label = { "zh-CN" = "乙", en = "b" }

[[items]]
id = "3"
label = { "zh-CN" = "丙", en = "c" }

[[items]]
id = "4"
label = { "zh-CN" = "丁", en = "d" }

[[scales]]
id = "total"
name = { "zh-CN" = "总分", en = "Total" }
items = ["1", "2", "3"]
method = "sum"

[[scales]]
id = "lie"
name = { "zh-CN" = "效度", en = "Lie" }
items = ["4"]
method = "sum"

[[validity]]
scale = "lie"
op = ">="
value = 1
reason = { "zh-CN" = "效度分过高", en = "Lie scale too high" }
"""


def test_invalid_protocols_are_left_out_of_the_norms(tmp_path: Path):
    path = tmp_path / "mht_like.toml"
    path.write_text(LIE_SCALE, encoding="utf-8")
    rng = np.random.default_rng(5)
    answers = rng.integers(0, 2, size=(200, 4))
    frame = pl.DataFrame(
        {"grade": ["7"] * 200, "sex": ["F"] * 200}
        | {f"mht_like_{j + 1}": answers[:, j] for j in range(4)}
    )
    with pytest.warns(Warning, match=r"\d+ protocols that mht_like marks invalid") as caught:
        table = norms(frame, str(path), version="v")
    valid = answers[answers[:, 3] == 0]
    assert f"{len(answers) - len(valid)} protocols" in str(caught[0].message)
    total = table.groups.filter(pl.col("scale") == "total").row(0, named=True)
    assert total["n"] == len(valid)
    assert total["mean"] == pytest.approx(valid[:, :3].sum(axis=1).mean(), rel=1e-15)
    lie = table.groups.filter(pl.col("scale") == "lie").row(0, named=True)
    assert lie["scores"] == [0.0]  # the accepted protocols all scored 0 on the lie scale
    # scores given as such: nothing is known of validity, every score counts
    scored = pl.DataFrame(
        {"grade": ["7"] * 200, "sex": ["F"] * 200}
        | {"mht_like.total": answers[:, :3].sum(axis=1), "mht_like.lie": answers[:, 3]}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        given = norms(scored, str(path), version="v")
    assert given.groups.filter(pl.col("scale") == "total").row(0, named=True)["n"] == 200


def test_norms_command_says_how_many_invalid_protocols_it_left_out(tmp_path: Path, capsys):
    from screening.cli import main

    (tmp_path / "mht_like.toml").write_text(LIE_SCALE, encoding="utf-8")
    answers = [[1, 0, 1, 0], [0, 0, 1, 1], [1, 1, 1, 0], [0, 1, 0, 1], [1, 1, 0, 0]]
    lines = ["grade,sex," + ",".join(f"mht_like_{j}" for j in range(1, 5))]
    lines += ["7,F," + ",".join(map(str, row)) for row in answers]
    (tmp_path / "ref.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["norms", str(tmp_path / "ref.csv"), "-i", str(tmp_path / "mht_like.toml")]
    out = tmp_path / "t.json"
    assert main([*args, "--version", "v", "--min-n", "1", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: 2 protocols that mht_like marks invalid" in err
    total = NormTable.read(out).groups.filter(pl.col("scale") == "total")
    assert total["n"].to_list() == [3]
