"""Lint the chapters' code cells with the project's ruff configuration.

    .venv/bin/python book/_ext/lint_chapters.py               # every book/*.md
    .venv/bin/python book/_ext/lint_chapters.py book/gru.md   # some chapters

`make lint` (part of `make test`) runs this after `ruff check .`, which sees only .py files.
Each chapter (MyST notebook) is converted with jupytext to an .ipynb in a scratch directory and
ruff checks that: ruff lints notebooks cell by cell, so an import at the top of a later cell is
fine (E402 applies per cell), a name defined in one cell and used in another is known, and
IPython magics are understood. Findings are reported at the chapter's own line numbers
(`book/gru.md:812:5: F811 ...`); a `# noqa: CODE` on the line in the chapter silences one.
Exit status: 0 clean, 1 findings, 2 ruff or jupytext failed.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[2]
RUFF = Path(sys.executable).parent / "ruff"


def code_cell_lines(text: str, nb) -> dict[int, int]:
    """Map each code cell's 1-based index in the notebook (ruff's "cell") to the line of the
    chapter on which the cell's source starts (the source appears verbatim in the MyST file)."""
    starts, pos = {}, 0
    for index, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code" or not cell.source:
            continue
        found = text.find(cell.source, pos)
        if found < 0:
            raise ValueError(f"cell {index}: source not found verbatim in the chapter")
        starts[index] = text.count("\n", 0, found) + 1
        pos = found + len(cell.source)
    return starts


def lint(chapters: list[Path]) -> int:
    with tempfile.TemporaryDirectory(prefix="lint-chapters-") as scratch:
        cell_lines = {}
        for chapter in chapters:
            text = chapter.read_text(encoding="utf-8")
            nb = jupytext.reads(text, fmt="md:myst")
            target = Path(scratch) / f"{chapter.stem}.ipynb"
            nbformat.write(nb, target)
            cell_lines[target.name] = (chapter, code_cell_lines(text, nb))
        cmd = [str(RUFF) if RUFF.exists() else "ruff", "check", "--no-cache",
               "--config", str(ROOT / "pyproject.toml"), "--output-format", "json", scratch]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode not in (0, 1):
            sys.stderr.write(proc.stdout + proc.stderr)
            return 2
        findings = json.loads(proc.stdout or "[]")
    for f in sorted(findings, key=lambda f: (f["filename"], f["cell"], f["location"]["row"])):
        chapter, starts = cell_lines[Path(f["filename"]).name]
        line = starts[f["cell"]] + f["location"]["row"] - 1
        shown = chapter.relative_to(ROOT) if chapter.is_relative_to(ROOT) else chapter
        print(f"{shown}:{line}:{f['location']['column']}: {f['code']} {f['message']}")
    if findings:
        print(f"{len(findings)} finding(s) in the chapters' code cells "
              f"({len(chapters)} chapters checked)")
        return 1
    print(f"chapters' code cells: all checks passed ({len(chapters)} chapters)")
    return 0


def main(argv: list[str]) -> int:
    chapters = [Path(a).resolve() for a in argv] or sorted((ROOT / "book").glob("*.md"))
    return lint(chapters)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
