"""Translations as content files, --lang on every command, one language per handout."""

from __future__ import annotations

import re
import shutil

import pikepdf
import pytest

from helpers import FULL, REPO, assert_clean_error, assert_ok, page_texts, run, write_patient


@pytest.fixture
def real(tmp_path):
    """A copy of the repo's own leaflets, with their Spanish and Arabic translations."""
    for folder in ("leaflets", "templates", "styles", "locales"):
        shutil.copytree(REPO / folder, tmp_path / "project" / folder)
    return tmp_path / "project"


def test_build_one_language(real, tmp_path):
    out = tmp_path / "dist"
    assert_ok(run(real, "build", "dvt", "--lang", "es", "--paper", "a4", "--out", out))
    assert sorted(p.name for p in (out / "a4").iterdir()) == ["dvt.es.pdf"]
    texts = page_texts(out / "a4" / "dvt.es.pdf")
    with pikepdf.open(out / "a4" / "dvt.es.pdf") as doc:
        assert str(doc.Root.Lang) == "es"
    assert "Trombosis venosa profunda" in texts[0] and "Llame al 911" in texts[0]
    for n, text in enumerate(texts, 1):
        assert f"Página {n} de {len(texts)}" in text and "IR-DVT-001-ES" in text


def test_build_with_no_lang_builds_every_language(real, tmp_path):
    out = tmp_path / "dist"
    assert_ok(run(real, "build", "dvt", "--paper", "letter", "--out", out))
    assert sorted(p.name for p in (out / "letter").iterdir()) == ["dvt.ar.pdf", "dvt.es.pdf", "dvt.pdf"]


def test_a_missing_language_names_the_ones_there_are(real, tmp_path):
    result = run(real, "build", "dvt", "--lang", "fr", "--out", tmp_path / "dist")
    err = assert_clean_error(result, tmp_path / "dist")
    assert "there is no 'fr' version of dvt" in err and "available in: en, ar, es" in err


def test_a_handout_in_a_missing_language_names_the_ones_there_are(real, tmp_path):
    # A handout loads only its own language, but the message still lists every file there is.
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    for lang in ("fr", "es"):
        args = ("handout", "dvt", "--insert", "venous-stent", "--lang", lang, "--patient", patient, "--out",
                tmp_path / f"h-{lang}.pdf", "--allow-draft")
        if lang == "es":
            (real / "leaflets" / "inserts" / "venous-stent.es.md").unlink()
        err = assert_clean_error(run(real, *args), tmp_path / "none")
        expected = "en, ar, es" if lang == "fr" else "en, ar"
        assert f"there is no '{lang}' version of dvt+venous-stent" in err and f"available in: {expected};" in err


def test_a_single_handout_reads_only_its_own_language(real, tmp_path):
    """A broken Arabic translation stops an Arabic handout, and a build, but not an English handout."""
    arabic = real / "leaflets" / "dvt.ar.md"
    arabic.write_text(arabic.read_text("utf-8").replace("review_by:", "review_by: not a date\nold_review_by:", 1),
                      "utf-8")
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    assert_ok(run(real, "handout", "dvt", "--patient", patient, "--out", tmp_path / "en.pdf", "--allow-draft"))
    assert str(pikepdf.open(tmp_path / "en.pdf").Root.Lang) == "en"
    for args in (("handout", "dvt", "--lang", "ar", "--patient", patient, "--out", tmp_path / "ar.pdf",
                  "--allow-draft"), ("build", "dvt", "--out", tmp_path / "dist")):
        err = assert_clean_error(run(real, *args), tmp_path / "dist")
        assert "leaflets/dvt.ar.md:" in err


def test_combined_handout_is_one_language(real, tmp_path):
    out = tmp_path / "dist"
    assert_ok(run(real, "build", "dvt", "--insert", "venous-stent", "--lang", "es", "--paper", "a4", "--out", out))
    texts = page_texts(out / "a4" / "dvt+venous-stent.es.pdf")
    assert any("IR-DVT-STN-001-ES" in t for t in texts)
    assert not any("IR-DVT-STN-001 " in t or "Page 1 of" in t for t in texts)


def test_handout_and_html_take_lang(real, tmp_path):
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    pdf = tmp_path / "h.pdf"
    assert_ok(run(real, "handout", "dvt", "--lang", "ar", "--patient", patient, "--out", pdf, "--allow-draft"))
    with pikepdf.open(pdf) as doc:
        assert str(doc.Root.Lang) == "ar"
    html = run(real, "html", "dvt", "--lang", "es")
    assert_ok(html)
    assert '<html lang="es"' in html.stdout


def _front(path, key: str) -> str:
    """A quoted front-matter value of a leaflet, e.g. its version."""
    return re.search(rf'^{key}: "([^"]+)"$', path.read_text("utf-8"), re.M).group(1)


def test_out_of_date_translation_is_reported_by_list_check_and_build(real, tmp_path):
    source = real / "leaflets" / "dvt.md"
    old = _front(real / "leaflets" / "dvt.es.md", "translation_of")
    assert _front(source, "version") == old  # the committed translation is up to date
    source.write_text(source.read_text("utf-8").replace(f'version: "{old}"', 'version: "9.9"'), "utf-8")
    listing = run(real, "list").stdout
    assert f"out of date (translates v{old})" in listing
    checked = run(real, "check", "dvt")
    assert "leaflets/dvt.es.md:" in checked.stdout and "out of date" in checked.stdout
    built = run(real, "build", "dvt", "--lang", "es", "--paper", "a4", "--out", tmp_path / "dist")
    assert_ok(built)
    assert f"out of date: translates version {old}, but leaflets/dvt.md is version 9.9" in built.stderr


@pytest.mark.parametrize("edit,message", [
    (("lang: es", "lang: fr"), "lang must be 'es', as in the file name"),
    ((re.compile(r'translation_of: "[^"]+"\n'), ""), "a translation needs 'translation_of'"),
])
def test_translation_front_matter_is_checked(real, tmp_path, edit, message):
    path = real / "leaflets" / "dvt.es.md"
    old, new = edit
    text = path.read_text("utf-8")
    edited = old.sub(new, text) if isinstance(old, re.Pattern) else text.replace(old, new)
    assert edited != text
    path.write_text(edited, "utf-8")
    err = assert_clean_error(run(real, "build", "dvt", "--out", tmp_path / "dist"), tmp_path / "dist")
    assert "leaflets/dvt.es.md:" in err and message in err


def test_translation_of_an_unknown_leaflet(real, tmp_path):
    (real / "leaflets" / "nothing.es.md").write_text("---\n---\n", "utf-8")
    err = assert_clean_error(run(real, "build", "--out", tmp_path / "dist"), tmp_path / "dist")
    assert "'nothing.es.md' is not a translation of a leaflet" in err


def test_emergency_number_comes_from_the_config_in_every_language(real, tmp_path):
    org = real / "leaflets" / "org.yaml"
    org.write_text(org.read_text("utf-8").replace('emergency_number: "911"', 'emergency_number: "112"'), "utf-8")
    out = tmp_path / "dist"
    assert_ok(run(real, "build", "dvt", "--paper", "a4", "--out", out))
    for name in ("dvt.pdf", "dvt.es.pdf", "dvt.ar.pdf"):
        first = page_texts(out / "a4" / name)[0]
        assert "112" in first and "911" not in first, name


def test_org_details_print_in_the_leaflets_language(real, tmp_path):
    out = tmp_path / "dist"
    assert_ok(run(real, "build", "dvt", "--lang", "es", "--paper", "a4", "--out", out))
    text = " ".join(page_texts(out / "a4" / "dvt.es.pdf"))
    assert "Radiología Intervencionista" in text and "Enfermeras de radiología intervencionista" in text
    assert "de lunes a viernes" in text and "Este folleto está disponible en letra grande" in text
    # What is the same in every language stays as it is.
    assert "(555) 010-0142" in text and "Riverside General Hospital" in text
    assert "Monday to Friday" not in text


@pytest.mark.parametrize("block,message", [
    ("languages:\n  es:\n    emergency_number: \"000\"\n", "'emergency_number' cannot be translated in languages.es"),
    ("languages:\n  es:\n    phones:\n      team:\n        number: \"1\"\n",
     "'number' cannot be translated in languages.es.phones.team"),
    ("languages:\n  spanish language:\n    department: x\n", "'spanish language' is not a language tag"),
])
def test_org_languages_are_checked(real, tmp_path, block, message):
    org = real / "leaflets" / "org.yaml"
    text = org.read_text("utf-8")
    org.write_text(text[: text.index("\nlanguages:")] + "\n" + block, "utf-8")
    err = assert_clean_error(run(real, "build", "dvt", "--out", tmp_path / "dist"), tmp_path / "dist")
    assert "leaflets/org.yaml:" in err and message in err


def test_check_warns_when_org_details_lack_a_language(real):
    org = real / "leaflets" / "org.yaml"
    text = org.read_text("utf-8")
    org.write_text(text[: text.index("\nlanguages:")] + "\n", "utf-8")
    result = run(real, "check", "dvt")
    assert "leaflets/dvt.es.md:" in result.stdout and "gives no 'es' details" in result.stdout
