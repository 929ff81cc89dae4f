"""The three commands through Click's CliRunner: what they write and print, and their usage errors."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pypdf
import pytest

from clearleaf import builder
from clearleaf.cli import cli
from clearleaf.config import Project
from helpers import (COMBINED, FIRST, INSERTS, ORG_NAME, SAMPLE, SECOND, assert_clean_error, assert_ok, build,
                     page_texts, part_ranges, pdfs_and_parts, run, set_front_matter)

SINGLES = {f"{paper}/sample.pdf" for paper in ("a4", "letter")} | {
    f"{paper}/inserts/{ins['id']}.pdf" for paper in ("a4", "letter") for ins in INSERTS} | {
    f"{paper}/inserts/second-insert.en.pdf" for paper in ("a4", "letter")}  # the English translation


def written(out: Path) -> set[str]:
    """Every file a build wrote but its manifest (tests/test_incremental.py covers that)."""
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {".clearleaf-manifest.json"}


# --- build -------------------------------------------------------------------------------------

def test_build_with_no_id_writes_every_leaflet_and_insert_on_both_papers(built):
    assert written(built.out) == SINGLES
    for rel in SINGLES:
        assert f"wrote {built.out / rel} (" in built.stdout
    assert "built 8 PDFs" in built.stdout  # 3 sources + 1 translation, 2 papers
    assert built.stderr == "", "the fixture set is clean: no warnings expected"


def test_build_paper_a4_writes_only_a4(project, out):
    result = build(project, out, "--paper", "a4")
    assert_ok(result)
    assert written(out) == {r for r in SINGLES if r.startswith("a4/")}
    assert not (out / "letter").exists()


def test_build_one_leaflet_one_paper_writes_just_that(project, out):
    result = build(project, out, "sample", "--paper", "letter")
    assert_ok(result)
    assert written(out) == {"letter/sample.pdf"}
    assert re.search(r"^wrote .*letter/sample\.pdf \(\d+ pages?\)$", result.stdout, re.M)
    assert "built 1 PDF in" in result.stdout


def test_combined_handout_is_one_pdf_per_paper(built):
    assert written(built.combined) == {f"a4/{COMBINED}", f"letter/{COMBINED}"}


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_combined_handout_leaflet_first_then_each_insert_on_a_right_hand_page(built, paper):
    texts = page_texts(built.handout(paper))
    assert SAMPLE["title"] in texts[0], "the leaflet comes first"
    ranges = part_ranges(texts)
    assert list(ranges) == ["sample", "first-insert", "second-insert"], "parts in the order given"
    for ins in INSERTS:
        start = ranges[ins["id"]].start
        assert start % 2 == 1, f"{ins['id']} starts on page {start}, a left-hand page"
    # Each part, except the last, fills a whole number of sheets: its own pages plus at most one blank.
    for id_ in ("sample", "first-insert"):
        own = len(pypdf.PdfReader(str(built.single(paper, id_))).pages)
        assert len(ranges[id_]) == own + own % 2, (id_, own, ranges[id_])
    second = len(pypdf.PdfReader(str(built.out / paper / "inserts" / "second-insert.en.pdf")).pages)
    assert len(ranges["second-insert"]) == second


def test_insert_without_a_leaflet_id_is_a_usage_error(project, out):
    result = build(project, out, "--insert", "first-insert")
    assert result.exit_code == 2
    assert "--insert needs a leaflet ID" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert pdfs_and_parts(out) == []


def test_insert_option_without_a_value_is_a_usage_error(project, out):
    result = build(project, out, "sample", "--insert")
    assert result.exit_code == 2
    assert "--insert" in result.stderr and "requires an argument" in result.stderr
    assert pdfs_and_parts(out) == []


def test_insert_the_leaflet_does_not_list_is_refused_naming_the_listed_ones(project, out):
    sample = project / "leaflets" / "sample.md"
    text = sample.read_text("utf-8").replace("  - second-insert\n", "")
    sample.write_text(text, "utf-8")
    result = build(project, out, "sample", "--insert", "second-insert")
    err = assert_clean_error(
        result, out,
        r"^leaflets/sample\.md:\d+: insert 'second-insert' is not listed for this leaflet — .*first-insert")
    line = int(re.search(r"sample\.md:(\d+):", err).group(1))
    assert sample.read_text("utf-8").split("\n")[line - 1].startswith("inserts:")


def test_unknown_insert_id_names_the_available_inserts(project, out):
    result = build(project, out, "sample", "--insert", "no-such-thing")
    err = assert_clean_error(result, out, r"^leaflets/inserts/no-such-thing\.md: no such insert 'no-such-thing' — .+$")
    assert "first-insert" in err and "second-insert" in err


def test_unknown_leaflet_id_names_the_available_leaflets(project, out):
    result = build(project, out, "nope")
    assert_clean_error(result, out, r"^leaflets/nope\.md: no such leaflet 'nope' — available leaflets: sample$")


@pytest.mark.parametrize("args", [
    ["../../etc/passwd"],
    ["../org"],
    ["inserts/first-insert"],
    ["sample", "--insert", "../sample"],
    ["sample", "--insert", "../../../../etc/passwd"],
])
def test_ids_that_leave_the_leaflets_folder_are_refused(project, out, args):
    result = build(project, out, *args)
    err = assert_clean_error(result, out, r"^leaflets/(inserts/)?: '.+' is not a valid (leaflet|insert) id — .+$")
    assert "root:" not in err  # nothing from /etc/passwd leaks into the message
    assert not out.exists() or not any(out.rglob("*"))


def test_missing_project_folder_is_a_usage_error(tmp_path):
    result = run(tmp_path / "nowhere", "list")
    assert result.exit_code == 2
    assert "has no leaflets/ folder" in result.stderr


# --- list --------------------------------------------------------------------------------------

def _list_rows(output: str) -> dict:
    """Rows by id (the source) and by (id, lang) (every language)."""
    rows = {}
    for line in output.splitlines()[1:]:
        cells = re.split(r"\s{2,}", line.strip())
        rows[(cells[1], cells[2])] = cells
        rows.setdefault(cells[1], cells)
    return rows


def test_list_shows_code_version_status_and_review_state(project):
    result = run(project, "list")
    assert_ok(result)
    header = result.stdout.splitlines()[0].split()
    assert header[:4] == ["KIND", "ID", "LANG", "CODE"]
    rows = _list_rows(result.stdout)
    assert rows["sample"] == ["leaflet", "sample", "en", SAMPLE["code"], SAMPLE["version"], "approved", "2099-12-31",
                              "ok"]
    assert rows["first-insert"] == ["insert", "first-insert", "en", FIRST["code"], FIRST["version"], "draft",
                                    "2098-06-30", "ok"]
    assert rows[("second-insert", "es")][3:] == [SECOND["code"], SECOND["version"], "approved", "2097-03-01", "ok"]
    assert rows[("second-insert", "en")][3:] == ["FX-INS-202-EN", "5.0", "approved", "2097-03-01", "ok"]


def test_list_says_when_a_translation_is_out_of_date(project):
    path = project / "leaflets" / "inserts" / "second-insert.md"
    path.write_text(path.read_text("utf-8").replace('version: "5.0"', 'version: "5.1"'), "utf-8")
    rows = _list_rows(run(project, "list").stdout)
    assert rows[("second-insert", "en")][-1] == "ok; out of date (translates v5.0)"
    assert rows[("second-insert", "es")][-1] == "ok"


def test_list_flags_overdue_and_due_soon(project):
    today = date.today()
    leaflets = project / "leaflets"
    set_front_matter(leaflets / "sample.md", "published", (today - timedelta(days=800)).isoformat())
    set_front_matter(leaflets / "sample.md", "review_by", (today - timedelta(days=3)).isoformat())
    set_front_matter(leaflets / "inserts" / "first-insert.md", "published", (today - timedelta(days=800)).isoformat())
    set_front_matter(leaflets / "inserts" / "first-insert.md", "review_by", (today + timedelta(days=30)).isoformat())
    result = run(project, "list")
    assert_ok(result)  # listing an overdue leaflet is not an error: it is what list is for
    rows = _list_rows(result.stdout)
    assert rows["sample"][-2:] == [(today - timedelta(days=3)).isoformat(), "OVERDUE"]
    assert rows["first-insert"][-2:] == [(today + timedelta(days=30)).isoformat(), "due soon"]
    assert rows["second-insert"][-1] == "ok"


def test_listing_due_soon_boundary_is_90_days(project):
    leaflets = project / "leaflets"
    set_front_matter(leaflets / "sample.md", "review_by", "2030-04-01")
    states = {r.id: r.state for r in builder.listing(Project(project), today=date(2030, 4, 1) - timedelta(days=90))[0]}
    assert states["sample"] == "due soon"
    states = {r.id: r.state for r in builder.listing(Project(project), today=date(2030, 4, 1) - timedelta(days=91))[0]}
    assert states["sample"] == "ok"
    states = {r.id: r.state for r in builder.listing(Project(project), today=date(2030, 4, 1))[0]}
    assert states["sample"] == "due soon"  # due today is not yet overdue
    states = {r.id: r.state for r in builder.listing(Project(project), today=date(2030, 4, 2))[0]}
    assert states["sample"] == "OVERDUE"


def test_list_still_lists_valid_files_and_reports_broken_ones(project):
    insert = project / "leaflets" / "inserts" / "second-insert.md"
    set_front_matter(insert, "status", "finished")
    result = run(project, "list")
    assert_clean_error(result, None, r"^leaflets/inserts/second-insert\.md:\d+: status 'finished' is not allowed — .+$")
    rows = _list_rows(result.stdout)
    # The broken Spanish source is left out; its valid English translation is still listed.
    assert {k for k in rows if isinstance(k, tuple)} == {("sample", "en"), ("first-insert", "en"),
                                                         ("second-insert", "en")}


# --- html --------------------------------------------------------------------------------------

def test_html_prints_the_document_with_title_lang_and_styles(project):
    result = run(project, "html", "sample", "--insert", "first-insert")
    assert_ok(result)
    html = result.stdout
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert SAMPLE["title"] in html and FIRST["title"] in html
    assert re.search(r'<html lang="en"', html)
    assert "<style>" in html
    assert ORG_NAME in html
    assert "Zanzibar sentinel phrase" in html
    assert 'href="file://' in html and "/leaflets/" in html  # images resolve from a browser
    # CSS declarations with no characters HTML would escape appear verbatim.
    common = (project / "styles" / "common.css").read_text("utf-8")
    plain = [ln.strip() for ln in common.splitlines()
             if ln.strip().endswith(";") and not re.search(r"[\"'<>&]", ln)]
    assert plain, "common.css should have plain declarations to look for"
    for decl in plain:
        assert decl in html


def test_html_inlines_the_css_verbatim(project):
    result = run(project, "html", "sample")
    assert_ok(result)
    html = result.stdout
    for name in ("common.css", "paper-a4.css"):
        for line in (project / "styles" / name).read_text("utf-8").splitlines():
            if line.strip():
                assert line.strip() in html, f"{name}: {line.strip()!r} not inlined as written"
    assert "&#34;" not in html.split("<style>", 1)[1].split("</style>", 1)[0]


def test_html_style_block_cannot_be_closed_by_the_css(project):
    css = project / "styles" / "common.css"
    css.write_text(css.read_text("utf-8") + "\n/* </style><script>alert(1)</script> */\n", "utf-8")
    result = run(project, "html", "sample")
    assert_ok(result)
    assert result.stdout.count("</style>") == 1  # the one that closes the style block
    assert "</script>" not in result.stdout


def test_html_escapes_content_and_metadata(project):
    sample = project / "leaflets" / "sample.md"
    set_front_matter(sample, "title", '"Salt & <Pepper> leaflet"')
    sample.write_text(sample.read_text("utf-8") + "\nAsk for <b>Ann</b> at the desk.\n\n<script>alert(1)</script>\n",
                      "utf-8")
    result = run(project, "html", "sample")
    assert_ok(result)
    html = result.stdout
    assert "Salt &amp; &lt;Pepper&gt; leaflet" in html
    assert "<Pepper>" not in html
    assert "&lt;b&gt;Ann&lt;/b&gt;" in html
    assert "<b>Ann</b>" not in html
    assert "<script>" not in html


def test_html_paper_letter_uses_the_letter_stylesheet(project):
    result = run(project, "html", "sample", "--paper", "letter")
    assert_ok(result)
    assert 'class="paper-letter"' in result.stdout
    assert "size: letter" in result.stdout
    assert "size: A4" not in result.stdout


def test_html_unknown_leaflet_is_an_error(project):
    result = run(project, "html", "nope")
    assert_clean_error(result, None, r"^leaflets/nope\.md: no such leaflet 'nope' — .+$")
    assert result.stdout == ""


# --- help --------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [[], ["build"], ["list"], ["html"]])
def test_every_help_has_an_example(project, command):
    result = run(project, *command, "--help")
    assert_ok(result)
    assert "Example" in result.stdout
    assert "Usage:" in result.stdout


def test_help_works_without_a_project(tmp_path, monkeypatch):
    # --help must not need leaflets/ (eager option, handled before the group callback).
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["--project", str(tmp_path / "nowhere"), "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout
