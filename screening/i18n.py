"""The translation catalogue: every label of every page and report, in zh-CN and English.

One TOML file per locale in ``screening/locales/`` (package data); nested tables give
dotted keys (``[report] title = ...`` is ``report.title``). Chinese is the default; both
locales must hold the same keys (a test checks it).

Examples
--------
>>> from screening.i18n import t
>>> t("tier.red", "en")
'Red'
>>> t("report.students_n", "en", n=12)
'12 students'
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

DEFAULT_LOCALE = "zh-CN"
LOCALES: tuple[str, ...] = ("zh-CN", "en")
_PACKAGE = "screening"


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


@cache
def catalogue(locale: str) -> dict[str, str]:
    """All labels of one locale, by dotted key.

    Raises
    ------
    KeyError
        For a locale that has no catalogue (see :data:`LOCALES`).
    """
    if locale not in LOCALES:
        raise KeyError(f"no catalogue for locale {locale!r}; available: {', '.join(LOCALES)}")
    content = (resources.files(_PACKAGE) / "locales" / f"{locale}.toml").read_bytes()
    return _flatten(tomllib.loads(content.decode("utf-8")))


def normalize_locale(value: str | None) -> str:
    """The catalogue locale for a requested one (``en-US`` gives ``en``; unknown gives zh-CN)."""
    if not value:
        return DEFAULT_LOCALE
    tag = value.strip().replace("_", "-").lower()
    if tag.startswith("en"):
        return "en"
    return DEFAULT_LOCALE


def t(key: str, locale: str = DEFAULT_LOCALE, /, **values: object) -> str:
    """The label ``key`` in ``locale``, with ``{name}`` fields filled from ``values``.

    Raises
    ------
    KeyError
        When the key is not in the catalogue (a missing label is a bug, never shown).
    """
    text = catalogue(normalize_locale(locale))[key]
    return text.format(**values) if values else text


def translator(locale: str):
    """``t`` bound to one locale, for templates: ``_("report.title")``."""
    locale = normalize_locale(locale)

    def _(key: str, /, **values: object) -> str:
        return t(key, locale, **values)

    return _


__all__ = ["DEFAULT_LOCALE", "LOCALES", "catalogue", "normalize_locale", "t", "translator"]
