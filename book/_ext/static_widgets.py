"""Local Sphinx extension for this book (registered in _config.yml, ``sphinx.local_extensions``).

It does four things; the first two are the reason it exists.

1. Static widgets. Importing the extension sets ``LSTM_CORE_STATIC_WIDGETS=1`` in the
   environment of the ``jupyter-book`` process. The kernels that MyST-NB starts to execute the
   chapters inherit that environment, so ``lstm_core.viz`` (and any chapter cell that checks the
   variable) renders interactive figures as self-contained HTML/JS instead of ipywidgets, which
   would be dead sliders in a page with no kernel behind it. In JupyterLab (``make live``) the
   variable is unset and the same cells build real widgets.

2. The executed notebook download. sphinx-book-theme offers ``_sources/<page>.ipynb`` only
   when a launch button is configured; without a repository address there is none, so this
   extension copies it. (The reader's notebooks are written by ``reader_notebooks.py``.)

3. It lists each page script once (works around a duplicated ``const THEBE_JS_URL`` that made
   every page log a JavaScript error), and

4. it builds matplotlib's font cache before the first kernel starts, so that no chapter prints
   the "building the font cache" notice to stderr (which the build treats as a warning).
"""
from __future__ import annotations

import os
from pathlib import Path

ENV_FLAG = "LSTM_CORE_STATIC_WIDGETS"

# Set at import time so it is in place before the first kernel is started.
os.environ[ENV_FLAG] = "1"
# The chapters multiply small matrices (H <= 128): one BLAS thread per kernel is as fast,
# makes results bit-for-bit repeatable, and avoids threads fighting over a busy machine's
# cores. A reader who sets OPENBLAS_NUM_THREADS / OMP_NUM_THREADS keeps their own choice.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _is_notebook(app, docname: str) -> bool:
    return "kernelspec" in app.env.metadata.get(docname, {})


def offer_executed_notebook(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context`` (before the theme's buttons): the executed .ipynb download.

    sphinx-book-theme copies ``jupyter_execute/<page>.ipynb`` to ``_sources/`` for its download
    menu only when a launch button is configured; without a repository there is none, so the
    copy is made here, the theme's way. (exec_cache_key then merges the cached outputs into it.)
    """
    if not _is_notebook(app, pagename):
        return
    import shutil

    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if executed.is_file():
        target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(executed, target)
        context["ipynb_source"] = f"{pagename}.ipynb"


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
        import matplotlib.font_manager  # noqa: F401  (imported for its side effect)
    except ImportError:
        pass


def setup(app):
    os.environ[ENV_FLAG] = "1"
    _warm_matplotlib_font_cache()
    # sphinx-book-theme adds launch and download buttons at priority 501: offer the executed
    # notebook before (a launch button, when there is one, copies it again).
    app.connect("html-page-context", offer_executed_notebook, priority=500)
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
