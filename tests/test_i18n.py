"""Interface text in other languages: complete catalogues, translated handouts and e-mails,
and right-to-left layout for Arabic, proved on real PDFs.

The handouts here are built straight through render.render_html and pdf.render_all from
leaflets written in this file, so they do not depend on how leaflets are loaded from disk.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pdfplumber
import pikepdf
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from helpers import REPO
from pdfua import check as pdfua_check

from clearleaf import i18n, mail, pdf, render
from clearleaf.config import Project
from clearleaf.content import INSERT, LEAFLET, MARKDOWN, Leaflet
from clearleaf.errors import RenderError

LOCALES = REPO / "locales"
CATALOGUE_LANGS = ("es", "ar")
TODAY = date(2026, 11, 26)
PHONE = "(555) 010-0142"
NIGHT = "0100 555 0111"  # spaced digits turn round in right-to-left text unless isolated
CODE = "IR-DVT-001"
A4_WIDTH, A4_HEIGHT = 595.2756, 841.8898
MARGIN = 20 * 72 / 25.4  # styles/common.css: 20 mm left and right
FOOTER_TOP = A4_HEIGHT - 26 * 72 / 25.4  # the bottom margin (26 mm) holds the footer


# --- The catalogues -----------------------------------------------------------------------------

def extracted() -> dict:
    """Extract every message from templates/ in-process, exactly as babel.cfg tells pybabel to."""
    with open(REPO / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    messages = {}
    for _file, _line, message, comments, _context in extract_from_dir(
            str(REPO / "templates"), method_map, options_map, comment_tags=("Translators:",),
            strip_comment_tags=True):
        msgid = message[0] if isinstance(message, tuple) else message
        messages.setdefault(msgid, set()).update(comments)
    return messages


def read_catalogue(path: Path):
    with path.open("rb") as f:
        return read_po(f)


def entries(catalog) -> dict:
    return {m.id: m for m in catalog if m.id}


def test_templates_have_interface_text_to_translate():
    messages = extracted()
    for expected in ("Contact us", "About this leaflet", "About this insert", "Your details", "Name",
                     "Page %(page)s of %(pages)s", "DRAFT – not for patient use", "Review overdue",
                     "%(org)s · %(code)s · Version %(version)s · Review by %(date)s", "Procedure insert",
                     "Your leaflet from %(org)s: %(title)s", "Hello,"):
        assert expected in messages, expected


def test_messages_pot_is_up_to_date_with_the_templates():
    pot = entries(read_catalogue(LOCALES / "messages.pot"))
    fresh = extracted()
    assert set(pot) == set(fresh), (
        "locales/messages.pot is stale: run the pybabel extract command in docs/translating.md\n"
        f"missing: {sorted(set(fresh) - set(pot))}\nno longer used: {sorted(set(pot) - set(fresh))}")
    for msgid, comments in fresh.items():
        # The .pot wraps long comments; compare the words.
        assert sorted(" ".join(pot[msgid].auto_comments).split()) == sorted(" ".join(comments).split()), msgid


@pytest.mark.parametrize("lang", CATALOGUE_LANGS)
def test_every_template_message_is_translated(lang):
    po = LOCALES / lang / "LC_MESSAGES" / "messages.po"
    catalogue = entries(read_catalogue(po))
    problems = []
    for msgid in extracted():
        entry = catalogue.get(msgid)
        if entry is None:
            problems.append(f"missing: {msgid!r}")
        elif not entry.string or not entry.string.strip():
            problems.append(f"empty: {msgid!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        elif i18n.placeholders(entry.string) != i18n.placeholders(msgid):
            problems.append(f"placeholders differ: {msgid!r} -> {entry.string!r}")
        elif any(ch in entry.string for ch in "<>"):
            problems.append(f"markup in the translation of {msgid!r}")
    assert not problems, f"{po.relative_to(REPO)}:\n" + "\n".join(problems)
    assert set(catalogue) == set(extracted()), "run pybabel update (docs/translating.md)"


def test_page_number_translations_keep_the_page_before_the_total():
    for lang in CATALOGUE_LANGS:
        text = entries(read_catalogue(LOCALES / lang / "LC_MESSAGES" / "messages.po"))[
            "Page %(page)s of %(pages)s"].string
        assert text.index("%(page)s") < text.index("%(pages)s"), lang


def test_the_documented_extract_command_works(tmp_path):
    out = tmp_path / "messages.pot"
    # The command in docs/translating.md and babel.cfg, through this interpreter's Babel.
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg",
                    "-c", "Translators:", "--project=Clearleaf", "--version=0.1.0",
                    "--copyright-holder=the Clearleaf authors", "-o", str(out), "templates/"],
                   cwd=REPO, check=True, capture_output=True, timeout=60)
    made = entries(read_catalogue(out))
    committed = entries(read_catalogue(LOCALES / "messages.pot"))
    assert set(made) == set(committed)
    assert made["Contact us"].locations == committed["Contact us"].locations
    assert i18n.EXTRACT_COMMAND in (REPO / "docs" / "translating.md").read_text("utf-8").replace(" \\\n    ", " ")


def test_no_compiled_catalogues_are_kept():
    assert not list(LOCALES.rglob("*.mo"))


def test_languages():
    assert sorted(p.parent.parent.name for p in LOCALES.glob("*/LC_MESSAGES/messages.po")) == ["ar", "es"]
    project = Project(REPO)
    assert i18n.has_catalogue(project, "en") and i18n.has_catalogue(project, "en-GB")
    assert i18n.has_catalogue(project, "es") and i18n.has_catalogue(project, "es-MX")
    assert i18n.has_catalogue(project, "ar")
    assert not i18n.has_catalogue(project, "fr")
    assert i18n.missing_catalogue(project, "es") is None
    problem = i18n.missing_catalogue(project, "fr")
    assert problem.path == "locales/fr/LC_MESSAGES/messages.po" and "pybabel init" in problem.fix


@pytest.mark.parametrize("lang, rtl", [("ar", True), ("ar-EG", True), ("fa", True), ("ur", True), ("he", True),
                                       ("en", False), ("es", False), ("es-MX", False), ("zh-Hant", False),
                                       ("x-unknown", False)])
def test_is_rtl(lang, rtl):
    assert i18n.is_rtl(lang) is rtl
    assert i18n.direction(lang) == ("rtl" if rtl else "ltr")


@pytest.mark.parametrize("lang, expected", [("en", "26 November 2029"), ("en-US", "26 November 2029"),
                                            ("es", "26 de noviembre de 2029"), ("es-MX", "26 de noviembre de 2029"),
                                            ("ar", "26 نوفمبر 2029")])
def test_dates_are_formatted_for_the_language(lang, expected):
    assert i18n.format_date(date(2029, 11, 26), lang) == expected
    assert render.long_date(date(2029, 11, 26), lang) == expected


def test_translations_come_from_the_po_file():
    t = i18n.translations(Project(REPO), "es")
    assert t.gettext("Contact us") == "Contáctenos"
    assert i18n.translations(Project(REPO), "es") is t  # cached
    assert i18n.translations(Project(REPO), "en").gettext("Contact us") == "Contact us"


# --- A project to render ------------------------------------------------------------------------

ORG = {
    "name": "Fixture Health Trust",
    "department": "Quillfeather Department",
    "emergency_number": "999",
    "website": "www.fixture-health.example/quill",
    "phones": {"desk": {"label": "Quillfeather desk", "number": PHONE, "hours": "Weekdays, 9 am to 4 pm"},
               "night": {"label": "الخط الليلي", "number": NIGHT, "hours": "في أي وقت"}},
    "other_formats": "Fixture leaflets come in large print and other languages. Ring {phone} to ask.",
    "leaflet_url": "https://www.fixture-health.example/leaflets/{id}",
}

AR_BODY = """!!! danger "اتصل بالرقم 999 فورًا إذا حدث ما يلي"
    - ألم مفاجئ في الصدر
    - ضيق مفاجئ في التنفس

    لا تقد السيارة بنفسك إلى المستشفى.

## ما هي جلطة الأوردة العميقة؟

جلطة الأوردة العميقة هي جلطة دموية في وريد عميق، غالبًا في الساق. قد تسبب ألمًا وتورمًا في الساق. يمكن أن تنتقل الجلطة إلى الرئتين، وهذا خطير، لذلك اطلب المساعدة بسرعة.

- اشرب الكثير من الماء كل يوم.
- امشِ قليلًا كل ساعة إذا استطعت.
- ارتدِ الجوارب الضاغطة كما أخبرك الطبيب.

## بعد العلاج

ستحتاج إلى تناول دواء يمنع تكوّن جلطات جديدة لمدة ثلاثة أشهر على الأقل. سيخبرك الطبيب بالمدة المناسبة لك، وقد تحتاج إلى فحص دم.

قد يبقى بعض التورم في الساق لعدة أسابيع. ارفع ساقك عندما تجلس، فهذا يساعد على تخفيف التورم.

إذا لاحظت أن الألم أو التورم يزداد، فاتصل بنا. وإذا ظهرت عليك أي علامة من العلامات في المربع الأحمر، فاتصل بالطوارئ فورًا.

هذه النشرة لا تغني عن نصيحة طبيبك. اسأل فريقك الطبي عن أي شيء لا تفهمه.
"""

AR_INSERT_BODY = """## كيف تستعد للإجراء

لا تأكل شيئًا لمدة ست ساعات قبل الإجراء. أحضر قائمة أدويتك معك.

!!! warning "تنبيه"
    أخبرنا إذا كنت تتناول دواءً مميعًا للدم.
"""

ES_BODY = """!!! danger "Llame al 999 enseguida si tiene"
    - Dolor repentino en el pecho
    - Falta de aire repentina

    No conduzca usted mismo al hospital.

## ¿Qué es la trombosis venosa profunda?

Es un coágulo de sangre en una vena profunda, casi siempre de la pierna. Puede causar dolor e hinchazón.

- Beba mucha agua.
- Camine un poco cada hora.
"""


def leaflet(id_: str, kind: str, lang: str, body: str, **meta) -> Leaflet:
    """A checked leaflet as content.py hands it to the renderer: front matter and body HTML."""
    values = {"title": "Title", "code": CODE, "version": "3.7", "published": date(2026, 1, 15),
              "review_by": date(2029, 11, 26), "owner": "Owners", "status": "approved", "lang": lang,
              "summary": "Summary."} | meta
    html = MARKDOWN.render(body)
    lead = ""
    if html.startswith('<div class="callout callout-danger">'):
        lead, _, html = html.partition("</div>\n")
        lead += "</div>\n"
    return Leaflet(id=id_, kind=kind, path=Path(f"{id_}.{lang}.md"), shown=f"leaflets/{id_}.{lang}.md",
                   meta=values, lines={}, html=html, lead=lead)


def make_i18n_project(root: Path) -> Project:
    """The repo's templates, styles and catalogues, with an empty leaflets folder."""
    for name in ("templates", "styles", "locales"):
        shutil.copytree(REPO / name, root / name)
    (root / "leaflets").mkdir()
    return Project(root)


PATIENT = {"name": "زينب الهاشمي", "issued": date(2026, 11, 26), "clinician": "Dr A. Patel",
           "contact_phone": PHONE,
           "medication": {"name": "Apixaban", "dose": "5 mg", "how_often": "مرتين يوميًا", "until": None},
           "follow_up": "Clinic 4, 3 Dec 2026, 10:30", "note": None, "reference": "MRN-0042"}


@dataclass
class Made:
    html: str
    pdf: bytes
    pages: int
    warnings: list

    def texts(self) -> list[str]:
        with pdfplumber.open(io.BytesIO(self.pdf)) as doc:
            return [page.extract_text() or "" for page in doc.pages]


def make(project: Project, parts: list, lang: str, today: date = TODAY, patient=None) -> Made:
    html = render.render_html(project, ORG, parts, "a4", today, patient=patient, lang=lang)
    rendered = pdf.render_all(project, [("a4", html)])[0]
    return Made(html, rendered.pdf, rendered.pages, rendered.warnings)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    return make_i18n_project(tmp_path_factory.mktemp("i18n") / "project")


@pytest.fixture(scope="module")
def arabic(project) -> Made:
    """An Arabic leaflet (overdue, so stamped) with a draft Arabic insert and a patient's details."""
    parts = [leaflet("sample", LEAFLET, "ar", AR_BODY, title="جلطة الأوردة العميقة",
                     summary="تشرح هذه النشرة جلطة الأوردة العميقة. وتخبرك متى تطلب المساعدة.",
                     owner="وحدة النشرات", reviewed_by="د. سامي خليل", sources=["المصدر الأول", "NICE NG158"]),
             leaflet("stent", INSERT, "ar", AR_INSERT_BODY, title="تركيب دعامة وريدية", code="IR-STN-002",
                     status="draft", review_by=date(2098, 6, 30), summary="الدعامة أنبوب شبكي صغير.")]
    return make(project, parts, "ar", today=date(2030, 1, 10), patient=PATIENT)


@pytest.fixture(scope="module")
def spanish(project) -> Made:
    parts = [leaflet("sample", LEAFLET, "es", ES_BODY, title="Trombosis venosa profunda", status="draft",
                     summary="Este folleto explica la trombosis venosa profunda.", reviewed_by="Dra. Q. Fixture",
                     sources=["Fuente uno", "Fuente dos"]),
             leaflet("stent", INSERT, "es", "## Preparación\n\nTexto.\n", title="Stent venoso", code="IR-STN-002")]
    return make(project, parts, "es", today=date(2030, 1, 10))


def squash(text: str) -> str:
    return " ".join(text.split())


# --- Spanish ------------------------------------------------------------------------------------

def test_spanish_handout_prints_spanish_interface_text(spanish):
    texts = [squash(t) for t in spanish.texts()]
    assert spanish.pages >= 2
    for n, text in enumerate(texts, 1):
        assert f"Página {n} de {spanish.pages}" in text, (n, text)
        assert "Versión 3.7" in text or "Versión" in text
        assert "Page " not in text and "Review by" not in text
    everything = " ".join(texts)
    for phrase in ("Contáctenos", "En una emergencia: llame al 999", "Sitio web:", "Sobre este folleto",
                   "Sobre este anexo", "Anexo sobre el procedimiento", "Referencia IR-DVT-001, versión 3.7.",
                   "Publicado el 15 de enero de 2026.", "Próxima revisión: 26 de noviembre de 2029.",
                   "Revisado por Dra. Q. Fixture.", "Fuentes: 1. Fuente uno", "2. Fuente dos",
                   "Léalo en internet, en letra grande o en otro idioma:",
                   "BORRADOR – no es para pacientes", "Revisión vencida"):
        assert phrase in everything, phrase
    for english in ("Contact us", "About this", "In an emergency", "Website:", "Published", "Written by",
                    "DRAFT", "Review overdue", "Procedure insert", "Read this online"):
        assert english not in everything, english
    with pikepdf.open(io.BytesIO(spanish.pdf)) as doc:
        assert str(doc.Root.Lang) == "es"
    assert '<html lang="es" dir="ltr">' in spanish.html and 'dir="rtl"' not in spanish.html
    assert 'dir="ltr" class="ltr"' not in spanish.html  # bidi isolation only in right-to-left text


def test_spanish_title_joins_the_inserts_in_spanish(spanish):
    assert "<title>Trombosis venosa profunda, con: Stent venoso</title>" in spanish.html
    with pikepdf.open(io.BytesIO(spanish.pdf)) as doc:
        assert str(doc.docinfo["/Title"]) == "Trombosis venosa profunda, con: Stent venoso"


def test_spanish_footer_dates_are_spanish(spanish):
    with pdfplumber.open(io.BytesIO(spanish.pdf)) as doc:
        page = doc.pages[0]
        footer = page.crop((0, FOOTER_TOP, page.width * 0.7, page.height)).extract_text()
    assert squash(footer) == "Fixture Health Trust · IR-DVT-001 · Versión 3.7 · Próxima revisión: 26 de noviembre de 2029"


# --- Arabic: right to left ----------------------------------------------------------------------

def test_arabic_document_is_right_to_left(arabic):
    assert '<html lang="ar" dir="rtl">' in arabic.html
    assert arabic.html.count('dir="rtl"\n') + arabic.html.count('dir="rtl" ') >= 2
    articles = re.findall(r"<article [^>]*>", arabic.html.replace("\n", " "))
    assert len(articles) == 2 and all('lang="ar"' in a and 'dir="rtl"' in a for a in articles)
    with pikepdf.open(io.BytesIO(arabic.pdf)) as doc:
        assert str(doc.Root.Lang) == "ar"
    # The interface text is Arabic; none of the English is left.
    for phrase in ("اتصل بنا", "عن هذه النشرة", "عن هذا الملحق", "ملحق عن الإجراء", "بياناتك", "الاسم",
                   'data-page-before="صفحة "', 'data-page-between=" من "', "المراجعة متأخرة",
                   "مسودة – ليست للاستخدام مع المرضى", "موعد المراجعة: 26 نوفمبر 2029."):
        assert phrase in arabic.html, phrase
    for english in ("Contact us", "About this", "Your details", "Page ", "Review by", "DRAFT", "Website:"):
        assert english not in arabic.html, english


def test_arabic_pages_are_right_aligned(arabic):
    """Body lines end at the right margin (where right-to-left text starts) and their left ends vary."""
    right = A4_WIDTH - MARGIN
    with pdfplumber.open(io.BytesIO(arabic.pdf)) as doc:
        lines = [line for page in doc.pages for line in page.extract_text_lines()
                 if 60 < line["top"] < FOOTER_TOP and line["x1"] - line["x0"] > 40]
    flush_right = [line for line in lines if abs(line["x1"] - right) < 1.5]
    flush_left = [line for line in lines if abs(line["x0"] - MARGIN) < 1.5]
    assert len(flush_right) >= 10, [(round(ln["x0"]), round(ln["x1"])) for ln in lines]
    assert len(flush_right) > 3 * len(flush_left)
    starts = sorted(round(line["x0"]) for line in flush_right)
    assert starts[-1] - starts[0] > 150, starts  # ragged left edge
    assert max(line["x1"] for line in lines) < right + 1.5  # nothing sticks out on the right


def test_arabic_footer_is_mirrored(arabic):
    """'Page X of Y' is on the left of every page and the code, version and review line on the right."""
    with pdfplumber.open(io.BytesIO(arabic.pdf)) as doc:
        total = len(doc.pages)
        for n, page in enumerate(doc.pages, 1):
            footer = [c for c in page.chars if c["top"] > FOOTER_TOP]
            left = "".join(c["text"] for c in sorted(footer, key=lambda c: c["x0"]) if c["x1"] < A4_WIDTH * 0.3)
            right_words = [w for w in page.extract_words() if w["top"] > FOOTER_TOP and w["x0"] > A4_WIDTH * 0.3]
            assert set(map(int, re.findall(r"\d+", left))) == {n, total}, (n, left)
            assert any(w["text"] in (CODE, "IR-STN-002") for w in right_words), (n, right_words)
            # Read right to left, the organisation comes first, then the code: the Latin fields are
            # isolated, so they do not merge into one left-to-right run.
            org = next(w for w in right_words if w["text"] == "Fixture")
            code = next(w for w in right_words if w["text"] in (CODE, "IR-STN-002"))
            assert org["x0"] > code["x1"], (n, org, code)


def test_arabic_insert_starts_on_the_front_of_a_sheet(arabic):
    """In a right-to-left handout page 1 is a left-hand page; recto keeps inserts on odd pages."""
    with pdfplumber.open(io.BytesIO(arabic.pdf)) as doc:
        first = next(n for n, page in enumerate(doc.pages, 1)
                     if any(w["text"] == "IR-STN-002" for w in page.extract_words()))
    assert first % 2 == 1, first


def test_arabic_glyphs_all_come_from_embedded_fonts(arabic):
    assert not arabic.warnings, arabic.warnings  # WeasyPrint warns for every .notdef glyph
    with pdfplumber.open(io.BytesIO(arabic.pdf)) as doc:
        chars = [c for page in doc.pages for c in page.chars]
    assert chars
    assert all(re.match(r"^[A-Z]{6}\+", c["fontname"]) for c in chars), {c["fontname"] for c in chars}
    assert any("IBM-Plex-Sans-Arabic" in c["fontname"] for c in chars)
    assert not any("\ufffd" in c["text"] for c in chars)
    # The Unicode isolates around codes in the footer are invisible: no glyph, no text.
    assert not any(c["text"] and 0x2066 <= ord(c["text"][0]) <= 0x2069 for c in chars)
    with pikepdf.open(io.BytesIO(arabic.pdf)) as doc:
        for page in doc.pages:
            for font in page.Resources.Font.values():
                descriptor = font.DescendantFonts[0].FontDescriptor if "/DescendantFonts" in font \
                    else font.FontDescriptor
                assert "/FontFile2" in descriptor or "/FontFile3" in descriptor or "/FontFile" in descriptor


def test_arabic_text_uses_the_arabic_font_first(arabic):
    """Arabic punctuation and Latin digits inside Arabic text come from one font (:lang(ar))."""
    with pdfplumber.open(io.BytesIO(arabic.pdf)) as doc:
        page = doc.pages[0]
        title_digits = [c for c in page.chars if c["text"] == "9" and c["top"] < FOOTER_TOP]
    assert title_digits and all("IBM-Plex-Sans-Arabic" in c["fontname"] for c in title_digits)


def test_phone_numbers_and_codes_keep_their_order_in_arabic_text(arabic):
    """Read left to right as printed, the numbers and codes are intact, never '0142-010 (555)'."""
    texts = [squash(t) for t in arabic.texts()]
    everything = " ".join(texts)
    assert everything.count(PHONE) >= 2  # "Contact us" and "Your details"
    assert NIGHT in everything and "0111 555 0100" not in everything
    assert "0142-010" not in everything
    assert "Clinic 4, 3 Dec 2026, 10:30" in everything and "5 mg" in everything
    assert "www.fixture-health.example/quill" in everything
    for text in texts:
        assert CODE in text or "IR-STN-002" in text  # the footer on every page
    assert "NICE NG158" in everything


def _border_widths(page, colour) -> list[tuple[float, float]]:
    """(left, right) widths of the borders drawn in colour on page.

    WeasyPrint fills a border as its outer rectangle minus its inner one (even-odd), so each
    border is a pair of rectangles of the same colour starting at the same height."""
    rects = [r for r in page.rects if r.get("fill") and r.get("non_stroking_color")
             and all(abs(a - b) < 0.01 for a, b in zip(r["non_stroking_color"], colour))]
    widths = []
    for outer in rects:
        for inner in rects:
            if inner is not outer and outer["x0"] <= inner["x0"] and inner["x1"] <= outer["x1"] \
                    and outer["top"] <= inner["top"] < outer["top"] + 5 and inner["bottom"] <= outer["bottom"] \
                    and (inner["x0"], inner["x1"]) != (outer["x0"], outer["x1"]):
                widths.append((round(inner["x0"] - outer["x0"], 1), round(outer["x1"] - inner["x1"], 1)))
    return widths


def test_latin_organisation_fields_keep_the_right_to_left_order(arabic):
    """'Fixture Health Trust · Quillfeather Department' reads right to left: the organisation first."""
    with pdfplumber.open(io.BytesIO(arabic.pdf)) as doc:
        words = {w["text"]: w for w in doc.pages[0].extract_words() if w["top"] < 80}
    assert words["Fixture"]["x0"] > words["Department"]["x1"], words


def test_arabic_callout_and_summary_bars_are_on_the_right(arabic):
    """The danger callout's 10 pt edge and the summary's 4 pt bar are on the right, not the left."""
    red, blue = (0.643137, 0.0, 0.113725), (0.043137, 0.239216, 0.568627)
    with pdfplumber.open(io.BytesIO(arabic.pdf)) as doc:
        page = doc.pages[0]
        assert (3.0, 10.0) in _border_widths(page, red), _border_widths(page, red)
        assert (0.0, 4.0) in _border_widths(page, blue), _border_widths(page, blue)


@pytest.mark.parametrize("name", ["arabic", "spanish"])
def test_translated_handouts_stay_tagged_pdf_ua(name, request):
    """The spans and isolates that keep numbers in order add no tagging problems."""
    assert pdfua_check(request.getfixturevalue(name).pdf) == []


# --- English is unchanged -----------------------------------------------------------------------

def test_english_is_the_default_and_unchanged(project):
    part = leaflet("sample", LEAFLET, "en", ES_BODY.replace("Llame", "Call"))
    default = render.render_html(project, ORG, [part], "a4", TODAY)
    assert default == render.render_html(project, ORG, [part], "a4", TODAY, lang="en")
    assert '<html lang="en" dir="ltr">' in default
    assert 'data-page-before="Page " data-page-between=" of " data-page-after=""' in default
    assert "Reference IR-DVT-001, version 3.7. Published 15 January 2026. Review by 26 November 2029." in default
    assert "Fixture Health Trust · IR-DVT-001 · Version 3.7 · Review by 26 November 2029" in default
    assert 'class="ltr' not in default and "\u2068" not in default


# --- Refusals -----------------------------------------------------------------------------------

def test_a_language_without_a_catalogue_is_refused(project):
    part = leaflet("sample", LEAFLET, "fr", ES_BODY)
    with pytest.raises(RenderError) as caught:
        render.render_html(project, ORG, [part], "a4", TODAY, lang="fr")
    text = str(caught.value)
    assert text.startswith("locales/fr/LC_MESSAGES/messages.po: there is no catalogue")
    assert "pybabel init -i locales/messages.pot -d locales -l fr" in text


def _edit_catalogue(root: Path, lang: str, msgid: str, msgstr: str, fuzzy: bool = False) -> Path:
    po = root / "locales" / lang / "LC_MESSAGES" / "messages.po"
    text = po.read_text("utf-8")
    pattern = re.compile(r'((?:#[^\n]*\n)*)msgid "' + re.escape(msgid) + r'"\nmsgstr "[^"]*"')
    replacement = (r"\1" + ("#, fuzzy\n" if fuzzy else "") + f'msgid "{msgid}"\nmsgstr "{msgstr}"')
    new, count = pattern.subn(lambda m: m.expand(replacement), text)
    assert count == 1, msgid
    po.write_text(new, "utf-8")
    return po


@pytest.mark.parametrize("fuzzy", [False, True])
def test_an_untranslated_message_stops_the_render(tmp_path, fuzzy):
    project = make_i18n_project(tmp_path / "project")
    _edit_catalogue(project.root, "es", "Contact us", "" if not fuzzy else "Contáctenos", fuzzy=fuzzy)
    part = leaflet("sample", LEAFLET, "es", ES_BODY)
    with pytest.raises(RenderError) as caught:
        render.render_html(project, ORG, [part], "a4", TODAY, lang="es")
    text = str(caught.value)
    assert text.startswith("locales/es/LC_MESSAGES/messages.po: 'Contact us' is not translated")
    assert "pybabel update" in text


def test_a_placeholder_changed_in_translation_is_reported_with_its_line(tmp_path):
    project = make_i18n_project(tmp_path / "project")
    po = _edit_catalogue(project.root, "es", "call %(number)s", "llame al %(numero)s")
    line = next(n for n, text in enumerate(po.read_text("utf-8").splitlines(), 1) if "%(numero)s" in text)
    with pytest.raises(RenderError) as caught:
        i18n.translations(project, "es")
    assert re.match(rf"locales/es/LC_MESSAGES/messages\.po:{line - 1}: the translation of 'call %\(number\)s' "
                    r"has the placeholders %\(numero\)s but the English has %\(number\)s", str(caught.value))


def test_page_number_words_in_the_wrong_order_are_refused(tmp_path):
    project = make_i18n_project(tmp_path / "project")
    _edit_catalogue(project.root, "es", "Page %(page)s of %(pages)s", "de %(pages)s, página %(page)s")
    with pytest.raises(RenderError, match="must show %\\(page\\)s before %\\(pages\\)s"):
        render.render_html(project, ORG, [leaflet("sample", LEAFLET, "es", ES_BODY)], "a4", TODAY, lang="es")


def test_a_catalogue_cannot_add_markup(tmp_path):
    project = make_i18n_project(tmp_path / "project")
    _edit_catalogue(project.root, "es", "Contact us", "<b>Contáctenos</b>")
    with pytest.raises(RenderError, match="contains < or >"):
        i18n.translations(project, "es")


def test_translated_text_is_escaped_in_attributes(tmp_path):
    project = make_i18n_project(tmp_path / "project")
    _edit_catalogue(project.root, "es", "%(org)s · %(code)s · Version %(version)s · Review by %(date)s",
                    '%(org)s \\"%(code)s\\" & %(version)s · %(date)s')
    html = render.render_html(project, ORG, [leaflet("sample", LEAFLET, "es", ES_BODY)], "a4", TODAY, lang="es")
    assert 'data-footer="Fixture Health Trust &#34;IR-DVT-001&#34; &amp; 3.7 · 26 de noviembre de 2029"' in html


# --- E-mail -------------------------------------------------------------------------------------

def _compose(project, lang):
    parts = [leaflet("sample", LEAFLET, lang, ES_BODY, title="Título"),
             leaflet("stent", INSERT, lang, "Texto.", title="Stent")]
    return mail.compose(project, ORG, parts, b"%PDF-1.7", "MRN-0042.pdf", "patient@example.org",
                        "IR <ir@example.org>", encrypted=True, lang=lang)


def test_email_in_spanish(project):
    message = _compose(project, "es")
    assert message["Subject"] == "Su folleto de Fixture Health Trust: Título"
    body = message.get_body(("plain",)).get_content()
    for phrase in ("Hola:", "Le escribimos de Fixture Health Trust, Quillfeather Department.", "- Título", "- Stent",
                   "Le daremos la contraseña por otra vía", "llame al 999.", PHONE, "Folleto IR-DVT-001, versión 3.7"):
        assert phrase in squash(body), phrase
    assert "Hello" not in body and "password" not in body
    assert max(len(line) for line in body.splitlines()) <= 76


def test_email_in_arabic_isolates_numbers(project):
    message = _compose(project, "ar")
    assert message["Subject"] == "نشرتك من Fixture Health Trust: Título"
    body = message.get_body(("plain",)).get_content()
    assert "مرحبًا،" in body and "اتصل بنا" in body or "فاتصل بنا" in body
    assert f"\u2068{PHONE}\u2069" in body and "\u2068999\u2069" in body
    assert f"\u2068{CODE}\u2069" in body


def test_email_language_without_catalogue_is_refused(project):
    with pytest.raises(RenderError, match="locales/fr/LC_MESSAGES/messages.po"):
        _compose(project, "fr")


# --- Every word is wrapped for translation ------------------------------------------------------

@pytest.mark.parametrize("name", ["handout.html", "part.html", "end-matter.html", "your-details.html",
                                  "email_subject.txt", "email_body.txt", "site/base.html", "site/page.html",
                                  "site/index.html"])
def test_templates_hard_code_no_words(name):
    """Strip translated text, Jinja code and HTML tags: no words may be left."""
    source = (REPO / "templates" / name).read_text("utf-8")
    text = re.sub(r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}", " ", source, flags=re.DOTALL)
    text = re.sub(r"{#.*?#}|{{.*?}}|{%.*?%}", " ", text, flags=re.DOTALL)
    if name.endswith(".html"):
        for attr in re.findall(r'\b(?:alt|aria-label|title|placeholder)="([^"]*)"', text):
            assert not re.search(r"[^\W\d_]", attr), f"{name}: untranslated attribute text {attr!r}"
        # Style sheets hold CSS, not words a reader sees.
        text = re.sub(r"<!--.*?-->|<style[^>]*>.*?</style>|<[^>]*>", " ", text, flags=re.DOTALL)
    words = re.findall(r"[^\W\d_]{2,}", text)
    assert not words, f"{name}: hard-coded words {words}"


def test_templates_are_compiled_once_for_every_language(tmp_path, monkeypatch):
    """Each language has its own Jinja environment (its catalogue), but they share the compiled
    templates: a build in three languages compiles each template once."""
    from jinja2.sandbox import SandboxedEnvironment

    from clearleaf import render

    for folder in ("templates", "locales"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    project = Project(tmp_path)
    compiled, real = [], SandboxedEnvironment._compile

    def counting(self, source, filename):
        compiled.append(filename)
        return real(self, source, filename)

    monkeypatch.setattr(SandboxedEnvironment, "_compile", counting)
    for lang in ("en", "es", "ar"):
        template = render.environment(project, lang).get_template("part.html")
        assert "part" in template.name
    assert [Path(f).name for f in compiled] == ["part.html"]
    # A changed template is compiled again, in every language that asks for it.
    (tmp_path / "templates" / "part.html").write_text(
        (tmp_path / "templates" / "part.html").read_text("utf-8") + "\n{# changed #}\n", "utf-8")
    render.environment(project, "es").get_template("part.html")
    assert [Path(f).name for f in compiled] == ["part.html", "part.html"]
