"""Warnings that reach the person issuing the handout, and pictures that never go missing
silently (issue 12, item 15).

A picture that cannot be drawn (damaged, or reaching for a file or address outside
leaflets/, which the renderer blocks) was a warning: `build` exited 0 and `handout`, `print`
and `email` showed nothing, so a patient could get a handout without its picture. It is an
error now, with the file and line of the picture. Every other warning is shown by every
command, and by the desk next to its preview.
"""

from __future__ import annotations

import html
import re

import pytest

from helpers import FULL, assert_clean_error, line_of, pdfs_and_parts, run, write_patient
from desk_client import form, make_desk

BLOCKED_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60" viewBox="0 0 120 60">'
               '<rect width="120" height="60" fill="#0b3d91"/>'
               '<image href="https://example.org/tracker.png" width="50" height="50"/></svg>')
RAW_HTML = "Some <b>bold</b> words."


def command(name: str, project, tmp_path, cups=None) -> list:
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    return {"build": ["build", "sample", "--paper", "a4", "--out", tmp_path / "dist"],
            "handout": ["handout", "sample", "--patient", patient, "--out", tmp_path / "dist" / "h.pdf"],
            "batch": ["handout", "sample", "--patients", _csv(tmp_path), "--out", tmp_path / "dist"],
            "print": ["print", "sample", "--patient", patient, "--printer", cups.queue if cups else "ward"],
            "email": ["email", "sample", "--patient", patient, "--to", "a@example.org",
                      "--eml", tmp_path / "dist" / "m.eml"]}[name]


def _csv(tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("reference,name\nMRN-1,Ann Example\nMRN-2,Bo Example\n", "utf-8")
    return path


@pytest.mark.parametrize("name", ["build", "handout", "batch", "print", "email"])
def test_a_blocked_picture_is_an_error_everywhere(mail_project, tmp_path, name):  # noqa: F811
    (mail_project / "leaflets" / "images" / "diagram.svg").write_text(BLOCKED_SVG, "utf-8")
    err = assert_clean_error(run(mail_project, *command(name, mail_project, tmp_path)))
    line = line_of(mail_project / "leaflets" / "sample.md", "images/diagram.svg")
    assert (f"leaflets/sample.md:{line}: the picture 'images/diagram.svg' could not be drawn (it is damaged, "
            "or uses a file or web address outside leaflets/) — ") in err
    assert pdfs_and_parts(tmp_path / "dist") == [] and not (tmp_path / "dist" / "m.eml").exists()


def test_a_damaged_picture_is_an_error(project, tmp_path):
    (project / "leaflets" / "images" / "broken.png").write_bytes(b"not a PNG at all")
    path = project / "leaflets" / "sample.md"
    path.write_text(path.read_text("utf-8").replace("images/diagram.svg", "images/broken.png"), "utf-8")
    err = assert_clean_error(run(project, *command("build", project, tmp_path)))
    assert (f"leaflets/sample.md:{line_of(path, 'images/broken.png')}: the picture 'images/broken.png' could not be "
            "drawn") in err


@pytest.mark.parametrize("name", ["build", "handout", "batch", "print", "email"])
def test_warnings_are_shown_by_every_command(mail_project, tmp_path, cups, monkeypatch, name):  # noqa: F811
    monkeypatch.setenv("CUPS_SERVER", cups.server)
    path = mail_project / "leaflets" / "sample.md"
    path.write_text(path.read_text("utf-8").replace("## Heliotrope heading\n", f"## Heliotrope heading\n\n{RAW_HTML}\n"),
                    "utf-8")
    result = run(mail_project, *command(name, mail_project, tmp_path, cups))
    assert result.exit_code == 0, result.stderr
    expected = f"warning: leaflets/sample.md:{line_of(path, RAW_HTML)}: raw HTML is not rendered and will print as text"
    assert [line for line in result.stderr.splitlines() if line.startswith(expected)], result.stderr
    if name == "batch":  # once, not once per handout
        assert result.stderr.count(expected) == 1


def test_the_desk_shows_warnings_beside_the_preview(project):
    path = project / "leaflets" / "sample.md"
    path.write_text(path.read_text("utf-8").replace("## Heliotrope heading\n", f"## Heliotrope heading\n\n{RAW_HTML}\n"),
                    "utf-8")
    desk = make_desk(project)
    token = desk.preview()
    page = desk.responses[-1].text
    assert token
    found = re.search(r'<div class="warnings"[^>]*>(.*?)</div>', page, re.S)
    assert found, "no warnings shown with the preview"
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())
    assert f"leaflets/sample.md:{line_of(path, RAW_HTML)}: raw HTML is not rendered" in text


def test_the_desk_refuses_a_handout_whose_picture_is_blocked(project):
    (project / "leaflets" / "images" / "diagram.svg").write_text(BLOCKED_SVG, "utf-8")
    desk = make_desk(project)
    desk.get("/leaflets/sample")
    response = desk.post("/leaflets/sample", form())
    assert response.status_code == 422
    assert "the picture &#39;images/diagram.svg&#39; could not be drawn" in response.text
    assert 'class="pdf"' not in response.text
