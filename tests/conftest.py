import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from hypothesis import HealthCheck, settings

# Hypothesis: deterministic in CI, a few more examples when asked for.
settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=25,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


ROOT = Path(__file__).resolve().parents[1]


def make_book(out: Path = ROOT, env: dict | None = None, timeout: float = 3600):
    """Run the Makefile's book build (``make book-only``) with this interpreter's tools.

    The Makefile owns the build command and its flags; ``out`` is its BOOK_OUT (the build
    goes to ``out/_build/html``). Returns (exit code, log, seconds).
    """
    make = shutil.which("make")
    if not make:
        pytest.fail("make is not installed: the book build is a Makefile target")
    cmd = [make, "--no-print-directory", "-C", str(ROOT), "book-only",
           f"BIN={Path(sys.executable).parent}", f"BOOK_OUT={out}"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - start


@pytest.fixture(scope="session")
def build_log() -> str:
    """Run the full build once per session; fail with the end of the log if it fails."""
    code, log, seconds = make_book()
    if code != 0:
        tail = "\n".join(log.splitlines()[-80:])
        pytest.fail(f"book build failed (exit {code}) after {seconds:.0f} s:\n{tail}",
                    pytrace=False)
    print(f"book built in {seconds:.1f} s")
    return log


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(directory: Path, port: int | None = None):
    """``python -m http.server`` on the loopback interface, serving ``directory``; yields the
    base URL (ending in '/') and stops the server afterwards."""
    port = port or free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                             "--directory", str(directory)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"http.server did not start on port {port}")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
