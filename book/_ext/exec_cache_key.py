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
    cache_dir = Path(config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache")
    if not cache_dir.is_absolute():
        cache_dir = Path(app.confdir) / cache_dir
    repo_root = Path(app.confdir)
    if refresh_cache(cache_dir, inputs_digest(repo_root)):
        from sphinx.util import logging

        logging.getLogger(__name__).info("lstm_core or the book's inputs changed: execution cache cleared")


def setup(app):
    # after myst_nb has registered its config values
    app.connect("config-inited", _on_config_inited, priority=900)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
