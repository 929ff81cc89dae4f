"""Everything Clearleaf takes from WeasyPrint's internals, in one place, behind a version check.

WeasyPrint 70 has no public way to do these, so each reaches into code that can change in any
major release:

- Stream.marked is wrapped so right-to-left text gets an /ActualText in reading order (PDF/UA-1
  7.2), or a screen reader would read Arabic backwards;
- page_boxes reads a laid-out page's boxes (Page._page_box), to tell what landed on which page;
- delete_font_copies deletes the fonts a FontConfiguration copied to a temporary folder (_folder);
- _import loads WeasyPrint's system libraries by their sonames, skipping cffi's slow search, and
  leaves fontTools.subset (WeasyPrint's fallback subsetter) and fontTools.varLib.instancer (its
  instantiateVariableFont, for variable fonts) unrun until something uses them;
- _import also hands weasyprint/text/ffi.py, for its one cffi.FFI(), an FFI compiled ahead from
  the same C declarations (prepare_cdef, which bootstrap.py runs), so that they are not parsed
  again in every process that renders; its cdef accepts only the exact declarations it was
  compiled from, and anything else makes _import do it the ordinary way;
- weasyprint.pdf.fonts.instantiateVariableFont is wrapped so that a variable font's instance
  keeps the font's own date, not the time of the render: the same inputs give the same bytes.

pdf.py's finishers also rely on the shape of WeasyPrint 70's tag tree. install() checks the
version before it patches anything: on a version it was not written for, Clearleaf stops with a
message saying so instead of writing a PDF that is untagged, garbled or wrong. _import runs
before that check, so it assumes nothing of the version: each soname is only tried, a stand-in
only puts off an import, and the compiled declarations are keyed by weasyprint/text/ffi.py itself.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
from contextlib import contextmanager, suppress
from functools import lru_cache
from pathlib import Path

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
    _reproducible_instances(sys.modules["weasyprint.pdf.fonts"])
    return weasyprint


def _reproducible_instances(fonts_module) -> None:
    """Keep the instance WeasyPrint makes of a variable font stamped with the font's own date.

    WeasyPrint saves the instance with fontTools, which writes the time of saving into the
    font's head.modified (or SOURCE_DATE_EPOCH, where set), so a PDF holding Greek or Cyrillic
    text (Noto Sans, a variable font) came out different every second: the same inputs must give
    the same bytes. WeasyPrint 70 binds instantiateVariableFont in weasyprint.pdf.fonts at import.
    """
    original = fonts_module.instantiateVariableFont
    if getattr(original, "clearleaf", False):
        return

    def instantiate(*args, **kwargs):
        font = original(*args, **kwargs)
        font.recalcTimestamp = False
        return font

    instantiate.clearleaf = True
    fonts_module.instantiateVariableFont = instantiate


def _import():
    """Import WeasyPrint, loading Pango, HarfBuzz and fontconfig by their sonames straight away.

    WeasyPrint tries several names for each library ('libpango-1.0-0', 'pango-1.0', ...,
    'libpango-1.0.so.0'), and cffi hands every name that does not load to
    ctypes.util.find_library, which runs ldconfig and gcc: about a quarter of a second of the
    start of every process that renders. Told that find_library finds nothing, cffi moves on to
    the sonames, which load directly on Debian and most Linux systems. Its C declarations come
    ready-made from CDEF_DATA where bootstrap.py wrote them (_prepared_ffi). Where none of the
    sonames loads, or the ready-made declarations fail in any way, the import is tried again the
    ordinary way.
    """
    if "weasyprint" in sys.modules:
        return sys.modules["weasyprint"]
    _import_lazily("fontTools.subset")
    _import_lazily("fontTools.varLib.instancer", functions=("instantiateVariableFont",))
    prepared = _prepared_ffi()
    try:
        with _no_find_library(), _first_ffi_is(prepared):
            import weasyprint
    except Exception as error:
        if prepared is None and not isinstance(error, OSError):
            raise
        weasyprint = None
    if weasyprint is None:
        for name in [m for m in sys.modules if m == "weasyprint" or m.startswith("weasyprint.")]:
            del sys.modules[name]
        import weasyprint
    return weasyprint


@contextmanager
def _no_find_library():
    """Make ctypes.util.find_library find nothing for a while, so cffi tries the next name at once."""
    import ctypes.util

    real = ctypes.util.find_library
    ctypes.util.find_library = lambda name: None
    try:
        yield
    finally:
        ctypes.util.find_library = real


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


# --- WeasyPrint's C declarations, compiled ahead ---------------------------------------------------
#
# weasyprint/text/ffi.py hands cffi 16 KB of C declarations at import (ffi = cffi.FFI(); ffi.cdef(...)),
# and cffi parses them with pycparser: about 65 ms, plus importing pycparser, in every process that
# renders. cffi's out-of-line ABI mode compiles the same declarations into a call made of literals
# only, _cffi_backend.FFI(name, _version=..., _types=b'...', _globals=(...), ...). bootstrap.py writes
# those literals once per installed WeasyPrint and cffi (prepare_cdef); _import reads them with
# ast.literal_eval, never running generated code, and hands WeasyPrint the FFI they make.

CDEF_DATA = Path(sys.prefix, "share", "clearleaf", "weasyprint-cdef.txt")
CDEF_FORMAT = "clearleaf-weasyprint-cdef-1"  # the first word of CDEF_DATA; change it if its layout changes
CDEF_MODULE = "_clearleaf_weasyprint_cdef"  # the name cffi gives the declarations (shown in its errors)
# What _cffi_backend.FFI takes from cffi's out-of-line module; the first three it cannot do without.
CDEF_ARGUMENTS = {"_version": int, "_types": bytes, "_globals": tuple,
                  "_struct_unions": tuple, "_enums": tuple, "_typenames": tuple}


class _OtherDeclarations(Exception):
    """WeasyPrint declared other C than the compiled declarations were made from."""


def prepare_cdef() -> None:
    """Write WeasyPrint's C declarations, compiled by cffi, to CDEF_DATA unless it holds them already.

    bootstrap.py calls this before every command, so when the file is up to date it costs a hash
    of weasyprint/text/ffi.py and of the file. The file is keyed by that hash and cffi's version,
    carries the hash of its own contents, and is written whole or not at all (a temporary file,
    then os.replace). This never fails: where the file cannot be written, or WeasyPrint's
    declarations are not where they are expected, it is left out, and _import does without it.
    """
    found = _cdef_key()
    if found is None or _cdef_payload(found[0]) is not None:
        return
    key, ffi_py = found
    target, temp = CDEF_DATA, None
    try:
        # First: where nothing may be written, giving up costs no more than this.
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(handle, "wb") as out:
            out.write(_compile_cdef(key, ffi_py))
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except Exception:  # whatever went wrong, WeasyPrint still imports the ordinary way
        if temp is not None:
            with suppress(OSError):
                os.unlink(temp)


def _cdef_key() -> tuple[str, bytes] | None:
    """Return the key for the installed WeasyPrint and cffi, and weasyprint/text/ffi.py; None without them."""
    import importlib.util

    try:
        import _cffi_backend  # its version is cffi's: cffi refuses to run with any other

        spec = importlib.util.find_spec("weasyprint")
        ffi_py = Path(spec.origin).parent.joinpath("text", "ffi.py").read_bytes()
    except (ImportError, AttributeError, TypeError, ValueError, OSError):
        return None
    return f"{hashlib.sha256(ffi_py).hexdigest()}/cffi-{_cffi_backend.__version__}", ffi_py


def _cdef_payload(key: str) -> bytes | None:
    """Return what CDEF_DATA holds after its first line, if it is whole and made for key; else None."""
    try:
        with open(CDEF_DATA, "rb") as data:
            header, payload = data.readline(), data.read()
    except OSError:
        return None
    whole = [CDEF_FORMAT, key, hashlib.sha256(payload).hexdigest()]
    return payload if header.split() == [word.encode() for word in whole] else None


def _compile_cdef(key: str, ffi_py: bytes) -> bytes:
    """Return CDEF_DATA's contents: the declarations weasyprint/text/ffi.py hands cffi, compiled by it."""
    import ast
    import io

    import cffi
    from cffi.recompiler import make_py_source

    (call,) = [node for node in ast.walk(ast.parse(ffi_py)) if isinstance(node, ast.Call)
               and isinstance(node.func, ast.Attribute) and node.func.attr == "cdef"]
    (source,) = [ast.literal_eval(arg) for arg in call.args]  # a literal string, or this raises
    if call.keywords or not isinstance(source, str):
        raise ValueError("weasyprint/text/ffi.py no longer hands cffi one literal string")
    ffi = cffi.FFI()
    ffi.cdef(source)
    module = io.StringIO()
    make_py_source(ffi, CDEF_MODULE, module)
    # The module is `import _cffi_backend` then `ffi = _cffi_backend.FFI(name, _version=..., ...)`.
    (made,) = [node.value for node in ast.parse(module.getvalue()).body if isinstance(node, ast.Assign)]
    (name,) = [ast.literal_eval(arg) for arg in made.args]
    arguments = {keyword.arg: ast.literal_eval(keyword.value) for keyword in made.keywords}
    declared = hashlib.sha256(source.encode("utf-8")).hexdigest()
    _prepared_ffi_class()(declared, name, arguments)  # never write what _import could not use
    payload = repr({"name": name, "cdef_sha256": declared, "arguments": arguments}).encode("utf-8")
    return f"{CDEF_FORMAT} {key} {hashlib.sha256(payload).hexdigest()}\n".encode() + payload


def _prepared_ffi():
    """Return the FFI that CDEF_DATA makes for the installed WeasyPrint, or None if it makes none.

    Missing, stale (another WeasyPrint or cffi), damaged or unreadable data all give None, and so
    the ordinary import.
    """
    import ast

    found = _cdef_key()
    payload = None if found is None else _cdef_payload(found[0])
    if payload is None:
        return None
    try:
        data = ast.literal_eval(payload.decode("utf-8"))
        return _prepared_ffi_class()(data["cdef_sha256"], data["name"], data["arguments"])
    except Exception:  # the file is whole (its hash says so) but not what this Clearleaf makes
        return None


@lru_cache(maxsize=None)
def _prepared_ffi_class():
    """Return the class of _prepared_ffi's FFI: cffi's out-of-line FFI, whose cdef only checks its source."""
    import _cffi_backend

    class PreparedFFI(_cffi_backend.FFI):
        """WeasyPrint's C declarations, as cffi's out-of-line ABI mode loads them."""

        def __init__(self, cdef_sha256: str, name: str, arguments: dict):
            if not (isinstance(cdef_sha256, str) and isinstance(name, str) and isinstance(arguments, dict)
                    and {"_version", "_types", "_globals"} <= arguments.keys() <= CDEF_ARGUMENTS.keys()
                    and all(isinstance(value, CDEF_ARGUMENTS[arg]) for arg, value in arguments.items())):
                raise ValueError("not the arguments of cffi's out-of-line FFI")
            super().__init__(name, **arguments)
            self.cdef_sha256 = cdef_sha256

        def cdef(self, csource, **options):
            """Accept the declarations this FFI was compiled from (it holds them already), no other."""
            if options or not isinstance(csource, str) or \
                    hashlib.sha256(csource.encode("utf-8")).hexdigest() != self.cdef_sha256:
                raise _OtherDeclarations("WeasyPrint declares other C than bootstrap.py compiled")

    return PreparedFFI


@contextmanager
def _first_ffi_is(prepared):
    """Make the first cffi.FFI() call (weasyprint/text/ffi.py's) return prepared; then put cffi.FFI back."""
    if prepared is None:
        yield
        return
    import cffi

    real = cffi.FFI

    def first(*args, **kwargs):
        cffi.FFI = real
        return real(*args, **kwargs) if args or kwargs else prepared

    cffi.FFI = first
    try:
        yield
    finally:
        cffi.FFI = real


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
