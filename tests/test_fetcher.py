"""The renderer reads only the project's own files: the fetcher, and what a hostile template or stylesheet gets."""

from __future__ import annotations

import base64
from pathlib import Path

import pikepdf
import pytest
from weasyprint.urls import FatalURLFetchingError

from clearleaf.pdf import ProjectFetcher
from helpers import assert_clean_error, assert_ok, build, pdfs_and_parts


@pytest.fixture
def roots(tmp_path):
    root = tmp_path / "root"
    (root / "images").mkdir(parents=True)
    (root / "images" / "pic.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / "styles.css").write_text("p { color: red }")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret")
    (root / "images" / "link.svg").symlink_to(outside / "secret.txt")
    (root / "sub").symlink_to(outside, target_is_directory=True)
    return root, outside


def read(response) -> bytes:
    try:
        return response.read()
    finally:
        response.close()


def test_reads_a_file_under_a_root(roots):
    root, _ = roots
    fetcher = ProjectFetcher([root])
    response = fetcher.fetch((root / "images" / "pic.svg").as_uri())
    assert read(response) == b"<svg xmlns='http://www.w3.org/2000/svg'/>"
    assert response.content_type == "image/svg+xml"
    assert read(fetcher.fetch((root / "styles.css").as_uri())) == b"p { color: red }"


def test_reads_from_any_of_several_roots(roots, tmp_path):
    root, outside = roots
    fetcher = ProjectFetcher([tmp_path / "nothing-here", outside])
    assert read(fetcher.fetch((outside / "secret.txt").as_uri())) == b"top secret"


def test_allows_data_urls(roots):
    root, _ = roots
    payload = base64.b64encode(b"hello data").decode()
    assert read(ProjectFetcher([root]).fetch(f"data:text/plain;base64,{payload}")) == b"hello data"


def refused(roots, url_for):
    root, outside = roots
    url = url_for(root, outside)
    with pytest.raises(FatalURLFetchingError):
        ProjectFetcher([root]).fetch(url)


@pytest.mark.parametrize("url_for", [
    pytest.param(lambda root, outside: "file:///etc/passwd", id="etc-passwd"),
    pytest.param(lambda root, outside: (outside / "secret.txt").as_uri(), id="outside-root"),
    pytest.param(lambda root, outside: root.as_uri() + "/../outside/secret.txt", id="dot-dot"),
    pytest.param(lambda root, outside: root.as_uri() + "/images/../../outside/secret.txt", id="dot-dot-deep"),
    pytest.param(lambda root, outside: root.as_uri() + "/%2e%2e/outside/secret.txt", id="encoded-dot-dot"),
    pytest.param(lambda root, outside: root.as_uri() + "/%2E%2E%2Foutside%2Fsecret.txt", id="encoded-slash"),
    pytest.param(lambda root, outside: (root / "images" / "link.svg").as_uri(), id="symlink-file"),
    pytest.param(lambda root, outside: (root / "sub" / "secret.txt").as_uri(), id="symlink-dir"),
    pytest.param(lambda root, outside: root.as_uri() + "/images/missing.svg", id="missing-file"),
    pytest.param(lambda root, outside: root.as_uri() + "/images", id="directory"),
    pytest.param(lambda root, outside: "file://otherhost" + str(root / "styles.css"), id="remote-host"),
    pytest.param(lambda root, outside: "http://127.0.0.1:1/", id="http-localhost"),
    pytest.param(lambda root, outside: "https://example.org/x.png", id="https"),
    pytest.param(lambda root, outside: "ftp://example.org/x.png", id="ftp"),
    pytest.param(lambda root, outside: "FILE:///etc/passwd", id="upper-case-scheme"),
    pytest.param(lambda root, outside: "javascript:alert(1)", id="javascript"),
])
def test_refuses_everything_else(roots, url_for):
    refused(roots, url_for)


def test_refusal_is_fatal_not_a_warning():
    # WeasyPrint swallows ordinary exceptions from a fetcher and prints a blank image; a fatal one stops it.
    assert not issubclass(FatalURLFetchingError, Exception)


# --- end to end: a hostile template or stylesheet -----------------------------------------------

def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), "utf-8")


TEMPLATE_ATTACKS = {
    "img": ("part.html", '<div class="content">', '<div class="content"><img src="file:///etc/passwd" alt="x">'),
    "link-attachment": ("handout.html", "</head>", '<link rel="attachment" href="file:///etc/passwd">\n</head>'),
    "a-attachment": ("part.html", '<div class="content">',
                     '<div class="content"><a rel="attachment" href="file:///etc/passwd">x</a>'),
    "stylesheet-link": ("handout.html", "</head>", '<link rel="stylesheet" href="file:///etc/passwd">\n</head>'),
    "remote-img": ("part.html", '<div class="content">', '<div class="content"><img src="http://127.0.0.1:1/x.png" alt="x">'),
}


@pytest.mark.parametrize("attack", TEMPLATE_ATTACKS)
def test_template_reaching_outside_fails_cleanly_and_writes_nothing(project, out, attack):
    name, old, new = TEMPLATE_ATTACKS[attack]
    _edit(project / "templates" / name, old, new)
    result = build(project, out)
    assert_clean_error(result, out)
    assert "refused to read" in result.stderr
    assert "root:" not in result.stdout + result.stderr


def test_template_reaching_outside_reports_where_and_how_to_fix(project, out):
    _edit(project / "templates" / "part.html", '<div class="content">',
          '<div class="content"><img src="file:///etc/passwd" alt="x">')
    result = build(project, out)
    assert_clean_error(result, out, r"^templates/\S+(:\d+)?: .+ — .+$")


def test_an_image_in_the_project_still_renders(project, out):
    # The fetcher is strict but not broken: the fixture's own SVG is drawn, so the page has drawing ops for it.
    assert_ok(build(project, out, "sample", "--paper", "a4"))
    with pikepdf.open(out / "a4" / "sample.pdf") as doc:
        ops = [str(op) for page in doc.pages for _, op in pikepdf.parse_content_stream(page)]
        assert "re" in ops or "Do" in ops


STYLE_ATTACKS = {
    "background": 'body { background-image: url("file:///etc/passwd"); }',
    "import": '@import url("file:///etc/passwd");',
    "font-face": '@font-face { font-family: "Sneaky"; src: url("file:///etc/passwd"); }',
}


def _style_attack(project: Path, attack: str) -> None:
    css = project / "styles" / "common.css"
    rule = STYLE_ATTACKS[attack]
    text = css.read_text("utf-8")
    css.write_text(rule + "\n" + text if rule.startswith("@import") else text + "\n" + rule + "\n", "utf-8")


def test_stylesheet_background_outside_fails_cleanly(project, out):
    _style_attack(project, "background")
    result = build(project, out)
    assert_clean_error(result, out)
    assert "refused to read" in result.stderr


@pytest.mark.parametrize("paper_args", [["--paper", "a4", "sample"], []], ids=["in-process", "all"])
@pytest.mark.parametrize("attack", ["import", "font-face"])
def test_stylesheet_import_or_font_outside_fails_cleanly(project, out, attack, paper_args):
    _style_attack(project, attack)
    try:
        result = build(project, out, *paper_args)
    except FatalURLFetchingError as exc:
        pytest.fail(f"escaped the CLI: {exc!r}")
    assert_clean_error(result, out)
    assert "refused to read" in result.stderr


@pytest.mark.parametrize("attack", ["import", "font-face"])
def test_stylesheet_import_or_font_outside_never_writes_a_pdf(project, out, attack):
    # Whatever the error looks like, nothing is read from outside and nothing is written.
    _style_attack(project, attack)
    try:
        result = build(project, out, "--paper", "a4", "sample")
    except FatalURLFetchingError:  # a BaseException: it must never escape the CLI
        pytest.fail("a refused fetch escaped the CLI")
    else:
        assert result.exit_code != 0
        assert "root:" not in result.stdout + result.stderr
    assert pdfs_and_parts(out) == []
