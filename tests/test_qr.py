"""The QR code on the last page scans, at print resolution, to the leaflet's exact web address."""

from __future__ import annotations

import pytest
import segno

from clearleaf.render import qr_data_url
from helpers import assert_ok, build, page_texts
from helpers import scan_qr as scan

URL = "https://www.fixture-health.example/leaflets/{id}"


@pytest.fixture
def qr_project(project):
    with open(project / "leaflets" / "org.yaml", "a", encoding="utf-8") as f:
        f.write(f"leaflet_url: {URL}\n")
    return project




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
    # The QR code sits beside the start of "About this insert", wherever that falls.
    insert_about = max(i for i, t in enumerate(texts) if "About this insert" in t)
    # second-insert is written in Spanish: this handout carries its English translation, whose
    # page is the insert's with /en after the id (config.leaflet_url), so the code opens English.
    assert scan(pdf, insert_about + 1, tmp_path) == [URL.format(id="second-insert/en")]


def test_no_url_in_the_config_means_no_qr_code(project, tmp_path):
    out = tmp_path / "dist"
    assert_ok(build(project, out, "sample", "--paper", "a4"))
    assert not any("Read this online" in t for t in page_texts(out / "a4" / "sample.pdf"))


def test_the_svg_matches_segnos_matrix_for_the_url():
    url = URL.format(id="sample")
    assert qr_data_url(url).startswith("data:image/svg+xml")
    assert segno.make(url, error="m").designator.endswith("-M")


def test_leaflet_url_must_be_https_and_use_only_id(project, tmp_path):
    from helpers import assert_clean_error

    with open(project / "leaflets" / "org.yaml", "a", encoding="utf-8") as f:
        f.write("leaflet_url: http://example.org/{name}\n")
    err = assert_clean_error(build(project, tmp_path / "dist"), tmp_path / "dist")
    assert "unknown field '{name}' in leaflet_url" in err and "not an https:// address" in err
