"""Local Sphinx extension for this book (registered in _config.yml, ``sphinx.local_extensions``).

It does four things; the first two are the reason it exists.

1. Static widgets. Importing the extension sets ``LSTM_CORE_STATIC_WIDGETS=1`` in the
   environment of the ``jupyter-book`` process. The kernels that MyST-NB starts to execute the
   chapters inherit that environment, so ``lstm_core.viz`` (and any chapter cell that checks the
   variable) renders interactive figures as self-contained HTML/JS instead of ipywidgets, which
   would be dead sliders in a page with no kernel behind it. In JupyterLab (``make live``) the
   variable is unset and the same cells build real widgets.

2. Plain notebooks. The chapters are MyST Markdown files, which Colab and a bare Jupyter cannot
   open. After an HTML build, every chapter is converted with jupytext to
   ``_build/html/notebooks/<chapter>.ipynb`` (unexecuted, with a first cell that installs the
   ``lstm_core`` package when it is missing), and the page's download menu gets a link to it.
   (sphinx-book-theme separately copies the *executed* notebook to ``_sources/`` for its own
   ``.ipynb`` download entry, because launch buttons are configured.)

3. It lists each page script once (works around a duplicated ``const THEBE_JS_URL`` that made
   every page log a JavaScript error), and

4. it builds matplotlib's font cache before the first kernel starts, so that no chapter prints
   the "building the font cache" notice to stderr (which the build treats as a warning).
"""
from __future__ import annotations

import os
from pathlib import Path

ENV_FLAG = "LSTM_CORE_STATIC_WIDGETS"
NOTEBOOK_DIR = "notebooks"

# Set at import time so it is in place before the first kernel is started.
os.environ[ENV_FLAG] = "1"
# The chapters multiply small matrices (H <= 128): one BLAS thread per kernel is as fast,
# makes results bit-for-bit repeatable, and avoids threads fighting over a busy machine's
# cores. A reader who sets OPENBLAS_NUM_THREADS / OMP_NUM_THREADS keeps their own choice.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _is_notebook(app, docname: str) -> bool:
    return "kernelspec" in app.env.metadata.get(docname, {})


def _clean_name(docname: str) -> str:
    return Path(docname).name + ".ipynb"


def _setup_cell_source(repo_url: str) -> str:
    spec = f"git+{repo_url}" if repo_url else "lstm_core"
    return (
        "# Run this first outside the book's repository (e.g. on Colab): it installs the\n"
        "# book's small numpy package `lstm_core` if it is not importable yet.\n"
        "try:\n"
        "    import lstm_core  # noqa: F401\n"
        "except ImportError:\n"
        f"    %pip install --quiet \"{spec}\" sympy ipywidgets matplotlib\n"
    )


def write_plain_notebooks(app, exception) -> None:
    """``build-finished``: write one unexecuted .ipynb per chapter next to the HTML."""
    if exception is not None or app.builder.format != "html":
        return
    import jupytext
    from nbformat.v4 import new_code_cell

    repo_url = app.config.html_theme_options.get("repository_url", "")
    out_dir = Path(app.outdir) / NOTEBOOK_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    for docname in sorted(app.env.found_docs):
        if not _is_notebook(app, docname):
            continue
        name = _clean_name(docname)
        if name in written:
            raise RuntimeError(f"{docname} and {written[name]} would both be written as {name}")
        written[name] = docname
        nb = jupytext.read(app.env.doc2path(docname))
        nb.metadata.pop("jupytext", None)
        nb.cells.insert(0, new_code_cell(_setup_cell_source(repo_url), metadata={"tags": ["setup"]}))
        jupytext.write(nb, out_dir / name, fmt="ipynb")


def add_clean_notebook_link(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context`` (after the theme's buttons): link the plain notebook."""
    if not _is_notebook(app, pagename):
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "download-buttons":
            group["buttons"].insert(
                1,
                {
                    "type": "link",
                    "url": context["pathto"](f"{NOTEBOOK_DIR}/{_clean_name(pagename)}", 1),
                    "text": ".ipynb (clean, for Colab)",
                    "tooltip": "Download this chapter as an unexecuted notebook",
                    "icon": "fas fa-book",
                    "label": "download-clean-notebook-button",
                },
            )


def drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context``: list each script once.

    With Jupyter Book 1.0.4, sphinx-thebe 0.3.1 and sphinx-togglebutton 0.4.5, two inline
    scripts are registered twice (once with ``filename=None``, once with ``filename=""``), and
    the second ``const THEBE_JS_URL`` makes every page log a SyntaxError in the browser console.
    Entries that differ only in that way are dropped.
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        attrs = getattr(js, "attributes", {}) or {}
        key = (str(getattr(js, "filename", js) or ""), getattr(js, "priority", 0),
               tuple(sorted((k, str(v)) for k, v in attrs.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def _warm_matplotlib_font_cache() -> None:
    """Build matplotlib's font cache here, not in the first kernel.

    On a fresh machine the first ``import matplotlib.pyplot`` can log "Matplotlib is building
    the font cache" to stderr; inside a chapter that stderr output would be a Sphinx warning
    (``stderr_output: warn``) and fail the ``-W`` build.
    """
    try:
        import matplotlib.font_manager  # noqa: F401
    except ImportError:
        pass


def setup(app):
    os.environ[ENV_FLAG] = "1"
    _warm_matplotlib_font_cache()
    app.connect("build-finished", write_plain_notebooks)
    # sphinx-book-theme fills ``header_buttons`` at priority 501; run after it.
    app.connect("html-page-context", add_clean_notebook_link, priority=600)
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
