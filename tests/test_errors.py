"""Every mistake an author can make is reported as `path:line: problem — fix`, exit 1, no PDF written."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from helpers import (assert_clean_error, assert_ok, build, line_of, page_texts, set_front_matter)


def sample_of(project: Path) -> Path:
    return project / "leaflets" / "sample.md"


def append_body(path: Path, text: str) -> None:
    path.write_text(path.read_text("utf-8").rstrip("\n") + "\n\n" + text + "\n", "utf-8")


def reported_lines(stderr: str, shown: str) -> list[int]:
    return [int(n) for n in re.findall(rf"^{re.escape(shown)}:(\d+): ", stderr, re.M)]


def build_fails(project, out, shown, message, *args, line=None):
    """Build, expect one clean failure mentioning message at shown(:line); return stderr."""
    result = build(project, out, *args)
    where = re.escape(shown) + (rf":{line}" if line else r"(:\d+)?")
    return assert_clean_error(result, out, rf"^{where}: .*{message}.* — .+$")


# --- front matter ------------------------------------------------------------------------------

def test_malformed_yaml_reports_the_bad_line(project, out):
    sample = sample_of(project)
    set_front_matter(sample, "owner", "Fixture: Owners: Unit")
    bad = line_of(sample, "owner:")
    build_fails(project, out, "leaflets/sample.md", "malformed YAML", line=bad)


def test_malformed_yaml_unclosed_quote_reports_a_line_in_the_front_matter(project, out):
    sample = sample_of(project)
    set_front_matter(sample, "code", '"FX-SAM-042')
    err = build_fails(project, out, "leaflets/sample.md", "malformed YAML")
    lines = reported_lines(err, "leaflets/sample.md")
    close = line_of(sample, "  - second-insert") + 1
    assert lines and all(line_of(sample, "code:") <= n <= close for n in lines), lines


def test_missing_required_key(project, out):
    set_front_matter(sample_of(project), "owner", None)
    build_fails(project, out, "leaflets/sample.md", "required key 'owner' is missing")


def test_unknown_key_suggests_the_right_one(project, out):
    sample = sample_of(project)
    sample.write_text(sample.read_text("utf-8").replace("review_by:", "reveiw_by:"), "utf-8")
    err = build_fails(project, out, "leaflets/sample.md", r"unknown key 'reveiw_by'",
                      line=line_of(sample, "reveiw_by:"))
    assert re.search(r"unknown key 'reveiw_by' — did you mean 'review_by'\?", err)
    assert "required key 'review_by' is missing" in err


@pytest.mark.parametrize("key,value,message", [
    ("review_by", "2026-13-01", "'2026-13-01' is not a real date in review_by"),
    ("published", "26/11/2026", "'26/11/2026' is not a date in published"),
    ("review_by", "2099-02-30", "'2099-02-30' is not a real date in review_by"),
])
def test_bad_dates(project, out, key, value, message):
    sample = sample_of(project)
    set_front_matter(sample, key, value)
    err = build_fails(project, out, "leaflets/sample.md", re.escape(message), line=line_of(sample, f"{key}:"))
    assert "YYYY-MM-DD" in err


@pytest.mark.parametrize("review_by", ["2026-01-15", "2025-06-01"])
def test_review_by_must_be_after_published(project, out, review_by):
    sample = sample_of(project)
    set_front_matter(sample, "review_by", review_by)
    build_fails(project, out, "leaflets/sample.md", "is not after published", line=line_of(sample, "review_by:"))


def test_unknown_insert_listed_in_front_matter(project, out):
    sample = sample_of(project)
    sample.write_text(sample.read_text("utf-8").replace("  - second-insert\n", "  - second-insert\n  - third-insert\n"),
                      "utf-8")
    err = build_fails(project, out, "leaflets/sample.md", "unknown insert 'third-insert'", "sample",
                      line=line_of(sample, "inserts:"))
    assert "available inserts: first-insert, second-insert" in err


@pytest.mark.parametrize("key,value,message", [
    ("status", "published", "status 'published' is not allowed"),
    ("lang", "english language", "is not a BCP 47 language tag"),
    ("summary", '"One. Two. Three. Four."', "summary has 4 sentences"),
    ("title", '""', "'title' must be a single line of text"),
    ("version", "[1, 2]", "'version' must be a single line of text"),
])
def test_invalid_values(project, out, key, value, message):
    sample = sample_of(project)
    set_front_matter(sample, key, value)
    build_fails(project, out, "leaflets/sample.md", re.escape(message), line=line_of(sample, f"{key}:"))


def test_duplicate_key(project, out):
    sample = sample_of(project)
    sample.write_text(sample.read_text("utf-8").replace("owner:", "code: FX-DUP-1\nowner:", 1), "utf-8")
    build_fails(project, out, "leaflets/sample.md", "'code' is given twice", line=line_of(sample, "FX-DUP-1"))


def test_inserts_key_in_an_insert_is_refused(project, out):
    insert = project / "leaflets" / "inserts" / "first-insert.md"
    insert.write_text(insert.read_text("utf-8").replace("status: draft", "status: draft\ninserts: [second-insert]"),
                      "utf-8")
    build_fails(project, out, "leaflets/inserts/first-insert.md", "'inserts' is only for leaflets",
                line=line_of(insert, "inserts:"))


def test_file_without_front_matter(project, out):
    sample = sample_of(project)
    sample.write_text("Just text, no front matter.\n", "utf-8")
    build_fails(project, out, "leaflets/sample.md", "does not start with front matter", line=1)


def test_front_matter_never_closed(project, out):
    sample = sample_of(project)
    sample.write_text("---\ntitle: x\n\nbody\n", "utf-8")
    build_fails(project, out, "leaflets/sample.md", "front matter is never closed", line=1)


# --- body: placeholders, Markdown, images ------------------------------------------------------

def test_unknown_org_placeholder_reports_its_line_and_the_choices(project, out):
    sample = sample_of(project)
    append_body(sample, "Fax us on {{ org.fax }} any day.")
    err = build_fails(project, out, "leaflets/sample.md", r"unknown placeholder 'org\.fax'",
                      line=line_of(sample, "org.fax"))
    assert re.search(r"choose one of: .*emergency_number.*name", err)


def test_unknown_top_level_placeholder(project, out):
    sample = sample_of(project)
    append_body(sample, "Dear {{ patient }},")
    build_fails(project, out, "leaflets/sample.md", r"unknown placeholder 'patient'", line=line_of(sample, "patient"))


def test_placeholder_line_is_right_deep_in_the_body_and_inside_a_callout(project, out):
    sample = sample_of(project)
    text = sample.read_text("utf-8").replace("    - Gondolier chest tightness", "    - Gondolier {{ org.pager }}")
    sample.write_text(text, "utf-8")
    append_body(sample, "Line one.\n\nLine two.\n\nCall {{ org.telex }}.")
    result = build(project, out)
    err = assert_clean_error(result, out)
    assert reported_lines(err, "leaflets/sample.md") == [line_of(sample, "org.pager"), line_of(sample, "org.telex")]


def test_placeholder_naming_a_group_is_refused(project, out):
    sample = sample_of(project)
    append_body(sample, "Phones: {{ org.phones }}")
    build_fails(project, out, "leaflets/sample.md", r"placeholder 'org\.phones' is a group",
                line=line_of(sample, "{{ org.phones }}"))


def test_broken_placeholder_syntax(project, out):
    sample = sample_of(project)
    append_body(sample, "Call {{ org.name now.")
    build_fails(project, out, "leaflets/sample.md", "broken placeholder")


def test_org_values_print_as_plain_text_not_markdown(project, out):
    org = project / "leaflets" / "org.yaml"
    org.write_text(org.read_text("utf-8").replace("name: Fixture Health Trust", "name: Smith & *Sons* [1]"), "utf-8")
    result = build(project, out, "sample", "--paper", "a4")
    assert_ok(result)
    texts = page_texts(out / "a4" / "sample.pdf")
    assert "Visit" in texts[0] or "Visit" in " ".join(texts)
    assert "at Smith & *Sons* [1]." in " ".join(texts)


def test_missing_image(project, out):
    sample = sample_of(project)
    append_body(sample, "![A missing diagram](images/missing.svg)")
    build_fails(project, out, "leaflets/sample.md", r"image 'images/missing\.svg' does not exist",
                line=line_of(sample, "missing.svg"))


def test_image_without_alt_text(project, out):
    sample = sample_of(project)
    append_body(sample, "Some words first.\n![](images/diagram.svg)")
    build_fails(project, out, "leaflets/sample.md", r"image 'images/diagram\.svg' has no alt text",
                line=line_of(sample, "![](images/diagram.svg)"))


@pytest.mark.parametrize("src", ["../../etc/passwd.svg", "/etc/passwd.svg", "https://example.org/x.png", "images/%2e%2e/%2e%2e/../etc/passwd.svg"])
def test_image_outside_leaflets_is_refused(project, out, src):
    sample = sample_of(project)
    append_body(sample, f"![A sneaky picture]({src})")
    build_fails(project, out, "leaflets/sample.md", "is outside leaflets/", line=line_of(sample, "sneaky"))


def test_file_url_image_is_refused_not_silently_dropped(project, out):
    # markdown-it drops images with a file: URL; the author is told rather than losing the picture.
    sample = sample_of(project)
    append_body(sample, "![A sneaky picture](file:///etc/passwd.svg)")
    build_fails(project, out, "leaflets/sample.md", "is outside leaflets/", line=line_of(sample, "sneaky"))


def test_image_of_an_unsupported_type(project, out):
    sample = sample_of(project)
    (project / "leaflets" / "images" / "anim.gif").write_bytes(b"GIF89a")
    append_body(sample, "![An animation](images/anim.gif)")
    build_fails(project, out, "leaflets/sample.md", "is not an SVG, PNG or JPEG", line=line_of(sample, "anim.gif"))


def test_file_that_is_not_utf8_reports_the_line(project, out):
    sample = sample_of(project)
    sample.write_bytes(b"---\ntitle: ok\ncode: \xff\xfe bad\n---\n")
    err = build_fails(project, out, "leaflets/sample.md", "not UTF-8", line=3)
    assert "0xff" in err


def test_windows_line_endings_build_and_keep_line_numbers(project, out):
    sample = sample_of(project)
    append_body(sample, "Fax us on {{ org.fax }}.")
    expected = line_of(sample, "org.fax")
    sample.write_bytes(sample.read_bytes().replace(b"\n", b"\r\n"))
    build_fails(project, out, "leaflets/sample.md", r"unknown placeholder 'org\.fax'", line=expected)
    text = sample.read_bytes().replace(b"Fax us on {{ org.fax }}.", b"No fax.")
    sample.write_bytes(text)
    assert_ok(build(project, out, "sample", "--paper", "a4"))
    assert "Heliotrope heading" in " ".join(page_texts(out / "a4" / "sample.pdf"))


@pytest.mark.parametrize("name", ["sample.md", "org.yaml"])
def test_utf8_byte_order_mark_is_accepted(project, out, name):
    path = project / "leaflets" / name
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    result = build(project, out, "sample", "--paper", "a4")
    assert_ok(result)
    assert "\ufeff" not in " ".join(page_texts(out / "a4" / "sample.pdf"))


def test_image_symlinked_to_outside_is_refused(project, out):
    sample = sample_of(project)
    (project / "leaflets" / "images" / "evil.svg").symlink_to("/etc/passwd")
    append_body(sample, "![A linked picture](images/evil.svg)")
    build_fails(project, out, "leaflets/sample.md", "is outside leaflets/", line=line_of(sample, "evil.svg"))


def test_unknown_callout_type(project, out):
    sample = sample_of(project)
    append_body(sample, '!!! danger2 "Typo callout"\n    Body of the callout.')
    err = build_fails(project, out, "leaflets/sample.md", "unknown callout type 'danger2'",
                      line=line_of(sample, "danger2"))
    assert "danger, warning, note, tip" in err


def test_h1_in_the_body_is_refused(project, out):
    sample = sample_of(project)
    append_body(sample, "# A second title")
    build_fails(project, out, "leaflets/sample.md", "a '#' heading is not allowed", line=line_of(sample, "# A second"))


def test_character_missing_from_the_font_is_refused(project, out):
    sample = sample_of(project)
    append_body(sample, "Smile \U0001F600 please.")
    build_fails(project, out, "leaflets/sample.md", "U\\+1F600", line=line_of(sample, "Smile"))


def test_raw_html_is_printed_as_text_with_a_warning(project, out):
    sample = sample_of(project)
    append_body(sample, "Ask for <b>Ann</b> at the desk.\n\n<script>alert('x')</script>")
    result = build(project, out, "sample", "--paper", "a4")
    assert_ok(result)
    html_line = line_of(sample, "<b>Ann</b>")
    assert re.search(rf"^warning: leaflets/sample\.md:{html_line}: raw HTML is not rendered.* — .+$",
                     result.stderr, re.M)
    assert re.search(rf"^warning: leaflets/sample\.md:{line_of(sample, '<script>')}: raw HTML", result.stderr, re.M)
    text = " ".join(page_texts(out / "a4" / "sample.pdf"))
    assert "Ask for <b>Ann</b> at the desk." in text
    assert "<script>alert('x')</script>" in text


# --- org.yaml -----------------------------------------------------------------------------------

def test_org_unknown_key(project, out):
    org = project / "leaflets" / "org.yaml"
    org.write_text(org.read_text("utf-8") + "fax: 0100 555 0000\n", "utf-8")
    err = build_fails(project, out, "leaflets/org.yaml", "unknown key 'fax'", line=line_of(org, "fax:"))
    assert "allowed keys are name, department, emergency_number, website, phones" in err


def test_org_missing_emergency_number(project, out):
    org = project / "leaflets" / "org.yaml"
    org.write_text(org.read_text("utf-8").replace('emergency_number: "999"\n', ""), "utf-8")
    build_fails(project, out, "leaflets/org.yaml", "'emergency_number' is missing")


def test_org_malformed_yaml(project, out):
    org = project / "leaflets" / "org.yaml"
    org.write_text(org.read_text("utf-8").replace("department: Quillfeather Department",
                                                  "department: [Quillfeather"), "utf-8")
    err = build_fails(project, out, "leaflets/org.yaml", "malformed YAML")
    assert reported_lines(err, "leaflets/org.yaml")


def test_org_phone_missing_number(project, out):
    org = project / "leaflets" / "org.yaml"
    org.write_text(org.read_text("utf-8").replace("    number: 0100 555 0111\n", ""), "utf-8")
    build_fails(project, out, "leaflets/org.yaml", "phones.night has no number", line=line_of(org, "  night:"))


def test_org_missing_file(project, out):
    (project / "leaflets" / "org.yaml").unlink()
    result = build(project, out)
    assert_clean_error(result, out, r"^leaflets/org\.yaml: the organisation config is missing — .+$")


# --- many mistakes at once ----------------------------------------------------------------------

def test_three_mistakes_in_two_files_are_all_reported_in_one_run(project, out):
    sample = sample_of(project)
    insert = project / "leaflets" / "inserts" / "first-insert.md"
    sample.write_text(sample.read_text("utf-8").replace("review_by:", "reveiw_by:"), "utf-8")
    append_body(sample, "Fax us on {{ org.fax }}.")
    set_front_matter(insert, "published", "26/11/2026")
    result = build(project, out)
    err = assert_clean_error(result, out)
    assert re.search(rf"^leaflets/sample\.md:{line_of(sample, 'reveiw_by')}: unknown key 'reveiw_by' — .+$", err, re.M)
    assert re.search(rf"^leaflets/sample\.md:{line_of(sample, 'org.fax')}: unknown placeholder 'org\.fax' — .+$",
                     err, re.M)
    assert re.search(rf"^leaflets/inserts/first-insert\.md:{line_of(insert, 'published:')}: "
                     r"'26/11/2026' is not a date in published — .+$", err, re.M)
    # Reported top to bottom: by file, then by line.
    order = [ln.split(": ", 1)[0] for ln in err.splitlines() if ln.startswith("leaflets/")]
    assert order == sorted(order, key=lambda w: (w.split(":")[0], int(w.split(":")[1]) if ":" in w else 0))


def test_mistakes_of_different_kinds_in_three_files_are_reported_in_one_run(project, out):
    leaflets = project / "leaflets"
    set_front_matter(leaflets / "sample.md", "owner", None)                 # front matter
    append_body(leaflets / "inserts" / "first-insert.md", "Smile \U0001F600")  # a character the font lacks
    make_overdue(leaflets / "inserts" / "second-insert.md")                 # overdue
    result = build(project, out)
    err = assert_clean_error(result, out)
    assert "leaflets/sample.md:" in err
    assert "leaflets/inserts/first-insert.md:" in err
    assert "leaflets/inserts/second-insert.md:" in err


# --- overdue ------------------------------------------------------------------------------------

def make_overdue(path: Path) -> str:
    today = date.today()
    set_front_matter(path, "published", (today - timedelta(days=1200)).isoformat())
    review = (today - timedelta(days=1)).isoformat()
    set_front_matter(path, "review_by", review)
    return review


def test_overdue_leaflet_is_refused_naming_file_and_date(project, out):
    sample = sample_of(project)
    review = make_overdue(sample)
    err = build_fails(project, out, "leaflets/sample.md", f"review date {review} has passed",
                      line=line_of(sample, "review_by:"))
    assert "--allow-overdue" in err


def test_overdue_insert_is_refused_in_a_build_of_everything(project, out):
    insert = project / "leaflets" / "inserts" / "second-insert.md"
    review = make_overdue(insert)
    build_fails(project, out, "leaflets/inserts/second-insert.md", f"review date {review} has passed")


def test_allow_overdue_builds_and_stamps_every_page(project, out):
    sample = sample_of(project)
    make_overdue(sample)
    # Long enough for several pages, so "every page" means something.
    append_body(sample, "\n\n".join(f"Extra paragraph {n} about nothing in particular, to add pages." * 3
                                    for n in range(40)))
    result = build(project, out, "sample", "--insert", "first-insert", "--paper", "a4", "--allow-overdue")
    assert_ok(result)
    texts = page_texts(out / "a4" / "sample+first-insert.pdf")
    assert len(texts) >= 4
    start = next(i for i, t in enumerate(texts) if "Procedure insert" in t)
    for n, text in enumerate(texts[:start], 1):
        assert "Review overdue" in text, f"leaflet page {n} lacks the overdue stamp"
    for n, text in enumerate(texts[start:], start + 1):
        assert "Review overdue" not in text, f"insert page {n} is not overdue"


# --- checks after rendering, and template errors -------------------------------------------------

def test_danger_callout_pushed_off_page_one_is_refused(project, out):
    sample = sample_of(project)
    filler = "\n\n".join(f"Preamble paragraph {n} that pushes the emergency box down the page." for n in range(30))
    text = sample.read_text("utf-8").replace('!!! danger "', filler + '\n\n!!! danger "', 1)
    sample.write_text(text, "utf-8")
    build_fails(project, out, "leaflets/sample.md", r"the danger callout '.*' does not fit on page 1 \(a4\)",
                "sample", line=line_of(sample, "!!! danger"))


def test_template_undefined_variable_reports_template_and_line(project, out):
    part = project / "templates" / "part.html"
    text = part.read_text("utf-8").replace('<div class="content">', '<div class="content">{{ no_such_thing.x }}', 1)
    part.write_text(text, "utf-8")
    result = build(project, out)
    err = assert_clean_error(result, out, r"^templates/part\.html:\d+: template error: .*no_such_thing.* — .+$")
    line = int(re.search(r"^templates/part\.html:(\d+):", err, re.M).group(1))
    assert line == line_of(part, "no_such_thing")


def test_template_syntax_error_reports_template_and_line(project, out):
    part = project / "templates" / "part.html"
    text = part.read_text("utf-8").replace('<div class="content">', '<div class="content">{% if %}', 1)
    part.write_text(text, "utf-8")
    result = build(project, out)
    err = assert_clean_error(result, out, r"^templates/part\.html:\d+: template error: .+ — .+$")
    assert int(re.search(r"^templates/part\.html:(\d+):", err, re.M).group(1)) == line_of(part, "{% if %}")


def test_out_folder_that_cannot_be_created_is_a_clean_error(project, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    result = build(project, blocker / "dist", "sample", "--paper", "a4")
    assert result.exit_code == 1, (result.exit_code, result.stderr, repr(result.exception))
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output + result.stderr
    assert "file.txt" in result.stderr
    assert blocker.read_text() == "not a folder"
