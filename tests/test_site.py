"""`build.py site`: the website the QR codes lead to, read as files (tests/test_site_browser.py
drives it in Chromium).

Most tests read one build of the fixture set (conftest.built_site: helpers.site_project, with an
Arabic translation of the sample leaflet and a line of raw HTML). The error tests stop before
any PDF renders, so they use a fresh copy each.
"""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import lxml.html
import pytest

from clearleaf import content, site
from clearleaf.config import Project
from clearleaf.errors import Problems
from helpers import (FIRST, INSERT_DANGER, ORG_NAME, RAW_HTML, SAMPLE, SAMPLE_AR, SECOND, SECOND_EN, SITE_ROOT, assert_clean_error,
                     assert_ok, norm, page_texts, run, scan_qr, site_project)
from site_check import LEAVING, addresses, broken_links, html_files, local_target, parse

PAGES = {  # path under the site folder -> (title, lang, code)
    "sample/index.html": (SAMPLE["title"], "en", SAMPLE["code"]),
    "sample/ar/index.html": (SAMPLE_AR["title"], "ar", SAMPLE_AR["code"]),
    "first-insert/index.html": (FIRST["title"], "en", FIRST["code"]),
    "second-insert/index.html": (SECOND["title"], "es", SECOND["code"]),
    "second-insert/en/index.html": (SECOND_EN["title"], "en", SECOND_EN["code"]),
}
PDF_FOLDERS = ("a4", "letter", "a4-large", "letter-large")


def text(element) -> str:
    return norm(element.text_content())


# --- what is built --------------------------------------------------------------------------------

def test_the_command_says_what_it_wrote_and_where_to_publish_it(built_site):
    assert "5 pages and the home page, 20 PDFs" in built_site.stdout
    assert f"publish the folder at {SITE_ROOT} so that the QR codes find its pages" in built_site.stdout
    # The raw HTML line is reported exactly as `build` reports it.
    assert "leaflets/sample.md:" in built_site.stderr and "raw HTML is not rendered" in built_site.stderr


def test_one_page_per_leaflet_and_insert_in_each_language(built_site):
    found = sorted(p.relative_to(built_site.out).as_posix() for p in html_files(built_site.out))
    assert found == sorted([*PAGES, "index.html"])
    for path, (title, lang, code) in PAGES.items():
        doc = parse(built_site.out / path)
        assert doc.get("lang") == lang
        assert doc.get("dir") == ("rtl" if lang == "ar" else "ltr")
        assert text(doc.find(".//h1")) == title
        assert code in text(doc.find(".//section[@class='about']"))


def test_the_home_page_lists_every_leaflet_with_its_inserts_beneath(built_site):
    doc = parse(built_site.out / "index.html")
    assert doc.get("lang") == "en" and doc.find(".//h1").text == "Patient leaflets"
    leaflets = doc.findall(".//ul[@id='leaflets']/li")
    assert len(leaflets) == 1
    sample = leaflets[0]
    assert text(sample.find("h2")) == SAMPLE["title"]
    assert f"Reference {SAMPLE['code']}, version {SAMPLE['version']}." in text(sample.find("p"))
    assert [a.text for a in sample.find("p[@class='in-langs']").findall("a")] == ["English", "العربية"]
    inserts = sample.findall("ul[@class='inserts']/li")
    # Beneath it, in the home page's language: second-insert is shown by its English translation.
    assert [text(li.find("h3")) for li in inserts] == [FIRST["title"], SECOND_EN["title"]]
    assert f"Reference {FIRST['code']}, version {FIRST['version']}. DRAFT – not for patient use" in text(inserts[0])
    assert [a.text for a in inserts[1].find("p[@class='in-langs']").findall("a")] == ["Español", "English"]
    assert [a.get("href") for a in inserts[1].find("p[@class='in-langs']").findall("a")] == \
        ["second-insert/index.html", "second-insert/en/index.html"]
    # The filter box is there, hidden until the script shows it: without JavaScript, the list is the page.
    box = doc.find(".//div[@data-filter]")
    assert box is not None and box.get("hidden") is not None and box.find(".//input").get("id") == "q"
    assert doc.find(".//script").get("src") == "assets/site.js"


def test_language_versions_name_each_other_with_hreflang(built_site):
    for path, (_, lang, _) in PAGES.items():
        page = built_site.out / path
        alternates = {link.get("hreflang"): link.get("href")
                      for link in parse(page).findall(".//link[@rel='alternate']")}
        assert lang in alternates
        for other_lang, address in alternates.items():
            target = built_site.out / local_target(page.relative_to(built_site.out), address)
            other = parse(target)
            assert other.get("lang") == other_lang
            back = {link.get("hreflang") for link in other.findall(".//link[@rel='alternate']")}
            assert back == set(alternates), f"{path} and {target} do not name the same languages"


def test_each_page_links_its_pdfs_in_every_paper_large_print_and_language(built_site):
    doc = parse(built_site.out / "sample/index.html")
    section = doc.find(".//section[@class='downloads']")
    assert [h.text for h in section.findall("h3")] == ["English", "العربية"]
    hrefs = [a.get("href") for a in section.findall(".//a")]
    assert hrefs == [f"../pdf/{folder}/sample{suffix}.pdf" for suffix in ("", ".ar") for folder in PDF_FOLDERS]
    assert [a.text for a in section.findall(".//a")][:4] == [
        "A4 (PDF)", "US Letter (PDF)", "Large print, A4 (PDF)", "Large print, US Letter (PDF)"]
    for href in hrefs:
        assert (built_site.out / "sample" / href).resolve().read_bytes().startswith(b"%PDF-")
    insert = parse(built_site.out / "second-insert/en/index.html").find(".//section[@class='downloads']")
    assert [a.get("href") for a in insert.findall(".//a")][:2] == [
        "../../pdf/a4/inserts/second-insert.en.pdf", "../../pdf/letter/inserts/second-insert.en.pdf"]


def test_the_pdfs_are_the_normal_builds(built_site, tmp_path):
    """The site's PDFs are byte for byte what `build.py build` makes, large print included."""
    out = tmp_path / "dist"
    assert_ok(run(built_site.project, "build", "sample", "--paper", "a4", "--variant", "large", "--out", out))
    assert (out / "a4-large" / "sample.pdf").read_bytes() == \
        (built_site.out / "pdf" / "a4-large" / "sample.pdf").read_bytes()


# --- the same content as the PDF ------------------------------------------------------------------

def test_the_page_says_what_the_pdf_says_emergency_first(built_site):
    doc = parse(built_site.out / "sample/index.html")
    pdf_text = norm(" ".join(page_texts(built_site.out / "pdf" / "a4" / "sample.pdf")))
    main = doc.find(".//main")
    blocks = main.xpath(".//div[contains(@class,'content')]//*[self::p or self::li or self::h2]")
    assert len(blocks) > 10
    for block in blocks:
        assert text(block) in pdf_text, f"{text(block)!r} is on the page but not in the PDF"
    # The emergency callout comes first, before any heading of the text.
    first = main.xpath(".//div[contains(@class,'content')]/*")[0]
    assert first.get("class") == "callout callout-danger"
    assert text(first.find("p")) == SAMPLE["danger"]
    # An insert's emergency box ends it on paper (it goes out with its leaflet); on its own web
    # page, where a QR code leads straight to it, it comes first.
    insert = parse(built_site.out / "first-insert/index.html").find(".//main")
    first = insert.xpath(".//div[contains(@class,'content')]/*")[0]
    assert first.get("class") == "callout callout-danger" and INSERT_DANGER in text(first)
    assert len(insert.xpath(".//div[@class='callout callout-danger']")) == 1
    # The organisation's numbers, each a link a phone can dial; the emergency number too.
    contacts = main.find(".//section[@class='contacts']")
    assert {a.get("href") for a in contacts.findall(".//a")} == {"tel:01005550199", "tel:01005550111", "tel:999"}
    assert "Quillfeather desk: 0100 555 0199 (Weekdays, 9 am to 4 pm)" in text(contacts)
    # Code, version, review date and sources, in the same words as the PDF's end matter.
    about = text(main.find(".//section[@class='about']"))
    for words in (f"Reference {SAMPLE['code']}, version {SAMPLE['version']}.", f"Review by {SAMPLE['review']}.",
                  f"Written by {ORG_NAME}, Fixture Owners Unit.", "Fixture source one"):
        assert words in about and words in pdf_text


def test_raw_html_is_text_on_the_page_as_in_print(built_site):
    page = (built_site.out / "sample/index.html").read_text("utf-8")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &lt;b&gt;Ochre raw line&lt;/b&gt;" in page
    assert "<script" not in page and "<b>" not in page
    assert RAW_HTML in text(parse(built_site.out / "sample/index.html"))
    assert RAW_HTML in " ".join(page_texts(built_site.out / "pdf" / "a4" / "sample.pdf"))


def test_arabic_page_is_right_to_left_with_numbers_left_to_right(built_site):
    doc = parse(built_site.out / "sample/ar/index.html")
    assert (doc.get("lang"), doc.get("dir")) == ("ar", "rtl")
    assert text(doc.find(".//div[@class='callout callout-danger']/p")) == SAMPLE_AR["danger"]
    # The phone number inside the Arabic text keeps its order (the content's own ltr span).
    assert doc.xpath(".//div[@class='content']//span[@dir='ltr' and normalize-space()='0100 555 0199']")
    assert doc.find(".//a[@href='tel:999']") is not None
    assert doc.find(".//p[@class='mark']").text == "مسودة – ليست للاستخدام مع المرضى"


def test_drawings_are_drawn_in_the_page_with_their_alt_text(built_site):
    """An SVG in <img> cannot use the page's fonts, so its labels would be drawn wider, in the
    phone's own font; drawn in the page, they use the packaged fonts, as in the PDF."""
    alts = {"sample/index.html": "A blue rectangle standing in for a valve diagram",
            "sample/ar/index.html": "مستطيل أزرق مكان رسم الصمام"}
    for path, alt in alts.items():
        doc = parse(built_site.out / path)
        assert doc.find(".//img") is None
        [drawing] = doc.xpath("//*[local-name()='svg']")
        assert (drawing.get("role"), drawing.get("aria-label"), drawing.get("class")) == ("img", alt, "picture")
        assert drawing.get("direction") == "ltr"  # as when drawn alone, even in the Arabic page
        assert drawing.xpath("./*[local-name()='rect']")[0].get("fill") == "#0b3d91"
    assert not (built_site.out / "media").exists()


def test_a_picture_that_styles_itself_stays_an_image_of_the_site(tmp_path):
    """The pages' CSP allows no inline style, so such an SVG is shown through <img>, from media/."""
    project = site_project(tmp_path / "project")
    (project / "leaflets" / "images" / "diagram.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" '
        'style="fill: #0b3d91"/></svg>\n', "utf-8")
    problems = Problems()
    library = content.load(Project(project), None, (), problems, langs="all")
    plan = site.plan(Project(project), library, tmp_path / "site", False, date(2026, 12, 1), problems)
    files = site.render_site(Project(project), plan, date(2026, 12, 1), problems)
    assert not problems
    assert files["media/images/diagram.svg"] == (project / "leaflets" / "images" / "diagram.svg").read_bytes()
    [image] = lxml.html.fromstring(files["sample/ar/index.html"]).findall(".//img")
    assert (image.get("src"), image.get("alt")) == ("../../media/images/diagram.svg", "مستطيل أزرق مكان رسم الصمام")


def test_headings_go_in_order(built_site):
    for page in html_files(built_site.out):
        levels = [int(h.tag[1]) for h in parse(page).iter("h1", "h2", "h3", "h4", "h5", "h6")]
        assert levels[0] == 1 and levels.count(1) == 1, page
        for before, after in zip(levels, levels[1:]):
            assert after <= before + 1, f"{page}: h{before} is followed by h{after}"


# --- self-contained -------------------------------------------------------------------------------

def test_every_page_is_self_contained_with_a_content_security_policy(built_site):
    for page in html_files(built_site.out):
        doc = parse(page)
        csp = doc.find(".//meta[@http-equiv='Content-Security-Policy']").get("content")
        assert csp.startswith("default-src 'none';") and "script-src 'self'" in csp
        assert "'unsafe-inline'" not in csp and "http" not in csp
        assert doc.find(".//style") is None and not doc.xpath("//*[@style]"), "the CSP allows no inline style"
        assert all(s.get("src") and not (s.text or "").strip() for s in doc.iter("script"))
        for tag, attr, address in addresses(doc):
            if tag == "a" and address.startswith(LEAVING):
                continue
            assert not urlsplit(address).scheme and not address.startswith(("/", "//")), \
                f"{page}: <{tag} {attr}={address!r}> is not a relative link"
    css = (built_site.out / "assets" / "site.css").read_text("utf-8")
    assert "@import" not in css
    for address in re.findall(r"url\(\s*[\"']?([^\"')]+)", css):
        assert address.startswith("fonts/") and (built_site.out / "assets" / address).is_file()


def test_every_link_and_asset_exists(built_site):
    wrong, checked = broken_links(built_site.out)
    assert not wrong, "\n".join(wrong)
    assert checked > 80  # the fixture site has 87


def test_the_packaged_fonts_are_served_with_their_licences(built_site):
    fonts = sorted(p.name for p in (built_site.out / "assets" / "fonts").iterdir())
    assert "AtkinsonHyperlegible-Regular.ttf" in fonts and "IBMPlexSansArabic-Regular.ttf" in fonts
    assert "AtkinsonHyperlegible-LICENSE.txt" in fonts and "IBMPlexSansArabic-LICENSE.txt" in fonts


# --- the QR codes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("pdf, lang", [("a4/sample.pdf", "en"), ("a4/sample.ar.pdf", "ar"),
                                       ("letter/inserts/second-insert.en.pdf", "en")])
def test_the_qr_code_on_each_pdf_opens_its_page(built_site, tmp_path, pdf, lang):
    path = built_site.out / "pdf" / pdf
    texts = page_texts(path)
    about = max(i for i, t in enumerate(texts) if re.search("About this|عن هذه", t))
    [url] = scan_qr(path, about + 1, tmp_path)
    assert url.startswith(SITE_ROOT)
    # A web server answers .../sample with the folder's index.html, as the site is laid out.
    page = built_site.out / url.removeprefix(SITE_ROOT) / "index.html"
    assert page.is_file(), f"the QR code names {url}, which the site does not have"
    doc = parse(page)
    assert doc.get("lang") == lang
    assert text(doc.find(".//h1")) in texts[0]


# --- deterministic, and safe to build again ---------------------------------------------------------

def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_rebuild_is_byte_identical(built_site, tmp_path):
    first = files_of(built_site.out)
    again = tmp_path / "again"
    assert_ok(run(built_site.project, "site", "--out", again))
    assert files_of(again) == first
    # In place, nothing changes and no PDF is rendered again.
    shutil.copytree(built_site.out, tmp_path / "copy")
    result = run(built_site.project, "site", "--out", tmp_path / "copy")
    assert_ok(result)
    assert "(0 rendered), 0 files changed" in result.stdout
    assert files_of(tmp_path / "copy") == first


def test_a_new_leaflet_appears_with_no_code_change(tmp_path):
    project = site_project(tmp_path / "project")
    text_ = (project / "leaflets" / "sample.md").read_text("utf-8")
    (project / "leaflets" / "walking.md").write_text(
        text_.replace("Zanzibar sentinel leaflet", "Walking after knee surgery").replace("FX-SAM-042", "FX-WLK-007")
        .replace("inserts:\n  - first-insert\n  - second-insert\n", ""), "utf-8")
    problems = Problems()
    library = content.load(Project(project), None, (), problems, langs="all")
    plan = site.plan(Project(project), library, tmp_path / "site", False, date(2026, 12, 1), problems)
    files = site.render_site(Project(project), plan, date(2026, 12, 1), problems)
    assert not problems
    assert "Walking after knee surgery" in text(lxml.html.fromstring(files["walking/index.html"]).find(".//h1"))
    home = lxml.html.fromstring(files["index.html"])
    assert [text(h) for h in home.findall(".//ul[@id='leaflets']/li/h2")] == [
        "Walking after knee surgery", SAMPLE["title"]]


def test_a_page_of_a_deleted_translation_is_removed(built_site, tmp_path):
    project, out = tmp_path / "project", tmp_path / "site"
    shutil.copytree(built_site.project, project)
    shutil.copytree(built_site.out, out)
    (project / "leaflets" / "inserts" / "second-insert.en.md").unlink()
    result = run(project, "site", "--out", out)
    assert_ok(result)
    assert not (out / "second-insert" / "en").exists()
    assert not list(out.rglob("second-insert.en.pdf"))
    assert f"removed {out / 'second-insert/en/index.html'}" in result.stdout
    assert "second-insert/en/index.html" not in (out / site.MARKER).read_text("utf-8")
    # The leaflet now links the Spanish insert, the only one left.
    related = parse(out / "sample" / "index.html").find(".//section[@class='related']")
    assert [a.get("href") for a in related.findall(".//a")] == ["../first-insert/index.html",
                                                                 "../second-insert/index.html"]


# --- refusals ----------------------------------------------------------------------------------------

def test_a_folder_the_site_did_not_make_is_never_written_over(project, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "index.html").write_text("my own page", "utf-8")
    err = assert_clean_error(run(project, "site", "--out", out))
    assert f"{out}: the folder holds files that build.py site did not write" in err
    assert (out / "index.html").read_text("utf-8") == "my own page"
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]


def test_a_page_changed_by_hand_is_not_written_over(built_site, tmp_path):
    out = tmp_path / "site"
    shutil.copytree(built_site.out, out)
    (out / "sample" / "index.html").write_text("edited", "utf-8")
    (out / "first-insert" / "extra.html").write_text("someone's own file", "utf-8")
    err = assert_clean_error(run(built_site.project, "site", "--out", out))
    assert err.strip() == (f"{out / 'sample/index.html'}: was changed or put there after build.py site wrote the "
                           "folder, and the site would write over it — move your copy out of the site's folder, "
                           "or delete it")
    assert (out / "sample" / "index.html").read_text("utf-8") == "edited"


def test_content_problems_stop_the_site_with_file_and_line(project, tmp_path):
    (project / "leaflets" / "sample.md").write_text(
        (project / "leaflets" / "sample.md").read_text("utf-8").replace("status: approved", "status: finished"),
        "utf-8")
    out = tmp_path / "site"
    err = assert_clean_error(run(project, "site", "--out", out), pattern=r"^leaflets/sample\.md:8: ")
    assert not out.exists()
    assert "status" in err


@pytest.mark.parametrize("url", ["https://www.example.org/leaflet?id={id}", "https://www.example.org/l-{id}",
                                 "https://www.example.org/{id}/page.html"])
def test_a_leaflet_url_no_static_site_can_answer_is_refused(project, tmp_path, url):
    with open(project / "leaflets" / "org.yaml", "a", encoding="utf-8") as f:
        f.write(f"leaflet_url: {url}\n")
    line = (project / "leaflets" / "org.yaml").read_text("utf-8").count("\n")
    err = assert_clean_error(run(project, "site", "--out", tmp_path / "site"))
    assert err.startswith(f"leaflets/org.yaml:{line}: leaflet_url {url} cannot be the address of a page of a "
                          "static website")
    assert "publish the site's folder at https://www.example.org/leaflets/" in err


def test_a_leaflet_and_an_insert_cannot_share_an_id(project, tmp_path):
    shutil.copy(project / "leaflets" / "inserts" / "first-insert.md", project / "leaflets" / "inserts" / "sample.md")
    err = assert_clean_error(run(project, "site", "--out", tmp_path / "site"))
    assert ("leaflets/inserts/sample.md: the insert 'sample' has the same id as the leaflet leaflets/sample.md, "
            "and an id names its web page") in err


def test_a_picture_with_a_script_is_refused(project, tmp_path):
    (project / "leaflets" / "images" / "diagram.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">\n<rect width="10" height="10"/>\n'
        '<script>fetch("https://tracker.example")</script>\n</svg>\n', "utf-8")
    err = assert_clean_error(run(project, "site", "--out", tmp_path / "site"))
    assert err.startswith("leaflets/images/diagram.svg:3: the picture holds '<script'")


def test_an_overdue_leaflet_is_refused_unless_allowed(project, tmp_path):
    (project / "leaflets" / "sample.md").write_text(
        (project / "leaflets" / "sample.md").read_text("utf-8").replace("review_by: 2099-12-31",
                                                                         "review_by: 2026-02-01"), "utf-8")
    err = assert_clean_error(run(project, "site", "--out", tmp_path / "site"))
    assert "leaflets/sample.md:6: review date 2026-02-01 has passed" in err and "--allow-overdue" in err
