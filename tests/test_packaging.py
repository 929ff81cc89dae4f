"""`pip install .` gives a `clearleaf` command with the same commands as build.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package installed with pip from a copy of the source (so the checkout stays clean)."""
    src = tmp_path_factory.mktemp("src")
    shutil.copy(REPO / "pyproject.toml", src)
    shutil.copytree(REPO / "clearleaf", src / "clearleaf", ignore=shutil.ignore_patterns("__pycache__"))
    site = tmp_path_factory.mktemp("site")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                             "--no-deps", "--target", str(site), str(src)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return site


def clearleaf(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}  # the dependencies come from this interpreter's .venv
    return subprocess.run([str(site / "bin" / "clearleaf"), *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_the_console_script_builds_a_project(installed, project, tmp_path):
    assert (installed / "bin" / "clearleaf").is_file()
    version = clearleaf(installed, "--version")
    assert version.returncode == 0 and version.stdout.startswith("clearleaf, version ")
    out = tmp_path / "out"
    result = clearleaf(installed, "--project", str(project), "build", "--out", str(out), "--paper", "a4")
    assert result.returncode == 0, result.stderr
    assert "built 4 PDFs" in result.stdout and len(list(out.rglob("*.pdf"))) == 4
    # The check command lives in a subpackage (clearleaf.checks), which the install must carry too.
    checked = clearleaf(installed, "--project", str(project), "check", "sample")
    assert checked.returncode == 1 and "Traceback" not in checked.stderr, checked.stderr  # the fixture has errors
    assert checked.stdout.startswith("leaflets/sample.md  FX-SAM-042 v3.7")
    assert checked.stdout.rstrip().splitlines()[-1].startswith("checked 3 files: ")


def test_an_installed_package_asks_for_the_project_folder(installed, tmp_path):
    result = clearleaf(installed, "list")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "has no leaflets/ folder; pass --project with the project folder" in result.stderr


def test_build_py_keeps_the_package_compiled_where_python_would_not(tmp_path):
    """With PYTHONDONTWRITEBYTECODE (as on CI), every command compiled clearleaf/ from source."""
    copy = tmp_path / "copy"
    shutil.copytree(REPO / "clearleaf", copy / "clearleaf", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("build.py", "bootstrap.py", "pyproject.toml"):
        shutil.copy(REPO / name, copy / name)
    (copy / ".venv").symlink_to(REPO / ".venv")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run([sys.executable, str(copy / "build.py"), "--version"], env=env, check=True,
                   capture_output=True)
    sources = sorted(p.stem for p in (copy / "clearleaf").glob("*.py"))
    compiled = sorted(p.name.split(".")[0] for p in (copy / "clearleaf" / "__pycache__").glob("*.pyc"))
    assert compiled == sources
