"""Input that tries to hurt: YAML alias bombs and loops, oversized YAML, and invisible characters
that change what a dose or name reads as (issue 12, items 5 and 6)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers import FULL, assert_clean_error, build, handout, line_of, run, write_patient

BOMB = "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
BOMB = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + BOMB + "name: *i\n"


def test_a_patient_file_with_an_alias_bomb_is_refused_before_it_expands(project, tmp_path):
    patient = tmp_path / "bomb.yaml"
    patient.write_text(BOMB, "utf-8")  # 9**9 strings once expanded: about 400 million
    err = assert_clean_error(handout(project, "--patient", patient, "--out", tmp_path / "out" / "h.pdf"),
                             tmp_path / "out")
    assert f"{patient}:1: YAML anchors and aliases ('&name' and '*name') are not allowed" in err


@pytest.mark.parametrize("command", ["list", "check", "build"])
def test_an_alias_inside_itself_in_front_matter_is_a_clean_error(project, tmp_path, command):
    path = project / "leaflets" / "sample.md"
    path.write_text(path.read_text("utf-8").replace("---\n", "---\nloop: &loop [*loop]\n", 1), "utf-8")
    args = ["--out", tmp_path / "out"] if command == "build" else []
    result = run(project, command, *args)
    assert "Traceback" not in result.output + result.stderr and "RecursionError" not in repr(result.exception)
    shown = f"leaflets/sample.md:{line_of(path, 'loop: &loop')}: "
    assert any(line.startswith(shown) and "YAML anchors and aliases" in line
               for line in (result.output + result.stderr).splitlines())
    if command != "check":
        assert_clean_error(result)


def test_an_alias_in_org_yaml_is_a_clean_error(project, out):
    org = project / "leaflets" / "org.yaml"
    org.write_text(org.read_text("utf-8") + "website_copy: &site x\nother: *site\n", "utf-8")
    err = assert_clean_error(build(project, out), out)
    assert f"leaflets/org.yaml:{line_of(org, 'website_copy')}: YAML anchors and aliases" in err


def test_oversized_yaml_is_refused(project, tmp_path):
    patient = tmp_path / "big.yaml"
    patient.write_text("name: Ann\nnote: |\n" + "  Walk every day.\n" * 20000, "utf-8")
    err = assert_clean_error(handout(project, "--patient", patient, "--out", tmp_path / "out" / "h.pdf"))
    assert "the most is 256 KB" in err


def test_a_dose_with_a_bidi_override_is_refused_without_echoing_it(project, tmp_path):
    patient = write_patient(tmp_path / "p.yaml", **{**FULL, "medication.dose": "\u202egm 05"})
    result = handout(project, "--patient", patient, "--out", tmp_path / "out" / "h.pdf")
    err = assert_clean_error(result, tmp_path / "out")
    assert f"{patient}:{line_of(patient, chr(0x202E))}: the line holds an invisible formatting character (U+202E)" in err
    assert "gm 05" not in result.output + result.stderr  # the value itself is never shown


@pytest.mark.parametrize("character", ["\u202e", "\u2066", "\u200b", "\u200d", "\u2060", "\ufeff"])
def test_invisible_characters_in_patient_values_are_refused(character):
    from datetime import date

    from clearleaf import handout as patients
    from clearleaf.errors import Problems

    problems = Problems()
    made = patients.check_values({"name": f"Ann{character} Smith"}, "desk form", {}, date(2026, 11, 30), problems)
    assert made is None and f"U+{ord(character):04X}" in problems.items[0].message


def test_arabic_names_with_their_marks_are_accepted():
    from datetime import date

    from clearleaf import handout as patients
    from clearleaf.errors import Problems

    problems = Problems()
    made = patients.check_values({"name": "مُحَمَّد عَلِي"}, "desk form", {}, date(2026, 11, 30), problems)
    assert problems.items == [] and made.name == "مُحَمَّد عَلِي"


def test_an_invisible_character_in_a_leaflet_names_its_line(project, out):
    path = project / "leaflets" / "sample.md"
    path.write_text(path.read_text("utf-8").replace("## Heliotrope heading\n", "## Heliotrope\u202e heading\n"), "utf-8")
    err = assert_clean_error(build(project, out), out)
    assert (f"leaflets/sample.md:{line_of(path, 'Heliotrope')}: the line holds an invisible formatting character "
            "(U+202E)") in err


# --- Never overwrite silently; never write over an input (issue 12, item 3) -----------------------

def test_a_handout_never_replaces_an_existing_file_without_overwrite(project, tmp_path):
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    target = tmp_path / "h.pdf"
    target.write_bytes(b"an earlier patient's handout")
    err = assert_clean_error(handout(project, "--patient", patient, "--out", target))
    assert f"{target}: the file already exists — choose another --out, or add --overwrite" in err
    assert target.read_bytes() == b"an earlier patient's handout"
    result = handout(project, "--patient", patient, "--out", target, "--overwrite")
    assert result.exit_code == 0 and target.read_bytes().startswith(b"%PDF")


def test_the_patient_file_is_never_written_over_even_with_overwrite(project, tmp_path):
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    before = patient.read_bytes()
    err = assert_clean_error(handout(project, "--patient", patient, "--out", patient, "--overwrite"))
    assert "this is the file the patient's details were read from" in err
    assert patient.read_bytes() == before


def test_a_batch_that_would_replace_files_writes_nothing(project, tmp_path):
    listing = tmp_path / "today.csv"
    listing.write_text("reference,name\nMRN-1,Ann\nMRN-2,Ben\n", "utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "MRN-2.pdf").write_bytes(b"kept")
    err = assert_clean_error(handout(project, "--patients", listing, "--out", out))
    assert "1 of the 2 PDFs to write already exist" in err and "nothing was written" in err
    assert sorted(p.name for p in out.iterdir()) == ["MRN-2.pdf"] and (out / "MRN-2.pdf").read_bytes() == b"kept"


def test_a_patient_file_without_a_reference_is_refused(project, tmp_path):
    values = {k: v for k, v in FULL.items() if k != "reference"}
    patient = write_patient(tmp_path / "p.yaml", **values)
    err = assert_clean_error(handout(project, "--patient", patient, "--out", tmp_path / "out" / "h.pdf"),
                             tmp_path / "out")
    assert f"{patient}:1: the patient file has no reference" in err


def test_email_to_an_existing_eml_file_is_refused(project, tmp_path):
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    eml = tmp_path / "message.eml"
    eml.write_text("an earlier message", "utf-8")
    result = run(project, "email", "sample", "--patient", patient, "--to", "patient@example.org", "--eml", eml,
                 "--allow-draft")
    err = assert_clean_error(result)
    assert f"{eml}: the file already exists — choose another --eml, or add --overwrite" in err
    assert eml.read_text("utf-8") == "an earlier message"


# --- Content that would silently vanish (issue 12, item 8) -----------------------------------------

@pytest.mark.parametrize("depth", [5, 10, 25])
def test_lists_nested_too_deep_are_an_error_naming_the_line(project, out, depth):
    path = project / "leaflets" / "sample.md"
    nested = "".join("  " * i + f"- level {i}\n" for i in range(depth))
    path.write_text(path.read_text("utf-8").replace("## Heliotrope heading\n", f"## Heliotrope heading\n\n{nested}\n"),
                    "utf-8")
    err = assert_clean_error(build(project, out), out)
    assert f"leaflets/sample.md:{line_of(path, '- level 4')}: a list nested 5 levels deep; at most 4" in err


def test_four_levels_of_list_still_build(project, out):
    path = project / "leaflets" / "sample.md"
    nested = "".join("  " * i + f"- level {i}\n" for i in range(4))
    path.write_text(path.read_text("utf-8").replace("## Heliotrope heading\n", f"## Heliotrope heading\n\n{nested}\n"),
                    "utf-8")
    result = build(project, out)
    assert result.exit_code == 0, result.stderr


def test_quotes_nested_past_the_parsers_limit_are_an_error(project, out):
    path = project / "leaflets" / "sample.md"
    path.write_text(path.read_text("utf-8").replace("## Heliotrope heading\n",
                                                    "## Heliotrope heading\n\n" + "> " * 25 + "deep\n\n"), "utf-8")
    err = assert_clean_error(build(project, out), out)
    assert "the text nests too deeply" in err and "leaflets/sample.md:" in err


# --- Also (issue 12, item 16) -----------------------------------------------------------------------

def test_a_leaflet_linked_from_outside_the_project_is_refused(project, tmp_path, out):
    outside = tmp_path / "elsewhere.md"
    outside.write_text((project / "leaflets" / "sample.md").read_text("utf-8").replace("FX-SAM-042", "FX-OUT-001"),
                       "utf-8")
    (project / "leaflets" / "linked.md").symlink_to(outside)
    err = assert_clean_error(build(project, out), out)
    assert "leaflets/linked.md: the file is a link to a file outside leaflets/" in err


@pytest.mark.parametrize("address", ["a" * 65 + "@example.org", "ann@" + "b" * 250 + ".org", "x" * 100000 + "@e.org"])
def test_overlong_e_mail_addresses_are_refused(address):
    from clearleaf import mail

    with pytest.raises(mail.MailError, match="too long|characters long"):
        mail.check_address(address)


def test_a_draft_handed_out_for_training_is_marked_in_the_log(project, tmp_path):
    from clearleaf import records

    patient = write_patient(tmp_path / "p.yaml", **FULL)
    assert handout(project, "--patient", patient, "--out", tmp_path / "a.pdf").exit_code == 0  # approved
    assert handout(project, "--patient", patient, "--out", tmp_path / "b.pdf", "--insert", "first-insert",
                   "--allow-draft").exit_code == 0  # its insert is a draft
    approved, training = records.read(project / "records" / "issued.jsonl")[0]
    assert "training" not in approved and training["training"] is True and training["status"] == "issued"


@pytest.mark.parametrize("link", ["[the share](smb://files/leaflets)", "[files](ftp://example.org/x)",
                                  "<launch:calc.exe>", "[run](javascript:alert(1))"])
def test_links_that_open_programs_or_file_shares_are_refused(project, out, link):
    path = project / "leaflets" / "sample.md"
    path.write_text(path.read_text("utf-8").replace("## Heliotrope heading\n", f"## Heliotrope heading\n\nSee {link}.\n"),
                    "utf-8")
    err = assert_clean_error(build(project, out), out)
    assert f"leaflets/sample.md:{line_of(path, 'See ')}: a '" in err and "link would open a program" in err


def test_web_mail_and_phone_links_are_clickable_in_the_pdf(project, out):
    import pikepdf

    path = project / "leaflets" / "sample.md"
    links = "[NHS](https://www.nhs.uk/) [mail](mailto:team@example.org) [call](tel:+15550100142)"
    path.write_text(path.read_text("utf-8").replace("## Heliotrope heading\n", f"## Heliotrope heading\n\n{links}\n"),
                    "utf-8")
    assert build(project, out, "sample", "--paper", "a4").exit_code == 0
    with pikepdf.open(out / "a4" / "sample.pdf") as doc:
        uris = {str(a.A.URI) for page in doc.pages for a in page.get("/Annots", []) if "/A" in a and "/URI" in a.A}
    assert {"https://www.nhs.uk/", "mailto:team@example.org", "tel:+15550100142"} <= uris


def test_a_link_to_a_local_file_is_refused_but_pictures_still_print(project, out):
    import pikepdf

    import pdfua

    path = project / "leaflets" / "sample.md"
    text = path.read_text("utf-8")
    path.write_text(text.replace("## Heliotrope heading\n", "## Heliotrope heading\n\nSee [this](other.md).\n"), "utf-8")
    err = assert_clean_error(build(project, out), out)
    assert f"leaflets/sample.md:{line_of(path, 'See [this]')}: the link 'other.md' would open a file" in err
    path.write_text(text, "utf-8")
    assert build(project, out, "sample", "--paper", "a4").exit_code == 0
    with pikepdf.open(out / "a4" / "sample.pdf") as doc:
        assert pdfua.analyse(doc).of_type("Figure")  # the picture (images/diagram.svg) is still there


def test_unbreakable_values_wrap_inside_the_details_box(project, tmp_path):
    """A 100-character name or a 40-character phone with no spaces stays inside 'Your details'."""
    import pdfplumber

    values = {**FULL, "name": "W" * 100, "contact_phone": "0" * 40, "clinician": "Dr" + "x" * 60}
    out = tmp_path / "h.pdf"
    assert handout(project, "--patient", write_patient(tmp_path / "p.yaml", **values), "--out", out).exit_code == 0
    with pdfplumber.open(out) as doc:
        page = doc.pages[0]
        right_margin = float(page.width) - 20 * 72 / 25.4  # styles/common.css: @page margin 20mm at the sides
        assert max(c["x1"] for c in page.chars if c["text"] in "W0x") <= right_margin  # nothing off the page
        phone = [w for w in page.extract_words() if w["text"] == "Phone"][-1]  # the label, not the danger title
        seen_by = [c for c in page.chars if c["text"] == "x" and abs(c["top"] - phone["top"]) < 3]
        assert seen_by and max(c["x1"] for c in seen_by) < phone["x0"]  # nor over the next label


# --- Patient data never in an error message (issue 12, item 11) ---------------------------------------

def test_a_csv_without_a_header_row_shows_no_names_or_references(project, tmp_path):
    csv = tmp_path / "today.csv"
    csv.write_text("Quillon Vexworthy,MRN-7731,Apixaban\nBo Example,MRN-7732,Rivaroxaban\n", "utf-8")
    result = handout(project, "--patients", csv, "--out", tmp_path / "o")
    err = assert_clean_error(result, tmp_path / "o")
    assert f"{csv}:1: the first row is not a header row: none of its 3 cells is a column name — " in err
    for private in ("Quillon", "Vexworthy", "MRN-7731", "Apixaban"):
        assert private not in result.output + result.stderr


def test_an_unknown_csv_column_is_named_by_its_number(project, tmp_path):
    csv = tmp_path / "today.csv"
    csv.write_text("reference,nmae,Quillon Vexworthy\nR1,a,b\n", "utf-8")
    err = assert_clean_error(handout(project, "--patients", csv, "--out", tmp_path / "o"))
    assert f"{csv}:1: column 2 has an unknown heading — did you mean 'name'?" in err
    assert f"{csv}:1: column 3 has an unknown heading — " in err
    assert "nmae" not in err and "Quillon" not in err


def test_a_repeated_reference_is_not_echoed(project, tmp_path):
    csv = tmp_path / "today.csv"
    csv.write_text("reference,name\nMRN-7731,a\nMRN-7731,b\n", "utf-8")
    err = assert_clean_error(handout(project, "--patients", csv, "--out", tmp_path / "o"))
    assert f"{csv}:3: this row's reference is also on line 2 — give every row its own reference" in err
    assert "MRN-7731" not in err


def test_an_unknown_key_in_a_patient_file_is_not_echoed(project, tmp_path):
    patient = tmp_path / "p.yaml"
    patient.write_text("reference: R1\nQuillon Vexworthy: yes\nmedication:\n  name: A\n  Quillon Vexworthy: x\n"
                       "nmae: Bo\n", "utf-8")
    result = handout(project, "--patient", patient, "--out", tmp_path / "h.pdf")
    err = assert_clean_error(result)
    assert f"{patient}:2: unknown key in column 1 — allowed keys are name, issued" in err
    assert f"{patient}:5: unknown key under 'medication' in column 3 — allowed keys are medication.name" in err
    assert f"{patient}:6: unknown key in column 1 — did you mean 'name'?" in err
    assert "Quillon" not in result.output + result.stderr and "nmae" not in err


def test_a_key_given_twice_in_a_patient_file_is_not_echoed(project, tmp_path):
    patient = tmp_path / "p.yaml"
    patient.write_text("reference: R1\nQuillon Vexworthy: 1\nQuillon Vexworthy: 2\n", "utf-8")
    err = assert_clean_error(handout(project, "--patient", patient, "--out", tmp_path / "h.pdf"))
    assert f"{patient}:3: the key in column 1 is given twice — " in err and "Quillon" not in err


# --- Leaflet content is text with {{ org.* }} placeholders, and of a sensible size (item 13) ----------

@pytest.mark.parametrize("template,what", [
    ('{{ "lol" * 3 }}', "a calculation"),
    ("{{ org.name * 2 }}", "a calculation"),
    ("{{ org.name | upper }}", "a filter"),
    ("{{ org.name.upper() }}", "a call"),
    ('{{ "fixed text" }}', "a fixed value"),
    ("{{ org.phones if org.name else org.name }}", "a condition"),
    ("{% for n in range(3) %}x{% endfor %}", "{% for %}"),
    ("{% set n = 1 %}", "{% set %}"),
    ("{% if org.name %}x{% endif %}", "{% if %}"),
    ("{% macro m() %}x{% endmacro %}", "{% macro %}"),
])
@pytest.mark.parametrize("command", ["build", "list"])
def test_leaflets_allow_only_org_placeholders(project, out, template, what, command):
    path = project / "leaflets" / "sample.md"
    path.write_text(path.read_text("utf-8").replace("## Heliotrope heading\n",
                                                    f"## Heliotrope heading\n\nSee {template} here.\n"), "utf-8")
    result = build(project, out) if command == "build" else run(project, "list")
    err = assert_clean_error(result, out if command == "build" else None)
    assert (f"leaflets/sample.md:{line_of(path, 'See ')}: only {{{{ org.<key> }}}} placeholders are allowed, "
            f"not {what} — ") in err


def test_the_allowed_placeholders_still_print(project, out):
    path = project / "leaflets" / "sample.md"
    path.write_text(path.read_text("utf-8").replace(
        "## Heliotrope heading\n", "## Heliotrope heading\n\nCall {{ org.phones.desk.number }} or "
        "{{ org['emergency_number'] }}.{# a comment #}\n"), "utf-8")
    assert build(project, out, "sample", "--paper", "a4").exit_code == 0


def test_an_oversized_leaflet_file_is_refused_before_it_is_read(project):
    path = project / "leaflets" / "sample.md"
    path.write_text(path.read_text("utf-8") + ("Ordinary words in a very long leaflet. " * 20 + "\n\n") * 400, "utf-8")
    err = assert_clean_error(run(project, "list"))
    assert "leaflets/sample.md: the file is 315 KB; the most is 256 KB — " in err


def test_an_oversized_picture_is_refused(project, out):
    picture = project / "leaflets" / "images" / "diagram.svg"
    picture.write_text(picture.read_text("utf-8").replace("</svg>", "<!--" + "x" * 6_000_000 + "--></svg>"),
                       "utf-8")
    err = assert_clean_error(build(project, out), out)
    assert "image 'images/diagram.svg' is 6.0 MB; the most is 5 MB — " in err


# --- Content that runs off the page (issue 12, item 16) ----------------------------------------------

UNBREAKABLE = "Thromboprophylaxis" * 8  # 144 letters with nowhere to break the line


@pytest.mark.parametrize("where", ["danger", "body"])
def test_text_that_runs_off_the_page_is_an_error(project, out, where):
    path = project / "leaflets" / "sample.md"
    text = path.read_text("utf-8")
    text = (text.replace("    Do not drive yourself.\n", f"    Do not drive yourself {UNBREAKABLE}.\n") if where == "danger"
            else text.replace("Filler paragraph six.", f"Filler paragraph six {UNBREAKABLE}."))
    path.write_text(text, "utf-8")
    err = assert_clean_error(build(project, out, "sample", "--paper", "a4"), out)
    found = re.search(r"^leaflets/sample\.md: on page (\d) \(a4\), text runs ([\d.]+) mm past the right edge of the "
                      r"page's text area \(in '([\w-]+)'\) — break the long word", err, re.M)
    assert found, err
    if where == "danger":
        assert found.group(1) == "1" and found.group(3) == "callout-danger"
    assert float(found.group(2)) > 10


def test_text_that_runs_off_page_1_of_a_personalised_handout_is_an_error(project, tmp_path):
    path = project / "leaflets" / "sample.md"
    path.write_text(path.read_text("utf-8").replace("    Do not drive yourself.\n",
                                                    f"    Do not drive yourself {UNBREAKABLE}.\n"), "utf-8")
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    err = assert_clean_error(handout(project, "--patient", patient, "--out", tmp_path / "o" / "h.pdf"), tmp_path / "o")
    assert "leaflets/sample.md: on page 1 (a4), text runs " in err and "(in 'callout-danger')" in err
