"""Fixtures: a private copy of the fixture leaflet set (plus the real templates and styles) per test,
and one shared build of it, so expensive rendering happens once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import COMBINED, assert_ok, build, make_project


@pytest.fixture
def project(tmp_path) -> Path:
    """A throwaway copy of tests/fixtures/project with the repo's real templates/ and styles/."""
    return make_project(tmp_path / "project")


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "dist"


@dataclass
class Built:
    project: Path
    out: Path           # build with no ID: every leaflet and insert, both papers
    combined: Path      # build sample --insert first-insert --insert second-insert, both papers
    stdout: str
    stderr: str

    def single(self, paper: str, id_: str) -> Path:
        return self.out / paper / f"{id_}.pdf" if id_ == "sample" else self.out / paper / "inserts" / f"{id_}.pdf"

    def handout(self, paper: str) -> Path:
        return self.combined / paper / COMBINED


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Built:
    """The fixture project built once for the whole session (all papers, singles and the combined handout)."""
    root = tmp_path_factory.mktemp("built")
    project = make_project(root / "project")
    everything = build(project, root / "dist")
    assert_ok(everything)
    combined = build(project, root / "combined", "sample", "--insert", "first-insert", "--insert", "second-insert")
    assert_ok(combined)
    return Built(project, root / "dist", root / "combined", everything.stdout + combined.stdout,
                 everything.stderr + combined.stderr)
