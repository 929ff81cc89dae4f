"""Picture rules: alt text that describes the picture, and the PEMAT-P items about visual aids."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from .document import WORD_RE
from .model import ERROR, WARNING, FileCheck

# Words that say nothing about a picture when they are all its alt text says.
GENERIC_ALT = {"image", "picture", "diagram", "photo", "photograph", "figure", "illustration", "graphic",
               "icon", "img", "chart", "drawing", "logo", "pic", "placeholder", "alt", "alt text"}
MIN_ALT_WORDS = 3


def check_pictures(fc: FileCheck) -> None:
    """Every picture has alt text that describes it: not its file name, not one generic word."""
    for picture in fc.doc.pictures:
        name = PurePosixPath(unquote(urlsplit(picture.src).path)).name.lower()
        stem = name.rsplit(".", 1)[0]
        alt = " ".join(re.sub(r"[^\w\s.-]", " ", picture.alt.lower()).split())
        useless = {name, stem, stem.replace("-", " ").replace("_", " "), *GENERIC_ALT}
        if alt in useless or alt.replace("-", " ").replace("_", " ") in useless:
            fc.add(ERROR, picture.line,
                   f"the alt text of '{picture.src}' does not describe it ('{picture.alt}')",
                   "say what the picture shows, e.g. ![A swollen left calf next to a normal right leg](...)")
        elif len(WORD_RE.findall(picture.alt)) < MIN_ALT_WORDS:
            fc.add(WARNING, picture.line, f"the alt text of '{picture.src}' is very short ('{picture.alt}')",
                   f"describe what the picture shows in at least {MIN_ALT_WORDS} words")
    if not fc.doc.pictures:
        # PEMAT: items about visual aids and diagrams are "N/A" when there are none.
        fc.report.pemat.not_applicable.extend([16, 17, 18, 25])


def check_tables(fc: FileCheck) -> None:
    """Leaflets are CommonMark, which has no tables, so item 19 never applies."""
    fc.report.pemat.not_applicable.append(19)


RULES = (check_pictures, check_tables)
