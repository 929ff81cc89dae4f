"""The benchmarks run (smoke tests, --runs 1): figures only, never timing assertions."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from helpers import REPO


def run_benchmark(name: str, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / name), *args], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result


@pytest.mark.browser  # it drives Chromium too
def test_the_peer_benchmark_runs_every_way_on_every_catalogue_pdf():
    result = run_benchmark("peers.py", "--runs", "1")
    rows = json.loads(result.stdout.strip().splitlines()[-1])["results"]
    assert [r["way"] for r in rows] == ["build-cold", "build-unchanged", "build-one-edit", "handout-first", "handout",
                                        "weasyprint-one-process", "weasyprint-command", "chromium"]
    count = rows[0]["pdfs"]
    catalogue = [r for r in rows if not r["way"].startswith("handout")]
    assert count > 0 and all(r["pdfs"] == count and r["bytes"] > 0 and r["seconds"] > 0 for r in catalogue)
    assert all(r["pdfs"] == 1 and r["bytes"] > 0 for r in rows if r["way"].startswith("handout"))
    assert "ratio = time / the full build's" in result.stdout


def test_the_build_benchmark_runs():
    result = run_benchmark("bench.py", "--runs", "1", "--copies", "1")
    assert "personalised dvt + insert" in result.stdout and "peak memory" in result.stdout


def test_the_batch_benchmark_runs():
    result = run_benchmark("batch.py", "--rows", "3")
    assert re.search(r"^\s+3\s+3\s+[\d.]+ s", result.stdout, re.M), result.stdout
