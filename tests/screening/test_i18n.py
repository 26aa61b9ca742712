"""The translation catalogue: same keys and placeholders in both locales, every used key exists."""

from __future__ import annotations

import re
import string
from importlib import resources
from pathlib import Path

import pytest

from screening.i18n import LOCALES, catalogue, normalize_locale, t, translator

ROOT = Path(__file__).resolve().parents[2]
USED = re.compile(r"""\b_\(\s*['"]([A-Za-z0-9_.-]*[A-Za-z0-9_-])['"]\s*[,)]""")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_locales_have_the_same_keys():
    zh, en = set(catalogue("zh-CN")), set(catalogue("en"))
    assert zh - en == set(), f"missing in en.toml: {sorted(zh - en)}"
    assert en - zh == set(), f"missing in zh-CN.toml: {sorted(en - zh)}"
    assert len(zh) > 50


def test_both_locales_use_the_same_placeholders():
    zh, en = catalogue("zh-CN"), catalogue("en")
    different = {
        k: (_fields(zh[k]), _fields(en[k])) for k in zh if _fields(zh[k]) != _fields(en[k])
    }
    assert different == {}


def test_no_label_is_empty_and_chinese_labels_are_chinese():
    zh, en = catalogue("zh-CN"), catalogue("en")
    assert [k for k, v in {**zh, **en}.items() if not v.strip()] == []
    # language names are the same on purpose; everything else in zh-CN has a CJK character
    same = {k for k in zh if zh[k] == en[k]}
    assert same <= {"lang.zh-CN", "lang.en", "report.hidden_cell"} | {
        k for k in zh if k.startswith("web.") and not re.search(r"[A-Za-z]{3}", zh[k])
    }


def test_lookup_formats_and_normalizes():
    assert t("tier.red") == "红色"
    assert t("tier.red", "en") == "Red"
    assert t("tier.red", "en-US") == "Red"
    assert t("tier.red", "zh_CN") == "红色"
    assert t("tier.red", "fr") == "红色"  # unknown locales fall back to the default
    assert t("report.students_n", "en", n=3) == "3 students"
    assert translator("en")("report.grade_n", n=7) == "Grade 7"
    assert normalize_locale(None) == "zh-CN"


def test_unknown_key_is_an_error():
    with pytest.raises(KeyError):
        t("report.no_such_label")
    with pytest.raises(KeyError, match="no catalogue"):
        catalogue("fr")


def _template_files() -> list[Path]:
    folders = [
        Path(str(resources.files("screening") / "templates")),
        ROOT / "api" / "web" / "templates",
    ]
    return [p for folder in folders if folder.is_dir() for p in sorted(folder.glob("*.j2"))]


def test_every_key_used_in_templates_exists():
    files = _template_files()
    assert files, "no templates found"
    keys = catalogue("zh-CN")
    used = {(p.name, k) for p in files for k in USED.findall(p.read_text("utf-8"))}
    assert len(used) > 30
    assert sorted((name, k) for name, k in used if k not in keys) == []


def test_locales_listed():
    assert LOCALES == ("zh-CN", "en")
