"""Book build: wall time of three builds in a row, in a scratch copy of the repository's
tracked files, with the Makefile's build command (``make book-only``, the one the tests use):

1. a clean build (no execution cache: every chapter is executed);
2. a rebuild with nothing changed (every chapter should come from the execution cache);
3. a rebuild after a comment is appended to ``lstm_core/__init__.py`` (book/_ext/
   exec_cache_key.py should drop the cache, so every chapter is executed again).

Each line says how many chapters the build executed and how many it took from the cache,
counted from MyST-NB's log ("Executed notebook in ...", "Using cached notebook: ..."), so the
output shows what each build did rather than what it was meant to do. Not part of a plain
`make bench` (three builds take 10+ minutes on a 2-core machine): `make bench BENCH_ARGS=--build`
or ``python bench/bench_build.py``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import log

ROOT = Path(__file__).resolve().parent.parent


def build(repo: Path) -> dict:
    """``make book-only`` in ``repo``, importing ``repo``'s own lstm_core: its seconds and the
    number of chapters executed and taken from the cache."""
    # PYTHONPATH puts the copy's lstm_core ahead of the editable install (in the build and in
    # every kernel it starts), so the execution-cache key hashes the files this script edits.
    env = {**os.environ, "PYTHONPATH": str(repo)}
    t0 = time.perf_counter()
    proc = subprocess.run(["make", "--no-print-directory", "-C", str(repo), "book-only",
                           f"BIN={Path(sys.executable).parent}"],
                          capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise RuntimeError(f"book build failed (exit {proc.returncode}):\n{tail}")
    log_text = proc.stdout + proc.stderr
    return {"seconds": elapsed, "executed": log_text.count("Executed notebook in"),
            "cached": log_text.count("Using cached notebook")}


def main():
    log("== book build (scratch copy of the tracked files, make book-only) ==")
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        for f in files:
            (repo / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, repo / f)
        steps = [("clean", "clean build", None),
                 ("cached", "rebuild, nothing changed", None),
                 ("changed", "rebuild, lstm_core changed", repo / "lstm_core" / "__init__.py")]
        for key, what, touch in steps:
            if touch is not None:
                touch.write_text(touch.read_text() + "\n# touched by bench_build.py\n")
            out[key] = b = build(repo)
            log(f"{what + ':':28s} {b['seconds']:7.1f} s  ({b['executed']} chapters executed, "
                f"{b['cached']} from the cache)")
    log(f"the cache saves {1 - out['cached']['seconds'] / out['clean']['seconds']:.0%} of a "
        f"clean build; after a package change the rebuild takes "
        f"{out['changed']['seconds'] / out['clean']['seconds']:.2f}x a clean build")
    return out


if __name__ == "__main__":
    main()
