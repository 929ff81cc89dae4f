"""The QR code on the last page scans, at print resolution, to the leaflet's exact web address, and
carries at least error-correction level M, so a crease or a smudge does not stop it scanning."""

from __future__ import annotations

import pytest
import segno

from helpers import assert_ok, build, page_texts
from helpers import scan_qr as scan

URL = "https://www.fixture-health.example/leaflets/{id}"


@pytest.fixture
def qr_project(project):
    with open(project / "leaflets" / "org.yaml", "a", encoding="utf-8") as f:
        f.write(f"leaflet_url: {URL}\n")
    return project




# ISO/IEC 18004 format information: 15 bits, XOR-masked with 101010000010010; the top two data bits
# are the error-correction level. Each copy's cells, most significant bit first, as (row, column).
FORMAT_MASK = 0b101010000010010
LEVELS = {0b01: "L", 0b00: "M", 0b11: "Q", 0b10: "H"}
AT_LEAST_M = {"M", "Q", "H"}  # segno may raise M to Q or H when the code has room for it


def error_level(matrix: list[list[int]]) -> str:
    """Return the error-correction level a QR symbol's format information declares (L, M, Q or H)."""
    n = len(matrix)
    copies = ([(8, c) for c in (0, 1, 2, 3, 4, 5, 7, 8)] + [(r, 8) for r in (7, 5, 4, 3, 2, 1, 0)],
              [(r, 8) for r in range(n - 1, n - 8, -1)] + [(8, c) for c in range(n - 8, n)])
    words = []
    for cells in copies:
        word = 0
        for r, c in cells:
            word = (word << 1) | (matrix[r][c] & 1)
        words.append(word)
    assert words[0] == words[1], "the two copies of the format information differ"
    data = (words[0] ^ FORMAT_MASK) >> 10
    # The 10 BCH bits must be data * x^10 mod the generator 10100110111: else this is no format word.
    remainder = data << 10
    for shift in range(4, -1, -1):
        if remainder & (1 << (shift + 10)):
            remainder ^= 0b10100110111 << shift
    assert (words[0] ^ FORMAT_MASK) & 0x3FF == remainder, "the format information fails its BCH check"
    return LEVELS[data >> 3]


def printed_matrices(pdf, page: int) -> list[list[list[int]]]:
    """Read each QR symbol's modules off a PDF page, from the pictures of them embedded there.

    The picture is the symbol with its quiet zone, each module a square of pixels; its modules
    are found from its finder pattern (7 modules wide, dark from the quiet zone's edge), so this
    reads whatever scale it was drawn at. It must be printed unsmoothed (/Interpolate false).
    """
    import pikepdf
    from pikepdf import PdfImage

    with pikepdf.open(pdf) as doc:
        squares = [image for _, image in doc.pages[page - 1].get_images().items() if image.Width == image.Height]
        assert squares, f"no QR picture on page {page}"
        for image in squares:
            assert image.get("/Interpolate") is False, "the QR picture would be smoothed when printed"
        return [_modules(PdfImage(image).as_pil_image().convert("L")) for image in squares]


def _modules(picture) -> list[list[int]]:
    size = picture.width
    dark = [[picture.getpixel((x, y)) < 128 for x in range(size)] for y in range(size)]
    first = next(i for i in range(size) if dark[i][i])  # the finder pattern's top-left corner
    run = next(i for i in range(first, size) if not dark[first][i]) - first  # its 7 modules
    module = run / 7
    n = round((size - 2 * first) / module)
    matrix = [[int(dark[round(first + (r + 0.5) * module)][round(first + (c + 0.5) * module)]) for c in range(n)]
              for r in range(n)]
    assert (n - 17) % 4 == 0 and n >= 21, f"{n} modules is no QR version"
    return matrix


@pytest.mark.parametrize("level", ["l", "m", "q", "h"])
def test_the_format_reader_reads_segnos_levels(level):
    # The reader above, checked against an independent encoder before it judges our PDFs.
    code = segno.make("https://www.fixture-health.example/leaflets/sample", error=level, boost_error=False,
                      micro=False)
    assert error_level([list(row) for row in code.matrix]) == level.upper()


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_last_page_has_a_qr_code_that_scans_to_the_exact_url(qr_project, tmp_path, paper):
    out = tmp_path / "dist"
    assert_ok(build(qr_project, out, "sample", "--insert", "second-insert", "--paper", paper))
    pdf = out / paper / "sample+second-insert.pdf"
    texts = page_texts(pdf)
    leaflet_last = next(i for i, t in enumerate(texts) if "About this leaflet" in t)
    assert "Read this online, in large print or another language" in texts[leaflet_last]
    assert "fixture-health.example/leaflets/sample" in texts[leaflet_last]
    assert scan(pdf, leaflet_last + 1, tmp_path) == [URL.format(id="sample")]
    assert {error_level(m) for m in printed_matrices(pdf, leaflet_last + 1)} <= AT_LEAST_M
    # The QR code sits beside the start of "About this insert", wherever that falls.
    insert_about = max(i for i, t in enumerate(texts) if "About this insert" in t)
    # second-insert is written in Spanish: this handout carries its English translation, whose
    # page is the insert's with /en after the id (config.leaflet_url), so the code opens English.
    assert scan(pdf, insert_about + 1, tmp_path) == [URL.format(id="second-insert/en")]
    assert {error_level(m) for m in printed_matrices(pdf, insert_about + 1)} <= AT_LEAST_M


def test_no_url_in_the_config_means_no_qr_code(project, tmp_path):
    out = tmp_path / "dist"
    assert_ok(build(project, out, "sample", "--paper", "a4"))
    assert not any("Read this online" in t for t in page_texts(out / "a4" / "sample.pdf"))


def test_leaflet_url_must_be_https_and_use_only_id(project, tmp_path):
    from helpers import assert_clean_error

    with open(project / "leaflets" / "org.yaml", "a", encoding="utf-8") as f:
        f.write("leaflet_url: http://example.org/{name}\n")
    err = assert_clean_error(build(project, tmp_path / "dist"), tmp_path / "dist")
    assert "unknown field '{name}' in leaflet_url" in err and "not an https:// address" in err
