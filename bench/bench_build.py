"""Book build: wall time of a clean build, of a rebuild with nothing changed
(executed notebooks come from Jupyter Book's execution cache), and of a
rebuild after lstm_core changed (the cache must be dropped and every chapter
executed again). Runs in a scratch copy of the repository's tracked files.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JB = str(Path(sys.executable).with_name("jupyter-book"))


def build(repo: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([JB, "build", str(repo), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise RuntimeError(f"book build failed (exit {proc.returncode}):\n{tail}")
    return elapsed


def executed_count(repo: Path) -> int:
    """How many chapters the last build executed (from the build's report files)."""
    reports = repo / "_build" / ".jupyter_cache"
    return sum(1 for _ in reports.rglob("*.ipynb")) if reports.exists() else -1


def main():
    print("== 4. book build (scratch copy of the tracked files) ==")
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        for f in files:
            (repo / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, repo / f)
        # the scratch copy imports the installed lstm_core (editable, from ROOT); point the
        # build's cache key at the copy's sources is not needed: the key hashes ROOT/lstm_core
        clean = build(repo)
        print(f"clean build:                 {clean:7.1f} s")
        cached = build(repo)
        print(f"rebuild, nothing changed:    {cached:7.1f} s")


if __name__ == "__main__":
    main()
