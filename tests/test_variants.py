"""Large print (reflowed, never scaled) and print-shop output (bleed, crop marks, TrimBox/BleedBox)."""

from __future__ import annotations

import pikepdf
import pytest

from helpers import (EMERGENCY, FULL, PAPER_SIZES, SAMPLE, assert_ok, build, font_size_counts, page_texts, run,
                     write_patient)

MM = 72 / 25.4


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    from helpers import make_project

    root = tmp_path_factory.mktemp("large")
    project = make_project(root / "project")
    out = root / "dist"
    assert_ok(build(project, out, "--variant", "large"))
    assert_ok(build(project, out, "sample", "--paper", "a4"))
    return out


def _lines(path) -> list[str]:
    import pypdf

    return [line for p in pypdf.PdfReader(str(path)).pages for line in (p.extract_text() or "").splitlines()]


def _full_lines(path) -> int:
    return sum(len(line) > 30 for line in _lines(path))


def _body_size(path) -> float:
    counts = font_size_counts(path)
    return max(counts, key=counts.get)


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_large_print_goes_to_its_own_folder_at_18pt_or_more(large, paper):
    pdf = large / f"{paper}-large" / "sample.pdf"
    assert pdf.exists() and (large / f"{paper}-large" / "inserts" / "first-insert.pdf").exists()
    counts = font_size_counts(pdf)
    body = max(counts, key=counts.get)
    assert body >= 18
    # Nothing patients read is smaller than 16 pt (the footer line); the page number is 18 pt.
    assert min(counts) >= 16, counts
    with pikepdf.open(pdf) as doc:
        assert [round(float(v), 2) for v in doc.pages[0].MediaBox[2:]] == list(PAPER_SIZES[paper])


def test_large_print_is_reflowed_not_scaled(large):
    standard, big = large / "a4" / "sample.pdf", large / "a4-large" / "sample.pdf"
    with pikepdf.open(standard) as a, pikepdf.open(big) as b:
        # Same paper, same content, more pages: the text wraps rather than the page growing.
        assert a.pages[0].MediaBox == b.pages[0].MediaBox
        assert len(b.pages) >= len(a.pages)
    # Reflowed: the same words wrap onto more, shorter lines (full lines hold fewer characters).
    assert _full_lines(big) > _full_lines(standard)
    assert max(map(len, _lines(big))) < max(map(len, _lines(standard)))
    assert _body_size(standard) == 14
    words = lambda path: " ".join(page_texts(path)).split()  # noqa: E731
    assert "Zanzibar" in words(big) and "Marmoset" in words(big)


def test_large_print_keeps_the_layout_rules(large):
    texts = page_texts(large / "letter-large" / "sample.pdf")
    assert SAMPLE["danger"] in texts[0] and SAMPLE["title"] in texts[0]
    for n, text in enumerate(texts, start=1):
        assert f"Page {n} of {len(texts)}" in text
        assert SAMPLE["code"] in text and f"Review by {SAMPLE['review']}" in text


def test_large_print_handout(project, tmp_path):
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    pdf = tmp_path / "h.pdf"
    assert_ok(run(project, "handout", "sample", "--patient", patient, "--out", pdf, "--variant", "large"))
    first = page_texts(pdf)[0]
    assert SAMPLE["danger"] in first and "Your details" in first
    assert _body_size(pdf) >= 18


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_bleed_and_crop_marks_set_trim_and_bleed_boxes(project, tmp_path, paper):
    out = tmp_path / "dist"
    assert_ok(build(project, out, "sample", "--paper", paper, "--bleed", "3mm", "--crop-marks"))
    pdf = out / f"{paper}-print" / "sample.pdf"
    width, height = PAPER_SIZES[paper]
    with pikepdf.open(pdf) as doc:
        for page in doc.pages:
            trim = [float(v) for v in page.obj.TrimBox]
            bleed = [float(v) for v in page.obj.BleedBox]
            media = [float(v) for v in page.obj.MediaBox]
            assert trim[2] - trim[0] == pytest.approx(width, abs=0.05)
            assert trim[3] - trim[1] == pytest.approx(height, abs=0.05)
            for t, b, sign in zip(trim, bleed, (-1, -1, 1, 1)):
                assert b - t == pytest.approx(sign * 3 * MM, abs=0.05)
            assert media[0] <= bleed[0] and media[2] >= bleed[2]
    assert EMERGENCY in page_texts(pdf)[0]


def test_without_print_shop_options_the_trim_box_is_the_page(project, tmp_path):
    out = tmp_path / "dist"
    assert_ok(build(project, out, "sample", "--paper", "a4"))
    with pikepdf.open(out / "a4" / "sample.pdf") as doc:
        page = doc.pages[0].obj
        assert "/BleedBox" not in page or list(page.BleedBox) == list(page.MediaBox)


@pytest.mark.parametrize("value", ["3", "3cm", "-1mm", "11mm", "lots"])
def test_bad_bleed_is_a_usage_error(project, tmp_path, value):
    result = build(project, tmp_path / "dist", "--bleed", value)
    assert result.exit_code == 2 and "--bleed" in result.stderr
    assert not (tmp_path / "dist").exists()
