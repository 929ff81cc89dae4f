"""Incremental builds: an unchanged PDF is not rendered again, and the result is the same bytes."""

from __future__ import annotations

import json

import pytest

from clearleaf import content
from clearleaf import pdf as cpdf
from helpers import assert_ok, build


@pytest.fixture
def rendered(monkeypatch):
    """The path of every PDF the build renders (not reuses), in order."""
    jobs = []
    real = cpdf.render_all

    def spy(project, todo, workers=None, done=None, pool=None):
        jobs.extend(todo)
        return real(project, todo, workers=workers, done=done, pool=pool)

    monkeypatch.setattr(cpdf, "render_all", spy)
    return jobs


def pdf_bytes(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.pdf"))}


def test_a_rebuild_with_nothing_changed_renders_nothing_and_keeps_the_bytes(project, out, rendered):
    assert_ok(build(project, out))
    first = pdf_bytes(out)
    assert len(first) == 8 and len(rendered) == 8
    rendered.clear()
    result = build(project, out)
    assert_ok(result)
    assert rendered == []
    assert "built 0 PDFs; 8 unchanged" in result.stdout
    assert sum(line.startswith("unchanged ") for line in result.stdout.splitlines()) == 8
    assert pdf_bytes(out) == first


def test_an_edited_leaflet_renders_only_its_own_pdfs(project, out, rendered, tmp_path):
    assert_ok(build(project, out))
    first = pdf_bytes(out)
    sample = project / "leaflets" / "sample.md"
    sample.write_text(sample.read_text("utf-8").replace("ordinary text", "ordinary words"), "utf-8")
    rendered.clear()
    assert_ok(build(project, out))
    assert len(rendered) == 2  # sample.pdf on A4 and on Letter
    after = pdf_bytes(out)
    changed = sorted(k for k in after if after[k] != first[k])
    assert changed == ["a4/sample.pdf", "letter/sample.pdf"]
    # The same bytes as a full build of the edited project from nothing.
    fresh = tmp_path / "fresh"
    assert_ok(build(project, fresh, "--force"))
    assert pdf_bytes(fresh) == after


def test_a_combined_handout_renders_again_when_an_insert_changes(project, out, rendered):
    args = ("sample", "--insert", "first-insert", "--paper", "a4")
    assert_ok(build(project, out, *args))
    rendered.clear()
    insert = project / "leaflets" / "inserts" / "first-insert.md"
    insert.write_text(insert.read_text("utf-8").replace("bring your notes", "bring your letters"), "utf-8")
    assert_ok(build(project, out, *args))
    assert len(rendered) == 1


def test_a_style_change_renders_everything_again(project, out, rendered):
    assert_ok(build(project, out))
    css = project / "styles" / "common.css"
    css.write_text(css.read_text("utf-8") + "\n/* a change */\n", "utf-8")
    rendered.clear()
    assert_ok(build(project, out))
    assert len(rendered) == 8


def test_a_damaged_pdf_or_manifest_means_rendering_again(project, out, rendered):
    assert_ok(build(project, out))
    first = pdf_bytes(out)
    (out / "a4" / "sample.pdf").write_bytes(b"%PDF-broken")
    rendered.clear()
    assert_ok(build(project, out))
    assert len(rendered) == 1 and pdf_bytes(out) == first
    (out / ".clearleaf-manifest.json").write_text("{not json", "utf-8")
    rendered.clear()
    assert_ok(build(project, out))
    assert len(rendered) == 8 and pdf_bytes(out) == first
    json.loads((out / ".clearleaf-manifest.json").read_text("utf-8"))  # written whole again


def test_force_renders_everything(project, out, rendered):
    assert_ok(build(project, out))
    rendered.clear()
    assert_ok(build(project, out, "--force"))
    assert len(rendered) == 8


def test_force_on_one_leaflet_keeps_the_other_pdfs_known(project, out, rendered):
    assert_ok(build(project, out))
    assert_ok(build(project, out, "sample", "--force"))
    rendered.clear()
    assert_ok(build(project, out))
    assert rendered == []  # the inserts' entries survived the forced build of sample alone


def test_a_pdf_whose_source_is_deleted_is_reported_and_pruned(project, out):
    assert_ok(build(project, out))
    (project / "leaflets" / "inserts" / "first-insert.md").unlink()
    (project / "leaflets" / "sample.md").write_text(
        (project / "leaflets" / "sample.md").read_text("utf-8").replace("  - first-insert\n", ""), "utf-8")
    result = build(project, out)
    assert_ok(result)
    assert "inserts/first-insert.pdf: its source leaflets/inserts/first-insert.md is gone" in result.stderr
    assert (out / "a4" / "inserts" / "first-insert.pdf").exists()
    result = build(project, out, "--prune")
    assert_ok(result)
    assert "removed " in result.stdout
    assert not (out / "a4" / "inserts" / "first-insert.pdf").exists()
    assert not (out / "letter" / "inserts" / "first-insert.pdf").exists()
    assert "first-insert" not in (out / ".clearleaf-manifest.json").read_text("utf-8")


@pytest.fixture
def pipeline(monkeypatch):
    """How many times a build read the content (a replayed build reads none)."""
    calls = []
    real = content.load

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(content, "load", spy)
    return calls


def test_a_rebuild_with_nothing_changed_is_answered_without_reading_anything(project, out, pipeline):
    first = build(project, out)
    assert_ok(first)
    assert len(pipeline) == 1
    again = build(project, out)
    assert_ok(again)
    assert len(pipeline) == 1  # answered from the manifest's record of the same build
    assert again.stderr == first.stderr  # the same warnings (the draft insert)
    assert sorted(again.stdout.splitlines()[:-1]) == sorted(
        line.replace("wrote ", "unchanged ") for line in first.stdout.splitlines()[:-1])
    assert "built 0 PDFs; 8 unchanged" in again.stdout


@pytest.mark.parametrize("change", ["picture", "catalogue", "template", "org", "new file", "other options"])
def test_any_input_or_option_change_means_running_the_build(project, out, pipeline, change):
    assert_ok(build(project, out))
    args = ()
    if change == "picture":
        picture = next((project / "leaflets").rglob("*.svg"))
        picture.write_text(picture.read_text("utf-8").replace("</svg>", "<!-- edited --></svg>"), "utf-8")
    elif change == "catalogue":
        po = next((project / "locales").rglob("*.po"))
        po.write_text(po.read_text("utf-8") + "\n", "utf-8")
    elif change == "template":
        (project / "templates" / "part.html").write_text(
            (project / "templates" / "part.html").read_text("utf-8") + "\n", "utf-8")
    elif change == "org":
        (project / "leaflets" / "org.yaml").write_text(
            (project / "leaflets" / "org.yaml").read_text("utf-8") + "\n# edited\n", "utf-8")
    elif change == "new file":
        (project / "leaflets" / "inserts" / "notes.txt").write_text("a note", "utf-8")
    else:
        args = ("--paper", "a4")
    result = build(project, out, *args)
    assert_ok(result)
    assert len(pipeline) == 2


def test_a_build_on_another_day_is_not_answered_from_yesterdays(project, out, pipeline):
    from datetime import date

    from clearleaf import builder
    from clearleaf.config import Project

    builder.build(Project(project), out=out, today=date(2026, 11, 30))
    builder.build(Project(project), out=out, today=date(2026, 11, 30))
    assert len(pipeline) == 1
    builder.build(Project(project), out=out, today=date(2026, 12, 1))  # the overdue stamps may differ
    assert len(pipeline) == 2


def test_after_a_prune_the_next_build_does_not_report_the_removed_pdfs(project, out):
    assert_ok(build(project, out))
    (project / "leaflets" / "inserts" / "first-insert.md").unlink()
    (project / "leaflets" / "sample.md").write_text(
        (project / "leaflets" / "sample.md").read_text("utf-8").replace("  - first-insert\n", ""), "utf-8")
    assert "is gone" in build(project, out).stderr
    assert_ok(build(project, out, "--prune"))
    result = build(project, out)  # the same options as the build that warned, and no input changed
    assert_ok(result)
    assert "is gone" not in result.stderr
