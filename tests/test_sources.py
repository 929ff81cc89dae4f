"""Sources a reviewer can check: titles or {title, url, accessed}, numbered, and cited as [n]."""

from __future__ import annotations

from pathlib import Path

from helpers import assert_clean_error, assert_ok, build, line_of, norm, page_texts

NICE = "https://www.nice.org.uk/guidance/ng158"


def set_sources(project: Path, block: str) -> Path:
    """Replace the sample leaflet's sources list with block (YAML lines, already indented)."""
    path = project / "leaflets" / "sample.md"
    text = path.read_text("utf-8")
    path.write_text(text.replace('sources:\n  - "Fixture source one"\n', f"sources:\n{block}"), "utf-8")
    return path


def add_sentence(path: Path, sentence: str) -> None:
    text = path.read_text("utf-8")
    path.write_text(text.replace("## Heliotrope heading\n", f"## Heliotrope heading\n\n{sentence}\n", 1), "utf-8")


def test_sources_with_addresses_are_numbered_in_about_this_leaflet(project, tmp_path):
    path = set_sources(project, f'  - "Fixture source one"\n'
                                f'  - title: "NICE NG158 fixture"\n    url: {NICE}\n    accessed: 2026-11-30\n')
    add_sentence(path, "About 1 in 100 people have a cited fixture figure [2].")
    out = tmp_path / "out"
    assert_ok(build(project, out, "sample", "--paper", "a4", "--lang", "en"))
    text = norm(" ".join(page_texts(out / "a4" / "sample.pdf")))
    assert "About 1 in 100 people have a cited fixture figure [2]." in text
    about = text[text.index("About this leaflet"):]
    # Every web page was read on one day, so the day is said once; addresses print without https://.
    # The numbers are list labels (drawn, and extracted, after the items' text).
    printed = NICE.removeprefix("https://")
    assert f"Sources (web pages read on 30 November 2026): Fixture source one NICE NG158 fixture {printed}" in about
    assert "https://" not in about and "(accessed" not in about
    assert "1. 2." in about


def test_sources_read_on_different_days_each_say_their_day(project, tmp_path):
    set_sources(project, f'  - title: "NICE NG158 fixture"\n    url: {NICE}\n    accessed: 2026-11-30\n'
                         f'  - title: "Second fixture page"\n    url: https://example.org/two\n    accessed: 2026-10-01\n')
    out = tmp_path / "out"
    assert_ok(build(project, out, "sample", "--paper", "a4", "--lang", "en"))
    about = norm(" ".join(page_texts(out / "a4" / "sample.pdf")))
    about = about[about.index("About this leaflet"):]
    assert ("Sources: NICE NG158 fixture www.nice.org.uk/guidance/ng158 (accessed 30 November 2026) "
            "Second fixture page example.org/two (accessed 1 October 2026)") in about


def test_a_citation_with_no_such_source_names_its_line(project, tmp_path):
    path = project / "leaflets" / "sample.md"
    add_sentence(path, "A figure that cites a missing source [3].")
    out = tmp_path / "out"
    err = assert_clean_error(build(project, out, "sample"), out)
    line = line_of(path, "missing source [3]")
    assert f"leaflets/sample.md:{line}: [3] cites source 3, but 'sources' lists 1 — cite a number from 1 to 1" in err
    assert err.count("[3] cites") == 1


def test_a_citation_without_any_sources(project, tmp_path):
    path = project / "leaflets" / "sample.md"
    text = path.read_text("utf-8").replace('sources:\n  - "Fixture source one"\n', "")
    path.write_text(text, "utf-8")
    add_sentence(path, "A figure [1].")
    err = assert_clean_error(build(project, tmp_path / "out", "sample"))
    assert f"leaflets/sample.md:{line_of(path, 'A figure [1].')}: [1] cites a source, but 'sources' lists none" in err


def test_a_markdown_link_is_not_a_citation(project, tmp_path):
    add_sentence(project / "leaflets" / "sample.md", "See [2](https://example.org/two) for more.")
    assert_ok(build(project, tmp_path / "out", "sample", "--paper", "a4", "--lang", "en"))


def test_bad_source_entries_are_refused_with_a_fix(project, tmp_path):
    cases = [
        ("  - titel: T\n", "source 1 has an unknown key 'titel' — did you mean 'title'?"),
        ("  - title: T\n    adress: https://x.org\n", "source 1 has an unknown key 'adress' — the keys are title, url"),
        ("  - url: https://x.org\n", "source 1 has no title — give it a title"),
        ("  - title: T\n    url: www.nice.org.uk\n", "source 1's url is not a web address — write the full address"),
        ("  - title: T\n    accessed: 30/11/2026\n", "source 1: '30/11/2026' is not a date in accessed"),
        ("  - [a, b]\n", "source 1 is neither a title nor a mapping"),
    ]
    for block, message in cases:
        path = set_sources(project, block)
        err = assert_clean_error(build(project, tmp_path / "out", "sample"))
        assert f"leaflets/sample.md:{line_of(path, 'sources:')}: {message}" in err, err
        path.write_text(path.read_text("utf-8").replace(f"sources:\n{block}", 'sources:\n  - "Fixture source one"\n'),
                        "utf-8")
