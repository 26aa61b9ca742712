"""The built wheel: bundled TOML files inside, no stray top-level packages, works outside the repo.

Slow: builds a wheel with ``pip wheel`` (isolated build, needs the setuptools build
requirements from the package index or its cache) and installs it into a fresh virtual
environment.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOT_SOURCE = shutil.ignore_patterns(
    ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", ".venv",
    "results", "test-artifacts", "*.db", "*.sqlite",
)  # fmt: skip

pytestmark = pytest.mark.slow


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from a copy of the working tree (the build leaves the tree untouched)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    out = work / "dist"
    _run(sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-w", out, cwd=source)
    (built,) = out.glob("screening-*.whl")
    return built


def test_wheel_holds_the_bundled_files(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    data = "screening/instruments/data/"
    for ref in ("phq9", "gad7", "cesd", "who5", "scared", "dass21", "asq"):
        assert f"{data}{ref}.toml" in names
    assert f"{data}batteries/default.toml" in names
    assert f"{data}batteries/default-asq.toml" in names
    for package in ("instruments", "scoring", "api"):
        assert f"screening/{package}/__init__.py" in names


def test_wheel_installs_no_bare_top_level_packages(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"screening"}
    assert not any(n.split("/")[0] in {"api", "scoring", "instruments"} for n in names)
    top_level = [n for n in names if n.endswith(".dist-info/top_level.txt")]
    for path in top_level:
        assert zipfile.ZipFile(wheel).read(path).decode().split() == ["screening"]


def test_installed_wheel_works_outside_the_repo(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    # the dependencies come from the environment running the tests, after the new venv's
    # own site-packages (its .pth files, such as an editable install's finder, stay unread)
    site = _run(
        python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path
    )
    parent = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    (Path(site.stdout.strip()) / "_test_dependencies.pth").write_text("\n".join(sorted(parent)))
    _run(
        python, "-m", "pip", "install", "--no-deps", "--ignore-installed", "-q", wheel, cwd=tmp_path
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    script = (
        "import screening.instruments as si\n"
        "from screening.instruments import load_battery\n"
        "b = load_battery('default')\n"
        "a = load_battery('default-asq')\n"
        "print(si.__file__)\n"
        "print(','.join(i.id for i in b.instruments), ','.join(i.id for i in a.instruments))\n"
    )
    result = _run(python, "-c", script, cwd=outside)
    location, instruments = result.stdout.strip().splitlines()
    assert Path(location).resolve().is_relative_to(venv.resolve()), location
    assert instruments == "phq9,gad7 phq9,gad7,asq"
