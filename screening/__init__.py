"""screening: annual psychological screening and triage of school students."""

from __future__ import annotations

from functools import cache

__all__ = ["__version__"]


@cache
def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # 35 ms: only when asked

    try:
        return version("screening")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"


def __getattr__(name: str) -> str:
    if name == "__version__":
        return _installed_version()
    raise AttributeError(f"module 'screening' has no attribute {name!r}")
