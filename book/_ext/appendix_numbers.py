"""Local Sphinx extension: appendices number their own equations, figures, tables and
exercises as A.1, A.2, ..., B.1, ...

Sphinx gives the enumerable nodes of unnumbered documents (the back matter) numbers from one
counter that all of them share, so the second appendix continued where the first stopped
("Exercise 3", equation (6)). After Sphinx has assigned its numbers (``env-get-updated``),
this extension renumbers, per node type and in document order, every document whose name
starts with ``appendix_``, taking letters in table-of-contents order. Sphinx, MyST and
sphinx-exercise all print a number as ``".".join(map(str, number))``, so a letter in place of
the section number gives "A.1" in equation tags, captions, exercise titles and references.
"""
from __future__ import annotations

from string import ascii_uppercase

PREFIX = "appendix_"


def toc_order(env) -> list[str]:
    """Every document reachable from the root's toctrees, in reading order."""
    order: list[str] = []

    def walk(doc: str) -> None:
        if doc in order:
            return
        order.append(doc)
        for child in env.toctree_includes.get(doc, []):
            walk(child)

    walk(env.config.root_doc)
    return order


def appendix_letters(env) -> dict[str, str]:
    """{docname: letter} for the appendices, in table-of-contents order."""
    docs = [d for d in toc_order(env) if d.rsplit("/", 1)[-1].startswith(PREFIX)]
    if len(docs) > len(ascii_uppercase):
        raise ValueError(f"more than {len(ascii_uppercase)} appendices: {docs}")
    return dict(zip(docs, ascii_uppercase))


def renumber(app, env) -> list[str]:
    for doc, letter in appendix_letters(env).items():
        for numbers in env.toc_fignumbers.get(doc, {}).values():
            for n, node_id in enumerate(sorted(numbers, key=numbers.get), start=1):
                numbers[node_id] = (letter, n)
    return []


def setup(app):
    # after Sphinx's own TocTreeCollector (priority 500) has numbered everything
    app.connect("env-get-updated", renumber, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
