"""WeasyPrint's internals are patched only on the version they were written for (issue 12).

On any other major version a build stops with a message that says which version is installed and
what to do, before it lays out a page: never a PDF with garbled Arabic or missing tags.

Importing WeasyPrint skips work a rendering process does not need (the fontTools modules it
seldom uses, parsing its C declarations), always with the same PDFs as the ordinary import, and
falls back to the ordinary import whenever a shortcut does not fit.
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
repo, project, html, target, cdef, *eager = sys.argv[1:]
sys.path.insert(0, repo)
for name in eager:  # imported before Clearleaf imports WeasyPrint: no stand-in takes its place
    __import__(name)
from clearleaf import pdf, weasy_compat
from clearleaf.config import Project
weasy_compat.CDEF_DATA = Path(cdef)
renderer = pdf.Renderer(Project(Path(project)), pdf.Style("a4"))
made = renderer.render(Path(html).read_text("utf-8"))
renderer.close()
Path(target).write_bytes(made.pdf)
import cffi
from weasyprint.text import ffi
instancer = vars(sys.modules.get("fontTools.varLib.instancer", sys))
print(json.dumps({"warnings": made.warnings, "varLib": "fontTools.varLib" in sys.modules,
                  "instancer": "__file__" in instancer and "instantiateVariableFont" in instancer,
                  "ffi": type(ffi.ffi).__name__, "pycparser": "pycparser" in sys.modules,
                  "cffi.FFI": cffi.FFI is cffi.api.FFI}))
"""


def _render_in_new_process(project, tmp_path, html: str, name: str, *eager: str,
                           cdef=None, epoch: str = "1700000000") -> tuple[bytes, dict]:
    """Render html in a fresh process, as a build worker does; return the PDF and what the probe saw.

    WeasyPrint's compiled declarations are read from cdef; by default there are none.
    """
    import json
    import os
    import subprocess
    import sys

    from helpers import REPO

    source, target = tmp_path / f"{name}.html", tmp_path / f"{name}.pdf"
    source.write_text(html, "utf-8")
    cdef = cdef or tmp_path / "no-such-cdef.txt"
    # fontTools would stamp a font it instantiates with this time, or now (weasy_compat._reproducible_instances).
    env = {**os.environ, "SOURCE_DATE_EPOCH": epoch}
    args = [str(REPO), str(project), str(source), str(target), str(cdef), *eager]
    done = subprocess.run([sys.executable, "-c", RENDER_PROBE, *args], capture_output=True, text=True, check=True,
                          env=env)
    return target.read_bytes(), json.loads(done.stdout.strip().splitlines()[-1])


GREEK_AND_CYRILLIC = "Γεώργιος Παπαδόπουλος, Иван Петров"  # drawn in Noto Sans, a variable font


def test_fonttools_instancer_is_not_imported_unless_a_variable_font_is_embedded(project, tmp_path):
    """WeasyPrint imports fontTools.varLib.instancer (about 70 ms) for the odd variable font."""
    html = "<html lang=en><body><p>Plain Latin text.</p></body></html>"
    _, seen = _render_in_new_process(project, tmp_path, html, "latin")
    assert (seen["warnings"], seen["varLib"], seen["instancer"]) == ([], False, False)


def test_a_variable_font_is_made_static_as_without_the_stand_in(project, tmp_path):
    """A patient's name in Greek or Cyrillic is drawn in Noto Sans, whose one file holds every weight."""
    import io

    import pikepdf
    import pypdf
    from fontTools.ttLib import TTFont

    html = (f"<html lang=en><body><p>Patient: {GREEK_AND_CYRILLIC}</p>"
            f"<p><b>{GREEK_AND_CYRILLIC}</b></p></body></html>")
    lazy, seen = _render_in_new_process(project, tmp_path, html, "lazy")
    # The real instancer, imported on first use:
    assert (seen["warnings"], seen["varLib"], seen["instancer"]) == ([], True, True)
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


def test_a_variable_fonts_instance_is_the_same_whenever_it_is_made(project, tmp_path):
    """fontTools writes the time it saves a font into it: a Greek or Cyrillic name made a PDF that
    differed from one second to the next. Two renders told two different times must agree."""
    html = f"<html lang=en><body><p>Patient: {GREEK_AND_CYRILLIC}</p></body></html>"
    made = [_render_in_new_process(project, tmp_path, html, f"at-{epoch}", epoch=epoch)[0]
            for epoch in ("1700000000", "1800000000")]
    assert made[0] == made[1]


# --- WeasyPrint's C declarations, compiled ahead (weasy_compat.prepare_cdef) ------------------------

MIXED = ("<html lang=en><body><h1>Going home</h1><p>Take <b>5 mg</b> twice a day.</p>"
         f"<p>Patient: <b>{GREEK_AND_CYRILLIC}</b></p>"
         "<p lang=ar dir=rtl>خذ الدواء مرتين في اليوم.</p></body></html>")
SONAMES = ("libgobject-2.0.so.0", "libpango-1.0.so.0", "libharfbuzz.so.0", "libharfbuzz-subset.so.0",
           "libfontconfig.so.1", "libpangoft2-1.0.so.0")  # what weasyprint/text/ffi.py loads here


def test_weasyprint_is_handed_its_declarations_compiled_ahead(project, tmp_path, cdef_data):
    """cffi parsed WeasyPrint's 16 KB of C declarations with pycparser in every process that renders."""
    compiled, seen = _render_in_new_process(project, tmp_path, MIXED, "compiled", cdef=cdef_data)
    assert (seen["ffi"], seen["pycparser"], seen["cffi.FFI"]) == ("PreparedFFI", False, True)
    assert seen["warnings"] == []
    parsed, seen = _render_in_new_process(project, tmp_path, MIXED, "parsed")
    assert (seen["ffi"], seen["pycparser"], seen["warnings"]) == ("FFI", True, [])
    assert compiled == parsed


def _declarations() -> str:
    """Return the C declarations weasyprint/text/ffi.py hands cffi."""
    import ast
    from pathlib import Path

    ffi_py = Path(weasyprint.__file__).parent / "text" / "ffi.py"
    (call,) = [node for node in ast.walk(ast.parse(ffi_py.read_bytes()))
               if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "cdef"]
    return call.args[0].value


def _type_strings() -> set[str]:
    """Return every C type WeasyPrint names as text to ffi.new or ffi.cast."""
    import ast
    from pathlib import Path

    found = set()
    for source in Path(weasyprint.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_bytes())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in ("new", "cast") and getattr(node.func.value, "id", None) == "ffi" and \
                    node.args and isinstance(node.args[0], ast.Constant):
                found.add(node.args[0].value)
    return found


def _same_ctype(ffis, a, b, seen=None) -> bool:
    """Say whether ctypes a and b, from two FFIs, are the same C type (its name may be spelled otherwise)."""
    seen = set() if seen is None else seen
    if (a, b) in seen:
        return True
    seen.add((a, b))
    if a.kind != b.kind:
        return False
    if a.kind == "primitive":
        return a.cname == b.cname
    if a.kind in ("pointer", "array"):
        return getattr(a, "length", None) == getattr(b, "length", None) and \
            _same_ctype(ffis, a.item, b.item, seen)
    if a.kind == "function":
        return (a.ellipsis, a.abi, len(a.args)) == (b.ellipsis, b.abi, len(b.args)) and \
            all(_same_ctype(ffis, x, y, seen) for x, y in zip((a.result, *a.args), (b.result, *b.args)))
    if a.kind == "enum":
        return a.elements == b.elements
    if a.kind in ("struct", "union"):
        sizes = []
        for ffi, ctype in zip(ffis, (a, b)):
            try:
                sizes.append(ffi.sizeof(ctype))
            except (ValueError, ffis[1].error):  # opaque (reading .fields would trip an assertion in cffi)
                sizes.append(None)
        if sizes[0] != sizes[1]:
            return False
        if sizes[0] is None:
            return True
        return [name for name, _ in a.fields] == [name for name, _ in b.fields] and all(
            (x.offset, x.bitshift, x.bitsize, x.flags) == (y.offset, y.bitshift, y.bitsize, y.flags)
            and _same_ctype(ffis, x.type, y.type, seen) for (_, x), (_, y) in zip(a.fields, b.fields))
    return a.kind == "void"


def test_the_compiled_declarations_are_those_cffi_parses(cdef_data, monkeypatch):
    """Every function, constant and type WeasyPrint declares, and every type it names, is the same."""
    import cffi

    monkeypatch.setattr(weasy_compat, "CDEF_DATA", cdef_data)
    compiled = weasy_compat._prepared_ffi()
    parsed = cffi.FFI()
    parsed.cdef(_declarations())
    compiled.cdef(_declarations())  # the very source it was compiled from: accepted
    ffis = (parsed, compiled)
    compared = 0
    for soname in SONAMES:
        libs = [ffi.dlopen(soname, ffi.RTLD_NOW) for ffi in ffis]
        names = sorted(dir(libs[0]))  # every function and constant declared, whichever library holds it
        assert sorted(dir(libs[1])) == names and len(names) > 150
        for name in names:
            found = []
            for lib in libs:
                try:
                    found.append(getattr(lib, name))
                except (AttributeError, compiled.error):  # a function another of the libraries holds
                    found.append(None)
            x, y = found
            if isinstance(x, int):
                assert x == y, name
                compared += 1
            elif x is not None or y is not None:
                assert x is not None and y is not None, (soname, name)
                assert _same_ctype(ffis, parsed.typeof(x), compiled.typeof(y)), name
                assert int(parsed.cast("uintptr_t", x)) == int(compiled.cast("uintptr_t", y)), name
                compared += 1
    assert compared > 500
    assert compiled.list_types() == parsed.list_types()
    typedefs, structs, unions = parsed.list_types()
    names = [*typedefs, *(f"struct {name}" for name in structs), *(f"union {name}" for name in unions)]
    used = _type_strings()
    assert {"char[]", "PangoRectangle *"} <= used  # what WeasyPrint asks ffi.new for, among others
    for name in [*names, *(f"{name} *" for name in names), *used]:
        assert _same_ctype(ffis, parsed.typeof(name), compiled.typeof(name)), name


def test_the_compiled_ffi_does_what_weasyprint_asks_of_it(cdef_data, monkeypatch):
    """WeasyPrint uses dlopen with RTLD_NOW, new, string, unpack, cast, NULL, gc and release."""
    monkeypatch.setattr(weasy_compat, "CDEF_DATA", cdef_data)
    ffi = weasy_compat._prepared_ffi()
    with pytest.raises(OSError):
        ffi.dlopen("libpango-1.0-0", ffi.RTLD_NOW)  # WeasyPrint tries names until one loads
    pango = ffi.dlopen("libpango-1.0.so.0", ffi.RTLD_NOW)
    harfbuzz = ffi.dlopen("libharfbuzz.so.0", ffi.RTLD_NOW)
    assert pango.pango_units_from_double(1) == 1024
    text = ffi.new("char[]", b"wght")
    assert ffi.string(text) == b"wght" and ffi.unpack(text, 2) == b"wg"
    assert harfbuzz.hb_tag_from_string(text, 4) == int.from_bytes(b"wght", "big")
    assert ffi.cast("void *", 0) == ffi.NULL and pango.pango_language_from_string(ffi.NULL) == ffi.NULL
    rectangle = ffi.new("PangoRectangle *")
    rectangle.width = 7
    assert ffi.cast("PangoRectangle *", rectangle).width == 7
    ffi.release(rectangle)
    description = ffi.gc(pango.pango_font_description_new(), pango.pango_font_description_free)
    pango.pango_font_description_set_style(description, pango.PANGO_STYLE_ITALIC)
    assert pango.pango_font_description_get_style(description) == pango.PANGO_STYLE_ITALIC
    freed = []
    description = ffi.gc(pango.pango_font_description_new(),
                         lambda pointer: freed.append(pango.pango_font_description_free(pointer)))
    del description
    assert freed == [None]


def _write_cdef(path, payload: bytes, key: str | None = None) -> None:
    """Write payload as CDEF_DATA does, under a first line saying it is whole and made for key."""
    import hashlib

    key = key or weasy_compat._cdef_key()[0]
    header = f"{weasy_compat.CDEF_FORMAT} {key} {hashlib.sha256(payload).hexdigest()}\n"
    path.write_bytes(header.encode() + payload)


def _other_weasyprint(path, good, marker):
    _write_cdef(path, good.split(b"\n", 1)[1], "0" * 64 + "/" + weasy_compat._cdef_key()[0].split("/")[1])


def _other_cffi(path, good, marker):
    _write_cdef(path, good.split(b"\n", 1)[1], weasy_compat._cdef_key()[0].split("/")[0] + "/cffi-0.1")


def _one_byte_changed(path, good, marker):
    at = good.index(b"_types") + 20  # inside the type table: still a literal, but the wrong one
    path.write_bytes(good[:at] + bytes([good[at] ^ 1]) + good[at + 1:])


def _code_not_literals(path, good, marker):
    _write_cdef(path, f"__import__('pathlib').Path({str(marker)!r}).touch()".encode())


def _other_literals(path, good, marker):
    _write_cdef(path, repr({"name": "x", "cdef_sha256": "0", "arguments": {"_types": "text"}}).encode())


def _unreadable(path, good, marker):
    path.unlink()
    path.mkdir()  # the tests run as root, whom file permissions do not stop


CDEF_DAMAGE = {
    "missing": lambda path, good, marker: path.unlink(),
    "another WeasyPrint": _other_weasyprint,
    "another cffi": _other_cffi,
    "cut short": lambda path, good, marker: path.write_bytes(good[:len(good) // 2]),
    "one byte changed": _one_byte_changed,
    "code, not literals": _code_not_literals,
    "other literals": _other_literals,
    "unreadable": _unreadable,
}


# What prepare_cdef leaves as it is: a file it cannot read or replace, and one that is whole (its
# hash matches) but that it did not write: checking more would cost every command a parse.
CDEF_KEPT = {"unreadable", "code, not literals", "other literals"}


@pytest.mark.parametrize("damage", CDEF_DAMAGE)
def test_compiled_declarations_that_do_not_fit_are_passed_over_then_rewritten(tmp_path, monkeypatch,
                                                                                cdef_data, damage):
    import shutil

    target, marker = tmp_path / "weasyprint-cdef.txt", tmp_path / "ran"
    shutil.copy(cdef_data, target)
    monkeypatch.setattr(weasy_compat, "CDEF_DATA", target)
    assert weasy_compat._prepared_ffi() is not None
    CDEF_DAMAGE[damage](target, cdef_data.read_bytes(), marker)
    damaged = target.read_bytes() if target.is_file() else None
    assert weasy_compat._prepared_ffi() is None  # and so WeasyPrint is imported the ordinary way
    assert not marker.exists()  # read as literals, never run
    weasy_compat.prepare_cdef()  # as bootstrap.py does before the next command: no error
    if damage in CDEF_KEPT:
        assert (target.read_bytes() if target.is_file() else None) == damaged
        assert weasy_compat._prepared_ffi() is None
    else:
        assert target.read_bytes() == cdef_data.read_bytes()


def test_weasyprint_declaring_other_c_is_imported_the_ordinary_way(project, tmp_path, cdef_data, monkeypatch):
    """Whole, current data made from other declarations than WeasyPrint hands cffi: refused in the import."""
    import ast

    data = ast.literal_eval(cdef_data.read_bytes().split(b"\n", 1)[1].decode())
    other = tmp_path / "other-cdef.txt"
    _write_cdef(other, repr({**data, "cdef_sha256": "0" * 64}).encode())
    monkeypatch.setattr(weasy_compat, "CDEF_DATA", other)
    offered = weasy_compat._prepared_ffi()
    with pytest.raises(weasy_compat._OtherDeclarations):
        offered.cdef(_declarations())
    made, seen = _render_in_new_process(project, tmp_path, MIXED, "other", cdef=other)
    assert (seen["ffi"], seen["pycparser"], seen["cffi.FFI"], seen["warnings"]) == ("FFI", True, True, [])
    parsed, _ = _render_in_new_process(project, tmp_path, MIXED, "parsed")
    assert made == parsed


def test_a_venv_that_cannot_be_written_is_left_as_it_is(tmp_path, monkeypatch):
    blocked = tmp_path / "share"
    blocked.write_text("a file where the folder would be")  # as root, file permissions would not stop it
    monkeypatch.setattr(weasy_compat, "CDEF_DATA", blocked / "clearleaf" / "weasyprint-cdef.txt")
    compiled = []
    monkeypatch.setattr(weasy_compat, "_compile_cdef", lambda *args: compiled.append(args))
    weasy_compat.prepare_cdef()  # no error
    assert compiled == []  # it gave up before the slow part, as it would before every command
    assert weasy_compat._prepared_ffi() is None


def test_compiled_declarations_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    import os

    target = tmp_path / "share" / "weasyprint-cdef.txt"
    monkeypatch.setattr(weasy_compat, "CDEF_DATA", target)
    real = os.replace

    def refuse(*args):
        raise OSError("no space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    weasy_compat.prepare_cdef()
    assert list(target.parent.iterdir()) == []  # no temporary file left behind
    monkeypatch.setattr(os, "replace", real)
    weasy_compat.prepare_cdef()
    assert [p.name for p in target.parent.iterdir()] == [target.name]
    assert target.stat().st_mode & 0o777 == 0o644 and weasy_compat._prepared_ffi() is not None


def test_prepare_cdef_compiles_only_for_another_weasyprint_or_cffi(tmp_path, monkeypatch, cdef_data):
    """bootstrap.py runs it before every command: when the file is up to date it only hashes."""
    import shutil

    target = tmp_path / "weasyprint-cdef.txt"
    shutil.copy(cdef_data, target)
    monkeypatch.setattr(weasy_compat, "CDEF_DATA", target)
    compiled, real = [], weasy_compat._compile_cdef
    monkeypatch.setattr(weasy_compat, "_compile_cdef",
                        lambda key, ffi_py: compiled.append(key) or real(key, ffi_py))
    weasy_compat.prepare_cdef()
    assert compiled == [] and target.read_bytes() == cdef_data.read_bytes()
    key, ffi_py = weasy_compat._cdef_key()
    upgraded = key.split("/")[0] + "/cffi-99.0"
    monkeypatch.setattr(weasy_compat, "_cdef_key", lambda: (upgraded, ffi_py))
    weasy_compat.prepare_cdef()
    assert compiled == [upgraded] and target.read_bytes().split()[1] == upgraded.encode()


def test_bootstrap_prepares_the_declarations_after_compiling_clearleaf(tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    import bootstrap

    steps = []
    monkeypatch.setattr(bootstrap, "ensure_system_libs", lambda groups: steps.append("libs"))
    monkeypatch.setattr(bootstrap, "ensure_venv", lambda groups: steps.append("venv"))
    monkeypatch.setattr(bootstrap, "compile_own_code", lambda: steps.append("compile"))
    monkeypatch.setattr(bootstrap, "VENV", Path(sys.prefix))  # already inside it: no re-run
    monkeypatch.setattr(weasy_compat, "CDEF_DATA", tmp_path / "weasyprint-cdef.txt")
    real = weasy_compat.prepare_cdef
    monkeypatch.setattr(weasy_compat, "prepare_cdef", lambda: steps.append("cdef") or real())
    bootstrap.ensure_ready("build.py")
    assert steps == ["libs", "venv", "compile", "cdef"]
    assert weasy_compat._prepared_ffi() is not None
