import os
import shutil
import subprocess
import sys
import time
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


def _jupyter_book() -> str:
    here = Path(sys.executable).parent / "jupyter-book"
    found = str(here) if here.exists() else shutil.which("jupyter-book")
    if not found:
        pytest.fail("jupyter-book is not installed (pip install -r requirements.txt)")
    return found


@pytest.fixture(scope="session")
def build_log() -> str:
    """Run the full build once per session; fail with the end of the log if it fails."""
    cmd = [_jupyter_book(), "build", str(ROOT), "--path-output", str(ROOT), "--all",
           "-W", "-n", "--keep-going"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        tail = "\n".join(log.splitlines()[-80:])
        pytest.fail(f"book build failed (exit {proc.returncode}) after {seconds:.0f} s:\n{tail}",
                    pytrace=False)
    print(f"book built in {seconds:.1f} s")
    return log


