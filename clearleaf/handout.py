"""Patient details for personalised handouts: load, check and keep them as plain text.

A patient file is YAML or JSON (one patient) or CSV (a day's discharge list). Every value is
text that is printed as typed: it never passes through Jinja or Markdown, and the HTML
templates escape it. Nothing here logs or echoes a value, only keys and line numbers.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
from dataclasses import dataclass
from datetime import date
from difflib import get_close_matches
from pathlib import Path

import yaml

from .config import INVISIBLE_FIX, compose, invisible_characters, node_value, read_text
from .errors import ContentError, Problem, Problems, cannot
from .schema import DATE_RE

# Pinned: hospital systems write these keys. Limits keep the "Your details" box on page 1.
MEDICATION_KEYS = {"name": 80, "dose": 60, "how_often": 80, "until": 60}
PATIENT_KEYS = {
    "name": 100,
    "issued": 10,
    "clinician": 100,
    "contact_phone": 40,
    "medication": MEDICATION_KEYS,
    "follow_up": 200,
    "note": 500,
    "reference": 40,
}
# A reference names the PDF file, so it is a plain token: no spaces, slashes or dots at the start.
REFERENCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MAX_LIST_BYTES = 32_000_000  # a discharge list: some 100,000 rows


@dataclass(frozen=True)
class Patient:
    """One patient's details; absent fields are None and print as lines to fill in by hand."""

    name: str | None = None
    issued: date | None = None
    clinician: str | None = None
    contact_phone: str | None = None
    medication: dict | None = None
    follow_up: str | None = None
    note: str | None = None
    reference: str | None = None

    def as_context(self) -> dict:
        """Return the values the template prints, with every medication key present."""
        medication = {k: (self.medication or {}).get(k) for k in MEDICATION_KEYS}
        return {**self.__dict__, "medication": medication}


def _suggest(key: str, allowed, prefix: str = "") -> str:
    close = get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    return f"did you mean '{prefix}{close[0]}'?" if close else \
        "allowed keys are " + ", ".join(prefix + name for name in allowed)


def check_values(raw: dict, shown: str, lines: dict, today: date, problems: Problems,
                 drawable: frozenset | None = None, columns: dict | None = None) -> Patient | None:
    """Check raw text values (keys like 'medication.dose' for nested ones) and build a Patient.

    An unknown key is named by its line and column (columns: key -> column), never echoed: in a
    file written by hand it may be a name ("Ann Smith: yes").
    """
    values: dict = {}
    before = len(problems.items)
    for key, value in raw.items():
        line = lines.get(key, 1)
        top, _, sub = key.partition(".")
        limits = PATIENT_KEYS.get(top)
        if limits is None or (sub and not isinstance(limits, dict)) or (sub and sub not in limits):
            nested = sub and isinstance(limits, dict)
            allowed = [f"{top}.{k}" for k in MEDICATION_KEYS] if nested else [*PATIENT_KEYS]
            where = f" in column {columns[key]}" if columns and key in columns else ""
            fix = _suggest(sub, list(limits), prefix=f"{top}.") if nested else _suggest(key, allowed)
            problems.add(shown, line, f"unknown key{f' under {top!r}' if nested else ''}{where}", fix, field=key)
            continue
        if isinstance(limits, dict) and not sub:
            problems.add(shown, line, f"'{key}' must list {', '.join(limits)}",
                         f"write it as {key}: then indented lines such as 'name: Apixaban'", field=key)
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue  # not given: the template prints lines to fill in
        if not isinstance(value, str):
            problems.add(shown, line, f"'{key}' must be text", "write it on one line, in quotes if it has a colon", field=key)
            continue
        limit = limits[sub] if sub else limits
        text = value.strip() if key == "note" else " ".join(value.split())
        if len(text) > limit:
            problems.add(shown, line, f"'{key}' is {len(text)} characters long; the most is {limit}",
                         "shorten it", field=key)
            continue
        if CONTROL_RE.search(text):
            problems.add(shown, line, f"'{key}' contains a control character", "retype it as plain text", field=key)
            continue
        invisible = invisible_characters(text)
        if invisible:
            # The code points are shown, never the value: it may identify the patient.
            problems.add(shown, line, f"'{key}' holds an invisible formatting character ({', '.join(invisible)})",
                         INVISIBLE_FIX, field=key)
            continue
        if drawable is not None:
            missing = sorted({f"U+{ord(c):04X}" for c in text if ord(c) not in drawable and c not in "\n\r\t"})
            if missing:
                # The character codes are shown, never the value itself: it may identify the patient.
                problems.add(shown, line, f"'{key}' has characters the handout fonts cannot print ({', '.join(missing)})",
                             "write it in Latin, Greek, Cyrillic, Vietnamese or Arabic script", field=key)
                continue
        if key == "issued":
            if not DATE_RE.match(text):
                problems.add(shown, line, "'issued' is not a date", "write it as YYYY-MM-DD, e.g. issued: 2026-11-26", field=key)
                continue
            try:
                text = date.fromisoformat(text)
            except ValueError:
                problems.add(shown, line, "'issued' is not a real date", "write it as YYYY-MM-DD", field=key)
                continue
        if key == "reference" and not REFERENCE_RE.match(text):
            problems.add(shown, line, "'reference' must be letters, digits, '-' or '_' (at most 40)",
                         "use the record's reference number, never the patient's name", field=key)
            continue
        if sub:
            values.setdefault(top, {})[sub] = text
        else:
            values[key] = text
    if len(problems.items) > before:
        return None
    values.setdefault("issued", today)
    return Patient(**values)


def load_patient(path: Path, today: date, drawable: frozenset | None = None) -> Patient:
    """Load one patient from a YAML or JSON file; raise ContentError naming keys and lines."""
    problems = Problems()
    shown = str(path)
    _check_file(path, shown, "--patient")
    text = read_text(path, shown, problems)
    root = compose(text, shown, 1, problems) if text is not None else None
    raw: dict = {}
    lines: dict = {}
    columns: dict = {}
    if root is not None:
        for key, node, line, column in _items(root, shown, problems, "the patient file"):
            if isinstance(node, yaml.MappingNode) and key == "medication":
                for sub, snode, sline, scolumn in _items(node, shown, problems, "medication", "medication."):
                    raw[f"{key}.{sub}"] = _scalar(snode)
                    lines[f"{key}.{sub}"], columns[f"{key}.{sub}"] = sline, scolumn
            else:
                raw[key] = _scalar(node) if not isinstance(node, yaml.MappingNode) else {}
                lines[key], columns[key] = line, column
    elif text is not None and not problems:
        problems.add(shown, 1, "the patient file is empty", "give at least the reference, e.g. reference: MRN-0001")
    patient = check_values(raw, shown, lines, today, problems, drawable, columns) if not problems else None
    if patient is not None and not patient.reference:
        problems.add(shown, 1, "the patient file has no reference",
                     "add the record number, e.g. reference: MRN-0001: the issue log traces each copy by it, "
                     "and the PDF is named after it")
    problems.raise_if_any()
    return patient


def load_patients_csv(path: Path, today: date, drawable: frozenset | None = None) -> list[Patient]:
    """Load a discharge list: one patient a row, nested keys as 'medication.name' columns."""
    return [patient for _, patient in load_patient_rows(path, today, drawable)]


def load_patient_rows(path: Path, today: date, drawable: frozenset | None = None) -> list[tuple[int, Patient]]:
    """Load a discharge list as (line, patient) rows; raise ContentError naming every bad row by its line."""
    problems = Problems()
    shown = str(path)
    _check_file(path, shown, "--patients")
    text = read_text(path, shown, problems, MAX_LIST_BYTES)
    if text is None:
        problems.raise_if_any()
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = reader.fieldnames or []
    _check_header(columns, shown, problems)
    problems.raise_if_any()
    patients, seen = [], {}
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.add(shown, reader.line_num, f"malformed CSV: {exc}", "check the quotes on this row")
            break
        line = reader.line_num
        if None in row:
            problems.add(shown, line, "the row has more cells than there are columns", "check the commas on this row")
            continue
        patient = check_values(row, shown, dict.fromkeys(row, line), today, problems, drawable)
        if patient is None:
            continue
        if not patient.reference:
            problems.add(shown, line, "the row has no reference", "give every row a reference; it names the PDF file")
        elif patient.reference in seen:
            problems.add(shown, line, f"this row's reference is also on line {seen[patient.reference]}",
                         "give every row its own reference")
        else:
            seen[patient.reference] = line
        patients.append((line, patient))
    if not patients and not problems:
        problems.add(shown, 2, "the list has no patients", "add one row per patient under the header")
    problems.raise_if_any()
    return patients


CSV_COLUMNS = [k for k, v in PATIENT_KEYS.items() if not isinstance(v, dict)] + \
    [f"medication.{k}" for k in MEDICATION_KEYS]


def _check_header(columns: list, shown: str, problems: Problems) -> None:
    """Check a discharge list's first row: known column names, each once, and a reference column.

    A heading is shown only when it is a known column name. A list saved without its header
    row has a patient in row 1, whose name and reference must not be echoed as "unknown column".
    """
    known = [c for c in columns if c in CSV_COLUMNS]
    if columns and not known:
        problems.add(shown, 1, f"the first row is not a header row: none of its {len(columns)} cells is a "
                     "column name", "add a first row naming the columns, e.g. reference,name,medication.name "
                     f"(the names are {', '.join(CSV_COLUMNS)})")
        return
    first: dict = {}
    for number, column in enumerate(columns, 1):
        if not column.strip():
            problems.add(shown, 1, f"column {number} has no heading", "name it, or delete the empty column")
        elif column not in CSV_COLUMNS:
            problems.add(shown, 1, f"column {number} has an unknown heading", _suggest(column, CSV_COLUMNS))
        elif column in first:
            problems.add(shown, 1, f"column {number} repeats the heading '{column}' of column {first[column]}",
                         "keep one column for each detail")
        else:
            first[column] = number
    if "reference" not in columns:
        problems.add(shown, 1, "there is no 'reference' column",
                     "add one: each handout's file is named after its reference, never the patient's name")


def _items(node, shown: str, problems: Problems, what: str, prefix: str = ""):
    """Yield (key, value node, line, column) of a patient file's YAML mapping.

    Like config.mapping_items, but a key given twice is named only when it is a patient key:
    anything else in a patient file may be a name or a number, and is never echoed.
    """
    if not isinstance(node, yaml.MappingNode):
        problems.add(shown, 1 + (node.start_mark.line if node is not None else 0),
                     f"{what} is not a list of 'key: value' lines", "write one 'key: value' per line")
        return
    seen = set()
    for key, value in node.value:
        line, column = 1 + key.start_mark.line, 1 + key.start_mark.column
        name = key.value if isinstance(key, yaml.ScalarNode) else str(node_value(key))
        if name in seen:
            known = f"{prefix}{name}" in CSV_COLUMNS or name in PATIENT_KEYS
            problems.add(shown, line, f"'{name}' is given twice" if known else
                         f"the key in column {column} is given twice", "keep one and delete the other")
            continue
        seen.add(name)
        yield name, value, line, column


def _scalar(node):
    return node.value if isinstance(node, yaml.ScalarNode) else [_scalar(n) for n in node.value]


def _check_file(path: Path, shown: str, option: str) -> None:
    """Raise ContentError unless path is a file that can be looked at (never an OSError)."""
    fix = f"check the path given to {option}"
    try:
        found = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise ContentError([Problem(shown, None, "the patient file does not exist", fix)]) from None
    except OSError as exc:
        raise cannot(shown, "read the patient file", exc, fix, ContentError) from None
    if not stat.S_ISREG(found.st_mode):
        raise ContentError([Problem(shown, None, "the patient file is not a file (a folder, a device or a pipe)",
                                    fix)])
