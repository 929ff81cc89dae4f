"""Shared helpers for the clearleaf test suite: project copies, CLI runs, and reading PDFs as a reader would."""

from __future__ import annotations

import json
import math
import re
import shutil
import time
from collections import Counter
from pathlib import Path

import pikepdf
import pypdf
from click.testing import CliRunner

from clearleaf.cli import cli

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "project"

# What the fixture leaflet set says, in one place, so tests never hard-code the real DVT content.
ORG_NAME = "Fixture Health Trust"
EMERGENCY = "999"
SAMPLE = {"id": "sample", "title": "Zanzibar sentinel leaflet", "code": "FX-SAM-042", "version": "3.7",
          "review": "31 December 2099", "lang": "en", "status": "approved",
          "summary": "Marmoset summary sentence about the fixture leaflet. It has two sentences.",
          "danger": "Phone 999 for the Zanzibar sentinel phrase"}
FIRST = {"id": "first-insert", "title": "Albatross procedure insert", "code": "FX-INS-101", "version": "1.4",
         "review": "30 June 2098", "lang": "en", "status": "draft"}
SECOND = {"id": "second-insert", "title": "Procedimiento cormorán", "code": "FX-INS-202", "version": "5.0",
          "review_iso": "2097-03-01",
          "review": "1 March 2097", "lang": "es", "status": "approved"}
# second-insert is written in Spanish; second-insert.en.md is its English translation. A combined
# handout is one language throughout, so the English combined handout uses the translation.
SECOND_EN = {"id": "second-insert", "title": "Cormorant procedure", "code": "FX-INS-202-EN", "version": "5.0",
             "review": "1 March 2097", "lang": "en", "status": "approved"}
INSERTS = (FIRST, SECOND)
COMBINED_INSERTS = (FIRST, SECOND_EN)
PARTS = {p["id"]: p for p in (SAMPLE, FIRST, SECOND_EN)}  # the parts of the combined handout
DRAFT_MARK = "DRAFT – not for patient use"
PAPER_SIZES = {"a4": (595.28, 841.89), "letter": (612.0, 792.0)}
COMBINED = "sample+first-insert+second-insert.pdf"


# A patient, for every test of personalised handouts (save, print, e-mail, the desk's CLI cousins).
DISTINCT = "Quillon Vexworthy-Ardbeg"  # a name that appears nowhere else in the project
FULL = {
    "name": DISTINCT,
    "issued": "2026-11-26",
    "clinician": "Dr Ada Fixture",
    "contact_phone": "(555) 010-0199",
    "medication": {"name": "Apixaban", "dose": "5 mg", "how_often": "Twice a day", "until": "26 February 2027"},
    "follow_up": "Clinic 4, 3 Dec 2026, 10:30",
    "note": "Keep walking every day.",
    "reference": "MRN-0042",
}
ADDRESS = "patient.quokka@example.org"  # the patient's e-mail address in the e-mail tests


def make_project(dest: Path, source: Path = FIXTURE) -> Path:
    """Copy a leaflet set plus the REAL templates/ and styles/ into dest; return dest."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / "leaflets", dest / "leaflets")
    shutil.copytree(REPO / "templates", dest / "templates")
    shutil.copytree(REPO / "styles", dest / "styles")
    shutil.copytree(REPO / "locales", dest / "locales")
    return dest


# The website (clearleaf/site.py) of the fixture set: its pages' addresses, and an Arabic
# translation of the sample leaflet so that a right-to-left page is built too.
SITE_URL = "https://www.fixture-health.example/leaflets/{id}"
SITE_ROOT = SITE_URL.removesuffix("{id}")
SAMPLE_AR = {"title": "نشرة الحارس التجريبية", "code": "FX-SAM-042-AR", "lang": "ar",
             "danger": "اتصل بالرقم 999 الآن إذا شعرت بألم في الصدر"}
SAMPLE_AR_TEXT = f"""---
title: "{SAMPLE_AR['title']}"
code: {SAMPLE_AR['code']}
version: "3.7"
translation_of: "3.7"
published: 2026-01-15
review_by: 2099-12-31
owner: Fixture Owners Unit
status: draft
lang: ar
summary: "نشرة تجريبية للاختبارات فقط. لها جملتان."
sources:
  - "المصدر التجريبي الأول"
---

!!! danger "اتصل بالرقم {{{{ org.emergency_number }}}} الآن إذا شعرت بألم في الصدر"
    - ضيق مفاجئ في التنفس

## العنوان الأول

نص عادي في النشرة التجريبية، ليكون فيها نص بالحجم العادي.

![مستطيل أزرق مكان رسم الصمام](images/diagram.svg)

## العنوان الثاني

اتصل بنا على الرقم {{{{ org.phones.desk.number }}}} إذا كان لديك سؤال.
"""
# A line of raw HTML in the sample leaflet: the web page, like the PDF, prints it as text.
RAW_HTML = '<script>alert("x")</script> <b>Ochre raw line</b>'


INSERT_DANGER = "Call 999 now if the albatross site bleeds"  # the end of first-insert, on the site


def site_project(dest: Path) -> Path:
    """The fixture set as its website is tested: leaflet_url set, an Arabic translation of the
    sample, a line of raw HTML in it, and an emergency box at the end of first-insert."""
    make_project(dest)
    with open(dest / "leaflets" / "org.yaml", "a", encoding="utf-8") as f:
        f.write(f"leaflet_url: {SITE_URL}\n")
    (dest / "leaflets" / "sample.ar.md").write_text(SAMPLE_AR_TEXT, "utf-8")
    sample = dest / "leaflets" / "sample.md"
    heading = "## Periwinkle heading\n"
    sample.write_text(sample.read_text("utf-8").replace(heading, f"{RAW_HTML}\n\n{heading}"), "utf-8")
    with open(dest / "leaflets" / "inserts" / "first-insert.md", "a", encoding="utf-8") as f:
        f.write(f"\n## When to get help\n\n!!! danger \"{INSERT_DANGER}\"\n    - Bleeding that will not stop\n")
    return dest


def scan_qr(pdf: Path, page: int, tmp_path: Path) -> list[str]:
    """Render one page at 300 dpi and decode every QR code on it, as a phone camera would."""
    import subprocess

    png = tmp_path / f"page-{page}"
    subprocess.run(["pdftoppm", "-png", "-r", "300", "-f", str(page), "-l", str(page), "-singlefile", str(pdf),
                    str(png)], check=True)
    result = subprocess.run(["zbarimg", "-q", "--raw", f"{png}.png"], capture_output=True, text=True)
    return result.stdout.split()


def run(project: Path, *args: str):
    """Invoke the CLI in-process against project; stdout and stderr are kept apart."""
    return CliRunner().invoke(cli, ["--project", str(project), *map(str, args)])


def build(project: Path, out: Path, *args: str):
    return run(project, "build", "--out", str(out), *args)


def write_patient(path: Path, **values) -> Path:
    """Write a patient file (YAML) with these values; a dict value becomes a nested section."""
    lines = []
    for key, value in values.items():
        if isinstance(value, dict):
            lines.append(f"{key}:")
            lines += [f"  {k}: {json.dumps(v, ensure_ascii=False)}" for k, v in value.items()]
        else:
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def handout(project, *args):
    """Run build.py handout for the fixture leaflet."""
    return run(project, "handout", "sample", *args)


def email(project, tmp_path, server, cert, *extra):
    """Run build.py email for the FULL patient to ADDRESS through a test SMTP server."""
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    return run(project, "email", "sample", "--patient", patient, "--to", ADDRESS,
               "--smtp-host", "127.0.0.1", "--smtp-port", str(server.port), "--smtp-ca-file", cert.cert, *extra)


def log_lines(project: Path) -> list[dict]:
    """The issue log's records of handouts that were issued (each begin line joined to its outcome)."""
    from clearleaf import records

    found, problems = records.read(project / "records" / "issued.jsonl")
    assert problems == []
    return [record for record in found if record["status"] == "issued"]


def wait_received(cups, before: int, count: int = 1, timeout: float = 30.0):
    """Wait until the test printer has received count jobs since job number before; return them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cups.printer.received(before)
        if len(got) >= count:
            return got
        time.sleep(0.1)
    raise AssertionError(f"the printer received {len(cups.printer.received(before))} of {count} jobs")


def pdfs_and_parts(out: Path) -> list[Path]:
    """Every PDF and temp file under out (nothing at all should exist after a failure)."""
    if not out.exists():
        return []
    return sorted(p for p in out.rglob("*") if p.suffix in (".pdf", ".part") or ".part" in p.name)


def assert_ok(result):
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "Traceback" not in result.output + result.stderr


def assert_clean_error(result, out: Path | None = None, pattern: str | None = None):
    """An error as the style guide wants it: exit 1, no traceback, path:line: problem — fix, nothing written."""
    both = result.output + result.stderr
    assert result.exit_code == 1, f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "Traceback" not in both
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    if pattern is not None:
        assert re.search(pattern, result.stderr, re.M), f"no line matching {pattern!r} in stderr:\n{result.stderr}"
    if out is not None:
        assert pdfs_and_parts(out) == []
    return result.stderr


def norm(text: str) -> str:
    """Collapse whitespace, so text that wrapped across lines still matches."""
    return " ".join(text.split())


def page_texts(path: Path) -> list[str]:
    """The text of every page, whitespace-normalised, as pypdf extracts it."""
    return [norm(page.extract_text() or "") for page in pypdf.PdfReader(str(path)).pages]


def _det(m) -> float:
    return m[0] * m[3] - m[1] * m[2]


def _mul(a, b):
    """Multiply two PDF matrices [a b c d e f] (a applied first)."""
    return [a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3],
            a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3],
            a[4] * b[0] + a[5] * b[2] + b[4], a[4] * b[1] + a[5] * b[3] + b[5]]


def font_size_counts(path: Path) -> Counter:
    """Count glyphs by their effective size in points: Tf size scaled by the text matrix and the CTM."""
    counts: Counter = Counter()
    identity = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    with pikepdf.open(path) as pdf:
        for page in pdf.pages:
            ctm, stack, tm, size = identity, [], identity, None
            for operands, op in pikepdf.parse_content_stream(page):
                op = str(op)
                if op == "q":
                    stack.append(ctm)
                elif op == "Q":
                    ctm = stack.pop()
                elif op == "cm":
                    ctm = _mul([float(x) for x in operands], ctm)
                elif op == "BT":
                    tm = identity
                elif op == "Tm":
                    tm = [float(x) for x in operands]
                elif op == "Tf":
                    size = float(operands[1])
                elif op in ("TJ", "Tj", "'", '"'):
                    assert size is not None, "text shown before any Tf"
                    effective = size * math.sqrt(abs(_det(tm))) * math.sqrt(abs(_det(ctm)))
                    last = operands[-1]
                    strings = last if isinstance(last, pikepdf.Array) else [last]
                    glyphs = sum(len(bytes(s)) for s in strings if isinstance(s, pikepdf.String)) // 2
                    counts[round(effective, 1)] += glyphs
    return counts


def struct_elements(pdf: pikepdf.Pdf):
    """Yield every structure element dictionary in the tag tree."""
    todo = [pdf.Root.StructTreeRoot]
    seen = set()
    while todo:
        node = todo.pop()
        if isinstance(node, pikepdf.Array):
            todo.extend(node)
            continue
        if not isinstance(node, pikepdf.Dictionary):
            continue
        key = node.objgen if node.is_indirect else id(node)
        if key in seen:
            continue
        seen.add(key)
        if "/S" in node:
            yield node
        if "/K" in node:
            todo.append(node.K)


def part_ranges(texts: list[str], inserts=COMBINED_INSERTS) -> dict[str, range]:
    """Map each part of a combined handout to its page numbers (1-based), by where each insert starts.

    An insert starts on the page that shows its title under the 'Procedure insert' kicker; blank
    filler pages belong to the part before them."""
    starts = []
    for ins in inserts:
        hits = [i + 1 for i, t in enumerate(texts) if f"Procedure insert {ins['title']}" in t]
        assert len(hits) == 1, f"{ins['id']} should start on exactly one page, found {hits}"
        starts.append((ins["id"], hits[0]))
    ranges = {SAMPLE["id"]: range(1, starts[0][1])}
    for n, (id_, start) in enumerate(starts):
        end = starts[n + 1][1] if n + 1 < len(starts) else len(texts) + 1
        ranges[id_] = range(start, end)
    return ranges


def set_front_matter(path: Path, key: str, value: str | None) -> None:
    """Replace (or with value None, delete) one top-level front-matter line of a leaflet."""
    lines = path.read_text("utf-8").split("\n")
    for i, line in enumerate(lines):
        if line.startswith(f"{key}:"):
            if value is None:
                del lines[i]
            else:
                lines[i] = f"{key}: {value}"
            break
    else:
        raise AssertionError(f"{key} not in {path}")
    path.write_text("\n".join(lines), "utf-8")


def line_of(path: Path, needle: str) -> int:
    """1-based line number of the first line containing needle."""
    for n, line in enumerate(path.read_text("utf-8").split("\n"), 1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in {path}")


# The body area of every page (styles/common.css: @page margin 16mm 20mm 24mm 20mm), in points.
MM = 72 / 25.4
BODY_MARGIN_TOP, BODY_MARGIN_BOTTOM = 16 * MM, 24 * MM


def page_fullness(path: Path) -> list[float]:
    """How far down its body area each page's content reaches, from 0 (empty) to 1 (full).

    The lowest text, picture or drawn box inside the body area (not the running footer or the
    marks at the top, which sit in the margins), measured with pdfplumber.
    """
    import pdfplumber

    found = []
    with pdfplumber.open(path) as doc:
        for page in doc.pages:
            top, bottom = BODY_MARGIN_TOP, float(page.height) - BODY_MARGIN_BOTTOM
            objects = [*page.chars, *page.images, *page.lines,
                       *(o for o in [*page.rects, *page.curves] if not _white_background(o))]
            inside = [o["bottom"] for o in objects if o["top"] >= top - 1 and o["bottom"] <= bottom + 1]
            lowest = max(inside, default=top)
            found.append(max(0.0, min(1.0, (lowest - top) / (bottom - top))))
    return found


def _white_background(shape: dict) -> bool:
    """A filled white shape with no outline: a page or box background, not content."""
    colour = shape.get("non_stroking_color")
    white = colour is not None and all(float(c) >= 0.99 for c in (colour if isinstance(colour, (list, tuple)) else [colour]))
    return bool(shape.get("fill")) and white and not shape.get("stroke")
