"""Personalised handouts: the patient file, the 'Your details' box, CSV batches, the issue log."""

from __future__ import annotations

import json
from pathlib import Path

import pikepdf
import pytest

from clearleaf import records
from helpers import (DISTINCT, EMERGENCY, FULL, SAMPLE, assert_clean_error, assert_ok, handout, log_lines,
                     norm, page_texts, pdfs_and_parts, write_patient)


def test_handout_puts_every_detail_in_the_box_on_page_1(project, tmp_path):
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    pdf = tmp_path / "out" / "handout.pdf"
    assert_ok(handout(project, "--patient", patient, "--out", pdf))
    first = page_texts(pdf)[0]
    assert "Your details" in first and SAMPLE["danger"] in first
    for value in (DISTINCT, "Dr Ada Fixture", "(555) 010-0199", "Apixaban", "5 mg", "Twice a day",
                  "26 February 2027", "Clinic 4, 3 Dec 2026, 10:30", "Keep walking every day.", "MRN-0042",
                  "26 November 2026"):
        assert value in first, value
    # The emergency signs come before the patient's details (main message first).
    assert first.index(SAMPLE["danger"]) < first.index("Your details")


def test_missing_fields_print_labels_to_fill_in(project, tmp_path):
    patient = write_patient(tmp_path / "p.yaml", reference="MRN-7")
    pdf = tmp_path / "h.pdf"
    assert_ok(handout(project, "--patient", patient, "--out", pdf))
    first = page_texts(pdf)[0]
    for label in ("Name", "Medicine", "Dose", "How often", "Take it until", "Seen by", "Phone", "Follow-up", "Note"):
        assert label in first, label
    # issued defaults to today, so 'Given on' is filled in.
    assert "Given on" in first
    # Each blank field has a drawn rule to write on: more horizontal lines than a full file gives.
    full = write_patient(tmp_path / "full.yaml", **FULL)
    full_pdf = tmp_path / "full.pdf"
    assert_ok(handout(project, "--patient", full, "--out", full_pdf))
    assert _rules(pdf) > _rules(full_pdf) + 5


def _rules(path: Path) -> int:
    with pikepdf.open(path) as doc:
        ops = [str(op) for _, op in pikepdf.parse_content_stream(doc.pages[0])]
    return ops.count("re") + ops.count("l")


def test_values_are_text_never_markup_or_templates(project, tmp_path):
    patient = write_patient(tmp_path / "p.yaml", name="<b>Ann</b> {{7*7}}", note="{% if 1 %}x{% endif %} & <i>y</i>",
                            reference="MRN-8")
    pdf = tmp_path / "h.pdf"
    assert_ok(handout(project, "--patient", patient, "--out", pdf))
    first = page_texts(pdf)[0]
    assert "<b>Ann</b> {{7*7}}" in first
    assert "{% if 1 %}x{% endif %} & <i>y</i>" in first
    assert "49" not in first


@pytest.mark.parametrize("name", ["Zoë Ó'Brien-Łukasiewicz", "Nguyễn Thị Hồng", "محمد عبد الله"])
def test_names_in_other_scripts_print_with_embedded_fonts(project, tmp_path, name):
    patient = write_patient(tmp_path / "p.yaml", name=name, reference="MRN-9")
    pdf = tmp_path / "h.pdf"
    assert_ok(handout(project, "--patient", patient, "--out", pdf))
    with pikepdf.open(pdf) as doc:
        for page in doc.pages:
            for font in page.Resources.Font.values():
                descriptor = font.DescendantFonts[0].FontDescriptor if "/DescendantFonts" in font else font.FontDescriptor
                assert "/FontFile2" in descriptor or "/FontFile3" in descriptor, str(font.BaseFont)
                base = str(font.BaseFont)
                assert any(name in base for name in ("Atkinson", "Noto", "IBM-Plex-Sans-Arabic")), base
    text = page_texts(pdf)[0]
    if name.startswith("محمد"):
        # pypdf gives Arabic back in visual or logical order depending on the font; check each word.
        assert all(word in text or word[::-1] in text for word in name.split())
    else:
        # Where the font changes mid-word (Atkinson to Noto Sans for "ị"), pypdf adds a space.
        assert name.replace(" ", "") in text.replace(" ", "")


def test_json_patient_file(project, tmp_path):
    patient = tmp_path / "p.json"
    patient.write_text(json.dumps({**FULL, "reference": "MRN-10"}), "utf-8")
    pdf = tmp_path / "h.pdf"
    assert_ok(handout(project, "--patient", patient, "--out", pdf))
    assert DISTINCT in page_texts(pdf)[0]


@pytest.mark.parametrize("key,value,message", [
    ("nmae", "x", "unknown key in column 1 — did you mean 'name'?"),
    ("note", "x" * 501, "'note' is 501 characters long; the most is 500"),
    ("name", "y" * 101, "'name' is 101 characters long; the most is 100"),
    ("issued", "26/11/2026", "'issued' is not a date"),
    ("reference", "../etc/passwd", "'reference' must be letters, digits"),
    ("name", "李小龍", "'name' has characters the handout fonts cannot print"),
])
def test_bad_patient_values_are_refused_naming_the_key_not_the_value(project, tmp_path, key, value, message):
    patient = write_patient(tmp_path / "p.yaml", **{key: value}, **({} if key == "reference" else {"reference": "R1"}))
    pdf = tmp_path / "out" / "h.pdf"
    result = handout(project, "--patient", patient, "--out", pdf)
    err = assert_clean_error(result, tmp_path / "out", rf"^{tmp_path}/p\.yaml:\d+: .+ — .+$")
    assert message in err
    if len(value) > 3:
        assert value not in err and value not in result.stdout


def test_medication_keys_are_checked_too(project, tmp_path):
    patient = tmp_path / "p.yaml"
    patient.write_text("reference: R1\nmedication:\n  name: A\n  doze: 5 mg\n", "utf-8")
    err = assert_clean_error(handout(project, "--patient", patient, "--out", tmp_path / "h.pdf"))
    assert f"{patient}:4: unknown key under 'medication' in column 3 — did you mean 'medication.dose'?" in err


def test_patient_and_patients_are_exclusive(project, tmp_path):
    result = handout(project)
    assert result.exit_code == 2


def test_draft_leaflets_are_refused_for_patients_unless_allowed(project, tmp_path):
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    result = handout(project, "--insert", "first-insert", "--patient", patient, "--out", tmp_path / "o" / "h.pdf")
    err = assert_clean_error(result, tmp_path / "o")
    assert "leaflets/inserts/first-insert.md:" in err and "draft" in err
    assert_ok(handout(project, "--insert", "first-insert", "--patient", patient, "--out", tmp_path / "o" / "h.pdf",
                      "--allow-draft"))
    texts = page_texts(tmp_path / "o" / "h.pdf")
    assert any("DRAFT – not for patient use" in t for t in texts)


def test_csv_batch_names_files_after_references(project, tmp_path):
    csv = tmp_path / "today.csv"
    csv.write_text("reference,name,medication.name,medication.dose\n"
                   f"MRN-1,{DISTINCT},Apixaban,5 mg\n"
                   "MRN-2,Bo Example,Rivaroxaban,20 mg\n", "utf-8")
    folder = tmp_path / "handouts"
    assert_ok(handout(project, "--patients", csv, "--out", folder, "--paper", "letter"))
    assert sorted(p.name for p in folder.iterdir()) == ["MRN-1.pdf", "MRN-2.pdf"]
    assert DISTINCT in page_texts(folder / "MRN-1.pdf")[0]
    assert "Rivaroxaban" in page_texts(folder / "MRN-2.pdf")[0]
    with pikepdf.open(folder / "MRN-2.pdf") as doc:
        assert [round(float(v), 1) for v in doc.pages[0].MediaBox[2:]] == [612.0, 792.0]
    assert [line["reference"] for line in log_lines(project)] == ["MRN-1", "MRN-2"]


@pytest.mark.parametrize("csv_text,message", [
    ("reference,nmae\nR1,x\n", "column 2 has an unknown heading — did you mean 'name'?"),
    ("name\nAnn\n", "there is no 'reference' column"),
    ("reference,name\nR1,a\nR1,b\n", "this row's reference is also on line 2"),
    ("reference,name\n,a\n", "the row has no reference"),
    ("reference,note\nR1," + "x" * 501 + "\n", "'note' is 501 characters long"),
])
def test_csv_problems(project, tmp_path, csv_text, message):
    csv = tmp_path / "today.csv"
    csv.write_text(csv_text, "utf-8")
    err = assert_clean_error(handout(project, "--patients", csv, "--out", tmp_path / "o"), tmp_path / "o")
    assert message in err
    assert err.startswith(f"{csv}:")


def test_issue_log_records_versions_and_reference_never_the_name(project, tmp_path):
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    assert_ok(handout(project, "--insert", "second-insert", "--patient", patient, "--out", tmp_path / "h.pdf",
                      "--paper", "letter"))
    (line,) = log_lines(project)
    assert line["channel"] == "save" and line["paper"] == "letter" and line["reference"] == "MRN-0042"
    assert line["leaflet"] == {"id": "sample", "code": SAMPLE["code"], "version": SAMPLE["version"], "lang": "en"}
    assert line["inserts"] == [{"id": "second-insert", "code": "FX-INS-202-EN", "version": "5.0", "lang": "en"}]
    assert line["time"].endswith("Z")
    raw = (project / "records" / "issued.jsonl").read_text("utf-8")
    for private in (DISTINCT, "Keep walking", "Apixaban", "Dr Ada Fixture"):
        assert private not in raw


def test_issue_log_location_comes_from_the_config(project, tmp_path):
    log = tmp_path / "elsewhere" / "log.jsonl"
    with open(project / "leaflets" / "org.yaml", "a", encoding="utf-8") as f:
        f.write(f"issue_log: {log}\n")
    assert_ok(handout(project, "--patient", write_patient(tmp_path / "p.yaml", **FULL), "--out", tmp_path / "h.pdf"))
    from clearleaf import records

    (record,), problems = records.read(log)
    assert (record["reference"], record["status"], problems) == ("MRN-0042", "issued", [])


def test_privacy_the_name_is_nowhere_but_the_pdf(project, tmp_path, monkeypatch):
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr("tempfile.tempdir", str(private_tmp))
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    out = tmp_path / "out"
    result = handout(project, "--patient", patient, "--out", out / "h.pdf")
    assert_ok(result)
    assert DISTINCT not in result.stdout + result.stderr
    assert DISTINCT in norm(page_texts(out / "h.pdf")[0])
    for path in [*project.rglob("*"), *out.rglob("*"), *private_tmp.rglob("*")]:
        assert DISTINCT not in path.name
        if path.is_file() and path.suffix != ".pdf":
            assert DISTINCT.encode() not in path.read_bytes(), path
    assert list(private_tmp.iterdir()) == []
    assert pdfs_and_parts(out) == [out / "h.pdf"]
    # The default file name comes from the reference, under dist/handouts/ of the working folder.
    monkeypatch.chdir(tmp_path)
    assert_ok(handout(project, "--patient", patient))
    assert (tmp_path / "dist" / "handouts" / "MRN-0042.pdf").is_file()
    assert EMERGENCY in page_texts(tmp_path / "dist" / "handouts" / "MRN-0042.pdf")[0]
