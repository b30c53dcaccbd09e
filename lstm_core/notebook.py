"""What the chapters' setup and display cells share: tables, numbers, listings, glue, figures.

The chapters import these instead of defining their own, and they live in the package (not in
``book/``) because a downloaded chapter notebook installs nothing but ``lstm_core``. None of
them needs the book's build tools, so the same cell gives the same output in the built book,
in JupyterLab, on Colab and in the PDF:

* :func:`markdown_table` / :func:`md_table`: rows of cells as a Markdown table (the text, or
  a ``text/markdown`` output); ``examples.Table.markdown`` uses the same function.
* :func:`fmt` and :func:`sci`: a number with so many significant digits, or in scientific
  notation ("–" for ``None``).
* :func:`show_source`: the package source of a function or class as a fenced Python code block
  (a ``text/markdown`` output: MyST-NB parses it as MyST in the book, JupyterLab and Colab
  render it as highlighted code).
* :func:`glue`: the output that ``myst_nb.glue`` produces (same MIME bundle and metadata),
  without importing ``myst_nb``, so ``{glue:text}`` roles resolve in the book and the
  notebook runs where ``myst_nb`` is not installed.
* :func:`setup` / :func:`setup_figures`: SVG inline figures (plus PDF for the printed book)
  and font sizes that stay legible at the book's column width (about 690 px) and on a 400 px
  phone.

IPython and matplotlib are imported only by the functions that need them.
"""
from __future__ import annotations

import inspect
import re
import textwrap
from typing import Any, Iterable, Sequence

__all__ = [
    "FIGURE_RC",
    "fmt",
    "glue",
    "markdown_table",
    "md_table",
    "sci",
    "setup",
    "setup_figures",
    "show_source",
    "source_listing",
]

# ----------------------------------------------------------------------------- tables, numbers

_UNESCAPED_BAR = re.compile(r"(?<!\\)\|")


def _cell(value: Any) -> str:
    """A table cell: the value's text with any unescaped ``|`` escaped (it would end the cell)."""
    return _UNESCAPED_BAR.sub(r"\\|", str(value)).replace("\n", " ")


def markdown_table(headers: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    """``headers`` and ``rows`` (sequences of cells, shown with ``str``) as a Markdown table.

    Every row must have as many cells as ``headers``; a literal ``|`` in a cell is escaped.
    """
    headers = list(headers)
    if not headers:
        raise ValueError("headers must name at least one column")
    lines = ["| " + " | ".join(map(_cell, headers)) + " |", "|" + "---|" * len(headers)]
    for n, row in enumerate(rows):
        row = list(row)
        if len(row) != len(headers):
            raise ValueError(f"rows[{n}] has {len(row)} cells, expected {len(headers)} "
                             f"(one per header)")
        lines.append("| " + " | ".join(map(_cell, row)) + " |")
    return "\n".join(lines)


def md_table(headers: Sequence[Any], rows: Iterable[Sequence[Any]]):
    """:func:`markdown_table` as an ``IPython.display.Markdown`` object (a cell's output)."""
    from IPython.display import Markdown

    return Markdown(markdown_table(headers, rows))


def fmt(value, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits (``%g`` style); "–" for ``None``."""
    return "–" if value is None else f"{value:.{digits}g}"


def sci(value, digits: int = 2) -> str:
    """``value`` in scientific notation with ``digits`` digits after the point; "–" for None."""
    return "–" if value is None else f"{value:.{digits}e}"


# ----------------------------------------------------------------------------- source listings

def source_listing(obj, *, lineno: bool = False, myst: bool = False) -> str:
    """The source of ``obj`` (a function, class or method of the package) as a fenced block.

    ``lineno=True`` numbers the lines as in the file: as a MyST ``code-block`` with
    ``:lineno-start:`` when ``myst`` is true (the book), otherwise as a plain ``python``
    fence headed by a comment naming the file and the line range.
    """
    obj = inspect.unwrap(obj)
    try:
        lines, start = inspect.getsourcelines(obj)
    except (TypeError, OSError) as exc:
        raise TypeError(f"show_source needs a function or class defined in a source file, "
                        f"got {obj!r}") from exc
    code = textwrap.dedent("".join(lines)).rstrip("\n") + "\n"
    ticks = max([3] + [len(m) + 1 for m in re.findall(r"`{3,}", code)])
    fence = "`" * ticks
    if lineno and myst:
        return f"{fence}{{code-block}} python\n:lineno-start: {start}\n\n{code}{fence}"
    if lineno:
        module = inspect.getmodule(obj)
        name = module.__name__.replace(".", "/") + ".py" if module else "?"
        end = start + len(lines) - 1
        code = f"# {name}, lines {start}-{end}\n{code}"
    return f"{fence}python\n{code}{fence}"


def show_source(obj, *, lineno: bool = False):
    """Display the package source of ``obj`` as a highlighted Python code block.

    The output is ``text/markdown`` (with the source as ``text/plain``), so it renders in
    the built book (MyST-NB parses it as MyST), JupyterLab, Colab and the PDF. With
    ``lineno=True`` the lines carry the file's line numbers (in the book build, as a MyST
    ``code-block`` with ``:lineno-start:``; elsewhere the first line names the range).
    Use it in a code cell tagged ``remove-input``; it returns nothing.
    """
    from IPython.display import display

    from .viz import static_mode

    text = source_listing(obj, lineno=lineno, myst=lineno and static_mode())
    display({"text/markdown": text, "text/plain": inspect.getsource(inspect.unwrap(obj))},
            raw=True)


# ----------------------------------------------------------------------------- glue

#: The MIME-type prefix myst_nb.glue uses for a value glued with display=False.
GLUE_PREFIX = "application/papermill.record/"


def glue(name: str, value: Any, display: bool = True) -> None:
    """Store ``value``'s display data under ``name``, exactly as ``myst_nb.glue`` does.

    The output is IPython's MIME bundle of ``value`` (prefixed with
    ``application/papermill.record/`` when ``display=False``, so a notebook frontend shows
    nothing) with the cell metadata ``{"scrapbook": {"name": name, "mime_prefix": ...}}``
    that MyST-NB reads to resolve ``{glue:text}`name``` and the other glue roles.
    """
    import IPython
    from IPython.display import display as ipy_display

    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    mimebundle, metadata = IPython.core.formatters.format_display_data(value)
    mime_prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = dict(name=name, mime_prefix=mime_prefix)
    ipy_display({mime_prefix + k: v for k, v in mimebundle.items()}, raw=True,
                metadata=metadata)


# ----------------------------------------------------------------------------- figures

#: matplotlib settings of every chapter's figures. Figures are about 8-9 in wide and are
#: scaled to the column (about 690 px, so roughly 1 pt = 1 px): 12 pt text is 12 px there
#: and about 7 px on a 400 px phone, the smallest that is still readable.
FIGURE_RC = {
    "font.size": 12.0,
    "axes.titlesize": 13.0,
    "axes.labelsize": 12.0,
    "xtick.labelsize": 11.0,
    "ytick.labelsize": 11.0,
    "legend.fontsize": 11.0,
    "legend.title_fontsize": 11.0,
    "figure.titlesize": 14.0,
    "lines.linewidth": 1.8,
    "svg.fonttype": "path",
    "svg.hashsalt": "lstm-by-hand",  # the same figure gives the same SVG (reproducible builds)
}


def setup_figures() -> None:
    """Inline figures as SVG (sharp at any zoom) and PDF, and :data:`FIGURE_RC` font sizes.

    Call it once, in the chapter's setup cell. Outside IPython only the matplotlib
    settings apply.
    """
    import matplotlib as mpl

    mpl.rcParams.update(FIGURE_RC)
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # pragma: no cover - plain Python: no inline backend
        return
    if get_ipython() is not None:
        # SVG for the web page and the notebooks; PDF too, which the printed book's LaTeX
        # builder picks (it cannot include SVG)
        set_matplotlib_formats("svg", "pdf")


def setup() -> None:
    """What every chapter's setup cell calls: :func:`setup_figures` (more may follow)."""
    setup_figures()
