"""Local Sphinx extension: drop Jupyter Book's execution cache when the code the
chapters import has changed.

MyST-NB's cache (``execute_notebooks: cache``) keys an executed notebook on the
notebook's own code cells only. Our chapters run ``lstm_core``, so a fix in
the package would otherwise leave stale outputs in the book. At
``config-inited`` we hash every file the chapters depend on but do not
contain -- the sources of the *imported* ``lstm_core``, the local extensions
and the test fixtures a chapter reads -- and, when the hash differs from the
one stored beside the cache, delete the cache so that every chapter is
executed again. A fresh clone (CI) has no cache and executes everything.
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

KEY_FILE = "lstm_core-inputs.sha256"


# Local extensions that only act on the finished build (pages, notebooks written afterwards):
# editing them cannot change what a chapter computes, so they are left out of the digest and
# do not force every chapter to run again.
AFTER_EXECUTION = {"offline_math.py", "public_urls.py", "reader_notebooks.py",
                   "appendix_numbers.py", "bib_author_year.py"}


def inputs_digest(repo_root: Path) -> str:
    """sha256 over the relative path and bytes of every input file, in sorted order."""
    import lstm_core

    roots = [Path(lstm_core.__file__).resolve().parent,
             repo_root / "book" / "_ext",
             repo_root / "tests" / "fixtures"]
    h = hashlib.sha256()
    for root in roots:
        if not root.exists():
            continue
        for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            if root.name == "_ext" and path.name in AFTER_EXECUTION:
                continue
            h.update(str(path.relative_to(root.parent)).encode())
            h.update(b"\0")
            h.update(path.read_bytes())
    return h.hexdigest()


def refresh_cache(cache_dir: Path, digest: str) -> bool:
    """Delete ``cache_dir`` if its stored key differs from ``digest``; store the key.

    Returns True when the cache was dropped.
    """
    key_path = cache_dir.parent / KEY_FILE
    stale = not key_path.exists() or key_path.read_text().strip() != digest
    if stale and cache_dir.exists():
        shutil.rmtree(cache_dir)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_text(digest + "\n")
    return stale


def _on_config_inited(app, config) -> None:
    if config.nb_execution_mode != "cache":
        return
    if not config.nb_execution_cache_path:
        # one cache per source tree, whatever the output directory (make BOOK_OUT=...): a
        # second build of the same sources elsewhere reuses the executed notebooks
        config.nb_execution_cache_path = str(Path(app.confdir) / "_build" / ".jupyter_cache")
    cache_dir = Path(config.nb_execution_cache_path)
    if not cache_dir.is_absolute():
        cache_dir = Path(app.confdir) / cache_dir
    repo_root = Path(app.confdir)
    if refresh_cache(cache_dir, inputs_digest(repo_root)):
        from sphinx.util import logging

        logging.getLogger(__name__).info("lstm_core or the book's inputs changed: execution cache cleared")


def setup(app):
    # after myst_nb has registered its config values
    app.connect("config-inited", _on_config_inited, priority=900)
    # before static_widgets' build-finished handler (priority 500) writes its own notebooks
    app.connect("build-finished", _restore_executed_notebooks, priority=400)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}


def _restore_executed_notebooks(app, exception) -> None:
    """``build-finished``: put the cached outputs into the executed .ipynb downloads.

    In cache mode MyST-NB 1.4 writes ``jupyter_execute/<doc>.ipynb`` (which the
    theme copies to ``_sources/`` for its download button) from the notebook
    *before* the cached outputs were merged in, so the download has no outputs.
    Merge them from the cache here, for every notebook page.
    """
    if exception is not None or app.config.nb_execution_mode != "cache" or app.builder.format != "html":
        return
    import nbformat
    from jupyter_cache import get_cache

    cache_dir = Path(app.config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache")
    if not cache_dir.exists():
        return
    cache = get_cache(str(cache_dir))
    outdir = Path(app.outdir)
    execute_dir = outdir.parent / "jupyter_execute"
    for docname in sorted(app.env.found_docs):
        target = execute_dir / f"{docname}.ipynb"
        if not target.exists():
            continue
        nb = nbformat.read(target, as_version=4)
        try:
            _, merged = cache.merge_match_into_notebook(nb)
        except KeyError:  # not in the cache (e.g. excluded from execution)
            continue
        content = nbformat.writes(merged)
        target.write_text(content, encoding="utf-8")
        source_copy = outdir / "_sources" / f"{docname}.ipynb"
        if source_copy.exists():
            source_copy.write_text(content, encoding="utf-8")
