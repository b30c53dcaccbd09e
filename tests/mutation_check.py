"""Mutation check: break one key line of lstm_core at a time and show that the suite goes red.

Run by hand (it is not collected by pytest; it takes a few minutes):

    .venv/bin/python tests/mutation_check.py            # stop each run at the first failure
    .venv/bin/python tests/mutation_check.py --count    # run everything, count the failures
    .venv/bin/python tests/mutation_check.py --only cell_state_carry --skip-baseline

For each mutation the script copies lstm_core/, tests/, book/ and the top-level configuration
files into a temporary folder, changes one line of the copy of lstm_core (the working tree is never
touched), checks that the copy is what Python imports, and runs the quick suite there
(``pytest -W error -m "not book"``). The unmutated copy must pass; every mutant must make
tests *fail* (pytest exit status 1; an error while collecting, status 2, does not count).
A mutation whose line is no longer found in the source is reported as "site not found" and
makes the script fail: update its pattern here when the code moves.

Exit status 0 only when the baseline passes and every mutant is caught.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name: (file in lstm_core, regex of the line to break, replacement, extra code appended, what)
MUTATIONS = {
    "clip_by_global_norm": (
        "optim.py",
        r"return \{k: g \* scale for k, g in grads\.items\(\)\}, norm",
        "return {k: g * min(1.0, max_norm / max(float(np.linalg.norm(g)), 1e-300))"
        " for k, g in grads.items()}, norm",
        "",
        "clipping caps each array's own norm instead of the global norm (per-tensor clipping)",
    ),
    "forget_gate_bias_gradient": (
        "lstm.py",
        r'grads\["b"\] \+= da_block\.sum\(axis=\(0, 1\)\)',
        'grads["b"] += _mutant_bias(da_block.sum(axis=(0, 1)))',
        "\n\ndef _mutant_bias(db):\n    H = db.shape[0] // 4\n    db = db.copy()\n"
        "    db[gate_slice(\"f\", H)] = db[gate_slice(\"i\", H)]\n    return db\n",
        "the forget-gate block of dL/db is the input gate's (errata bug (a)); nothing else changes",
    ),
    "cell_state_carry": (
        "lstm.py",
        r"dc_prev = dc \* k_carry\b",
        "dc_prev = dc",
        "",
        "dL/dc_{t-1} = dL/dc_t: the forget gate is left out of the carry along the cell state",
    ),
}


def make_copy(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "_build",
                                    ".jupyter_cache", ".hypothesis")
    for name in ("lstm_core", "tests", "book"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "_config.yml", "_toc.yml", "Makefile", "README.md",
                 "requirements.txt"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)


def mutate(dest: Path, name: str) -> None:
    file, pattern, replacement, appended, _ = MUTATIONS[name]
    path = dest / "lstm_core" / file
    text = path.read_text()
    found = re.findall(pattern, text)
    if len(found) != 1:
        raise LookupError(f"{name}: site not found in lstm_core/{file} "
                          f"({len(found)} matches of {pattern!r}); update tests/mutation_check.py")
    path.write_text(re.sub(pattern, lambda _m: replacement, text) + appended)


def run_suite(dest: Path, count: bool) -> tuple[int, str, float]:
    env = {**os.environ, "PYTHONPATH": str(dest), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("LSTM_CORE_BOOK_HTML", None)
    where = subprocess.run([sys.executable, "-c", "import lstm_core; print(lstm_core.__file__)"],
                           cwd=dest, env=env, capture_output=True, text=True, check=True).stdout
    if not where.strip().startswith(str(dest)):
        raise RuntimeError(f"the copy is not what Python imports: {where.strip()}")
    cmd = [sys.executable, "-m", "pytest", "-W", "error", "-m", "not book", "-q",
           "-p", "no:cacheprovider", "tests"] + ([] if count else ["-x"])
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=dest, env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    failed = [ln.split(" ", 1)[1].split(" - ")[0] for ln in lines if ln.startswith("FAILED ")]
    summary = lines[-1] if lines else proc.stderr.strip()[-200:]
    detail = summary + ("".join(f"\n      e.g. {f}" for f in failed[:3]) if failed else "")
    return proc.returncode, detail, time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", action="store_true", help="run every test, not only to the first failure")
    ap.add_argument("--only", choices=sorted(MUTATIONS), action="append", help="run these mutations only")
    ap.add_argument("--skip-baseline", action="store_true", help="do not run the unmutated suite first")
    args = ap.parse_args()
    names = args.only or list(MUTATIONS)
    ok = True
    for name in ([] if args.skip_baseline else ["(none)"]) + names:
        with tempfile.TemporaryDirectory(prefix="lstm-mutant-") as tmp:
            dest = Path(tmp)
            make_copy(dest)
            try:
                if name != "(none)":
                    mutate(dest, name)
            except LookupError as exc:
                print(f"{name:28s} SITE NOT FOUND: {exc}")
                ok = False
                continue
            rc, detail, seconds = run_suite(dest, args.count)
        if name == "(none)":
            verdict = "baseline green" if rc == 0 else "BASELINE RED: fix the suite first"
            ok &= rc == 0
        else:
            verdict = {0: "NOT CAUGHT (suite green)", 1: "caught (tests fail)"}.get(
                rc, f"BROKEN RUN (pytest exit {rc})")
            ok &= rc == 1
            print(f"  mutation: {MUTATIONS[name][4]}")
        print(f"{name:28s} {verdict:24s} {seconds:5.0f} s   {detail}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
