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
