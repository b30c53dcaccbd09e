"""`make lint` lints the chapters' code cells (book/_ext/lint_chapters.py): a finding in a
chapter is reported at the chapter's own line, and the per-cell rules of notebooks apply."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "book" / "_ext" / "lint_chapters.py"

CHAPTER = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A chapter

```{code-cell} ipython3
import os

x = 1
```

Prose between the cells.

```{code-cell} ipython3
:tags: [hide-input]

import math

y = math.pi * x
import sys
%timeit y + 1
```
"""


def run(*paths):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, paths)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_findings_are_reported_at_the_chapters_lines(tmp_path):
    chapter = tmp_path / "chapter.md"
    chapter.write_text(CHAPTER, encoding="utf-8")
    lines = CHAPTER.splitlines()
    proc = run(chapter)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # "path:line:column: CODE" of each finding (the message text is ruff's)
    found = sorted(line.split(" ")[0] + " " + line.split(" ")[1]
                   for line in proc.stdout.splitlines() if line.startswith(str(chapter)))
    # `import os` unused (F401); `import sys` below code in its cell (E402) and unused (F401);
    # `import math` at the top of the second cell and the %timeit magic are fine
    os_line = lines.index("import os") + 1
    sys_line = lines.index("import sys") + 1
    assert found == sorted([f"{chapter}:{os_line}:8: F401", f"{chapter}:{sys_line}:1: E402",
                            f"{chapter}:{sys_line}:8: F401"]), proc.stdout


def test_noqa_in_the_chapter_silences_a_finding(tmp_path):
    chapter = tmp_path / "chapter.md"
    text = (CHAPTER.replace("import os\n", "import os  # noqa: F401\n")
            .replace("import sys\n", "import sys  # noqa: E402, F401\n"))
    chapter.write_text(text, encoding="utf-8")
    proc = run(chapter)
    assert proc.returncode == 0, proc.stdout + proc.stderr
