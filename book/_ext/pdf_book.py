"""Local Sphinx extension for the printed book (`make pdf`) and its link from the web book.

In the LaTeX build:

1. Book structure. The chapters keep the web book's numbers: the toc's parts before its first
   numbered part (Notation) are unnumbered front matter, the parts after its last numbered
   part are appendices lettered A, B, ...; the bibliography is an unnumbered chapter.
   (The web book's part captions are not printed: no "Part II Chapters" pages.)
2. Explorer figures. An explorer's cell output is its Markdown figure (the default setting as
   a PNG, captioned with its controls; ``lstm_core.viz.static``); each caption ends with the
   address of the chapter's interactive web page (``html_baseurl`` + page).
3. Chinese text (the notation glossary) is set in the CJK font named by
   ``pdf_requirements.CJK_FONT`` (xeCJK would need the 100 MB texlive-lang-chinese).

In the HTML build, every page's download menu links the PDF when one was built before the web
book (``_build/pdf/book.pdf``, copied to the site as ``book.pdf``).
"""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform

sys.path.insert(0, str(Path(__file__).parent))
from pdf_requirements import CJK_FONT  # noqa: E402

FIGURE_CLASS = "lstm-explorer"  # lstm_core.viz.static.FIGURE_CLASS
PDF_NAME = "book.pdf"
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+")

PREAMBLE = rf"""
% book/_ext/pdf_book.py: unnumbered front matter and back pages, Chinese runs in a CJK font
\newcounter{{lstmsecnumdepth}}
\newcommand{{\lstmunnumbered}}{{\setcounter{{lstmsecnumdepth}}{{\value{{secnumdepth}}}}%
  \setcounter{{secnumdepth}}{{-1}}}}
\newcommand{{\lstmnumbered}}{{\setcounter{{secnumdepth}}{{\value{{lstmsecnumdepth}}}}}}
\newfontfamily{{\lstmcjk}}{{{CJK_FONT}}}
"""


def _toc_sections(srcdir: Path) -> tuple[list[str], list[str]]:
    """(front matter, back matter) docnames from _toc.yml's parts around the numbered ones."""
    import yaml

    toc = yaml.safe_load((srcdir / "_toc.yml").read_text(encoding="utf-8"))
    parts = toc.get("parts", [])
    numbered = [i for i, p in enumerate(parts) if p.get("numbered")]
    if not numbered:
        return [], []

    def files(ps):
        return [c["file"] for p in ps for c in p.get("chapters", []) if "file" in c]

    return files(parts[:numbered[0]]), files(parts[numbered[-1] + 1:])


def _raw(text: str) -> nodes.raw:
    return nodes.raw("", text + "\n", format="latex")


class BookStructure(SphinxPostTransform):
    """Front matter unnumbered, back matter as appendices, one unnumbered bibliography."""

    builders = ("latex",)
    default_priority = 800  # after sphinx-jupyterbook-latex's LatexRootDocPostTransforms (700)

    def apply(self, **kwargs) -> None:
        front, back = _toc_sections(Path(self.app.srcdir))
        starts = {n.get("docname"): n for n in self.document.findall(addnodes.start_of_file)}

        def before(docname: str, text: str) -> None:
            node = starts.get(docname)
            if node is not None:
                node.parent.insert(node.parent.index(node), _raw(text))

        def after(docname: str, text: str) -> None:
            node = starts.get(docname)
            if node is not None:
                node.parent.insert(node.parent.index(node) + 1, _raw(text))

        if front and front[0] in starts:
            before(front[0], r"\lstmunnumbered")
            after(front[-1], r"\lstmnumbered")
        bibliographies = [d for d in back if d in starts and self._has_bibliography(d)]
        appendices = [d for d in back if d not in bibliographies]
        if appendices:
            before(appendices[0], r"\appendix")
        for docname in bibliographies:
            # sphinx-jupyterbook-latex moves the list to the end of the book, where LaTeX's
            # bibliography environment gives it an unnumbered chapter "Bibliography" of its
            # own: drop the page's now empty heading (its label stays with start_of_file).
            for section in [c for c in starts[docname].children if isinstance(c, nodes.section)]:
                section.replace_self([c for c in section.children
                                      if not isinstance(c, nodes.title)])

    def _has_bibliography(self, docname: str) -> bool:
        doctree = self.env.get_doctree(docname)
        return any(n.tagname in ("bibliography", "thebibliography") or
                   "bibliography" in n.get("classes", []) for n in doctree.findall(nodes.Element))


class ChineseRuns(SphinxPostTransform):
    """Set runs of CJK characters in the CJK font (the main font has no such glyphs)."""

    builders = ("latex",)
    default_priority = 810

    def apply(self, **kwargs) -> None:
        for text in list(self.document.findall(nodes.Text)):
            if not _CJK.search(text) or isinstance(text.parent, (nodes.literal_block, nodes.raw)):
                continue
            pieces, pos = [], 0
            for m in _CJK.finditer(text):
                if m.start() > pos:
                    pieces.append(nodes.Text(text[pos:m.start()]))
                pieces.append(nodes.raw("", r"{\lstmcjk " + m.group() + "}", format="latex"))
                pos = m.end()
            if pos < len(text):
                pieces.append(nodes.Text(text[pos:]))
            parent = text.parent
            i = parent.index(text)
            parent[i:i + 1] = pieces


def _web_page(app, docname: str) -> str | None:
    """The chapter's web page, or None when the site's address is not set (public_urls.py)."""
    base = (app.config.html_baseurl or "").rstrip("/")
    return f"{base}/{docname}.html" if base else None


def link_explorer_figures(app, doctree) -> None:
    """``doctree-read``: append the interactive page's address to every explorer caption."""
    if app.builder.format != "latex":
        return
    url = _web_page(app, app.env.docname)
    if url is None:  # no published site: no link that would lead nowhere
        return
    for figure in doctree.findall(nodes.figure):
        if FIGURE_CLASS not in figure["classes"]:
            continue
        for caption in (c for c in figure.children if isinstance(c, nodes.caption)):
            caption += [nodes.Text(" Interactive version: "),
                        nodes.reference(url, url, refuri=url), nodes.Text(".")]
            break


def _built_pdf(app) -> Path | None:
    pdf = Path(app.outdir).parent / "pdf" / PDF_NAME
    return pdf if pdf.is_file() else None


def add_pdf_link(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context``: a PDF entry in the page's download menu, when the PDF exists."""
    if app.builder.format != "html" or _built_pdf(app) is None:
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "download-buttons":
            group["buttons"].append({
                "type": "link",
                "url": context["pathto"](PDF_NAME, 1),
                "text": ".pdf (the whole book)",
                "tooltip": "Download the whole book as one PDF",
                "icon": "fas fa-file-pdf",
                "label": "download-book-pdf-button",
            })


def copy_pdf(app, exception) -> None:
    """``build-finished``: put the PDF next to the pages that link it."""
    pdf = _built_pdf(app)
    if exception is None and app.builder.format == "html" and pdf is not None:
        shutil.copyfile(pdf, Path(app.outdir) / PDF_NAME)


def add_preamble(app, config) -> None:
    """``config-inited``: the macros the transforms above use."""
    elements = config.latex_elements
    elements["preamble"] = elements.get("preamble", "") + PREAMBLE


def setup(app):
    app.connect("config-inited", add_preamble)
    app.add_post_transform(BookStructure)
    app.add_post_transform(ChineseRuns)
    app.connect("doctree-read", link_explorer_figures)
    app.connect("html-page-context", add_pdf_link, priority=600)
    app.connect("build-finished", copy_pdf)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
