"""Printing through a real CUPS scheduler: a private cupsd on 127.0.0.1 with a raw queue whose IPP
printer keeps what it receives (tests/cups_server.py, the `cups` fixture in conftest.py)."""

from __future__ import annotations

import io
import socket
import subprocess
import time

import pikepdf
import pypdf
import pytest
from cups_server import free_port
from helpers import PAPER_SIZES, SAMPLE, make_project, norm, set_front_matter

from clearleaf import builder, printing
from clearleaf.config import Project
from clearleaf.printing import PrintError, print_pdf

PATIENT = "Zebedee Quintrell-Okonkwo"
MEDIA = {"a4": "A4", "letter": "Letter"}


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory) -> dict[str, bytes]:
    """The fixture leaflet on A4 and letter, and on A4 personalised with a patient's name in its
    title (so in the PDF's metadata, as plain bytes) and on its pages."""
    root = tmp_path_factory.mktemp("print")
    plain = make_project(root / "plain")
    result = builder.build(Project(plain), ["sample"], ("a4", "letter"), (), root / "out")
    pdfs = {job.paper: job.path.read_bytes() for job in result.jobs}
    personal = make_project(root / "personal")
    set_front_matter(personal / "leaflets" / "sample.md", "title", f'"Handout for {PATIENT}"')
    result = builder.build(Project(personal), ["sample"], ("a4",), (), root / "personal-out")
    # Saved without object streams, so the name is in the file as plain bytes a scraper could find.
    with pikepdf.open(result.jobs[0].path) as pdf:
        buffer = io.BytesIO()
        pdf.save(buffer, object_stream_mode=pikepdf.ObjectStreamMode.disable, deterministic_id=True)
    pdfs["patient"] = buffer.getvalue()
    return pdfs


def pages(data: bytes) -> list[tuple[float, float]]:
    return [(round(float(p.mediabox.width), 2), round(float(p.mediabox.height), 2))
            for p in pypdf.PdfReader(io.BytesIO(data)).pages]


def gone_from_spool(cups, timeout: float = 5.0) -> list:
    """The document files still in the spool once cupsd has had time to delete them."""
    deadline = time.monotonic() + timeout
    while cups.documents() and time.monotonic() < deadline:
        time.sleep(0.05)
    return cups.documents()


def one_line(error: PrintError, printer: str) -> str:
    text = str(error)
    assert "\n" not in text and "Traceback" not in text, text
    assert text.startswith(f"printer '{printer}': ") and " — " in text, text
    return text


@pytest.fixture
def queue(cups):
    """A queue of its own on the shared scheduler, for tests that stop it or make it refuse jobs."""
    name = "side-room"
    cups.add_printer(name, cups.printer.uri)
    yield name
    cups.run("cancel", "-a", "-x", name)
    cups.run("lpadmin", "-x", name)


@pytest.mark.parametrize("paper, duplex", [("a4", False), ("letter", True)])
def test_the_printer_receives_the_exact_pdf_with_paper_and_sides(cups, pdfs, paper, duplex):
    sent = pdfs[paper]
    before = len(cups.printer.jobs)
    job_id = print_pdf(sent, cups.queue, paper, duplex=duplex, title=SAMPLE["code"], server=cups.server)
    assert job_id.startswith(f"{cups.queue}-")
    assert cups.wait_for_job(job_id) == "completed"

    received = cups.printer.received(before)
    assert len(received) == 1
    assert received[0].data == sent  # a raw queue: the printer gets the PDF byte for byte
    assert pages(received[0].data) == pages(sent)
    assert set(pages(received[0].data)) == {PAPER_SIZES[paper]}

    sides = "two-sided-long-edge" if duplex else "one-sided"
    job = cups.job_attributes(job_id)
    assert job["job-state"] == [9], job  # completed, not cancelled or aborted
    assert job["media"] == [MEDIA[paper]] and job["sides"] == [sides] and job["copies"] == [1]
    assert received[0].attributes["media"] == [MEDIA[paper]]
    assert received[0].attributes["sides"] == [sides]
    control = cups.control_file(job_id)
    assert b"media" in control and MEDIA[paper].encode() in control and sides.encode() in control


def test_nothing_of_the_document_is_left_on_disk(cups, pdfs):
    job_id = print_pdf(pdfs["a4"], cups.queue, "a4", title=SAMPLE["code"], server=cups.server)
    cups.wait_for_job(job_id)
    assert gone_from_spool(cups) == []
    # Job history is kept (PreserveJobHistory Yes), but it holds attributes only.
    control = cups.control_file(job_id)
    assert b"%PDF" not in control and len(control) < 4096


def test_copies_are_sent_once_each(cups, pdfs):
    # The test printer, like many, does not advertise copies-supported, so CUPS's ipp backend
    # sends the document once per copy.
    before = len(cups.printer.jobs)
    job_id = print_pdf(pdfs["a4"], cups.queue, "a4", copies=2, title=SAMPLE["code"], server=cups.server)
    cups.wait_for_job(job_id)
    received = cups.printer.received(before)
    assert [r.data for r in received] == [pdfs["a4"]] * 2
    assert cups.job_attributes(job_id)["copies"] == [2]


def test_the_server_can_come_from_cups_server(cups, pdfs, monkeypatch):
    monkeypatch.setenv("CUPS_SERVER", cups.server)
    job_id = print_pdf(pdfs["letter"], cups.queue, "letter", title=SAMPLE["code"])
    assert cups.wait_for_job(job_id) == "completed"


def test_the_patient_name_never_leaves_the_pdf(cups, pdfs, monkeypatch):
    sent = pdfs["patient"]
    reader = pypdf.PdfReader(io.BytesIO(sent))
    assert PATIENT in reader.metadata.title and "Zebedee Quintrell" in norm(reader.pages[0].extract_text())
    assert PATIENT.encode() in sent  # the name is in the bytes, so the checks below mean something

    argv = []
    real_run = subprocess.run

    def recording_run(args, *a, **kw):
        argv.append(list(args))
        return real_run(args, *a, **kw)

    monkeypatch.setattr(printing.subprocess, "run", recording_run)
    before = len(cups.printer.jobs)
    job_id = print_pdf(sent, cups.queue, "a4", title=SAMPLE["code"], server=cups.server)
    cups.wait_for_job(job_id)

    assert any(args[0] == "lp" for args in argv)
    assert not [args for args in argv if any(PATIENT in arg for arg in args)]
    job = cups.job_attributes(job_id)
    assert job["job-name"] == [SAMPLE["code"]]
    assert "document-name" not in job  # lp reads stdin, so no file name goes with the job
    assert PATIENT not in repr(job)
    (received,) = cups.printer.received(before)
    assert received.data == sent
    assert received.attributes["job-name"][0].endswith(SAMPLE["code"])
    assert PATIENT not in repr(received.attributes)
    control = cups.control_file(job_id)
    for encoded in (PATIENT.encode(), PATIENT.encode("utf-16-be"), PATIENT.split()[1].encode()):
        assert encoded not in control


def test_an_unknown_printer_is_named_with_how_to_list_them(cups, pdfs):
    with pytest.raises(PrintError) as caught:
        print_pdf(pdfs["a4"], "no-such-ward", "a4", server=cups.server)
    text = one_line(caught.value, "no-such-ward")
    assert "no printer named no-such-ward" in text and "lpstat -p" in text


def test_cups_not_running_says_so(pdfs):
    server = f"127.0.0.1:{free_port()}"
    with pytest.raises(PrintError) as caught:
        print_pdf(pdfs["a4"], "ward", "a4", server=server)
    text = one_line(caught.value, "ward")
    assert f"CUPS is not running on {server}" in text and "systemctl start cups" in text


def test_cups_not_installed_says_how_to_install_it(pdfs, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PrintError) as caught:
        print_pdf(pdfs["a4"], "ward", "a4", server="127.0.0.1:631")
    text = one_line(caught.value, "ward")
    assert "is not installed" in text and "install CUPS (Debian: apt-get install cups-client)" in text


def test_a_scheduler_that_never_answers_times_out(pdfs, monkeypatch):
    monkeypatch.setattr(printing, "COMMAND_TIMEOUT", 0.5)
    with socket.socket() as silent:  # accepts connections (the kernel does) but never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        server = f"127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(PrintError) as caught:
            print_pdf(pdfs["a4"], "ward", "a4", server=server)
    text = one_line(caught.value, "ward")
    assert f"CUPS on {server} did not answer" in text and "lpstat -o" in text


@pytest.mark.parametrize("copies", [0, -1, 21, 1.5, "2", True])
def test_bad_copies_are_refused_before_anything_is_sent(cups, pdfs, copies):
    before = len(cups.printer.jobs)
    with pytest.raises(PrintError) as caught:
        print_pdf(pdfs["a4"], cups.queue, "a4", copies=copies, server=cups.server)
    assert "ask for 1 to 20 copies" in one_line(caught.value, cups.queue)
    assert len(cups.printer.jobs) == before


def test_bad_paper_and_non_pdf_data_are_refused(cups, pdfs):
    with pytest.raises(PrintError) as caught:
        print_pdf(pdfs["a4"], cups.queue, "a3", server=cups.server)
    assert "use a4 or letter" in one_line(caught.value, cups.queue)
    with pytest.raises(PrintError) as caught:
        print_pdf(b"Dear Zebedee", cups.queue, "a4", server=cups.server)
    assert "not a PDF" in one_line(caught.value, cups.queue)


def test_a_stopped_printer_is_refused_with_its_reason(cups, pdfs, queue):
    cups.run("cupsdisable", "-r", "Paper jam in tray 2", queue)
    with pytest.raises(PrintError) as caught:
        print_pdf(pdfs["a4"], queue, "a4", server=cups.server)
    text = one_line(caught.value, queue)
    assert "stopped (Paper jam in tray 2)" in text and f"cupsenable {queue}" in text
    assert cups.run("lpstat", "-o", queue).stdout == ""  # nothing was queued


def test_a_queue_not_accepting_jobs_is_refused(cups, pdfs, queue):
    cups.run("cupsreject", "-r", "Moving to ward 7", queue)
    with pytest.raises(PrintError) as caught:
        print_pdf(pdfs["a4"], queue, "a4", server=cups.server)
    text = one_line(caught.value, queue)
    assert "not accepting jobs (Moving to ward 7)" in text and f"cupsaccept {queue}" in text


@pytest.mark.parametrize("name", ["", "-d", "ward 4", "ward/4", "#ward"])
def test_a_name_that_is_no_queue_name_is_refused(pdfs, name):
    with pytest.raises(PrintError) as caught:
        print_pdf(pdfs["a4"], name, "a4", server="127.0.0.1:631")
    assert "not a printer name" in one_line(caught.value, name)
