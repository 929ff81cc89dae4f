"""WeasyPrint's internals are patched only on the version they were written for (issue 12).

On any other major version a build stops with a message that says which version is installed and
what to do, before it lays out a page: never a PDF with garbled Arabic or missing tags.
"""

from __future__ import annotations

import pytest
import weasyprint

from clearleaf import pdf, weasy_compat
from clearleaf.config import Project
from clearleaf.errors import RenderError
from helpers import assert_clean_error, build

UNSUPPORTED = "71.0"


@pytest.fixture
def newer_weasyprint(monkeypatch):
    """Make the installed WeasyPrint say it is 71.0, as seen by import and by package metadata."""
    monkeypatch.setattr(weasyprint, "__version__", UNSUPPORTED)
    monkeypatch.setattr("importlib.metadata.version",
                        lambda name: UNSUPPORTED if name == "weasyprint" else _real_version(name))
    pdf.weasyprint.cache_clear()
    yield
    pdf.weasyprint.cache_clear()


def _real_version(name: str) -> str:
    from importlib.metadata import distribution

    return distribution(name).version


def test_the_pinned_version_is_supported():
    weasy_compat.check_version(weasyprint.__version__)
    weasy_compat.check_version()  # the installed package's metadata says the same


@pytest.mark.parametrize("version", ["71.0", "69.1", "100.0b1", "unknown"])
def test_another_version_is_refused_with_what_to_do(version):
    with pytest.raises(RenderError) as caught:
        weasy_compat.check_version(version)
    text = str(caught.value)
    assert f"WeasyPrint {version} is installed, but Clearleaf is written for WeasyPrint 70" in text
    assert "pip install weasyprint==70.0" in text and "clearleaf/weasy_compat.py" in text


def test_a_build_stops_cleanly_before_patching_an_unsupported_weasyprint(project, out, newer_weasyprint,
                                                                          monkeypatch):
    patched = []
    monkeypatch.setattr(weasy_compat, "_actual_text_for_rtl", patched.append)
    err = assert_clean_error(build(project, out, "sample", "--paper", "a4"), out)
    assert f"WeasyPrint {UNSUPPORTED} is installed" in err
    assert patched == []  # nothing of WeasyPrint was touched


def test_no_render_workers_start_on_an_unsupported_weasyprint(project, newer_weasyprint):
    with pytest.raises(RenderError, match=f"WeasyPrint {UNSUPPORTED} is installed"):
        pdf.BuildPool(Project(project), workers=1)
    with pytest.raises(RenderError, match=f"WeasyPrint {UNSUPPORTED} is installed"):
        pdf.WarmPool(Project(project), workers=1)


LAZY_PROBE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from clearleaf import pdf
from clearleaf.config import Project
from pathlib import Path
renderer = pdf.Renderer(Project(Path(sys.argv[2])), pdf.Style("a4"))
made = renderer.render("<html lang=en><body><p>Subset me, please.</p></body></html>")
renderer.close()
before = "Subsetter" in vars(sys.modules["fontTools.subset"])
from weasyprint.pdf import fonts
usable = fonts.subset.Subsetter.__name__ == "Subsetter"  # the fallback still works when asked for
print(json.dumps({"loaded": before, "usable": usable, "pages": made.pages}))
"""


def test_fonttools_subsetter_is_not_run_unless_weasyprint_needs_it(project):
    """WeasyPrint imports its fallback subsetter (about 70 ms) though HarfBuzz does the subsetting."""
    import json
    import subprocess
    import sys

    from helpers import REPO

    done = subprocess.run([sys.executable, "-c", LAZY_PROBE, str(REPO), str(project)], capture_output=True,
                          text=True, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"loaded": False, "usable": True, "pages": 1}


RENDER_PROBE = r"""
import json, sys
from pathlib import Path
repo, project, html, target, *eager = sys.argv[1:]
sys.path.insert(0, repo)
for name in eager:  # imported before Clearleaf imports WeasyPrint: no stand-in takes its place
    __import__(name)
from clearleaf import pdf
from clearleaf.config import Project
renderer = pdf.Renderer(Project(Path(project)), pdf.Style("a4"))
made = renderer.render(Path(html).read_text("utf-8"))
renderer.close()
Path(target).write_bytes(made.pdf)
instancer = vars(sys.modules.get("fontTools.varLib.instancer", sys))
print(json.dumps({"warnings": made.warnings, "varLib": "fontTools.varLib" in sys.modules,
                  "instancer": "__file__" in instancer and "instantiateVariableFont" in instancer}))
"""


def _render_in_new_process(project, tmp_path, html: str, name: str, *eager: str) -> tuple[bytes, dict]:
    """Render html in a fresh process, as a build worker does; return the PDF and what the probe saw."""
    import json
    import os
    import subprocess
    import sys

    from helpers import REPO

    source, target = tmp_path / f"{name}.html", tmp_path / f"{name}.pdf"
    source.write_text(html, "utf-8")
    # fontTools stamps a font it instantiates with the time (head.modified) unless told a time.
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    done = subprocess.run([sys.executable, "-c", RENDER_PROBE, str(REPO), str(project), str(source), str(target),
                           *eager], capture_output=True, text=True, check=True, env=env)
    return target.read_bytes(), json.loads(done.stdout.strip().splitlines()[-1])


GREEK_AND_CYRILLIC = "Γεώργιος Παπαδόπουλος, Иван Петров"  # drawn in Noto Sans, a variable font


def test_fonttools_instancer_is_not_imported_unless_a_variable_font_is_embedded(project, tmp_path):
    """WeasyPrint imports fontTools.varLib.instancer (about 70 ms) for the odd variable font."""
    _, seen = _render_in_new_process(project, tmp_path, "<html lang=en><body><p>Plain Latin text.</p></body></html>",
                                     "latin")
    assert seen == {"warnings": [], "varLib": False, "instancer": False}


def test_a_variable_font_is_made_static_as_without_the_stand_in(project, tmp_path):
    """A patient's name in Greek or Cyrillic is drawn in Noto Sans, whose one file holds every weight."""
    import io

    import pikepdf
    import pypdf
    from fontTools.ttLib import TTFont

    html = f"<html lang=en><body><p>Patient: {GREEK_AND_CYRILLIC}</p><p><b>{GREEK_AND_CYRILLIC}</b></p></body></html>"
    lazy, seen = _render_in_new_process(project, tmp_path, html, "lazy")
    assert seen == {"warnings": [], "varLib": True, "instancer": True}  # the real one, loaded on first use
    plain, _ = _render_in_new_process(project, tmp_path, html, "plain", "fontTools.varLib.instancer")
    assert lazy == plain
    text = " ".join(pypdf.PdfReader(io.BytesIO(lazy)).pages[0].extract_text().split())
    assert text.startswith(f"Patient: {GREEK_AND_CYRILLIC} {GREEK_AND_CYRILLIC}")  # then the page number
    with pikepdf.open(io.BytesIO(lazy)) as doc:
        noto = [font for font in doc.pages[0].Resources.Font.values() if "+Noto-Sans" in str(font.BaseFont)]
        assert len(noto) == 2  # regular and bold
        for font in noto:
            embedded = TTFont(io.BytesIO(font.DescendantFonts[0].FontDescriptor.FontFile2.read_bytes()))
            assert "fvar" not in embedded  # an instance at the weight used, not the variable font
