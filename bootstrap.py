"""First-use setup for build.py and test.py, using only the standard library.

It makes `.venv` with the pinned packages from pyproject.toml, installs Pango through apt-get
when the system lacks it, then re-runs the command inside `.venv`. Later runs only compare a
stamp, so they cost a file read. Inside `.venv` it keeps clearleaf/ compiled and WeasyPrint's C
declarations compiled for cffi, so that each command and each process that renders starts sooner.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".clearleaf-installed"
# What WeasyPrint loads at run time (https://doc.courtbouillon.org/weasyprint/stable/first_steps.html).
# HarfBuzz-Subset makes WeasyPrint subset fonts without its deprecated fontTools fallback.
SYSTEM_LIBS = {"libpango-1.0.so.0": "libpango-1.0-0", "libpangoft2-1.0.so.0": "libpangoft2-1.0-0",
               "libharfbuzz.so.0": "libharfbuzz0b", "libharfbuzz-subset.so.0": "libharfbuzz-subset0",
               "libfontconfig.so.1": "libfontconfig1"}

# The print tests run a private CUPS scheduler and queue on loopback; the QR tests render a page
# (pdftoppm) and scan it as a phone would (zbarimg); the desk's browser tests drive Debian's Chromium
# through Playwright (tests/browser.py). Playwright's own browser download is never used: it needs
# a host other than the package registries.
TEST_TOOLS = {"/usr/sbin/cupsd": "cups-daemon", "/usr/bin/lp": "cups-client", "/usr/sbin/lpadmin": "cups-client",
              "/usr/bin/pdftoppm": "poppler-utils", "/usr/bin/zbarimg": "zbar-tools",
              "/usr/bin/chromium": "chromium"}


def say(message: str) -> None:
    print(f"[setup] {message}", file=sys.stderr, flush=True)


def requirements(groups: tuple[str, ...]) -> list[str]:
    """Return the pinned requirements for the given groups ('run' and optional extras)."""
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    reqs = list(data["dependencies"])
    for group in groups:
        if group != "run":
            reqs += data["optional-dependencies"][group]
    return reqs


def stamp_for(groups: tuple[str, ...]) -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return f"{digest} {' '.join(sorted(groups))}"


def installed(groups: tuple[str, ...]) -> bool:
    """Return True when .venv already holds these groups for this pyproject.toml."""
    if not STAMP.is_file() or not VENV_PYTHON.exists():
        return False
    digest, _, have = STAMP.read_text().strip().partition(" ")
    return digest == stamp_for(groups).split(" ")[0] and set(groups) <= set(have.split())


def apt_install(packages: list[str]) -> None:
    """Install Debian packages, as root or through sudo; stop with a clear message otherwise."""
    prefix = [] if os.geteuid() == 0 else (["sudo"] if shutil.which("sudo") else None)
    if prefix is None or not shutil.which("apt-get"):
        sys.exit(f"setup: please install these system packages, then run again: {' '.join(packages)}")
    say(f"installing system packages: {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(prefix + ["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(prefix + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
                   check=True, env=env)


def _loadable(soname: str) -> bool:
    # dlopen is what WeasyPrint will do, and it is much faster than asking ldconfig.
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def ensure_system_libs(groups: tuple[str, ...]) -> None:
    missing = [pkg for lib, pkg in SYSTEM_LIBS.items() if not _loadable(lib)]
    if "test" in groups:
        missing += [pkg for tool, pkg in TEST_TOOLS.items() if not Path(tool).exists()]
    if missing:
        apt_install(sorted(set(missing)))


def ensure_venv(groups: tuple[str, ...]) -> None:
    if installed(groups):
        return
    if not VENV_PYTHON.exists():
        try:
            import ensurepip  # noqa: F401  Debian ships venv's pip support separately.
        except ImportError:
            apt_install([f"python3.{sys.version_info.minor}-venv"])
        say(f"creating {VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    have = STAMP.read_text().split()[1:] if STAMP.is_file() else []
    wanted = tuple(sorted(set(groups) | set(have)))
    say("installing Python packages into .venv (first run only)")
    subprocess.run([str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    *requirements(wanted)], check=True)
    STAMP.write_text(stamp_for(wanted) + "\n")


def ensure_ready(script: str, groups: tuple[str, ...] = ("run",)) -> None:
    """Make sure everything is installed, then continue inside .venv (re-running if needed)."""
    try:
        ensure_system_libs(groups)
        ensure_venv(groups)
    except subprocess.CalledProcessError as exc:
        sys.exit(f"setup failed: {' '.join(map(str, exc.cmd))} exited with {exc.returncode}")
    if Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(script).resolve()), *sys.argv[1:]])
    compile_own_code()
    prepare_weasyprint()


def compile_own_code() -> None:
    """Keep clearleaf/'s compiled bytecode up to date, as pip does for installed packages.

    Where Python may not write it itself (PYTHONDONTWRITEBYTECODE, as on many CI machines, or a
    folder the service cannot write to), every command would otherwise compile the whole package
    from source: about 0.1 s of each run. Only changed files are compiled; a folder that cannot
    be written is left as it is.
    """
    import compileall

    try:
        compileall.compile_dir(str(ROOT / "clearleaf"), quiet=2)  # quiet=2: not even errors
    except OSError:
        pass


def prepare_weasyprint() -> None:
    """Keep WeasyPrint's C declarations compiled in .venv, so that no process parses them to render.

    Inside .venv only, where cffi and WeasyPrint are installed. When they are up to date this
    costs a hash of two small files; where .venv cannot be written, nothing is written and
    WeasyPrint is imported the ordinary way (clearleaf/weasy_compat.py, prepare_cdef).
    """
    from clearleaf import weasy_compat

    weasy_compat.prepare_cdef()
