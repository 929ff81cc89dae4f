"""PDF/UA-1: every PDF the build makes passes tests/pdfua.py, and every rule of the checker can fail.

The PDFs: the fixture project's full build and combined handout (the session `built` fixture), its
large-print and print-shop (bleed, crop marks) builds, the real leaflets in this repo (both papers,
large print, print shop, a combined handout), and personalised handouts. Each is one test id.
The checker's own tests take a clean handout, break one thing with pikepdf, and expect that problem.

WeasyPrint 70 tags the page margin boxes instead of making them artifacts; clearleaf/pdf.py's
artifact_page_furniture finisher re-marks them, and test_page_furniture_is_an_artifact holds it to that.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pdfua
import pikepdf

from clearleaf import i18n
from clearleaf.config import Project
import pytest
import yaml
from helpers import COMBINED, FIXTURE, REPO, SAMPLE, assert_ok, make_project, run

from clearleaf import builder
from clearleaf.pdf import PAPERS

TESTS = Path(__file__).resolve().parent

# --- Every PDF the build makes -----------------------------------------------------------------


def _ids(root: Path) -> tuple[list[str], list[str]]:
    """The PDF names a full build gives each leaflet and insert: <id>, and <id>.<lang> for each
    translation (<id>.<lang>.md)."""
    leaflets = root / "leaflets"
    return sorted(p.stem for p in leaflets.glob("*.md")), sorted(
        p.stem for p in (leaflets / "inserts").glob("*.md")
    )


FIXTURE_LEAFLETS, FIXTURE_INSERTS = _ids(FIXTURE)
REPO_LEAFLETS, REPO_INSERTS = _ids(REPO)
REPO_COMBINED = [i for i in [*REPO_LEAFLETS[:1], *REPO_INSERTS] if "." not in i]
# A combined handout is built in every language that the leaflet and all its inserts have.
REPO_LANGS = ["", *sorted({"." + i.partition(".")[2] for i in REPO_LEAFLETS if "." in i})]
PRINT_SHOP = ["--bleed", "3mm", "--crop-marks"]
# Builds beyond the session's `built` fixture and the repo's plain build: (project, build arguments,
# papers, output folder suffix, leaflets, inserts). Every kind of PDF the build command makes.
BUILDS = {
    "fixture-large": (FIXTURE, ["--variant", "large"], PAPERS, "-large", FIXTURE_LEAFLETS, FIXTURE_INSERTS),
    "fixture-print": (
        FIXTURE,
        ["--paper", "a4", *PRINT_SHOP],
        ("a4",),
        "-print",
        FIXTURE_LEAFLETS,
        FIXTURE_INSERTS,
    ),
    "repo-large": (
        REPO,
        ["--variant", "large", "--paper", "a4"],
        ("a4",),
        "-large",
        REPO_LEAFLETS,
        REPO_INSERTS,
    ),
    "repo-print": (
        REPO,
        [REPO_COMBINED[0], "--paper", "letter", *PRINT_SHOP],
        ("letter",),
        "-print",
        [REPO_COMBINED[0] + lang for lang in REPO_LANGS],  # every language of the leaflet
        [],
    ),
    "repo-combined": (
        REPO,
        [*REPO_COMBINED[:1], *(x for i in REPO_COMBINED[1:] for x in ("--insert", i)), "--paper", "a4"],
        ("a4",),
        "",
        ["+".join(REPO_COMBINED) + lang for lang in REPO_LANGS],
        [],
    ),
}
# Personalised handouts: (paper, leaflet and inserts, patient file, extra arguments).
PATIENT_FULL = {
    # Latin with diacritics, Vietnamese, Greek, Cyrillic and Arabic: every packaged font is used.
    "name": "Zoë Ó'Brien-Łukasiewicz",
    "issued": "2026-11-26",
    "clinician": "Nguyễn Thị Minh Khai",
    "contact_phone": "(555) 010-0142",
    "medication": {
        "name": "Apixaban",
        "dose": "5 mg",
        "how_often": "Twice a day",
        "until": "26 February 2027",
    },
    "follow_up": "Clinic 4, 3 Dec 2026, 10:30",
    "note": "Σοφία Παπαδοπούλου · Дмитрий Иванов · ليلى حداد",
    "reference": "MRN-UA-1",
}
HANDOUTS = {
    # With a draft insert (for training), so its pages carry the DRAFT mark.
    "handout/a4/MRN-UA-1.pdf": ("a4", ["sample", "first-insert"], PATIENT_FULL, ["--allow-draft"]),
    # Nothing filled in: every row prints as lines to write on.
    "handout/letter/MRN-UA-2.pdf": ("letter", ["sample"], {"reference": "MRN-UA-2"}, []),
    "handout/a4-large/MRN-UA-3.pdf": (
        "a4",
        ["sample"],
        {**PATIENT_FULL, "reference": "MRN-UA-3"},
        ["--variant", "large"],
    ),
}


def _names() -> list[str]:
    names = []
    for paper in PAPERS:
        names += [f"fixture/{paper}/{i}.pdf" for i in FIXTURE_LEAFLETS]
        names += [f"fixture/{paper}/inserts/{i}.pdf" for i in FIXTURE_INSERTS]
        names.append(f"combined/{paper}/{COMBINED}")
        names += [f"repo/{paper}/{i}.pdf" for i in REPO_LEAFLETS]
        names += [f"repo/{paper}/inserts/{i}.pdf" for i in REPO_INSERTS]
    for build, (_root, _args, papers, suffix, leaflets, inserts) in BUILDS.items():
        for paper in papers:
            names += [f"{build}/{paper}{suffix}/{i}.pdf" for i in leaflets]
            names += [f"{build}/{paper}{suffix}/inserts/{i}.pdf" for i in inserts]
    return names + list(HANDOUTS)


NAMES = _names()


def _write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def _found(prefix: str, out: Path) -> dict[str, Path]:
    return {f"{prefix}/{p.relative_to(out).as_posix()}": p for p in out.rglob("*.pdf")}


@pytest.fixture(scope="session")
def every_pdf(built, tmp_path_factory) -> dict[str, Path]:
    """Every PDF the build makes, by test id."""
    root = tmp_path_factory.mktemp("pdfua")
    found = _found("fixture", built.out) | _found("combined", built.combined)
    # The real leaflets, as `build.py build` makes them; a review date passing must not hide them.
    builder.build(Project(REPO), None, PAPERS, (), root / "repo", allow_overdue=True)
    found |= _found("repo", root / "repo")
    project = make_project(root / "project")
    for name, (source, args, *_rest) in BUILDS.items():
        where = project if source == FIXTURE else REPO
        overdue = ["--allow-overdue"] if source == REPO else []
        assert_ok(run(where, "build", "--out", root / name, *overdue, *args))
        found |= _found(name, root / name)
    for name, (paper, (leaflet, *inserts), patient, extra) in HANDOUTS.items():
        args = [x for i in inserts for x in ("--insert", i)]
        out = root / name
        assert_ok(
            run(
                project,
                "handout",
                leaflet,
                *args,
                "--paper",
                paper,
                *extra,
                "--patient",
                _write_yaml(root / f"{patient['reference']}.yaml", patient),
                "--out",
                out,
            )
        )
        found[name] = out
    return found


@dataclass
class Facts:
    """What the tests need from one PDF, read once."""

    problems: list[pdfua.Problem]
    margins: set[tuple[int, int]]  # (page, MCID) of the margin-box text
    margin_text: list[str]  # per page, the text of its margin boxes
    structure_text: str
    headings: list[tuple[str, str]]

    def split(self) -> tuple[list, list]:
        """The problems, as (the WeasyPrint margin-box bug, everything else)."""
        bug, other = [], []
        for p in self.problems:
            known = p.rule in ("mcid", "furniture") and (p.page, p.mcid) in self.margins
            (bug if known else other).append(p)
        return bug, other


_FACTS: dict[Path, Facts] = {}


def facts(path: Path) -> Facts:
    if path not in _FACTS:
        with pikepdf.open(path) as pdf:
            tagged = pdfua.analyse(pdf)
            margins = margin_box_mcids(pdf, tagged)
            _FACTS[path] = Facts(
                pdfua.check_pdf(pdf, tagged),
                margins,
                [
                    pdfua.norm(" ".join(m.text for m in page.marked if (page.number, m.mcid) in margins))
                    for page in tagged.pages
                ],
                tagged.structure_text(),
                tagged.headings(),
            )
    return _FACTS[path]


def margin_box_mcids(pdf: pikepdf.Pdf, tagged: pdfua.Tagged | None = None) -> set[tuple[int, int]]:
    """(page, MCID) of the text WeasyPrint 70 draws in the page margin boxes.

    weasyprint/pdf/tags.py (_build_box_tree, the MarginBox case) marks it with MCIDs and builds
    /NonStruct elements for it whose /P is /Document, but never lists them in /Document /K, so the
    footer is neither an artifact nor part of the tree (Kozea/WeasyPrint#1836).
    """
    tagged = tagged or pdfua.analyse(pdf)
    in_tree = {pdfua._key(e.obj) for e in tagged.elements}
    parent_tree = pdfua._number_tree(pdf.Root.StructTreeRoot.get("/ParentTree"), {})
    found = set()
    for n, page in enumerate(pdf.pages, 1):
        entries = parent_tree.get(int(page.obj.get("/StructParents", -1)))
        for mcid, element in enumerate(entries if isinstance(entries, pikepdf.Array) else []):
            if not isinstance(element, pikepdf.Dictionary) or pdfua._key(element) in in_tree:
                continue
            top = element
            while isinstance(top.get("/P"), pikepdf.Dictionary) and top.P.get("/S") != "/Document":
                top = top.P
            document = top.get("/P")
            if (
                isinstance(document, pikepdf.Dictionary)
                and document.get("/S") == "/Document"
                and pdfua._key(top) not in {pdfua._key(k) for k in pdfua._kids(document.get("/K"))}
            ):
                found.add((n, mcid))
    return found


def test_every_pdf_the_build_makes_is_checked(every_pdf):
    assert sorted(every_pdf) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_pdf_meets_pdfua(every_pdf, name):
    """Zero problems, apart from the footer bug that test_page_furniture_is_an_artifact pins down."""
    _bug, other = facts(every_pdf[name]).split()
    assert not other, "\n".join(map(str, other))


def test_page_furniture_is_an_artifact(every_pdf):
    bugs = {name: facts(path).split()[0] for name, path in every_pdf.items()}
    assert not any(bugs.values()), "\n".join(f"{n}: {p}" for n, ps in bugs.items() for p in ps[:3])


def test_the_footer_problem_is_exactly_the_margin_boxes(every_pdf):
    """The margin boxes, and nothing else, are what the finisher re-marks: on every page of every PDF,
    the text it covers is that page's footer and 'Page N of M', and nothing of the body.
    (Once the bug is fixed no page has any, and this passes too.)"""
    for name, path in every_pdf.items():
        found = facts(path)
        pages = len(found.margin_text)
        if not any(found.margin_text):
            continue
        lang = _parts(name)[2]
        if lang in RTL:
            continue  # artifacts carry no /ActualText, so Arabic footer glyphs read in visual order
        page = i18n.translations(Project(REPO), lang).gettext("Page %(page)s of %(pages)s")
        for n, text in enumerate(found.margin_text, 1):
            assert page % {"page": n, "pages": pages} in text, (name, n, text)
            assert " · " in text, (name, n, text)
        assert page % {"page": 1, "pages": pages} not in found.structure_text, name


# --- The content reads in the order the Markdown says ------------------------------------------


def _org(root: Path) -> dict:
    return yaml.safe_load((root / "leaflets" / "org.yaml").read_text("utf-8"))


def _fill(text: str, org: dict) -> str:
    def value(m):
        v = org
        for key in m.group(1).split(".")[1:]:
            v = v[key]
        return str(v)

    return re.sub(r"\{\{\s*(org(?:\.\w+)+)\s*\}\}", value, text)


def _plain(text: str) -> str:
    """Markdown inline text as it prints: no emphasis marks, link text only."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return pdfua.norm(re.sub(r"[*_`]", "", text))


def _markdown(root: Path, part: str, lang: str | None = None) -> tuple[Path, str]:
    """The Markdown a part was made from, in lang if it has that translation, and its kind."""
    kind = "leaflet" if (root / "leaflets" / f"{part}.md").exists() else "insert"
    folder = root / "leaflets" if kind == "leaflet" else root / "leaflets" / "inserts"
    translated = folder / f"{part}.{lang}.md"
    return (translated if lang and translated.exists() else folder / f"{part}.md"), kind


def _front_matter(path: Path) -> dict:
    return yaml.safe_load(path.read_text("utf-8").split("---\n", 2)[1])


def source_outline(root: Path, part: str, lang: str | None = None) -> tuple[list[tuple[str, str]], list[str]]:
    """From a leaflet's Markdown: its headings as (H1..H6, text), and the phrases a reader meets
    in order: title, summary, then callout titles, headings and picture alt texts, then the
    template's "Contact us" (leaflets only: an insert goes out with its leaflet) and "About this
    leaflet/insert"."""
    path, kind = _markdown(root, part, lang)
    _, front, body = path.read_text("utf-8").split("---\n", 2)
    meta, org = yaml.safe_load(front), _org(root)
    headings = [("H1", _fill(meta["title"], org))]
    phrases = [_fill(meta["title"], org), _fill(meta["summary"], org)]
    for line in body.split("\n"):
        if m := re.match(r"(#{2,6})\s+(.*?)\s*#*\s*$", line):
            text = _plain(_fill(m.group(2), org))
            headings.append((f"H{len(m.group(1))}", text))
            phrases.append(text)
        elif m := re.match(r'\s*!!!\s+\w+\s+"(.*)"', line):
            phrases.append(_plain(_fill(m.group(1), org)))
        for alt in re.findall(r"!\[([^\]]+)\]\(", line):
            phrases.append(pdfua.norm(alt))
    interface = i18n.translations(Project(REPO), lang or meta.get("lang", "en"))
    contacts = [("H2", interface.gettext("Contact us"))] if kind == "leaflet" else []
    tail = [*contacts, ("H2", interface.gettext(f"About this {kind}"))]
    return headings + tail, phrases + [t for _, t in tail]


def _parts(name: str) -> tuple[Path, list[str], str]:
    """The project, the leaflet and inserts and the language a PDF was made from, by its test id:
    <ids>.<lang>.pdf is a translation; without .<lang>, the first part's own language."""
    if name in HANDOUTS:
        root, parts, lang = FIXTURE, HANDOUTS[name][1], None
    else:
        root = REPO if name.split("/")[0].split("-")[0] == "repo" else FIXTURE
        *parts, last = Path(name).stem.split("+")
        last, _, lang = last.partition(".")
        parts.append(last)
    lang = lang or _front_matter(_markdown(root, parts[0])[0]).get("lang", "en")
    return root, parts, lang


def _in_order(text: str, phrases: list[str]) -> None:
    at = 0
    for phrase in phrases:
        found = text.find(phrase, at)
        assert found >= 0, (
            f"{phrase!r} is not in the structure tree after position {at}; "
            f"there it reads: {text[at : at + 200]!r}"
        )
        at = found + len(phrase)


RTL = ("ar", "he", "fa", "ur")


@pytest.mark.parametrize("name", NAMES)
def test_structure_tree_reads_the_markdown_in_order(every_pdf, name):
    root, parts, lang = _parts(name)
    phrases = [p for part in parts for p in source_outline(root, part, lang)[1]]
    _in_order(facts(every_pdf[name]).structure_text, phrases)


@pytest.mark.parametrize("name", NAMES)
def test_headings_are_the_markdown_headings(every_pdf, name):
    root, parts, lang = _parts(name)
    expected = [h for part in parts for h in source_outline(root, part, lang)[0]]
    if name in HANDOUTS:
        expected.insert(1, ("H2", "Your details"))  # templates/your-details.html, on page 1 only
    # Right-to-left runs carry /ActualText in reading order (clearleaf/pdf.py), which is what
    # a screen reader says and what the checker reads.
    assert facts(every_pdf[name]).headings == expected


def test_fixture_leaflet_reads_in_source_order(built):
    """Known phrases of the fixture leaflet, in the order its Markdown has them."""
    with pikepdf.open(built.single("a4", "sample")) as pdf:
        text = pdfua.analyse(pdf).structure_text()
    _in_order(
        text,
        [
            SAMPLE["title"],
            SAMPLE["summary"],
            SAMPLE["danger"],
            "Sudden purple quokka feeling",
            "Do not drive yourself.",
            "Heliotrope heading",
            "A blue rectangle standing in for a valve diagram",
            "Bullet about lanterns",
            "Periwinkle heading",
            "Filler paragraph eight",
            "Contact us",
            "About this leaflet",
            "Reference FX-SAM-042, version 3.7.",
        ],
    )


def test_personal_details_read_after_the_emergency_signs_and_in_every_script(every_pdf):
    with pikepdf.open(every_pdf["handout/a4/MRN-UA-1.pdf"]) as pdf:
        tagged = pdfua.analyse(pdf)
    text = tagged.structure_text()
    _in_order(
        text,
        [
            SAMPLE["danger"],
            "Your details",
            f"Name {PATIENT_FULL['name']}",
            "Medicine Apixaban",
            f"Seen by {PATIENT_FULL['clinician']}",
            "Σοφία Παπαδοπούλου · Дмитрий Иванов",
            "Heliotrope heading",
        ],
    )
    fonts = {f.name.split("+")[-1] for f in tagged.fonts.values()}
    assert {"Atkinson-Hyperlegible", "Noto-Sans", "IBM-Plex-Sans-Arabic"} <= fonts
    # The blank handout tags its table too: every row header is a /TH in a /TR.
    with pikepdf.open(every_pdf["handout/letter/MRN-UA-2.pdf"]) as pdf:
        tagged = pdfua.analyse(pdf)
    headers = [tagged.text(i) for i in tagged.of_type("TH")]
    assert headers[:3] == ["Name", "Medicine", "Dose"] and "Reference" in headers


# --- The checker itself: each rule can fail ----------------------------------------------------


def repair_margin_boxes(pdf: pikepdf.Pdf) -> None:
    """Re-mark the margin-box text as /Artifact and drop its /ParentTree entries: what the
    suggested fix in clearleaf/pdf.py would do, and how the checker's tests get a clean PDF."""
    margins = margin_box_mcids(pdf)
    parent_tree = pdfua._number_tree(pdf.Root.StructTreeRoot.ParentTree, {})
    for n, page in enumerate(pdf.pages, 1):
        mine = {m for p, m in margins if p == n}
        if not mine:
            continue
        out = []
        for ins in pikepdf.parse_content_stream(page):
            operands = getattr(ins, "operands", [])
            if (
                str(ins.operator) == "BDC"
                and len(operands) == 2
                and isinstance(operands[1], pikepdf.Dictionary)
                and int(operands[1].get("/MCID", -1)) in mine
            ):
                ins = pikepdf.ContentStreamInstruction(
                    [pikepdf.Name.Artifact, pikepdf.Dictionary(Type=pikepdf.Name.Pagination)],
                    pikepdf.Operator("BDC"),
                )
            out.append(ins)
        page.obj.Contents = pdf.make_stream(pikepdf.unparse_content_stream(out))
        entries = parent_tree[int(page.obj.StructParents)]
        for m in mine:
            entries[m] = None


@pytest.fixture(scope="session")
def original(every_pdf) -> bytes:
    """A personalised handout as Clearleaf makes it: a table, lists, a figure, the DRAFT mark."""
    return every_pdf["handout/a4/MRN-UA-1.pdf"].read_bytes()


@pytest.fixture(scope="session")
def clean(original) -> bytes:
    with pikepdf.open(io.BytesIO(original)) as pdf:
        repair_margin_boxes(pdf)
        buf = io.BytesIO()
        pdf.save(buf)
    return buf.getvalue()


def mutate(data: bytes, change) -> list[pdfua.Problem]:
    """Open data, apply change(pdf, tagged), save, reopen and check."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        change(pdf, pdfua.analyse(pdf))
        buf = io.BytesIO()
        pdf.save(buf)
    return pdfua.check(buf.getvalue())


def test_the_clean_baseline_has_no_problems(clean):
    """Also shows the suggested fix is enough: with the margin boxes as artifacts, nothing is left."""
    assert pdfua.check(clean) == []


def retag_artifact(pdf: pikepdf.Pdf, page_index: int, pattern: str, parent: pikepdf.Dictionary) -> int:
    """Turn the artifact on a page whose text matches pattern into tagged content: a /Span with a
    new MCID, under parent (which need not be in the tree), listed in the /ParentTree."""
    page = pdf.pages[page_index]
    ops = list(pikepdf.parse_content_stream(page))
    stack, font, target = [], None, None
    for i, ins in enumerate(ops):
        op = str(ins.operator)
        if op in ("BDC", "BMC"):
            stack.append([i, []] if str(ins.operands[0]) == "/Artifact" else None)
        elif op == "EMC":
            top = stack.pop()
            if top and re.search(pattern, "".join(top[1])):
                target = top[0]
                break
        elif op == "Tf":
            font = pdfua.Font(page.obj.Resources.Font[ins.operands[0]])
        elif op in pdfua.TEXT_OPS:
            for entry in filter(None, stack):
                entry[1].append(pdfua._ContentReader._text(font, ins.operands))
    assert target is not None, f"no artifact shows {pattern!r} on page {page_index + 1}"
    entries = pdfua._number_tree(pdf.Root.StructTreeRoot.ParentTree, {})[int(page.obj.StructParents)]
    mcid = len(entries)
    ops[target] = pikepdf.ContentStreamInstruction(
        [pikepdf.Name.Span, pikepdf.Dictionary(MCID=mcid)], pikepdf.Operator("BDC")
    )
    page.obj.Contents = pdf.make_stream(pikepdf.unparse_content_stream(ops))
    span = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.StructElem, S=pikepdf.Name.Span, P=parent, Pg=page.obj, K=pikepdf.Array([mcid])
        )
    )
    parent.K.append(span)
    entries.append(span)
    return mcid


def _weasyprint_margin_box(pdf, t):
    """What WeasyPrint 70 does with the page number: tag it under a /NonStruct whose /P is
    /Document but which /Document does not list."""
    orphan = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.StructElem,
            S=pikepdf.Name.NonStruct,
            P=_element(t, "Document").obj,
            K=pikepdf.Array(),
        )
    )
    retag_artifact(pdf, 0, r"Page 1 of \d+", orphan)


def test_checker_finds_weasyprints_margin_box_tagging(clean):
    """WeasyPrint's own margin-box tagging, recreated in a clean PDF: the checker catches it."""
    problems = mutate(clean, _weasyprint_margin_box)
    assert {p.rule for p in problems} == {"mcid", "furniture"}
    messages = "\n".join(map(str, problems))
    assert re.search(
        r"mcid: page 1: MCID \d+ /Span 'Page 1 of \d+' is neither an artifact nor referenced by any "
        r"element of the structure tree \(its /ParentTree entry is /Span in /NonStruct in /Document, "
        r"which is not in the tree\)",
        messages,
    ), messages
    assert re.search(r"furniture: page 1: page furniture 'Page 1 of \d+' is tagged content", messages), (
        messages
    )
    # ...and the tests above would classify it as that bug, and nothing else.
    with pikepdf.open(io.BytesIO(clean)) as pdf:
        mcid_before = len(
            pdfua._number_tree(pdf.Root.StructTreeRoot.ParentTree, {})[int(pdf.pages[0].StructParents)]
        )
        _weasyprint_margin_box(pdf, pdfua.analyse(pdf))
        assert margin_box_mcids(pdf) == {(1, mcid_before)}


def _element(tagged: pdfua.Tagged, type_: str, text: str | None = None, nth: int = 0) -> pdfua.Element:
    hits = [tagged.elements[i] for i in tagged.of_type(type_) if text is None or text in tagged.text(i)]
    return hits[nth]


def _font_objects(pdf) -> list:
    return [
        o
        for o in pdf.objects
        if isinstance(o, pikepdf.Dictionary) and o.get("/Type") == "/Font" and o.get("/Subtype") == "/Type0"
    ]


def _set_xmp(pdf, old: str, new: str) -> None:
    xmp = pdf.Root.Metadata.read_bytes().decode("utf-8")
    assert re.search(old, xmp), old
    pdf.Root.Metadata.write(re.sub(old, new, xmp).encode("utf-8"))


def _rewrite_content(pdf, page_index: int, edit) -> None:
    page = pdf.pages[page_index]
    ops = list(pikepdf.parse_content_stream(page))
    page.obj.Contents = pdf.make_stream(pikepdf.unparse_content_stream(edit(ops)))


def _bdc_index(ops, mcid: int) -> int:
    return next(
        i
        for i, ins in enumerate(ops)
        if str(ins.operator) == "BDC"
        and isinstance(ins.operands[1], pikepdf.Dictionary)
        and ins.operands[1].get("/MCID") == mcid
    )


def _unmark(ops, mcid: int):
    """Remove the BDC ... EMC around one MCID, leaving what it draws unmarked."""
    start = _bdc_index(ops, mcid)
    depth = 0
    for end in range(start, len(ops)):
        op = str(ops[end].operator)
        depth += op in ("BDC", "BMC")
        depth -= op == "EMC"
        if depth == 0:
            break
    return ops[:start] + ops[start + 1 : end] + ops[end + 1 :]


def _retag_mcid(ops, old: int, new: int):
    i = _bdc_index(ops, old)
    ops[i] = pikepdf.ContentStreamInstruction(
        [pikepdf.Name.Span, pikepdf.Dictionary(MCID=new)], pikepdf.Operator("BDC")
    )
    return ops


def _heading(level: str, text: str):
    def change(pdf, t):
        _element(t, "H2", text).obj.S = pikepdf.Name(f"/{level}")

    return change


def _first_h1_to_h2(pdf, t):
    _element(t, "H1").obj.S = pikepdf.Name.H2


def _swap_paragraphs(pdf, t):
    p = _element(t, "P", "Filler paragraph one")
    parent = t.elements[p.parent].obj
    kids = list(parent.K)
    i = next(n for n, k in enumerate(kids) if k.objgen == p.obj.objgen)
    kids[i], kids[i + 1] = kids[i + 1], kids[i]
    parent.K = pikepdf.Array(kids)


def _drop_span(pdf, t):
    p = _element(t, "P", "The Zanzibar sentinel phrase appears")
    p.obj.K = pikepdf.Array(list(p.obj.K)[1:])


def _dangling(pdf, t):
    p = _element(t, "P", "Filler paragraph one")
    p.obj.K.append(999)


def _shared(pdf, t):
    a = _element(t, "P", "Filler paragraph one")
    b = _element(t, "P", "Filler paragraph two")
    first = t.marked[_first_key(t, a)]
    b.obj.K.append(
        pikepdf.Dictionary(Type=pikepdf.Name.MCR, MCID=first.mcid, Pg=pdf.pages[first.page - 1].obj)
    )


def _swap_parent_tree(pdf, t):
    entries = pdfua._number_tree(pdf.Root.StructTreeRoot.ParentTree, {})[int(pdf.pages[0].StructParents)]
    entries[0], entries[1] = entries[1], entries[0]


def _untagged_path(pdf, t):
    _rewrite_content(
        pdf,
        0,
        lambda ops: (
            ops
            + [
                pikepdf.ContentStreamInstruction([0, 0], pikepdf.Operator("m")),
                pikepdf.ContentStreamInstruction([100, 100], pikepdf.Operator("l")),
                pikepdf.ContentStreamInstruction([], pikepdf.Operator("S")),
            ]
        ),
    )


def _untagged_text(pdf, t):
    marked = t.marked[_first_key(t, _element(t, "H2", "Heliotrope heading"))]
    _rewrite_content(pdf, marked.page - 1, lambda ops: _unmark(ops, marked.mcid))


def _first_key(t, element):
    keys = []

    def walk(e):
        for kind, value in e.order:
            if kind == "mcid":
                keys.append(value)
            elif kind == "elem":
                walk(t.elements[value])

    walk(element)
    return keys[0]


def _duplicate_mcid(pdf, t):
    _rewrite_content(pdf, 0, lambda ops: _retag_mcid(ops, 1, 0))


def _footer_into_tree(pdf, t):
    """Do what a careless fix might: tag the page number as content of the page's /Art."""
    retag_artifact(pdf, 0, r"Page 1 of \d+", _element(t, "Art").obj)


def _add_link(pdf, t):
    del pdf.pages[0].obj["/Tabs"]
    link = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 10, 10], Border=[0, 0, 0]
        )
    )
    pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([link]))


def _unmap_capital_z(pdf, t):
    """Drop the ToUnicode entry for "Z" from every font that has one (a glyph with no Unicode value)."""
    for font in _font_objects(pdf):
        cmap = font.ToUnicode.read_bytes().decode("latin-1")
        font.ToUnicode.write(re.sub(r"<[0-9a-fA-F]{4}> <005[aA]>\n", "", cmap).encode("latin-1"))


def _cid_fonts(pdf):
    return [d for f in _font_objects(pdf) for d in f.DescendantFonts]


MUTATIONS = {
    # name: (change, rules reported, a message it must contain)
    "no catalog /Lang": (
        lambda pdf, t: pdf.Root.__delattr__("Lang"),
        {"metadata"},
        "the catalog has no /Lang",
    ),
    "catalog /Lang not a tag": (
        lambda pdf, t: setattr(pdf.Root, "Lang", pikepdf.String("English (UK)")),
        {"metadata"},
        "is not a language tag",
    ),
    "not marked": (lambda pdf, t: setattr(pdf.Root.MarkInfo, "Marked", False), {"metadata"}, "/Marked true"),
    "no DisplayDocTitle": (
        lambda pdf, t: pdf.Root.ViewerPreferences.__delattr__("DisplayDocTitle"),
        {"metadata"},
        "/DisplayDocTitle is not true",
    ),
    "no docinfo title": (
        lambda pdf, t: pdf.docinfo.__delitem__("/Title"),
        {"metadata"},
        "the document information has no /Title",
    ),
    "no XMP dc:title": (
        lambda pdf, t: _set_xmp(pdf, r"<dc:title>.*?</dc:title>", ""),
        {"metadata"},
        "no dc:title",
    ),
    "no pdfuaid:part": (
        lambda pdf, t: _set_xmp(pdf, r'pdfuaid:part="1"', 'pdfuaid:part="2"'),
        {"metadata"},
        "no pdfuaid:part=1",
    ),
    "empty /Lang on a part": (
        lambda pdf, t: setattr(_element(t, "Art").obj, "Lang", pikepdf.String("")),
        {"lang"},
        "/Art has /Lang ''",
    ),
    "H2 made H4": (
        _heading("H4", "Heliotrope heading"),
        {"headings"},
        "'Heliotrope heading' (H4) follows 'Your details' (H2): skips H3",
    ),
    "first heading H2": (
        _first_h1_to_h2,
        {"headings"},
        "the first heading 'Zanzibar sentinel leaflet' is H2",
    ),
    "list made a Div": (
        lambda pdf, t: setattr(_element(t, "L", "Bullet about lanterns").obj, "S", pikepdf.Name.Div),
        {"lists"},
        "/LI '• Bullet about lanterns and ordinary things' is inside /Div, not /L",
    ),
    "bullet not a label": (
        lambda pdf, t: setattr(_element(t, "Lbl").obj, "S", pikepdf.Name.Span),
        {"lists", "reading-order"},
        "the bullet '•' (MCID",
    ),
    "list item made a P": (
        lambda pdf, t: setattr(_element(t, "LI", "quokka").obj, "S", pikepdf.Name.P),
        {"lists"},
        "/Lbl '•' is inside /P, not /LI",
    ),
    "no /Alt": (
        lambda pdf, t: _element(t, "Figure").obj.__delattr__("Alt"),
        {"figures"},
        "a /Figure has no /Alt text",
    ),
    "file name /Alt": (
        lambda pdf, t: setattr(_element(t, "Figure").obj, "Alt", pikepdf.String("diagram.svg")),
        {"figures"},
        "/Alt is 'diagram.svg', not a description",
    ),
    "row made a Div": (
        lambda pdf, t: setattr(_element(t, "TR", "Name").obj, "S", pikepdf.Name.Div),
        {"tables"},
        "/TH is inside /Div, not /TR",
    ),
    "unknown type": (
        lambda pdf, t: setattr(_element(t, "Div").obj, "S", pikepdf.Name("/Callout")),
        {"structure"},
        "/Callout is not a standard structure type and has no /RoleMap entry",
    ),
    "wrong /P": (
        lambda pdf, t: setattr(
            _element(t, "P", "Filler paragraph one").obj, "P", _element(t, "Document").obj
        ),
        {"structure"},
        "/P is a kid of /Div but its /P points elsewhere",
    ),
    "paragraphs swapped": (
        _swap_paragraphs,
        {"reading-order"},
        "the structure tree reads 'Filler paragraph two.",
    ),
    "span dropped from the tree": (
        _drop_span,
        {"mcid"},
        (
            "/Span 'The Zanzibar sentinel phrase appears in the body of the fix…' is "
            "neither an artifact nor referenced by any element of the structure tree "
            "(its /ParentTree entry is /Span in /P in "
        ),
    ),
    "dangling MCID": (_dangling, {"mcid"}, "/P references MCID 999, which the page content does not have"),
    "MCID in two elements": (_shared, {"mcid"}, "is referenced by 2 elements"),
    "ParentTree swapped": (_swap_parent_tree, {"mcid"}, "the /ParentTree entry for MCID 0 does not point at"),
    # The H1's own text was MCID 1, so the H1 is now empty too.
    "MCID used twice": (_duplicate_mcid, {"mcid", "headings"}, "page 1: MCID 0 is used more than once"),
    "untagged path": (
        _untagged_path,
        {"untagged"},
        ("page 1: 1 painting operation(s) outside both /Artifact and tagged content, e.g. a path"),
    ),
    "untagged text": (_untagged_text, {"untagged", "mcid", "headings"}, "e.g. text 'Heliotrope heading'"),
    "no ToUnicode": (
        lambda pdf, t: [f.__delattr__("ToUnicode") for f in _font_objects(pdf)],
        {"fonts", "headings"},
        "has no /ToUnicode map",
    ),
    "glyph without Unicode": (_unmap_capital_z, {"fonts"}, "shows glyph codes with no Unicode value"),
    "not embedded": (
        lambda pdf, t: [d.FontDescriptor.__delattr__("FontFile2") for d in _cid_fonts(pdf)],
        {"fonts"},
        "Atkinson-Hyperlegible is not embedded",
    ),
    "no CIDToGIDMap": (
        lambda pdf, t: [d.__delattr__("CIDToGIDMap") for d in _cid_fonts(pdf)],
        {"fonts"},
        "is a CIDFontType2 without /CIDToGIDMap",
    ),
    "untagged link": (_add_link, {"annotations"}, "a /Link annotation has no /StructParent"),
    "embedded file": (
        lambda pdf, t: setattr(
            pdf.Root, "Names", pikepdf.Dictionary(EmbeddedFiles=pikepdf.Dictionary(Names=pikepdf.Array()))
        ),
        {"attachments"},
        "the PDF has /EmbeddedFiles",
    ),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_checker_reports_a_broken_rule(clean, name):
    change, rules, message = MUTATIONS[name]
    problems = mutate(clean, change)
    text = "\n".join(map(str, problems))
    assert {p.rule for p in problems} == rules, text
    assert message in text, text


def test_link_rules(clean):
    text = "\n".join(map(str, mutate(clean, _add_link)))
    assert "page 1: a page with annotations has no /Tabs /S" in text
    assert "a /Link annotation has no /Contents" in text


def test_role_map_makes_a_custom_type_standard(clean):
    def change(pdf, t):
        _element(t, "Div").obj.S = pikepdf.Name("/Callout")
        pdf.Root.StructTreeRoot.RoleMap = pikepdf.Dictionary(Callout=pikepdf.Name.Div)

    assert mutate(clean, change) == []


def test_footer_hung_into_the_tree_is_read_out(clean):
    """Putting the margin boxes' text into the tree is no fix: the tree then reads the footer out."""
    problems = mutate(clean, _footer_into_tree)
    text = "\n".join(map(str, problems))
    assert {p.rule for p in problems} == {"furniture"}, text
    assert "furniture: page 1: the structure tree reads out page furniture 'Page 1 of" in text, text
    assert re.search(r"furniture: page 1: page furniture 'Page 1 of \d+' is tagged content", text), text


def test_command_line(clean, tmp_path):
    good = tmp_path / "good.pdf"
    good.write_bytes(clean)
    bad = tmp_path / "bad.pdf"
    with pikepdf.open(io.BytesIO(clean)) as pdf:
        del pdf.Root.Lang
        pdf.save(bad)
    script = str(TESTS / "pdfua.py")
    ok = subprocess.run([sys.executable, script, str(good)], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "no problems" in ok.stdout
    failed = subprocess.run(
        [sys.executable, script, str(good), str(bad)], capture_output=True, text=True, check=False
    )
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert failed.stdout.splitlines() == [
        f"{bad}: metadata: the catalog has no /Lang (the document's language)"
    ]
