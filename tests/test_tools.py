"""tools/arabic_svg_labels.py: the Arabic diagram labels come from its table, shaped and placed right."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import unicodedata

import pytest
from click.testing import CliRunner

from helpers import REPO

# tools/ is not a package: load the script as a module.
_spec = importlib.util.spec_from_file_location("arabic_svg_labels", REPO / "tools" / "arabic_svg_labels.py")
labels = importlib.util.module_from_spec(_spec)
sys.modules["arabic_svg_labels"] = labels
_spec.loader.exec_module(labels)

IMAGES = REPO / "leaflets" / "images"
TABLE = labels.load_table()


def names(text: str) -> list[str]:
    return [unicodedata.name(c) for c in text]


# --- The committed diagrams ---------------------------------------------------------------------

def test_the_table_lists_every_arabic_diagram():
    assert sorted(TABLE) == sorted(p.name for p in IMAGES.glob("*.ar.svg"))


@pytest.mark.parametrize("svg", sorted(TABLE))
def test_regenerating_the_labels_reproduces_the_committed_svg(svg):
    committed = (IMAGES / svg).read_text("utf-8")
    assert labels.rewrite(committed, TABLE[svg], svg) == committed


def test_check_command_passes_on_the_committed_svgs():
    result = CliRunner().invoke(labels.cli, ["check"])
    assert result.exit_code == 0, result.output
    assert "every Arabic label matches the table" in result.output


# --- Shaping --------------------------------------------------------------------------------------

def test_shape_gives_each_letter_its_joining_form():
    # جلطة (clot): jeem initial, lam medial, tah medial, teh marbuta final.
    assert labels.shape("جلطة") == "\ufe9f\ufee0\ufec4\ufe94"
    assert names(labels.shape("جلطة")) == [
        "ARABIC LETTER JEEM INITIAL FORM", "ARABIC LETTER LAM MEDIAL FORM",
        "ARABIC LETTER TAH MEDIAL FORM", "ARABIC LETTER TEH MARBUTA FINAL FORM"]


def test_right_joining_letters_break_the_word():
    # وريد: waw and reh join only to the letter before them, so waw and reh stand alone and
    # yeh starts again; the space breaks the joins too.
    assert names(labels.shape("وريد ضيق")) == [
        "ARABIC LETTER WAW ISOLATED FORM", "ARABIC LETTER REH ISOLATED FORM",
        "ARABIC LETTER YEH INITIAL FORM", "ARABIC LETTER DAL FINAL FORM", "SPACE",
        "ARABIC LETTER DAD INITIAL FORM", "ARABIC LETTER YEH MEDIAL FORM", "ARABIC LETTER QAF FINAL FORM"]


def test_lam_alef_becomes_one_ligature():
    # سلام: the lam-alef joins the seen before it (final form); الألم: after alef it is isolated.
    assert labels.shape("سلام") == "\ufeb3\ufefc\ufee1"
    assert labels.shape("الألم") == "\ufe8d\ufef7\ufedf\ufee2"
    assert labels.shape("لا") == "\ufefb"


def test_tatweel_joins_and_non_arabic_is_left_alone():
    assert labels.shape("بـ") == "\ufe91\u0640"
    assert labels.shape("(3.5 mg)") == "(3.5 mg)"


# --- Placing ------------------------------------------------------------------------------------

def test_letters_go_right_to_left_from_the_anchor():
    shaped = labels.shape("جلطة")
    widths = [labels.advance(c, 27, 700) for c in shaped]
    for anchor, right in (("right", 600), ("left", 600 + sum(widths)), ("middle", 600 + sum(widths) / 2)):
        xs = labels.positions(shaped, 600, anchor, 27, 700)
        assert xs[0] == pytest.approx(right - widths[0])
        assert all(a > b for a, b in zip(xs, xs[1:]))  # reading order goes leftwards
        assert xs[-1] == pytest.approx(right - sum(widths))


def test_numbers_and_latin_keep_their_left_to_right_order():
    text = "خلال 24 ساعة"
    order = labels.visual_order(text)  # left to right on the page
    digits = [i for i in order if text[i].isdigit()]
    assert [text[i] for i in digits] == ["2", "4"]
    assert order[-1] == 0 and order[0] == len(text) - 1  # the first letter is rightmost
    shaped = labels.shape(text)  # one character shorter: lam-alef is one ligature
    xs = labels.positions(shaped, 100, "left", 27, 700)
    assert xs[shaped.index("2")] < xs[shaped.index("4")] < xs[shaped.index(" ")]


# --- Commands -----------------------------------------------------------------------------------

def test_label_command_prints_the_markup_of_one_label():
    result = CliRunner().invoke(labels.cli, ["label", "وريد عميق", "--x", "162", "--y", "120"])
    assert result.exit_code == 0, result.output
    committed = (IMAGES / "dvt-leg-clot.ar.svg").read_text("utf-8")
    assert result.output.rstrip("\n") in committed


def copy_table_and_images(tmp_path, svg="dvt-leg-clot.ar.svg"):
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(IMAGES / svg, images / svg)
    table = tmp_path / "labels.yaml"
    table.write_text(labels.TABLE.read_text("utf-8"), "utf-8")
    return images, table


def edit(path, old, new):
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")


def run(command, images, table, *svgs):
    return CliRunner().invoke(labels.cli, [command, *svgs, "--images", str(images), "--table", str(table)])


def test_update_rewrites_a_changed_label_and_check_then_passes(tmp_path):
    images, table = copy_table_and_images(tmp_path)
    edit(table, "ar: جلطة دموية", "ar: خثرة دموية")
    stale = run("check", images, table, "dvt-leg-clot.ar.svg")
    assert stale.exit_code == 1
    assert "+  <!-- خثرة دموية -->" in stale.output
    assert "1 SVG(s) differ from the table; run the update command" in stale.output
    updated = run("update", images, table, "dvt-leg-clot.ar.svg")
    assert updated.exit_code == 0, updated.output
    svg = (images / "dvt-leg-clot.ar.svg").read_text("utf-8")
    assert "<!-- خثرة دموية -->" in svg and labels.shape("خثرة دموية") in svg
    assert "<!-- جلطة دموية -->" not in svg and labels.shape("جلطة دموية") not in svg
    # The label still starts at its anchor: its leftmost letter at x = 484.
    line = next(l for l in svg.splitlines() if labels.shape("خثرة دموية") in l)
    assert line.split('x="')[1].split('"')[0].split()[-1] == "484"
    assert run("check", images, table, "dvt-leg-clot.ar.svg").exit_code == 0


def test_a_label_missing_from_the_table_is_refused(tmp_path):
    images, table = copy_table_and_images(tmp_path)
    edit(table, "  - en: Deep vein\n    ar: وريد عميق\n    x: 162\n    y: 120\n", "")
    result = run("update", images, table, "dvt-leg-clot.ar.svg")
    assert result.exit_code == 1
    assert "dvt-leg-clot.ar.svg has 3 Arabic labels but the table lists 2" in result.output


@pytest.mark.parametrize("old, new, message", [
    ("    anchor: left\n", "    anchor: top\n", "anchor 'top' is not one of right, middle, left"),
    ("    x: 484\n", "    x: 484\n    colour: red\n", "unknown key(s) colour"),
    ("    x: 484\n", "    x: 48four\n", "x '48four' is not a number"),
    ("ar: جلطة دموية", "ar: جَلطة دموية", "has vowel marks (harakat)"),
    ("    line_height: 33\n", "", "a label of several lines needs line_height"),
], ids=["anchor", "unknown-key", "not-a-number", "harakat", "line-height"])
def test_table_mistakes_name_the_label_and_the_fix(tmp_path, old, new, message):
    images, table = copy_table_and_images(tmp_path)
    edit(table, old, new)
    result = run("check", images, table)
    assert result.exit_code == 1
    assert ".ar.svg, label " in result.output and message in result.output


def test_a_label_that_runs_off_the_drawing_is_warned_about(tmp_path):
    images, table = copy_table_and_images(tmp_path)
    edit(table, "ar: وريد عميق", "ar: وريد عميق في الساق اليسرى")
    result = run("update", images, table, "dvt-leg-clot.ar.svg")
    assert result.exit_code == 0, result.output
    assert "warning: dvt-leg-clot.ar.svg: label 2 (وريد عميق في الساق اليسرى) spans x -" \
        in result.stderr
    assert "past the drawing's 0 to 700; shorten it, split it into lines or move its x" in result.stderr
