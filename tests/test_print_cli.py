"""build.py print end to end: a private CUPS scheduler, a raw queue, an IPP printer on loopback."""

from __future__ import annotations

import io

import pypdf

from helpers import (DISTINCT, FULL, PAPER_SIZES, SAMPLE, assert_clean_error, assert_ok, log_lines, run,
                     wait_received, write_patient)


def test_print_sends_the_personalised_handout_and_reports_the_job(project, tmp_path, cups, monkeypatch):
    monkeypatch.setenv("CUPS_SERVER", cups.server)
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr("tempfile.tempdir", str(private_tmp))
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    before = len(cups.printer.jobs)
    result = run(project, "print", "sample", "--insert", "second-insert", "--patient", patient,
                 "--printer", cups.queue, "--paper", "letter", "--duplex", "--copies", "1")
    assert_ok(result)
    job = result.stdout.split(" as job ")[1].split()[0]
    assert job.startswith(f"{cups.queue}-")
    assert cups.wait_for_job(job) == "completed"
    (received,) = wait_received(cups, before)
    reader = pypdf.PdfReader(io.BytesIO(received.data))
    box = reader.pages[0].mediabox
    assert (round(float(box.width), 1), round(float(box.height), 1)) == PAPER_SIZES["letter"]
    assert DISTINCT in reader.pages[0].extract_text()
    assert received.attributes["media"] == ["Letter"]
    assert received.attributes["sides"] == ["two-sided-long-edge"]
    assert DISTINCT not in repr(received.attributes)
    assert cups.documents() == []  # CUPS kept no copy of the document
    (line,) = log_lines(project)
    assert line["channel"] == "print" and line["paper"] == "letter" and line["duplex"] is True
    assert line["job"] == job and line["inserts"][0]["code"] == "FX-INS-202-EN"
    assert DISTINCT not in result.stdout + result.stderr
    assert list(private_tmp.iterdir()) == []  # nothing written on the way to the printer
    assert SAMPLE["code"] in str(received.attributes["job-name"])


def test_print_to_a_missing_printer_is_a_clean_error_and_nothing_is_recorded(project, tmp_path, cups, monkeypatch):
    monkeypatch.setenv("CUPS_SERVER", cups.server)
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    result = run(project, "print", "sample", "--patient", patient, "--printer", "no-such-ward")
    err = assert_clean_error(result, None, r"^printer 'no-such-ward': .+ — .+$")
    assert "lpstat -p" in err
    assert log_lines(project) == []


def test_print_without_cups_running_says_so(project, tmp_path, monkeypatch):
    from cups_server import free_port

    monkeypatch.setenv("CUPS_SERVER", f"127.0.0.1:{free_port()}")
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    err = assert_clean_error(run(project, "print", "sample", "--patient", patient, "--printer", "ward"))
    assert "not running" in err


def test_copies_out_of_range_is_a_usage_error(project, tmp_path):
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    assert run(project, "print", "sample", "--patient", patient, "--printer", "w", "--copies", "0").exit_code == 2
