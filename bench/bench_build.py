"""Book build: wall time of a clean build, of a rebuild with nothing changed
(executed notebooks come from Jupyter Book's execution cache), and of a
rebuild after lstm_core changed (the cache must be dropped and every chapter
executed again). Runs in a scratch copy of the repository's tracked files, with
the Makefile's build command (``make book-only``), the one the tests use.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build(repo: Path) -> float:
    """Seconds for ``make book-only`` in ``repo``, importing ``repo``'s own lstm_core."""
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
    return elapsed


def main():
    print("== 4. book build (scratch copy of the tracked files) ==")
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        for f in files:
            (repo / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, repo / f)
        clean = build(repo)
        print(f"clean build:                 {clean:7.1f} s")
        cached = build(repo)
        print(f"rebuild, nothing changed:    {cached:7.1f} s")
        init = repo / "lstm_core" / "__init__.py"
        init.write_text(init.read_text() + "\n# touched by bench_build.py\n")
        changed = build(repo)
        print(f"rebuild, lstm_core changed:  {changed:7.1f} s")
        print(f"cache saves {1 - cached / clean:.0%} of a clean build; after a package change "
              f"the rebuild takes {changed / clean:.2f}x a clean build")


if __name__ == "__main__":
    main()
