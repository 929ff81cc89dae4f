"""Everything Clearleaf takes from WeasyPrint's internals, in one place, behind a version check.

WeasyPrint 70 has no public way to do these, so each reaches into code that can change in any
major release:

- Stream.marked is wrapped so right-to-left text gets an /ActualText in reading order (PDF/UA-1
  7.2), or a screen reader would read Arabic backwards;
- page_boxes reads a laid-out page's boxes (Page._page_box), to tell what landed on which page;
- delete_font_copies deletes the fonts a FontConfiguration copied to a temporary folder (_folder);
- _import loads WeasyPrint's system libraries by their sonames, skipping cffi's slow search, and
  leaves fontTools.subset (WeasyPrint's fallback subsetter) and fontTools.varLib.instancer (its
  instantiateVariableFont, for variable fonts) unrun until something uses them.

pdf.py's finishers also rely on the shape of WeasyPrint 70's tag tree. install() checks the
version before any of this runs: on a version it was not written for, Clearleaf stops with a
message saying so instead of writing a PDF that is untagged, garbled or wrong.
"""

from __future__ import annotations

import re
import shutil
import sys
from contextlib import contextmanager

from .errors import RenderError

SUPPORTED_MAJOR = (70,)  # pyproject.toml pins weasyprint==70.0
RTL_RE = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")  # Hebrew, Arabic, presentation forms
ISOLATES_RE = re.compile("[\u2066-\u2069]")  # bidi isolates: invisible, and noise to a screen reader


def check_version(version: str | None = None) -> None:
    """Raise RenderError unless version (by default the installed WeasyPrint's) is a supported one.

    Without a version it reads the package metadata, not WeasyPrint itself, so a process that
    only starts render workers stays free of the import.
    """
    if version is None:
        from importlib.metadata import version as installed

        version = installed("weasyprint")
    major = version.split(".", 1)[0]
    if not major.isdigit() or int(major) not in SUPPORTED_MAJOR:
        supported = " or ".join(str(m) for m in SUPPORTED_MAJOR)
        raise RenderError(
            f"WeasyPrint {version} is installed, but Clearleaf is written for WeasyPrint {supported}: it "
            "patches WeasyPrint internals to tag right-to-left text and to find what is on each page, and "
            "those change between major versions — install the version pyproject.toml pins "
            "(.venv/bin/pip install weasyprint==70.0), or port clearleaf/weasy_compat.py to the new one")


def install():
    """Import WeasyPrint, check its version, then patch it; return the module. Safe to call more than once."""
    weasyprint = _import()
    check_version(weasyprint.__version__)
    from weasyprint.pdf.stream import Stream

    _actual_text_for_rtl(Stream)
    return weasyprint


def _import():
    """Import WeasyPrint, loading Pango, HarfBuzz and fontconfig by their sonames straight away.

    WeasyPrint tries several names for each library ('libpango-1.0-0', 'pango-1.0', ...,
    'libpango-1.0.so.0'), and cffi hands every name that does not load to
    ctypes.util.find_library, which runs ldconfig and gcc: about a quarter of a second of the
    start of every process that renders. Told that find_library finds nothing, cffi moves on to
    the sonames, which load directly on Debian and most Linux systems. Where none of them loads,
    the import is tried again the ordinary way.
    """
    import ctypes.util

    if "weasyprint" in sys.modules:
        return sys.modules["weasyprint"]
    _import_lazily("fontTools.subset")
    _import_lazily("fontTools.varLib.instancer", functions=("instantiateVariableFont",))
    real = ctypes.util.find_library
    ctypes.util.find_library = lambda name: None
    try:
        import weasyprint
    except OSError:
        weasyprint = None
    finally:
        ctypes.util.find_library = real
    if weasyprint is None:
        for name in [m for m in sys.modules if m == "weasyprint" or m.startswith("weasyprint.")]:
            del sys.modules[name]
        import weasyprint
    return weasyprint


def _import_lazily(name: str, functions: tuple[str, ...] = ()) -> None:
    """Put a stand-in for module name in sys.modules that imports the real one when first used.

    WeasyPrint imports two fontTools modules it seldom uses: fontTools.subset (about 70 ms, with
    the OpenType tables it loads), its fallback font subsetter, never used with HarfBuzz's
    subsetter, which bootstrap.py installs; and fontTools.varLib.instancer (about 70 ms, mostly
    fontTools.varLib itself), whose instantiateVariableFont it calls only when a PDF embeds a
    variable font (Noto Sans, for Greek or Cyrillic). `from module import name` reads the name
    at import, so each name in functions is a small function that imports the real module on
    its first call. (importlib's LazyLoader cannot do this: the import statement itself reads
    the module's __spec__, which loads it.)
    """
    import importlib
    import types

    if name in sys.modules:
        return
    spec = _find_spec_unrun(name)
    if spec is None:
        return
    stand_in = types.ModuleType(name)
    stand_in.__spec__ = spec
    if spec.submodule_search_locations is not None:
        # `from package import name` looks up __path__ first, which __getattr__ would answer by loading it.
        stand_in.__path__ = spec.submodule_search_locations

    def real():
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
        return importlib.import_module(name)

    def deferred(attr):
        def function(*args, **kwargs):
            return getattr(real(), attr)(*args, **kwargs)

        function.__name__ = function.__qualname__ = attr
        return function

    for attr in functions:
        setattr(stand_in, attr, deferred(attr))
    stand_in.__getattr__ = lambda attr: getattr(real(), attr)  # PEP 562: only for what it lacks
    sys.modules[name] = stand_in


def _find_spec_unrun(name: str):
    """Return module name's spec, or None, without running its parent packages as find_spec does."""
    import importlib.util
    from importlib.machinery import PathFinder

    top, *rest = name.split(".")
    spec = importlib.util.find_spec(top)
    for depth in range(1, len(rest) + 1):
        if spec is None or spec.submodule_search_locations is None:
            return None
        spec = PathFinder.find_spec(".".join([top, *rest[:depth]]), spec.submodule_search_locations)
    return spec


def _actual_text_for_rtl(stream_class) -> None:
    """Give each right-to-left text run an /ActualText with its words in reading order.

    WeasyPrint draws Arabic in visual order, and a ligature's /ToUnicode entry holds its letters
    in the wrong order, so a screen reader or a copy would get garbled words. PDF/UA-1 (7.2)
    allows /ActualText on marked content for exactly this; WeasyPrint 70 has no hook for it, so
    its Stream.marked is wrapped (once) for text boxes holding right-to-left text.
    """
    import pydyf
    from weasyprint.formatting_structure.boxes import TextBox

    original = stream_class.marked
    if getattr(original, "clearleaf", False):
        return

    @contextmanager
    def marked(self, box, tag):
        if self._tags is None or not isinstance(box, TextBox) or not RTL_RE.search(box.text):
            with original(self, box, tag):
                yield
            return
        mcid = len(self._tags)
        self._tags[box] = {"tag": tag, "mcid": mcid}
        pydyf.Stream.begin_marked_content(
            self, tag, pydyf.Dictionary({"MCID": mcid, "ActualText": pydyf.String(ISOLATES_RE.sub("", box.text))}))
        try:
            yield
        finally:
            pydyf.Stream.end_marked_content(self)

    marked.clearleaf = True
    stream_class.marked = marked


def page_box(page):
    """Return the page box of a page of a rendered document (its boxes hang from it)."""
    return page._page_box


def page_boxes(page):
    """Return every box laid out on a page of a rendered document, in tree order."""
    return page._page_box.descendants()


def set_font_folder(font_config, folder) -> None:
    """Make a FontConfiguration copy its fonts into folder, not into a folder of its own."""
    font_config._folder = folder


def delete_font_copies(font_config) -> None:
    """Delete the fonts a FontConfiguration copied to a temporary folder; it only does so when collected."""
    folder = getattr(font_config, "_folder", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        font_config._folder = None
