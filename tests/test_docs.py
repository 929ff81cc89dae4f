"""The docs keep step with the code: every front-matter key and every command is documented."""

from __future__ import annotations

import pytest

from clearleaf.cli import cli
from clearleaf.schema import FIELDS
from helpers import REPO


def read(rel: str) -> str:
    path = REPO / rel
    assert path.is_file(), f"{rel} is missing"
    return path.read_text("utf-8")


@pytest.mark.parametrize("key", [f.name for f in FIELDS])
def test_every_front_matter_key_is_in_the_authoring_guide(key):
    assert f"`{key}`" in read("docs/authoring.md")


def test_the_command_list_is_what_the_readme_documents():
    assert set(cli.commands) == {"build", "list", "html"}


@pytest.mark.parametrize("command", ["build", "list", "html"])
def test_every_command_is_in_the_readme(command):
    assert f"build.py {command}" in read("README.md")
