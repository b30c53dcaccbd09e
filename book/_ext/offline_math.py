"""Local Sphinx extension: typeset the book's math with a copy of MathJax 3 shipped inside the
site, so that pages read offline (a downloaded site opened from disk, a train, a firewall)
show formulas, not TeX source.

The copy comes from the PyPI package ``django-static-mathjax`` (MathJax 3.2's ``es5`` build
packaged as plain files; despite its name it has no dependencies, Django included). After an
HTML build only the files a page can load are copied to ``_static/mathjax/``: the combined
TeX-to-CommonHTML component with every TeX extension compiled in (so nothing is fetched on
demand for ``\\boldsymbol`` or ``aligned``), its web fonts, and the menu/accessibility
components the right-click menu loads. ``mathjax_path`` points there.

The files are copied from the installed package at build time rather than committed: nothing
vendored sits in the repository, and none of it under a root ``_static/``, whose ``.js`` files
Jupyter Book would add to every page.
"""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

TARGET = "mathjax"  # under the site's _static/
ENTRY = "tex-chtml-full.js"
# relative to MathJax's es5/ directory
FILES = [ENTRY, "output/chtml/fonts/woff-v2", "ui", "a11y"]


def mathjax_es5() -> Path:
    """The es5/ directory of the installed MathJax 3 copy."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax is not installed: pip install django-static-mathjax "
                           "(listed in requirements.txt)")
    es5 = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5"
    if not (es5 / ENTRY).is_file():
        raise RuntimeError(f"{es5 / ENTRY} is missing: reinstall django-static-mathjax")
    return es5


def copy_mathjax(outdir: Path) -> Path:
    """Copy the needed part of MathJax to ``outdir/_static/mathjax``; return that directory."""
    es5 = mathjax_es5()
    dest = Path(outdir) / "_static" / TARGET
    for rel in FILES:
        src, dst = es5 / rel, dest / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
    shutil.copy2(es5.parent / "LICENSE", dest / "LICENSE")
    return dest


def _on_config_inited(app, config) -> None:
    mathjax_es5()  # fail at the start of the build, not at its end
    config.mathjax_path = f"{TARGET}/{ENTRY}"  # relative to _static/


def _on_build_finished(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        copy_mathjax(Path(app.outdir))


def setup(app):
    app.connect("config-inited", _on_config_inited)
    app.connect("build-finished", _on_build_finished)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
