"""Personalised handouts are made in two halves and joined: the patient's page 1, and the rest.

The rest is the same for every patient, so it is rendered once and cached (clearleaf/personal.py);
these tests open the joined PDFs as a reader and a screen reader would, and check the cache.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pikepdf
import pypdf
import pytest

import pdfua
from clearleaf import builder, handout, pdf, personal, pdfjoin
from clearleaf.config import Project
from clearleaf.errors import Problems, RenderError
from helpers import SAMPLE, norm

TODAY = date(2026, 11, 30)
NAME = "Quillon Vexworthy-Ardbeg"  # appears nowhere else in the project
INSERTS = ["first-insert", "second-insert"]


def patient(name: str = NAME, **more):
    raw = {"name": name, "reference": "MRN-0042", "medication.name": "Apixaban", "medication.dose": "5 mg", **more}
    problems = Problems()
    made = handout.check_values(raw, "test", {}, TODAY, problems, pdf.font_characters())
    assert not problems.items, problems.items
    return made


class Counting:
    """pdf.render_all, keeping every job it was given."""

    def __init__(self):
        self.jobs = []

    def __call__(self, project, jobs, done=None):
        self.jobs += pdf.as_jobs(jobs)
        return pdf.render_all(project, jobs, done=done)

    def rests(self):
        return [html for _, html, trim in self.jobs if trim == (1, 0)]


def make(project: Path, patients, variant="standard", cache=None, render_all=None, inserts=INSERTS):
    return builder.handouts(Project(project), "sample", inserts, "a4", patients, allow_draft=True, today=TODAY,
                            variant=variant, render_all=render_all, rest_cache=cache)


def texts(data: bytes) -> list[str]:
    return [norm(page.extract_text() or "") for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def outline(data: bytes) -> list[tuple[int, str, int]]:
    """(depth, title, page index) of every bookmark, in order."""
    found = []
    with pikepdf.open(io.BytesIO(data)) as doc, doc.open_outline() as tree:
        def walk(items, depth):
            for item in items:
                found.append((depth, str(item.title), doc.pages.index(pikepdf.Page(item.destination[0]))))
                walk(item.children, depth + 1)
        walk(tree.root, 0)
    return found


def test_the_joined_handout_reads_as_one_tagged_document(project):
    (made,) = make(project, [patient()])
    pages = texts(made.pdf)
    total = len(pages)
    assert made.job.pages == total
    # "Page X of Y" counts the whole handout on every page, page 1 (made alone) included.
    for n, text in enumerate(pages, 1):
        assert f"Page {n} of {total}" in text, (n, text[-80:])
    # Page 1 is the patient's; the rest never shows the name, and starts with the leaflet's body.
    assert NAME in pages[0] and SAMPLE["danger"] in pages[0]
    assert not any(NAME in text for text in pages[1:])
    assert "Heliotrope heading" in pages[1] and "Heliotrope heading" not in pages[0]
    # One PDF/UA document: tags, MCIDs, ParentTree, languages, furniture and fonts all check out.
    with pikepdf.open(io.BytesIO(made.pdf)) as doc:
        assert pdfua.check_pdf(doc) == []
        tagged = pdfua.analyse(doc)
        spoken = norm(tagged.structure_text())
    assert spoken.index(SAMPLE["danger"]) < spoken.index(NAME) < spoken.index("Heliotrope heading")


def test_the_outline_nests_the_rest_under_the_leaflet_title(project):
    (made,) = make(project, [patient()])
    entries = outline(made.pdf)
    top = [(title, page) for depth, title, page in entries if depth == 0]
    assert top[0] == (SAMPLE["title"], 0)
    assert [t for t, _ in top[1:]] == ["Albatross procedure insert", "Cormorant procedure"]
    under_title = [title for depth, title, page in entries[1:entries.index((0, top[1][0], top[1][1]))]]
    assert "Your details" in under_title and "Heliotrope heading" in under_title
    assert all(depth <= 1 for depth, _, _ in entries)


def test_inserts_still_start_on_a_right_hand_page(project):
    (made,) = make(project, [patient()])
    pages = texts(made.pdf)
    for title in ("Albatross procedure insert", "Cormorant procedure"):
        first = next(n for n, text in enumerate(pages, 1) if title in text and "Procedure insert" in text)
        assert first % 2 == 1, (title, first)


def test_the_rest_is_rendered_once_and_never_holds_the_patient(project):
    cache, counting = personal.RestCache(), Counting()
    (one,) = make(project, [patient()], cache=cache, render_all=counting)
    (two,) = make(project, [patient("Another Person")], cache=cache, render_all=counting)
    assert len(counting.rests()) == 1 and (cache.misses, cache.hits) == (1, 1)
    assert NAME not in counting.rests()[0] and "MRN-0042" not in counting.rests()[0]
    # Every other job laid out one page: the patient's.
    assert len(counting.jobs) == 3
    # The cached rest gives exactly the bytes a fresh render gives, and the same inputs the same bytes.
    (fresh,) = make(project, [patient()])
    assert fresh.pdf == one.pdf
    assert texts(two.pdf)[1:] == texts(one.pdf)[1:] and "Another Person" in texts(two.pdf)[0]


def test_a_batch_renders_the_rest_once(project):
    counting = Counting()
    made = make(project, [patient(f"Person {n}") for n in range(3)], render_all=counting)
    assert len(counting.rests()) == 1 and len(made) == 3
    assert [texts(m.pdf)[0].count(f"Person {n}") for n, m in enumerate(made)] == [1, 1, 1]


def test_a_patient_part_longer_than_a_page_is_rendered_whole(project):
    counting = Counting()
    (made,) = make(project, [patient(note="Walk every day. " * 20)], variant="large", render_all=counting)
    whole = [html for _, html, trim in counting.jobs if trim == (0, 0) and "Heliotrope heading" in html]
    assert len(whole) == 1 and NAME in whole[0]
    pages = texts(made.pdf)
    # The body follows straight on from the details, with no half-empty page between.
    second = pages[1]
    assert "Walk every day" in second and "Heliotrope heading" in second
    with pikepdf.open(io.BytesIO(made.pdf)) as doc:
        assert pdfua.check_pdf(doc) == []


def test_a_stand_in_page_with_content_on_it_is_refused(project):
    renderer = pdf.Renderer(Project(project), pdf.Style("a4"))
    try:
        with pytest.raises(RenderError, match="stand-in page"):
            renderer.render("<html lang=en><body><p>Real words</p><p style='break-before: page'>More</p></body></html>",
                            trim=(1, 0))
        kept = renderer.render("<html lang=en><body><div class='stand-in'></div><p>Real words</p></body></html>",
                               trim=(1, 0))
        assert kept.pages == 1 and "Real words" in texts(kept.pdf)[0]
    finally:
        renderer.close()


def test_join_refuses_outlines_it_cannot_nest(project):
    (made,) = make(project, [patient()], inserts=[])
    with pytest.raises(RenderError, match="outline"):
        pdfjoin.join(made.pdf, (), made.pdf, ())


def test_the_desk_and_the_cli_make_the_same_bytes(project, tmp_path):
    """The CLI renders in-process with no cache; a desk uses warm workers and its cache."""
    pool = pdf.WarmPool(Project(project), workers=1, styles=[pdf.Style("a4")])
    try:
        cache = personal.RestCache()
        made = [make(project, [patient()], cache=cache, render_all=pool.render_all)[0] for _ in range(2)]
    finally:
        pool.close()
    (cli,) = make(project, [patient()])
    assert made[0].pdf == made[1].pdf == cli.pdf


@pytest.mark.parametrize("paper", ["a4", "letter"])
@pytest.mark.parametrize("lang", ["en", "es", "ar"])
def test_the_real_dvt_handouts_patient_part_fits_page_one(paper, lang):
    """For the DVT leaflet in every language and on both papers, the emergency signs and the
    details of a typical patient fit on page 1, so only that page is rendered per patient and
    the rest comes from the cache (a whole render would take about ten times as long)."""
    from helpers import REPO

    counting = Counting()
    made = builder.handouts(Project(REPO), "dvt", ["venous-stent"], paper,
                            [patient(**{"follow_up": "Clinic 4, 3 Dec 2026, 10:30"})], allow_draft=True,
                            today=TODAY, lang=lang, render_all=counting, rest_cache=personal.RestCache())
    # The rest (one stand-in page cut) and the patient's page; a whole render would be a third job.
    assert [trim for _, _, trim in counting.jobs] == [(1, 0), (0, 0)]
    assert made[0].job.pages == len(texts(made[0].pdf))


def test_the_next_handout_from_the_shell_reuses_the_rest_kept_on_disk(project):
    """Each shell command is a new process; the project's .clearleaf-cache/ keeps the rest between them."""
    first, second = Counting(), Counting()
    (one,) = make(project, [patient()], render_all=first)
    (two,) = make(project, [patient("Another Person")], render_all=second)  # a new in-memory cache
    assert len(first.rests()) == 1 and len(first.jobs) == 2
    assert second.rests() == [] and len(second.jobs) == 1  # the patient's page only
    assert texts(two.pdf)[1:] == texts(one.pdf)[1:] and "Another Person" in texts(two.pdf)[0]
    # The same bytes as without any cache, and nothing about the patient kept.
    (uncached,) = make(project, [patient("Another Person")], cache=personal.RestCache())
    assert uncached.pdf == two.pdf
    kept = [p for p in (project / ".clearleaf-cache").rglob("*") if p.is_file()]
    assert any(p.suffix == ".rest" for p in kept)
    for path in kept:
        data = path.read_bytes()
        assert b"MRN-0042" not in data and b"Another Person" not in data and b"Vexworthy" not in data


def test_a_damaged_or_outdated_rest_on_disk_is_rendered_again(project):
    make(project, [patient()])
    (rest,) = (project / ".clearleaf-cache" / "rest").glob("*.rest")
    data = bytearray(rest.read_bytes())
    data[-200] ^= 0xFF  # a flipped byte in the PDF
    rest.write_bytes(bytes(data))
    counting = Counting()
    (made,) = make(project, [patient()], render_all=counting)
    assert len(counting.rests()) == 1
    assert pypdf.PdfReader(io.BytesIO(made.pdf)).pages[1].extract_text()
    # A changed stylesheet is a different key: never an old rest with new styles.
    css = project / "styles" / "common.css"
    css.write_text(css.read_text("utf-8") + "\n/* edited */\n", "utf-8")
    counting = Counting()
    make(project, [patient()], render_all=counting)
    assert len(counting.rests()) == 1


def test_compiled_templates_are_kept_on_disk_for_the_next_process(tmp_path):
    from jinja2 import DictLoader
    from jinja2.sandbox import SandboxedEnvironment

    from clearleaf import render

    def environment():  # a new process's: its own in-memory store, the same folder
        return SandboxedEnvironment(loader=DictLoader({"t.html": "Hello {{ who }}"}),
                                    bytecode_cache=render._SharedBytecode(tmp_path / "jinja"))

    assert environment().get_template("t.html").render(who="you") == "Hello you"
    later = environment()
    later.compile = None  # compiling again would fail: the template must come from the folder
    assert later.get_template("t.html").render(who="me") == "Hello me"


def test_a_rest_kept_on_disk_comes_back_with_every_fact_the_checks_use(tmp_path):
    made = pdf.Rendered(b"%PDF-1.7 not really", 3, {"masthead", "callout-danger"}, ["a warning"], (1, 2, 2),
                        ("images/missing.svg",), (pdf.Overflow(2, "callout-danger", "FX-SAM-042", 3.5, "its box"),))
    personal.RestCache(folder=tmp_path).put("k" * 64, made)
    assert personal.RestCache(folder=tmp_path).get("k" * 64) == made
