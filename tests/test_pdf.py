"""The PDFs as a reader (and a screen reader) gets them: pages, text, fonts, tags, metadata, determinism."""

from __future__ import annotations

import os
from datetime import date
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pikepdf
import pytest

from clearleaf import i18n
from clearleaf import pdf as cpdf
from clearleaf.config import Project
from clearleaf.errors import RenderError
from helpers import (DRAFT_MARK, EMERGENCY, FIRST, ORG_NAME, PAPER_SIZES, PARTS, REPO, SAMPLE, SECOND, SECOND_EN,
                     assert_clean_error, assert_ok, build, font_size_counts, page_texts, part_ranges, set_front_matter, struct_elements)

PAPERS = ("a4", "letter")
SINGLE_IDS = ("sample", "first-insert", "second-insert")


def all_pdfs(built) -> list[Path]:
    return sorted(built.out.rglob("*.pdf")) + sorted(built.combined.rglob("*.pdf"))


def paper_of(path: Path) -> str:
    return next(p for p in PAPERS if p in path.parts)


# --- pages and text -----------------------------------------------------------------------------

def test_every_page_has_the_paper_size(built):
    for path in all_pdfs(built):
        width, height = PAPER_SIZES[paper_of(path)]
        with pikepdf.open(path) as doc:
            for n, page in enumerate(doc.pages, 1):
                x0, y0, x1, y1 = (float(v) for v in page.mediabox)
                assert (x0, y0) == (0, 0)
                assert abs(x1 - width) < 0.1 and abs(y1 - height) < 0.1, (path.name, n, x1, y1)


@pytest.mark.parametrize("paper", PAPERS)
def test_page_one_shows_org_title_summary_and_the_danger_callout(built, paper):
    for path in (built.single(paper, "sample"), built.handout(paper)):
        first = page_texts(path)[0]
        assert ORG_NAME in first
        assert SAMPLE["title"] in first
        assert SAMPLE["summary"] in first
        assert SAMPLE["danger"] in first
        assert "Sudden purple quokka feeling" in first
        assert f"Phone {EMERGENCY} " in first  # the placeholder filled from the fixture org.yaml


def assert_page_furniture(texts: list[str], part: dict, pages, total: int, where: str):
    # The footer is interface text, printed in the part's language (locales/).
    interface = i18n.translations(Project(REPO), part["lang"])
    review = i18n.format_date(date.fromisoformat(part["review_iso"]), part["lang"]) if "review_iso" in part \
        else part["review"]
    for n in pages:
        text = texts[n - 1]
        assert ORG_NAME in text, f"{where} p{n}: no org name"
        assert part["code"] in text, f"{where} p{n}: no code {part['code']}"
        assert part["version"] in text, f"{where} p{n}: no version"
        assert review in text, f"{where} p{n}: no review date"
        page = interface.gettext("Page %(page)s of %(pages)s") % {"page": n, "pages": total}
        assert page in text, f"{where} p{n}: no '{page}'"


@pytest.mark.parametrize("paper", PAPERS)
@pytest.mark.parametrize("id_", SINGLE_IDS)
def test_every_page_of_a_single_has_footer_and_page_numbers(built, paper, id_):
    texts = page_texts(built.single(paper, id_))
    assert_page_furniture(texts, SINGLE_PARTS[id_], range(1, len(texts) + 1), len(texts), f"{paper}/{id_}")


def test_the_sample_spans_several_pages(built):
    # Otherwise the every-page checks above would say little about page 2 onwards.
    assert all(len(page_texts(built.single(p, "sample"))) >= 2 for p in PAPERS)


@pytest.mark.parametrize("paper", PAPERS)
def test_combined_handout_pages_carry_their_own_parts_footer(built, paper):
    texts = page_texts(built.handout(paper))
    ranges = part_ranges(texts)
    for id_, pages in ranges.items():
        assert_page_furniture(texts, PARTS[id_], pages, len(texts), f"{paper}/combined/{id_}")
        others = [p["code"] for p in PARTS.values() if p["id"] != id_]
        for n in pages:
            for code in others:
                assert code not in texts[n - 1], f"page {n} of {id_} shows another part's code {code}"


@pytest.mark.parametrize("paper", PAPERS)
def test_draft_mark_on_every_page_of_a_draft_and_none_of_an_approved(built, paper):
    for id_ in SINGLE_IDS:
        texts = page_texts(built.single(paper, id_))
        for n, text in enumerate(texts, 1):
            if PARTS[id_]["status"] == "draft":
                assert DRAFT_MARK in text, f"{id_} p{n}"
            else:
                assert "DRAFT" not in text, f"{id_} p{n}"
    texts = page_texts(built.handout(paper))
    for id_, pages in part_ranges(texts).items():
        for n in pages:
            assert (DRAFT_MARK in texts[n - 1]) == (PARTS[id_]["status"] == "draft"), f"combined {id_} p{n}"


def test_draft_leaflet_has_the_mark_on_every_page(project, out):
    set_front_matter(project / "leaflets" / "sample.md", "status", "draft")
    assert_ok(build(project, out, "sample", "--paper", "a4"))
    texts = page_texts(out / "a4" / "sample.pdf")
    assert len(texts) >= 2
    for n, text in enumerate(texts, 1):
        assert DRAFT_MARK in text, f"page {n}"
        assert "Review overdue" not in text


@pytest.mark.parametrize("paper", PAPERS)
def test_contacts_and_about_sections_come_from_org_and_front_matter(built, paper):
    text = " ".join(page_texts(built.single(paper, "sample")))
    assert "Contact us" in text
    assert "Quillfeather desk: 0100 555 0199 (Weekdays, 9 am to 4 pm)" in text
    assert "Night line: 0100 555 0111 (Any time)" in text
    assert f"In an emergency: call {EMERGENCY}" in text
    assert "Website: www.fixture-health.example/quill" in text
    assert "About this leaflet" in text
    assert f"Reference {SAMPLE['code']}, version {SAMPLE['version']}." in text
    assert "Published 15 January 2026." in text and f"Review by {SAMPLE['review']}." in text
    assert "Checked by Dr Q. Fixture." in text
    assert "Sources: Fixture source one" in text
    # other_formats from org.yaml, with {phone} filled in from the first phone.
    assert "Fixture leaflets come in large print and other languages. Ring 0100 555 0199 to ask." in text
    insert = " ".join(page_texts(built.single(paper, "first-insert")))
    assert "About this insert" in insert and "Checked by" not in insert and "Sources:" not in insert


def test_spanish_insert_text_survives_extraction(built):
    text = " ".join(page_texts(built.single("a4", "second-insert")))
    assert "Texto de preparación del cormorán, con acentos: canción, niño, acción." in text


# --- type ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("paper", PAPERS)
def test_body_type_is_at_least_12pt(built, paper):
    counts = font_size_counts(built.handout(paper))
    assert counts, "no text found"
    body, _ = counts.most_common(1)[0]
    assert body >= 12, counts
    assert min(counts) >= 11.95, f"clear print: nothing below 12 pt, got {sorted(counts.items())}"


def test_stylesheet_is_clear_print():
    css = (REPO / "styles" / "common.css").read_text("utf-8")
    code = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    assert not re.search(r"text-align\s*:\s*justify", code)
    assert re.search(r"(?<![-\w])hyphens\s*:\s*(manual|none)", code)
    assert not re.search(r"(?<![-\w])hyphens\s*:\s*auto", code)
    assert not re.search(r"font-style\s*:\s*(italic|oblique)", code)


# --- fonts --------------------------------------------------------------------------------------

def _fonts(resources, seen):
    if not isinstance(resources, pikepdf.Dictionary):
        return
    for font in (resources.get("/Font") or {}).values():
        yield font
    for group in ("/XObject", "/Pattern"):
        for obj in (resources.get(group) or {}).values():
            if obj.objgen in seen:
                continue
            seen.add(obj.objgen)
            if "/Resources" in obj:
                yield from _fonts(obj.Resources, seen)


def test_every_font_is_embedded_atkinson(built):
    for path in all_pdfs(built):
        with pikepdf.open(path) as doc:
            found = 0
            for n, page in enumerate(doc.pages, 1):
                for font in _fonts(page.Resources, set()):
                    found += 1
                    where = f"{path.name} p{n} {font.get('/BaseFont')}"
                    assert font.Subtype != "/Type3", where
                    assert "Atkinson" in str(font.BaseFont), where
                    leaves = list(font.DescendantFonts) if "/DescendantFonts" in font else [font]
                    for leaf in leaves:
                        assert "Atkinson" in str(leaf.BaseFont), where
                        descriptor = leaf.FontDescriptor
                        assert "/FontFile2" in descriptor or "/FontFile3" in descriptor, where
            assert found, path


# --- tags, language, metadata -------------------------------------------------------------------

def test_tagged_with_language(built):
    for path in all_pdfs(built):
        with pikepdf.open(path) as doc:
            assert "/StructTreeRoot" in doc.Root, path
            assert bool(doc.Root.MarkInfo.Marked) is True, path
            expected = "es" if path.name == "second-insert.pdf" else "en"  # second-insert.en.pdf is en
            assert str(doc.Root.Lang) == expected, path
            xmp = doc.Root.Metadata.read_bytes().decode("utf-8")
            assert re.search(r'pdfuaid:part(="1"|>1<)', xmp), "PDF/UA-1 identification missing"
            assert bool(doc.Root.ViewerPreferences.DisplayDocTitle) is True


def test_headings_and_the_image_are_tagged_with_alt_text(built):
    with pikepdf.open(built.single("a4", "sample")) as doc:
        tags = [str(e.S) for e in struct_elements(doc)]
        assert "/H1" in tags and "/H2" in tags and "/L" in tags
        figures = [e for e in struct_elements(doc) if str(e.S) == "/Figure"]
        assert [str(f.Alt) for f in figures] == ["A blue rectangle standing in for a valve diagram"]


SINGLE_PARTS = {**PARTS, "second-insert": SECOND}  # on its own, the insert is its Spanish source


def test_a_combined_handout_is_one_language_throughout(built):
    # The Spanish-source insert appears in its English translation, and every part is tagged en.
    with pikepdf.open(built.handout("a4")) as doc:
        langs = {str(e.Lang) for e in doc.Root.StructTreeRoot.K[0].K if "/Lang" in e}
        assert str(doc.Root.Lang) == "en"
    assert langs == {"en"}
    text = " ".join(page_texts(built.handout("a4")))
    assert SECOND_EN["title"] in text and SECOND["title"] not in text


def test_each_parts_tags_carry_its_language(built):
    # A part's /Lang comes from its own lang (PDF/UA-1 7.2): the Spanish insert on its own is es.
    with pikepdf.open(built.single("a4", "second-insert")) as doc:
        assert {str(e.Lang) for e in doc.Root.StructTreeRoot.K[0].K if "/Lang" in e} == {"es"}


@pytest.mark.parametrize("paper", PAPERS)
def test_document_info(built, paper):
    with pikepdf.open(built.single(paper, "sample")) as doc:
        info = doc.docinfo
        assert str(info.Title) == SAMPLE["title"]
        assert ORG_NAME in str(info.Author) and "Fixture Owners Unit" in str(info.Author)
        assert str(info.Subject) == SAMPLE["summary"]
        assert str(info.Keywords).strip() and SAMPLE["code"] in str(info.Keywords)
        assert "/CreationDate" not in info and "/ModDate" not in info
        xmp = doc.Root.Metadata.read_bytes().decode("utf-8")
        assert "CreateDate" not in xmp and "ModifyDate" not in xmp
    with pikepdf.open(built.single(paper, "second-insert")) as doc:
        assert str(doc.docinfo.Title) == SECOND["title"]
        assert SECOND["code"] in str(doc.docinfo.Keywords)
    with pikepdf.open(built.handout(paper)) as doc:
        title, keywords = str(doc.docinfo.Title), str(doc.docinfo.Keywords)
        assert title.startswith(SAMPLE["title"])
        for part in (SAMPLE, FIRST, SECOND_EN):
            assert part["title"] in title and part["code"] in keywords


def test_no_attachments_anywhere(built):
    for path in all_pdfs(built):
        with pikepdf.open(path) as doc:
            assert "/EmbeddedFiles" not in (doc.Root.get("/Names") or {}), path
            assert len(doc.attachments) == 0
            for page in doc.pages:
                for annot in page.obj.get("/Annots") or []:
                    assert annot.get("/Subtype") != "/FileAttachment", path


# --- determinism ---------------------------------------------------------------------------------

def _cli_command() -> list[str]:
    import bootstrap

    if bootstrap.installed(("run",)):
        return [sys.executable, "build.py"]
    # build.py would reinstall .venv first (pyproject.toml changed); run the same CLI directly.
    return [sys.executable, "-c", "from clearleaf.cli import main; main()"]


def test_rebuild_in_a_fresh_process_is_byte_identical(built, tmp_path):
    for args, first in (([], built.out), (["sample", "--insert", "first-insert", "--insert", "second-insert"],
                                          built.combined)):
        again = tmp_path / ("again-" + str(len(args)))
        proc = subprocess.run([*_cli_command(), "--project", str(built.project), "build", *args, "--out", str(again)],
                              cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        names = sorted(p.relative_to(first) for p in first.rglob("*.pdf"))
        assert names == sorted(p.relative_to(again) for p in again.rglob("*.pdf"))
        for name in names:
            assert (first / name).read_bytes() == (again / name).read_bytes(), f"{name} differs between builds"


def test_one_pdf_alone_is_identical_to_the_same_pdf_in_a_full_build(built, tmp_path):
    alone = tmp_path / "alone"
    assert_ok(build(built.project, alone, "sample", "--paper", "letter"))
    assert (alone / "letter" / "sample.pdf").read_bytes() == built.single("letter", "sample").read_bytes()


# --- writing ------------------------------------------------------------------------------------

def test_write_atomic_writes_whole_file_readable_by_all(tmp_path):
    target = tmp_path / "deep" / "x.pdf"
    cpdf.write_atomic(target, b"%PDF-new")
    assert target.read_bytes() == b"%PDF-new"
    assert (target.stat().st_mode & 0o777) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["x.pdf"]


@pytest.mark.parametrize("existing", [None, b"%PDF-old"])
@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_write_atomic_failure_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch, existing, failing):
    target = tmp_path / "x.pdf"
    if existing is not None:
        target.write_bytes(existing)

    def boom(*args, **kwargs):
        raise OSError("disk on fire")

    monkeypatch.setattr(cpdf.os, failing, boom)
    with pytest.raises(OSError, match="disk on fire"):
        cpdf.write_atomic(target, b"%PDF-new")
    monkeypatch.undo()
    if existing is None:
        assert not target.exists()
    else:
        assert target.read_bytes() == existing
    assert [p.name for p in tmp_path.iterdir()] == (["x.pdf"] if existing else [])


def test_failed_build_leaves_earlier_pdfs_untouched(project, out):
    assert_ok(build(project, out, "--paper", "a4"))
    before = {p: p.read_bytes() for p in out.rglob("*.pdf")}
    assert before
    part = project / "templates" / "part.html"
    part.write_text(part.read_text("utf-8").replace("<h1>", "<h1>{{ nowhere.at_all }}", 1), "utf-8")
    (project / "leaflets" / "sample.md").write_text(
        (project / "leaflets" / "sample.md").read_text("utf-8").replace("Heliotrope", "Changed"), "utf-8")
    result = build(project, out, "--paper", "a4")
    assert_clean_error(result, None, r"^templates/part\.html:\d+: template error: .+ — .+$")
    assert {p: p.read_bytes() for p in out.rglob("*.pdf")} == before
    assert not [p for p in out.rglob("*") if ".part" in p.name]


# --- temporary files ----------------------------------------------------------------------------

def _private_tmp(tmp_path, monkeypatch) -> Path:
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setenv("TMPDIR", str(private))
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    assert tempfile.gettempdir() == str(private)
    return private


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(("weasyprint-", "clearleaf-")))


def test_build_in_a_fresh_process_leaves_no_temp_folders(built, tmp_path):
    private = tmp_path / "tmp"
    private.mkdir()
    env = {**os.environ, "TMPDIR": str(private)}
    proc = subprocess.run([*_cli_command(), "--project", str(built.project), "build", "--out", str(tmp_path / "o")],
                          cwd=REPO, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert _leftovers(private) == []


def test_in_process_build_leaves_no_temp_folders(project, out, tmp_path, monkeypatch):
    private = _private_tmp(tmp_path, monkeypatch)
    assert_ok(build(project, out))
    assert _leftovers(private) == []


def test_pooled_build_leaves_no_temp_folders(project, out, tmp_path, monkeypatch):
    private = _private_tmp(tmp_path, monkeypatch)
    monkeypatch.setattr(cpdf, "POOL_MIN_JOBS", 2, raising=False)  # force the process pool for 8 jobs
    calls = []
    real = cpdf.render_all

    def spy(project_, jobs, workers=None, done=None, pool=None):
        calls.append(len(jobs))
        return real(project_, jobs, workers=2, done=done, pool=pool)

    monkeypatch.setattr(cpdf, "render_all", spy)
    assert_ok(build(project, out))
    assert calls == [8]
    assert len(list(out.rglob("*.pdf"))) == 8
    assert _leftovers(private) == []


def test_pool_and_in_process_rendering_give_the_same_bytes(built, tmp_path, monkeypatch):
    _private_tmp(tmp_path, monkeypatch)
    from clearleaf import builder

    project = Project(built.project)
    result = builder.build(project, out=tmp_path / "serial", papers=("a4",))
    jobs = [(job.paper, job.html) for job in result.jobs]
    pooled = cpdf.render_all(project, jobs, workers=2)
    for job, rendered in zip(result.jobs, pooled):
        assert rendered.pdf == job.path.read_bytes(), job.path.name


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_workers_forked_from_the_first_render_and_give_the_same_bytes(built, tmp_path, monkeypatch):
    """A build pool's first worker is started afresh; the others are forked from it once it is
    warm. Every worker renders, and the bytes are those of an in-process render."""
    _private_tmp(tmp_path, monkeypatch)
    from clearleaf import builder

    project = Project(built.project)
    result = builder.build(project, out=tmp_path / "serial", papers=("a4",))
    jobs = [(job.paper, job.html) for job in result.jobs] * 2
    with cpdf.BuildPool(project, 2, [cpdf.Style("a4")]) as pool:
        first, forked = sorted(pool.pids, key=lambda pid: _parent_of(pid) != os.getpid())
        assert _parent_of(first) == os.getpid() and _parent_of(forked) == first
        before = {pid: _cpu_ticks(pid) for pid in (first, forked)}
        pooled = pool.render_all(jobs)
        assert all(_cpu_ticks(pid) > before[pid] for pid in before)  # both rendered
    assert [r.pdf for r in pooled] == [job.path.read_bytes() for job in result.jobs] * 2


def test_a_failing_job_is_raised_once_the_others_in_hand_are_done(built, tmp_path, monkeypatch):
    _private_tmp(tmp_path, monkeypatch)
    project = Project(built.project)
    # Jobs go out longest first: the failing one to one worker, a long good one to the other.
    outside = "<p><img src='file:///etc/hostname' alt='x'></p><!--" + "x" * 100_000 + "-->"
    good = "<html lang=en><body><p>" + "Words. " * 3000 + "</p></body></html>"
    with cpdf.BuildPool(project, 2, [cpdf.Style("a4")]) as pool:
        with pytest.raises(RenderError) as caught:
            pool.render_all([(cpdf.Style("a4"), good), (cpdf.Style("a4"), outside), (cpdf.Style("a4"), good)])
        assert "/etc/hostname" in str(caught.value)
        # The pool is still whole: nothing is left in its pipes to be mistaken for the next answer.
        again = pool.render_all([(cpdf.Style("a4"), "<p>One</p>"), (cpdf.Style("a4"), "<p>Two</p>")])
    assert [r.pages for r in again] == [1, 1] and all(r.pdf.startswith(b"%PDF") for r in again)


@pytest.mark.parametrize("killed", ["first", "forked"])
def test_a_render_worker_that_dies_is_reported_and_the_pool_still_closes(built, tmp_path, monkeypatch, killed):
    """Killed as if out of memory: the build says so, with what to do, and leaves nothing behind."""
    import signal

    private = _private_tmp(tmp_path, monkeypatch)
    project = Project(built.project)
    jobs = [(cpdf.Style("a4"), f"<p>Page {n}</p>") for n in range(6)]
    with cpdf.BuildPool(project, 2, [cpdf.Style("a4")]) as pool:
        first, forked = sorted(pool.pids, key=lambda pid: _parent_of(pid) != os.getpid())
        os.kill(first if killed == "first" else forked, signal.SIGKILL)
        with pytest.raises(RenderError, match="a render worker stopped unexpectedly"):
            pool.render_all(jobs)
    deadline = time.monotonic() + 10  # the other dies with it (its parent-death signal), if not at once
    while any(_running(pid) for pid in (first, forked)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in (first, forked) if _running(pid)] == []
    assert _leftovers(private) == []


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_render_worker_that_cannot_start_is_a_clean_error(project, tmp_path, monkeypatch):
    private = _private_tmp(tmp_path, monkeypatch)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    with pytest.raises(RenderError, match="cannot start a render worker"):
        cpdf.BuildPool(Project(project), 2, [cpdf.Style("a4")])
    assert _leftovers(private) == []


MAIN_PROBE = r"""
import sys
from pathlib import Path
from clearleaf import builder, pdf
from clearleaf.config import Project
pdf.pool_workers = lambda jobs: 2
result = builder.build(Project(Path(sys.argv[1])), out=Path(sys.argv[2]))
print(len(result.jobs), sorted(m for m in ("weasyprint", "pydyf", "tinyhtml5") if m in sys.modules))
"""


def test_a_pooled_build_leaves_weasyprint_to_its_workers(project, tmp_path):
    """The main process makes the HTML and writes the files; only the workers import WeasyPrint."""
    done = subprocess.run([sys.executable, "-c", MAIN_PROBE, project, tmp_path / "dist"], capture_output=True,
                          text=True, cwd=REPO, check=True)
    assert done.stdout.split(maxsplit=1) == ["8", "[]\n"]
    assert len(list((tmp_path / "dist").rglob("*.pdf"))) == 8


def test_a_full_build_starts_its_workers_before_it_reads_the_content(project, tmp_path, monkeypatch):
    from clearleaf import builder, content

    private = _private_tmp(tmp_path, monkeypatch)
    monkeypatch.setattr(cpdf, "POOL_MIN_JOBS", 2, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    events, started, loaded = [], cpdf.BuildPool.__init__, content.load

    def start(self, *args, **kwargs):
        events.append("pool")
        started(self, *args, **kwargs)

    def load(*args, **kwargs):
        events.append("load")
        return loaded(*args, **kwargs)

    monkeypatch.setattr(cpdf.BuildPool, "__init__", start)
    monkeypatch.setattr(content, "load", load)
    out = tmp_path / "dist"
    builder.build(Project(project), out=out)
    assert events == ["pool", "load"]
    events.clear()
    builder.build(Project(project), out=out)  # nothing changed: answered from the manifest
    assert events == []
    sample = project / "leaflets" / "sample.md"
    sample.write_text(sample.read_text("utf-8") + "\nOne more sentence.\n", "utf-8")
    builder.build(Project(project), out=out)  # an edit: one worker, started before the content is read
    assert events == ["pool", "load"]
    assert _leftovers(private) == []


IMPORT_PROBE = r"""
import ctypes.util, json, os, sys, sysconfig
from pathlib import Path
from clearleaf import pdf, weasy_compat
weasy_compat.CDEF_DATA = Path(sys.argv[2])  # WeasyPrint's C declarations compiled ahead, or nothing
asked = []
real_find = ctypes.util.find_library
def counting(name):  # as on a system whose loader is told full paths only
    asked.append(name)
    found = real_find(name)
    folders = [f"/usr/lib/{sysconfig.get_config_var('MULTIARCH')}", "/usr/lib", "/lib"]
    return next((f"{d}/{found}" for d in folders if found and os.path.exists(f"{d}/{found}")), None)
ctypes.util.find_library = counting
if sys.argv[1] == "no sonames":  # a system where only find_library's full paths load
    import _cffi_backend
    real_load = _cffi_backend.load_library
    def load_library(name, flags=0):
        if not str(name).startswith("/"):
            raise OSError(f"cannot load {name}")
        return real_load(name, flags)
    _cffi_backend.load_library = load_library
    prepared = weasy_compat._prepared_ffi
    def prepared_without_sonames():  # the compiled declarations' FFI loads libraries itself
        ffi = prepared()
        if ffi is not None:
            def dlopen(name, flags=0):
                if not str(name).startswith("/"):
                    raise OSError(f"cannot load {name}")
                return type(ffi).dlopen(ffi, name, flags)
            ffi.dlopen = dlopen
        return ffi
    weasy_compat._prepared_ffi = prepared_without_sonames
pdf.weasyprint()
import weasyprint.text.ffi as ffi
print(json.dumps({"asked": len(asked), "pango": ffi.pango is not None,
                  "back": ctypes.util.find_library is counting, "ffi": type(ffi.ffi).__name__}))
"""


@pytest.mark.parametrize("cdef", ["compiled", "parsed"])
@pytest.mark.parametrize("system", ["debian", "no sonames"])
def test_weasyprint_loads_its_libraries_without_asking_ldconfig_and_gcc(system, cdef, cdef_data, tmp_path):
    """find_library runs ldconfig and gcc for every name WeasyPrint tries: a quarter of a second
    of every rendering process's start. The sonames load directly; elsewhere the ordinary way works,
    whether WeasyPrint's C declarations were compiled ahead (weasy_compat.prepare_cdef) or not."""
    import json

    data = cdef_data if cdef == "compiled" else tmp_path / "none"
    done = subprocess.run([sys.executable, "-c", IMPORT_PROBE, system, str(data)], capture_output=True,
                          text=True, cwd=REPO, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["pango"] and found["back"]
    if system == "debian":
        assert found["asked"] == 0
        assert found["ffi"] == ("PreparedFFI" if cdef == "compiled" else "FFI")
    else:
        assert found["asked"] > 0  # the fallback: WeasyPrint's own way, find_library and all
        assert found["ffi"] == "FFI"
