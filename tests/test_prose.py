"""Checks on the chapters' sources that a reader would otherwise find in the rendered pages.

- code lines of at most 100 characters, so that no code box cuts a line (or its equation tag);
- no "exercise {ref}`...`": the reference already prints "Exercise 6.3";
- no internal label such as "eq. cost-total" inside a figure or a table, where it cannot be
  turned into a number: figures and tables name the quantity and the prose gives the equation.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
PAGES = sorted(BOOK.glob("*.md"))
MAX_CODE_LINE = 100


def code_cells(text: str):
    """(first line number, lines) of every {code-cell} in a MyST notebook."""
    cells, current, start = [], None, 0
    for number, line in enumerate(text.splitlines(), start=1):
        if current is None and line.startswith("```{code-cell}"):
            current, start = [], number + 1
        elif current is not None and line.startswith("```"):
            cells.append((start, current))
            current = None
        elif current is not None:
            current.append(line)
    return cells


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_code_lines_fit_the_code_box(page):
    long = [(start + i, len(line)) for start, lines in code_cells(page.read_text(encoding="utf-8"))
            for i, line in enumerate(lines) if len(line) > MAX_CODE_LINE]
    assert not long, f"{page.name}: lines longer than {MAX_CODE_LINE} characters (line, length): {long}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_doubled_word_before_an_exercise_reference(page):
    text = page.read_text(encoding="utf-8")
    doubled = re.findall(r"\b[Ee]xercises? \{ref\}`ex-", text)
    assert not doubled, f"{page.name}: {{ref}} already prints 'Exercise N.k': {doubled}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_internal_equation_label_in_figures_or_tables(page):
    """A string the reader sees (legend, title, table cell) must not say "eq. cost-total"."""
    for start, lines in code_cells(page.read_text(encoding="utf-8")):
        for i, line in enumerate(lines):
            code = line.split("#", 1)[0]      # a comment may name a label for the programmer
            match = re.search(r"""["'][^"']*\beq\. ?\(?[a-z]+-[\w-]+""", code)
            assert not match, f"{page.name}:{start + i}: internal label in a string: {line.strip()}"
