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


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_in_the_readme(command):
    # Generated from the CLI itself, so a new command cannot ship undocumented.
    assert f"build.py {command}" in read("README.md")
