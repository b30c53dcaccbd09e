"""lstm_core.notebook, the chapters' shared helpers, and the rule that chapters use them.

glue is checked against myst_nb's own glue (the output MyST-NB reads back), the listings
against the source file read as text, the tables against hand-written Markdown.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from lstm_core import examples, gru, notebook

BOOK = Path(__file__).resolve().parents[1] / "book"
GRU_FILE = Path(gru.__file__)


def _outputs(fn, *args, **kwargs):
    """The display outputs of fn(*args) in an IPython shell, as (data, metadata) pairs."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    with capture_output() as captured:
        fn(*args, **kwargs)
    return [(o.data, o.metadata) for o in captured.outputs]


def test_markdown_table_by_hand():
    text = notebook.markdown_table(["a", "b"], [[1, "x|y"], [2.5, r"\|z\|"]])
    assert text == "| a | b |\n|---|---|\n| 1 | x\\|y |\n| 2.5 | \\|z\\| |"
    assert notebook.md_table(["a"], [[1]]).data == "| a |\n|---|\n| 1 |"


def test_markdown_table_names_a_ragged_row():
    with pytest.raises(ValueError, match=r"rows\[1\] has 1 cells, expected 2"):
        notebook.markdown_table(["a", "b"], [[1, 2], [3]])


def test_worked_example_tables_use_the_same_markdown():
    table = examples.gomez_tables()["gradients"]
    assert table.markdown() == notebook.markdown_table(table.columns, table.cells())


def test_number_formats():
    assert notebook.fmt(0.0123456) == "0.0123"
    assert notebook.fmt(123456.0, 4) == "1.235e+05"
    assert notebook.fmt(None) == "–"
    assert notebook.sci(0.000123456) == "1.23e-04"
    assert notebook.sci(5.0, 1) == "5.0e+00"


def test_source_listing_is_the_file_text_in_a_python_fence():
    text = notebook.source_listing(gru.cell_forward)
    lines = GRU_FILE.read_text().splitlines()
    start = next(n for n, s in enumerate(lines) if s.startswith("def cell_forward("))
    body = text.splitlines()
    assert body[0] == "```python" and body[-1] == "```"
    assert body[1:4] == lines[start:start + 3]


def test_numbered_listing_starts_at_the_line_of_the_file():
    lines = GRU_FILE.read_text().splitlines()
    first = 1 + next(n for n, s in enumerate(lines) if s.startswith("def backward("))
    myst = notebook.source_listing(gru.backward, lineno=True, myst=True).splitlines()
    assert myst[:3] == ["```{code-block} python", f":lineno-start: {first}", ""]
    assert myst[3] == lines[first - 1]
    plain = notebook.source_listing(gru.backward, lineno=True).splitlines()
    assert plain[0] == "```python" and plain[1].startswith(f"# lstm_core/gru.py, lines {first}-")


def test_a_fence_inside_the_source_gets_a_longer_fence():
    def documented():
        """Example::

        ```python
        x = 1
        ```
        """

    assert notebook.source_listing(documented).startswith("````python\n")


def test_show_source_displays_markdown(monkeypatch):
    monkeypatch.delenv("LSTM_CORE_STATIC_WIDGETS", raising=False)
    ((data, _),) = _outputs(notebook.show_source, gru.cell_forward)
    assert data["text/markdown"] == notebook.source_listing(gru.cell_forward)
    monkeypatch.setenv("LSTM_CORE_STATIC_WIDGETS", "1")
    ((data, _),) = _outputs(notebook.show_source, gru.cell_forward, lineno=True)
    assert data["text/markdown"].startswith("```{code-block} python\n:lineno-start: ")


def test_show_source_rejects_what_has_no_source():
    with pytest.raises(TypeError, match="show_source needs a function or class"):
        notebook.source_listing(3.5)


@pytest.mark.parametrize("display", [True, False])
@pytest.mark.parametrize("value", [0.123456789, 42, "text"])
def test_glue_gives_myst_nb_glue_output(value, display):
    myst_glue = pytest.importorskip("myst_nb").glue
    assert _outputs(notebook.glue, "name", value, display=display) == \
        _outputs(myst_glue, "name", value, display=display)


def test_setup_figures_sets_the_legible_font_sizes():
    import matplotlib as mpl

    notebook.setup()
    for key, value in notebook.FIGURE_RC.items():
        assert mpl.rcParams[key] == value
    assert mpl.rcParams["font.size"] >= 11


# ----------------------------------------------------------------------------- the chapters

def _code_cells(path):
    return re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```$", path.read_text(), flags=re.S | re.M)


CHAPTERS = sorted(p for p in BOOK.glob("*.md") if _code_cells(p))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_uses_the_package_helpers(path):
    """No chapter writes its own table/number/fixture helpers, parses the static switch,
    imports myst_nb, or includes package files by path (show_source works everywhere)."""
    code = "\n".join(_code_cells(path))
    for pattern in (r"^def (md_table|fmt|sci|find_fixtures|glue)\(", r"environ\b.*STATIC|STATIC_ENV",
                    r"^\s*(from|import) myst_nb\b", "tests/fixtures"):
        assert not re.search(pattern, code, flags=re.M), pattern
    assert "{literalinclude}" not in path.read_text()
    assert "notebook.setup()" in _code_cells(path)[0]
