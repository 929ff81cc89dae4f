#!/usr/bin/env python3
"""Print the desk's speed and memory, and a warm Chromium's for the same handout: python3 benchmarks/desk.py [--rounds N].

The desk runs as `build.py serve --workers 2 --allow-draft` on this project's own leaflets (dvt
and its venous-stent insert are drafts). One measured request is what a nurse's browser does
after pressing Preview: POST /leaflets/dvt with a full set of patient details, then GET the
iframe's /handouts/<token>/preview.pdf; it is timed from sending the POST to having the PDF.
Memory is the summed RSS of the server and all its child processes, read from /proc every 50 ms.

The figure to beat is Debian's Chromium, warm under Playwright (one browser, one page already
open), printing the same personalised HTML: set_content + pdf. Figures, never assertions.
"""

import argparse
import io
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bootstrap import ensure_ready  # noqa: E402

ensure_ready(__file__, ("run", "test"))  # httpx2, pypdf and Playwright are in the test group

LEAFLET, INSERT = "dvt", "venous-stent"
WORKERS = 2
WARMUP = 3
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage"]  # as tests/browser.py
TARGET_P50_MS = 300
TARGET_PEAK_MB = 300
# A full set of patient details, as the desk's form sends them (reference is added per request).
PATIENT = {
    "name": "Zoë Ó'Brien-Łukasiewicz",
    "issued": "",
    "clinician": "Dr A. Patel",
    "contact_phone": "0161 496 0000",
    "medication.name": "Apixaban",
    "medication.dose": "5 mg",
    "medication.how_often": "Twice a day, morning and evening",
    "medication.until": "26 February 2027",
    "follow_up": "Vascular clinic 4, 3 December 2026, 10:30",
    "note": "Wear the compression stocking on your left leg every day. Bring this leaflet to clinic.",
}
ACCESS = re.compile(r"^(GET|POST) (\S+) (\d{3}) (\d+) ms$", re.M)


# --- memory, from /proc -------------------------------------------------------------------------

def descendants(pid: int) -> list[int]:
    """Return pid and every process below it, from /proc/<pid>/task/*/children."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            tasks = list(Path(f"/proc/{p}/task").glob("*/children"))
        except OSError:
            continue  # it ended while we looked
        for task in tasks:
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                pass
    return found


PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
LASTING = 1.0  # s: a process seen for less (lpstat, a fork about to exec, Chromium's print helpers) is transient


def rss_kb(pid: int) -> int | None:
    """Return a process's RSS in kB from /proc/<pid>/statm (cheap), or None when it has gone."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return None


def pss_kb(pid: int) -> int:
    """Return a process's PSS in kB (shared pages divided among their users); 0 when it has gone."""
    try:
        return int(re.search(r"^Pss:\s+(\d+) kB", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M).group(1))
    except (OSError, AttributeError):
        return 0


def cpu_by_process(pids) -> dict[int, float]:
    """Return each live process's CPU seconds so far, its own and its reaped children's (user + system)."""
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        found[pid] = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime
    return found


def label(pid: int) -> str:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "(gone before it was named)"
    if not args[0]:
        return "(exited, not yet reaped)"
    line = " ".join(args)
    name = Path(args[0]).name
    if "build.py" in line:
        return "desk server (build.py serve)"
    if "resource_tracker" in line:
        return "multiprocessing resource tracker"
    if "multiprocessing" in line:
        return "render worker (WeasyPrint)"
    if "--type=" in line:
        kind = re.search(r"--type=(\S+)", line).group(1)
        sub = re.search(r"--utility-sub-type=(\S+)", line)
        return f"chromium {kind}" + (f" ({sub.group(1).split('.')[0]})" if sub else "")
    if name in ("chromium", "chrome") or "chromium" in args[0]:
        return "chromium browser"
    if name == "node" or "playwright" in line:
        return "playwright driver (node)"
    return name


class MemorySampler(threading.Thread):
    """Sample the RSS of every process in some trees every 50 ms (PSS every 0.5 s), keeping the peaks.

    Summed RSS counts pages that processes share (libraries, a fork's copy-on-write pages) once
    per process; PSS shares them out, so summed PSS is what the tree really holds. A process is
    known by its pid and what it runs: a fork that then runs lpstat, or a render worker, or a
    Chromium zygote's child that becomes a renderer, counts as a short-lived fork, then as itself.
    """

    def __init__(self, roots, interval: float = 0.05, pss_every: int = 10):
        super().__init__(daemon=True)
        self.roots, self.interval, self.pss_every = roots, interval, pss_every  # roots() -> root pids
        self.samples: list[dict[tuple, int]] = []  # one {(pid, label): RSS kB} per sample
        self.seen: dict[tuple, list] = {}           # (pid, label) -> [first seen, last seen]
        self.peak_pss = 0
        self.failures: list[str] = []
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            self.safe_sample()
            self._halt.wait(self.interval)
        self.safe_sample()

    def safe_sample(self):
        try:
            self.sample()
        except Exception as exc:  # noqa: BLE001  a process ending mid-read must not stop the sampling
            self.failures.append(repr(exc))

    def sample(self):
        now = time.monotonic()
        sizes = {}
        for pid in [pid for root in self.roots() for pid in descendants(root)]:
            kb = rss_kb(pid)
            if not kb:  # gone, or a zombie
                continue
            key = (pid, label(pid))
            sizes[key] = kb
            self.seen.setdefault(key, [now, now])[1] = now
        if len(self.samples) % self.pss_every == 0:
            self.peak_pss = max(self.peak_pss, sum(pss_kb(pid) for pid, _ in sizes))
        self.samples.append(sizes)

    def stop(self):
        self._halt.set()
        self.join()

    def lasting(self, key) -> bool:
        return self.seen[key][1] - self.seen[key][0] >= LASTING

    def name_of(self, pid: int) -> str:
        """Return what a process ran last, as sampled."""
        names = [(seen[1], name) for (p, name), seen in self.seen.items() if p == pid]
        return max(names)[1] if names else label(pid)

    def peaks(self, skip: str = "\0") -> dict:
        """Return the peaks in MB: summed RSS of all processes, of lasting ones only, and summed PSS.

        skip: leave out processes whose label starts with it (the PSS figure keeps them)."""
        every = max((sum(kb for key, kb in s.items() if not key[1].startswith(skip))
                     for s in self.samples), default=0)
        lasting = max((sum(kb for key, kb in s.items() if self.lasting(key) and not key[1].startswith(skip))
                       for s in self.samples), default=0)
        alive = max((len(s) for s in self.samples), default=0)
        return {"rss": every / 1024, "lasting": lasting / 1024, "pss": self.peak_pss / 1024, "alive": alive}

    def largest(self) -> float:
        """Return the peak RSS of the largest single process, in MB."""
        return max((kb for s in self.samples for kb in s.values()), default=0) / 1024

    def report(self, indent="    "):
        """Print each lasting process's peak RSS, and the transient ones grouped by what they were."""
        peak = {}
        for s in self.samples:
            for key, kb in s.items():
                peak[key] = max(peak.get(key, 0), kb)
        transient = {}
        for (pid, name), kb in sorted(peak.items(), key=lambda kv: -kv[1]):
            if self.lasting((pid, name)):
                print(f"{indent}{kb / 1024:6.0f} MB  {name} (pid {pid})")
            else:
                group = transient.setdefault(name, [0, 0])
                group[0] += 1
                group[1] = max(group[1], kb)
        for name, (count, kb) in sorted(transient.items(), key=lambda kv: -kv[1][1]):
            print(f"{indent}{kb / 1024:6.0f} MB  {name}: {count} short-lived (< {LASTING:g} s), the largest")


def cpu_split(before: dict, after: dict, sampler: MemorySampler, count: int) -> tuple[float, str]:
    """Return CPU ms per item, and 'label ms, ...' by kind of process, between two cpu_by_process readings."""
    by = {}
    for pid, seconds in after.items():
        name = sampler.name_of(pid)
        by[name] = by.get(name, 0) + seconds - before.get(pid, 0)
    total = sum(by.values())
    parts = ", ".join(f"{name} {seconds / count * 1000:.0f}" for name, seconds in
                      sorted(by.items(), key=lambda kv: -kv[1]) if seconds / count >= 0.0005)
    return total / count * 1000, parts


# --- figures ------------------------------------------------------------------------------------

def pct(values, q):
    """Return the q-th percentile (nearest rank, interpolated) of values."""
    values = sorted(values)
    if len(values) == 1:
        return values[0]
    k = (len(values) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def ms(seconds_list):
    return [s * 1000 for s in seconds_list]


def line(name, values_ms, extra=""):
    print(f"  {name:<34} p50 {pct(values_ms, 50):6.0f} ms  p95 {pct(values_ms, 95):6.0f} ms  "
          f"min {min(values_ms):5.0f}  max {max(values_ms):5.0f}{extra}")


def pdf_pages(data: bytes) -> int:
    import pypdf

    return len(pypdf.PdfReader(io.BytesIO(data)).pages)


# --- the desk -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Desk:
    """`build.py serve` in its own process, its output in a log file (the access log is on stderr)."""

    def __init__(self, workers: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tempfile.TemporaryDirectory(prefix="clearleaf-desk-bench-")
        self.log = Path(self.tmp.name) / "desk.log"
        self.final = None  # the whole log, kept once the server has stopped
        env = {**os.environ, "TMPDIR": self.tmp.name, "PYTHONUNBUFFERED": "1"}
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "build.py"), "serve", "--port", str(self.port), "--workers",
                 str(workers), "--allow-draft"], stdout=out, stderr=subprocess.STDOUT, env=env,
                stdin=subprocess.DEVNULL, cwd=ROOT)

    def wait(self, timeout=90.0) -> float:
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if self.process.poll() is not None:
                raise SystemExit(f"the desk exited with {self.process.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise SystemExit(f"the desk did not answer within {timeout:g} s:\n{self.output()}")

    def output(self) -> str:
        if self.final is not None:
            return self.final
        return self.log.read_text("utf-8", errors="replace")

    def access(self, since: int = 0):
        """Return (method, path, status, ms) for each access-log line after character offset since."""
        return [(m, p, int(s), int(t)) for m, p, s, t in ACCESS.findall(self.output()[since:])]

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        leftover = [p for p in Path(self.tmp.name).rglob("*") if p.name != "desk.log"]
        self.final = self.output()
        self.tmp.cleanup()
        return leftover


class Client:
    """One staff member's browser: its own cookie jar and CSRF token, read once from the form page."""

    def __init__(self, url: str):
        import httpx2 as httpx

        self.http = httpx.Client(base_url=url, timeout=120, follow_redirects=False)
        form = self.http.get(f"/leaflets/{LEAFLET}")
        if form.status_code != 200:
            raise SystemExit(f"GET /leaflets/{LEAFLET} answered {form.status_code} "
                             f"(a staff login is configured? this benchmark needs a desk without one)")
        self.csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        box = re.search(rf'<input[^>]*name="inserts" value="{INSERT}"[^>]*>', form.text)
        if box is None or "disabled" in box.group(0):
            raise SystemExit(f"the form offers no usable '{INSERT}' insert for {LEAFLET}")

    def handout(self, n: int):
        """POST the form, GET the preview PDF; return (total s, POST s, GET s, pdf bytes)."""
        form = {"csrf": self.csrf, "inserts": INSERT, "lang": "en", "paper": "a4",
                "reference": f"MRN-{n:06d}", **PATIENT}
        start = time.perf_counter()
        posted = self.http.post(f"/leaflets/{LEAFLET}", data=form)
        mid = time.perf_counter()
        if posted.status_code != 200:
            errors = re.findall(r'class="error"[^>]*>([^<]+)', posted.text)
            raise SystemExit(f"POST /leaflets/{LEAFLET} answered {posted.status_code}: {errors or posted.text[:300]}")
        token = re.search(r'/handouts/([A-Za-z0-9_-]+)/preview\.pdf', posted.text).group(1)
        got = self.http.get(f"/handouts/{token}/preview.pdf")
        end = time.perf_counter()
        if got.status_code != 200 or not got.content.startswith(b"%PDF"):
            raise SystemExit(f"GET preview.pdf answered {got.status_code} {got.headers.get('content-type')}")
        return end - start, mid - start, end - mid, got.content

    def close(self):
        self.http.close()


def server_times(entries):
    post = [t for m, p, s, t in entries if m == "POST" and p == f"/leaflets/{LEAFLET}"]
    get = [t for m, p, s, t in entries if m == "GET" and p.endswith("/preview.pdf")]
    return post, get


def memory_lines(sampler: MemorySampler, what: str, skip: str = "\0") -> dict:
    peaks = sampler.peaks(skip)
    print(f"  peak memory, {what}: {peaks['rss']:.0f} MB RSS summed over every process; {peaks['lasting']:.0f} MB over "
          f"the lasting ones; {peaks['pss']:.0f} MB PSS (shared pages counted once); at most {peaks['alive']} "
          f"processes at once; {len(sampler.samples)} samples. Each process's own peak RSS:")
    if sampler.failures:
        print(f"  PROBLEM: {len(sampler.failures)} samples failed, e.g. {sampler.failures[0]}")
    sampler.report()
    return peaks


def bench_desk(rounds: int, clients: int, per_client: int) -> dict:
    print(f"\nThe desk: build.py serve --workers {WORKERS} --allow-draft, {LEAFLET} + {INSERT}, A4, full patient details")
    desk = Desk(WORKERS)
    sampler = MemorySampler(lambda: [desk.process.pid])
    sampler.start()
    result = {}

    def cpu_now():
        return cpu_by_process(descendants(desk.process.pid))

    try:
        started = desk.wait()
        print(f"  started (answering /healthz) in {started:.2f} s")
        client = Client(desk.url)
        cold = []
        for n in range(WARMUP):
            total, _, _, data = client.handout(n)
            cold.append(total)
        # The first handout of a leaflet after the desk starts also renders the part after the
        # patient's page, which every later patient shares (clearleaf/personal.py).
        print(f"  first handout after start (nothing cached): {cold[0] * 1000:.0f} ms; "
              f"the next: {cold[1] * 1000:.0f} ms")
        result.update(cold_ms=cold[0] * 1000)
        pages = pdf_pages(data)
        import pypdf

        first = pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text()
        personal = all(v in first for v in ("Apixaban", "5 mg", "26 February 2027"))
        print(f"  PDF: {pages} pages, {len(data) / 1024:.0f} KB; page 1 shows the medicine: {'yes' if personal else 'NO'}")

        # One client, one request after another.
        mark = len(desk.output())
        totals, posts, gets = [], [], []
        cpu = cpu_now()
        wall = time.perf_counter()
        for n in range(rounds):
            total, post, get, data = client.handout(100 + n)
            totals.append(total), posts.append(post), gets.append(get)
        wall = time.perf_counter() - wall
        cpu_ms, cpu_parts = cpu_split(cpu, cpu_now(), sampler, rounds)
        client.close()
        s_post, s_get = server_times(desk.access(mark))
        print(f"  1 client, {rounds} requests after {WARMUP} warm-up: {rounds / wall:.2f} handouts/s")
        line("POST + GET PDF (client)", ms(totals))
        line("  POST alone (client)", ms(posts))
        line("  GET preview.pdf (client)", ms(gets))
        if s_post:
            line("  POST, server's access log", s_post)
            line("  GET preview.pdf, server's log", s_get)
        print(f"  CPU per handout: {cpu_ms:.0f} ms ({cpu_parts})")
        result.update(p50=pct(ms(totals), 50), p95=pct(ms(totals), 95), rate1=rounds / wall, pages=pages,
                      cpu_ms=cpu_ms, bytes=len(data))

        # Several clients at once, each its own session (cookie jar and CSRF token).
        sessions = [Client(desk.url) for _ in range(clients)]
        barrier = threading.Barrier(clients + 1)
        times = [[] for _ in range(clients)]
        failures = []

        def run(i):
            barrier.wait()
            try:
                for n in range(per_client):
                    times[i].append(sessions[i].handout(1000 * (i + 1) + n)[0])
            except BaseException as exc:  # noqa: BLE001  a SystemExit in a thread: report it below
                failures.append(exc)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        mark = len(desk.output())
        cpu = cpu_now()
        barrier.wait()
        wall = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - wall
        for s in sessions:
            s.close()
        if failures:
            raise SystemExit(f"a client failed: {failures[0]}")
        every = ms([t for ts in times for t in ts])
        cpu_ms, cpu_parts = cpu_split(cpu, cpu_now(), sampler, len(every))
        s_post, _ = server_times(desk.access(mark))
        print(f"  {clients} clients at once, {clients}x{per_client} requests: {len(every) / wall:.2f} handouts/s")
        line("POST + GET PDF (client)", every)
        if s_post:
            line("  POST, server's access log", s_post)
        print(f"  CPU per handout: {cpu_ms:.0f} ms ({cpu_parts})")
        result.update(c_p50=pct(every, 50), c_p95=pct(every, 95), rate_c=len(every) / wall)
    except SystemExit as exc:
        time.sleep(0.5)  # the server logs a traceback after it has answered
        tail = "\n".join(desk.output().splitlines()[-40:])
        raise SystemExit(f"{exc}\n--- the desk's output, last 40 lines ---\n{tail}") from None
    finally:
        try:
            sampler.stop()
        finally:
            leftover = desk.stop()
    bad = [e for e in desk.access() if e[2] >= 400]
    if bad or "Traceback" in desk.output():
        print(f"  PROBLEM in the server's output: {len(bad)} error responses; "
              f"{'a traceback' if 'Traceback' in desk.output() else 'no traceback'}")
    if leftover:
        print(f"  PROBLEM: left in the server's TMPDIR after it stopped: {[p.name for p in leftover]}")
    peaks = memory_lines(sampler, "server + children")
    result.update(peak_mb=peaks["rss"], lasting_mb=peaks["lasting"], pss_mb=peaks["pss"],
                  mem_ok=len(sampler.samples) > 0 and len(sampler.failures) <= 0.05 * len(sampler.samples)
                  and peaks["alive"] >= 2 + WORKERS)  # the server, its workers and the resource tracker
    return result


# --- the figure to beat: a warm Chromium ---------------------------------------------------------

def personalised_html() -> str:
    """The handout's HTML as the desk renders it, with the same patient, styles inlined as builder.html does."""
    from markupsafe import Markup

    from clearleaf import builder, pdf, render
    from clearleaf.config import Project
    from clearleaf.errors import ContentError, Problems
    from clearleaf.handout import check_values

    project = Project(ROOT)
    today = date.today()
    problems = Problems()
    patient = check_values({**PATIENT, "reference": "MRN-000001"}, "benchmark", {}, today, problems,
                           pdf.font_characters())
    library = builder.handout_library(project, LEAFLET, [INSERT], problems)
    style = pdf.Style("a4", "standard")
    jobs = builder.plan(library, [LEAFLET], [style], [INSERT], Path("."), True, today, problems, ["en"])
    problems.raise_if_any(ContentError)
    css = [pdf.font_face_css()] + [(project.styles / n).read_text("utf-8") for n in pdf.stylesheet_names(style)]
    preview = {"base": project.leaflets.resolve().as_uri() + "/",
               "css": Markup("\n".join(css).replace("</", "<\\/"))}
    return render.render_html(project, library.org, jobs[0].parts, "a4", today, preview,
                              patient=patient.as_context(), lang=jobs[0].lang)


def bench_chromium(rounds: int) -> dict | None:
    print(f"\nWarm Chromium ({CHROMIUM}, Playwright): set_content + pdf(A4, backgrounds), same handout and patient")
    if not CHROMIUM.exists():
        print(f"  skipped: {CHROMIUM} is not installed (apt-get install chromium)")
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        print(f"  skipped: Playwright is not installed ({exc})")
        return None
    start = time.perf_counter()
    html = personalised_html()
    print(f"  personalised HTML from the library: {len(html) / 1024:.0f} KB in {time.perf_counter() - start:.2f} s "
          "(cold; the desk pays this render too, inside its POST)")
    me = os.getpid()

    def drivers():
        """The Playwright driver: the child of this process that runs node, Chromium's parent."""
        children = [int(c) for task in Path(f"/proc/{me}/task").glob("*/children") for c in task.read_text().split()]
        return [c for c in children if label(c).startswith("playwright driver")]

    def tree():
        return [pid for d in drivers() for pid in descendants(d)]

    sampler = MemorySampler(drivers)
    sampler.start()
    figures = {}
    try:
        with tempfile.TemporaryDirectory(prefix="clearleaf-chromium-bench-") as tmp, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            version = browser.version
            page = browser.new_page()
            # A file:// page first: from about:blank Chromium refuses the file:// fonts and images the
            # HTML links to, and would print fallback fonts and no diagrams, which is faster and wrong.
            blank = Path(tmp) / "blank.html"
            blank.write_text("<!doctype html><title>blank</title>")
            page.goto(blank.as_uri())
            # As asked (untagged), then tagged with an outline: the desk's PDFs are tagged (PDF/UA).
            for name, options in (("plain", {}), ("tagged", {"tagged": True, "outline": True})):
                for _ in range(WARMUP):
                    page.set_content(html)
                    data = page.pdf(format="A4", print_background=True, **options)
                loaded = page.evaluate("""() => ({
                    images: [...document.images].every(i => i.complete && i.naturalWidth > 0),
                    fonts: [...document.fonts].filter(f => f.status === 'error').length })""")
                times = []
                cpu = cpu_by_process(tree())
                for _ in range(rounds):
                    t = time.perf_counter()
                    page.set_content(html)
                    data = page.pdf(format="A4", print_background=True, **options)
                    times.append(time.perf_counter() - t)
                cpu_ms, cpu_parts = cpu_split(cpu, cpu_by_process(tree()), sampler, rounds)
                figures[name] = {"p50": pct(ms(times), 50), "p95": pct(ms(times), 95), "rate": rounds / sum(times),
                                 "pages": pdf_pages(data), "bytes": len(data), "cpu_ms": cpu_ms, "cpu": cpu_parts,
                                 "times": ms(times), "ok": loaded["images"] and not loaded["fonts"],
                                 "loaded": loaded, "options": options}
            browser.close()
    finally:
        sampler.stop()
    print(f"  Chromium {version}, one page, {rounds} rounds after {WARMUP} warm-up each:")
    for name, f in figures.items():
        call = ", ".join(["A4", "print_background"] + list(f["options"]))
        line(f"set_content + pdf({call})", f["times"], f"  {f['rate']:.2f}/s")
        print(f"    PDF: {f['pages']} pages, {f['bytes'] / 1024:.0f} KB; images and fonts loaded: "
              f"{'yes' if f['ok'] else 'NO ' + str(f['loaded'])}; CPU per PDF {f['cpu_ms']:.0f} ms ({f['cpu']})")
    peaks = memory_lines(sampler, "Playwright driver + Chromium")
    alone = sampler.peaks(skip="playwright driver")
    print(f"    Chromium alone (no driver): {alone['rss']:.0f} MB RSS summed, {alone['lasting']:.0f} MB over lasting processes")
    return {**figures["plain"], "tagged": figures["tagged"], "peak_mb": peaks["rss"], "lasting_mb": peaks["lasting"],
            "pss_mb": peaks["pss"], "alone_mb": alone["lasting"]}


# --- the machine and the summary ---------------------------------------------------------------

def machine():
    from importlib.metadata import version

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.machine())
    mem = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) / 1024 / 1024
    print(f"machine: {len(os.sched_getaffinity(0))} CPUs usable (nproc), {cpu}, {mem:.0f} GB RAM; "
          f"Python {platform.python_version()}; WeasyPrint {version('weasyprint')}; "
          f"Playwright {version('playwright')}")
    load()


def load():
    """Print the load average: other work on the machine slows every figure here."""
    one, five, _ = os.getloadavg()
    cpus = len(os.sched_getaffinity(0))
    busy = "  (busy: other work competes for the CPUs, so the timings are pessimistic)" if one > cpus / 2 else ""
    print(f"load average: {one:.1f} (1 min), {five:.1f} (5 min) on {cpus} CPUs{busy}")


def summary(desk: dict, chrome: dict | None, clients: int):
    print("\nSummary                      p50 ms  p95 ms  per s  CPU ms/PDF  pages   KB   peak MB: RSS sum, lasting, PSS")
    print(f"  desk, 1 client            {desk['p50']:7.0f} {desk['p95']:7.0f} {desk['rate1']:6.2f} {desk['cpu_ms']:10.0f}"
          f"  {desk['pages']:5d} {desk['bytes'] / 1024:4.0f}   {desk['peak_mb']:7.0f} {desk['lasting_mb']:8.0f} "
          f"{desk['pss_mb']:5.0f}")
    print(f"  desk, {clients} clients {'':11}{desk['c_p50']:7.0f} {desk['c_p95']:7.0f} {desk['rate_c']:6.2f}")
    print(f"  desk, first after start {desk['cold_ms']:7.0f}          (the shared rest of the handout not yet cached)")
    if chrome:
        for name, f in (("warm Chromium", chrome), ("  tagged + outline", chrome["tagged"])):
            print(f"  {name:<24}{f['p50']:7.0f} {f['p95']:7.0f} {f['rate']:6.2f} {f['cpu_ms']:10.0f}"
                  f"  {f['pages']:5d} {f['bytes'] / 1024:4.0f}", end="")
            print(f"   {chrome['peak_mb']:7.0f} {chrome['lasting_mb']:8.0f} {chrome['pss_mb']:5.0f}  (driver + browser)"
                  if f is chrome else "")

    def verdict(ok):
        return "PASS" if ok else "MISS"

    print("\nTargets")
    print(f"  {verdict(desk['p50'] <= TARGET_P50_MS)}  desk p50 <= {TARGET_P50_MS} ms (1 client): {desk['p50']:.0f} ms")
    if chrome:
        print(f"  {verdict(desk['p50'] <= chrome['p50'])}  desk no slower than warm Chromium (p50): "
              f"{desk['p50']:.0f} ms vs {chrome['p50']:.0f} ms")
    else:
        print("  ----  desk no slower than warm Chromium: not measured (no Chromium)")
    mark = verdict(desk["peak_mb"] <= TARGET_PEAK_MB) if desk["mem_ok"] else "????"  # a sampler that missed processes
    print(f"  {mark}  desk peak memory <= {TARGET_PEAK_MB} MB with {WORKERS} "
          f"workers (RSS summed): {desk['peak_mb']:.0f} MB (lasting processes {desk['lasting_mb']:.0f} MB, "
          f"PSS {desk['pss_mb']:.0f} MB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30, help="measured requests for one client, and Chromium "
                        "rounds (default 30)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4), each making "
                        "rounds/2 requests")
    args = parser.parse_args()
    if args.rounds < 1 or args.clients < 1:
        parser.error("--rounds and --clients must be at least 1")
    machine()
    desk = bench_desk(args.rounds, args.clients, max(1, args.rounds // 2))
    chrome = bench_chromium(args.rounds)
    summary(desk, chrome, args.clients)
    load()


if __name__ == "__main__":
    main()
