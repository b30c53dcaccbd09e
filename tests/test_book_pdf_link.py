"""The web book links the PDF (book/_ext/pdf_book.py) only when _build/pdf/book.pdf exists
before the web build; the publishing workflow (.github/workflows/book.yml) therefore builds
the web book again after `make test` has built the PDF, then runs this file."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
PDF = ROOT / "_build" / "pdf" / "book.pdf"
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import pdf_book  # noqa: E402


def _page_context():
    return {"header_buttons": [{"label": "download-buttons", "buttons": [{"label": "source"}]}],
            "pathto": lambda name, resource: f"../{name}"}


def _app(tmp_path):
    outdir = tmp_path / "_build" / "html"
    outdir.mkdir(parents=True)
    return SimpleNamespace(outdir=str(outdir), builder=SimpleNamespace(format="html"))


def _labels(context):
    return [b["label"] for b in context["header_buttons"][0]["buttons"]]


def test_no_pdf_no_link(tmp_path):
    app, context = _app(tmp_path), _page_context()
    pdf_book.add_pdf_link(app, "book/gru", "page.html", context, None)
    pdf_book.copy_pdf(app, None)
    assert _labels(context) == ["source"]
    assert not (Path(app.outdir) / "book.pdf").exists()


def test_a_pdf_built_before_the_web_book_is_linked_and_copied(tmp_path):
    app, context = _app(tmp_path), _page_context()
    pdf = tmp_path / "_build" / "pdf" / "book.pdf"
    pdf.parent.mkdir(parents=True)
    pdf.write_bytes(b"%PDF-1.5 stand-in")
    pdf_book.add_pdf_link(app, "book/gru", "page.html", context, None)
    pdf_book.copy_pdf(app, None)
    assert _labels(context) == ["source", "download-book-pdf-button"]
    assert context["header_buttons"][0]["buttons"][1]["url"] == "../book.pdf"
    assert (Path(app.outdir) / "book.pdf").read_bytes() == pdf.read_bytes()


@pytest.mark.book
def test_the_built_site_links_the_pdf_when_it_was_built_after_it():
    """Reads the last web build in _build/html (does not build): built after the PDF, every
    page's download menu links the copy of the PDF next to the pages."""
    pages = sorted(HTML.glob("book/*.html"))
    if not pages or not PDF.exists():
        pytest.skip("needs a PDF (make pdf) and a web build (make book)")
    # (the root index.html is a redirect that a build leaves alone: the chapters' pages count)
    if min(p.stat().st_mtime for p in pages) < PDF.stat().st_mtime:
        pytest.skip("the web book was built before the PDF (make test's order); "
                    "the publishing workflow builds it again")
    from bs4 import BeautifulSoup

    assert (HTML / "book.pdf").read_bytes() == PDF.read_bytes()
    for page in pages:
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        links = [a["href"] for a in soup.select("a[href]") if a["href"].endswith("book.pdf")]
        assert links, page.name
        assert all((page.parent / href).resolve() == (HTML / "book.pdf").resolve()
                   for href in links), (page.name, links)
