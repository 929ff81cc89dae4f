"""The run's reports for a terminal (text) or a program (JSON)."""

from __future__ import annotations

import json
import textwrap

from ..errors import Problem
from .model import CONFIG, PEMAT_ITEMS, Report, count_of, pemat_label


def to_json(reports: list[Report]) -> str:
    """Return the run as a JSON object: one object per file, and the PEMAT-P items that need a person."""
    run = {"files": [r.to_dict() for r in reports],
           "pemat_needs_person": [pemat_label(i) for i in _needs_person(reports)]}
    return json.dumps(run, indent=2, ensure_ascii=False)


def to_text(reports: list[Report]) -> str:
    """Return the reports for a terminal: per file a header, its findings and what PEMAT-P measured;
    then, once, the PEMAT-P items that need a person."""
    out = []
    for report in reports:
        out.append(_header(report))
        out += [finding_line(f) for f in report.findings]
        if report.pemat is not None:
            out.append(f"  {report.pemat.summary()}")
            out += [f"    fails: {pemat_label(i)}" for i in report.pemat.failed]
        out.append("")
    needs_person = _needs_person_text(reports)
    if needs_person:
        out += [*needs_person, ""]
    errors = sum(len(r.errors) for r in reports)
    warnings = sum(len(r.warnings) for r in reports)
    files = sum(1 for r in reports if r.kind != CONFIG)
    out.append(f"checked {count_of(files, 'file')}: {count_of(errors, 'error')}, "
               f"{count_of(warnings, 'warning')}")
    return "\n".join(out)


def _needs_person(reports: list[Report]) -> dict[int, list[str]]:
    """Return each PEMAT-P item that needs a person in any file, with the files it needs one in."""
    files: dict[int, list[str]] = {}
    for report in reports:
        if report.pemat is not None:
            for item in report.pemat.needs_person:
                files.setdefault(item, []).append(report.path)
    return dict(sorted(files.items()))


def _needs_person_text(reports: list[Report]) -> list[str]:
    """Return the items that need a person once for the run; name files only where the lists differ."""
    rated = [r.path for r in reports if r.pemat is not None]
    groups: dict[tuple[str, ...], list[int]] = {}
    for item, paths in _needs_person(reports).items():
        groups.setdefault(tuple(paths), []).append(item)
    if not groups:
        return []
    if list(groups) == [tuple(rated)]:
        return ["PEMAT-P items that need a person in every file (a machine cannot judge them):",
                _fill_items(groups[tuple(rated)], "  ")]
    out = ["PEMAT-P items that need a person (a machine cannot judge them):"]
    # Items needed in every file first, then the rest in item order; the files, then their items.
    for paths, items in sorted(groups.items(), key=lambda g: (g[0] != tuple(rated), g[1])):
        every = "in both files:" if len(rated) == 2 else f"in all {len(rated)} files:"
        where = every if paths == tuple(rated) else f"only in {', '.join(paths)}:"
        out.append(textwrap.fill(where, width=100, initial_indent="  ", subsequent_indent="      ",
                                 break_long_words=False, break_on_hyphens=False))
        out.append(_fill_items(items, "    "))
    return out


def _fill_items(items: list[int], indent: str) -> str:
    """Wrap '1 purpose is evident; 2 ...' at 100 columns, never between an item's number and its name."""
    text = "; ".join(f"{i}\0{PEMAT_ITEMS[i][0]}" for i in items)
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent).replace("\0", " ")


def finding_line(f: Problem) -> str:
    """Return a finding as one line: 'path:line: level: what is wrong — how to fix it'."""
    return f"{f.where}: {f.level}: {f.message} — {f.fix}"


def _header(report: Report) -> str:
    parts = [report.path]
    if report.kind == CONFIG:
        return report.path
    if report.pemat is None:
        return f"{report.path}  not checked: fix the errors below first"
    parts.append(f"{report.code} v{report.version}")
    r = report.readability
    if r and r.scores:
        parts += [f"{name} {value:.1f}" for name, value in r.scores.items()]
    else:
        parts.append(f"FK {r.fk:.1f}" if r and r.fk is not None else "FK n/a")
        parts.append(f"SMOG {r.smog:.1f}" if r and r.smog is not None else "SMOG n/a")
    return "  ".join(parts)
