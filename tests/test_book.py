"""Build the whole book once and inspect the result.

The build is the one `make book` runs (every chapter executed from a fresh kernel, Sphinx
warnings are errors). Deselect with ``-m "not book"`` for a quick run; ``make test`` runs it.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
BOOK = ROOT / "book"


def _toc_pages() -> list[str]:
    """Every docname in _toc.yml (root first), so new chapters are picked up automatically."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                pages.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return pages


PAGES = _toc_pages()
# chapters written as MyST notebooks (a kernelspec in the jupytext header)
NOTEBOOK_CHAPTERS = [
    Path(p).name for p in PAGES if "kernelspec:" in (ROOT / f"{p}.md").read_text(encoding="utf-8")
]


def _soup(path: Path):
    from bs4 import BeautifulSoup

    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def _page(docname: str) -> Path:
    return HTML / f"{docname}.html"


def test_build_reports_no_warning(build_log):
    assert "build succeeded" in build_log
    sphinx_warnings = [ln for ln in build_log.splitlines() if ": WARNING:" in ln]
    assert not sphinx_warnings, sphinx_warnings


@pytest.mark.parametrize("docname", PAGES)
def test_every_toc_page_is_built(build_log, docname):
    assert _page(docname).is_file()
    assert (HTML / "index.html").is_file()


def test_the_toc_lists_the_pages_this_test_expects():
    for page in ["book/intro", "book/notation", "book/staged_backprop", "book/bibliography"]:
        assert page in PAGES
    assert "staged_backprop" in NOTEBOOK_CHAPTERS


@pytest.mark.parametrize("docname", PAGES)
def test_every_page_has_a_label_target(docname):
    body = (ROOT / f"{docname}.md").read_text(encoding="utf-8")
    assert re.search(r"^\([\w-]+\)=$", body, flags=re.M), f"{docname} has no (label)= target"


@pytest.mark.parametrize("docname", PAGES)
def test_no_cell_output_is_an_error(build_log, docname):
    soup = _soup(_page(docname))
    for out in soup.select("div.cell_output"):
        classes = " ".join(c for div in out.find_all("div") for c in div.get("class", []))
        assert "traceback" not in classes and "stderr" not in classes and " error" not in classes
        text = out.get_text("\n")
        assert "Traceback" not in text, text[:500]
        # the last line of an uncaught exception or a printed warning, e.g. "ValueError: ..."
        assert not re.search(r"^\s*\w*(Error|Exception|Warning): ", text, flags=re.M), text[:500]


def test_chapter_is_numbered_and_equations_resolve(build_log):
    source = (BOOK / "staged_backprop.md").read_text(encoding="utf-8")
    labels = re.findall(r"^\$\$ \((eq-[\w-]+)\)$", source, flags=re.M)
    referenced = set(re.findall(r"\{eq\}`(eq-[\w-]+)`", source))
    assert len(labels) >= 5 and referenced <= set(labels)

    soup = _soup(_page("book/staged_backprop"))
    assert soup.select_one("h1 > span.section-number").get_text(strip=True) == "1."
    numbers = []
    for label in labels:
        anchor = soup.find(id=f"equation-{label}")
        assert anchor is not None, label
        eqno = anchor.find(class_="eqno")
        numbers.append(eqno.get_text(strip=True).rstrip("#"))  # "#" is the permalink
    assert numbers == [f"(1.{k})" for k in range(1, len(labels) + 1)]
    for label in referenced:
        links = soup.select(f'a.reference.internal[href="#equation-{label}"]')
        assert links and all(re.fullmatch(r"\(1\.\d+\)", a.get_text(strip=True)) for a in links)
    # no MyST role or directive survived unparsed
    text = soup.get_text(" ")
    assert "{eq}" not in text and "{ref}" not in text and "{cite" not in text


def test_cross_references_and_citations_resolve(build_log):
    soup = _soup(_page("book/staged_backprop"))
    hrefs = [a["href"] for a in soup.select("a.reference.internal[href]")]
    assert any(h.endswith("#staged-bridge") for h in hrefs)
    assert any(h.endswith("#staged-accumulate") for h in hrefs)
    assert any("bibliography.html#id" in h for h in hrefs)
    bib = _soup(_page("book/bibliography")).get_text(" ")
    for needle in ["Long Short-Term Memory", "Learning to Forget", "Recurrent Nets that Time",
                   "Encoder", "difficulty of training", "Search Space Odyssey",
                   "Empirical Exploration", "Long-Term Dependencies", "Backpropagation Through"]:
        assert needle.lower() in bib.lower(), needle


def test_exercises_have_collapsed_solutions(build_log):
    soup = _soup(_page("book/staged_backprop"))
    assert len(soup.select("div.exercise")) == 2
    solutions = soup.select("div.solution")
    assert len(solutions) == 2
    for sol in solutions:
        # sphinx-togglebutton collapses admonitions with the "dropdown" class in the browser
        assert "dropdown" in sol["class"]


def _chapter1_explorer(soup):
    """Chapter 1's explorer: the one lstm_core.viz explorer in the section 'Explore: move x and y'."""
    label = soup.find(id="staged-explorer")
    assert label is not None, "chapter 1 has no explorer section"
    section = label if label.name == "section" else label.find_parent("section")
    (root,) = section.select("div.lstm-gx")
    return root, json.loads(root.select_one("script.gx-data").get_text())


def test_static_explorer_is_self_contained(build_log):
    from lstm_core import staged

    root, data = _chapter1_explorer(_soup(_page("book/staged_backprop")))
    assert len(data["frames"]) == 21 * 21 and "16,2" in data["frames"]  # x = 3, y = -4 on the grid
    assert [c["name"] for c in data["controls"]] == ["x", "y"]
    assert [c["labels"][i] for c, i in zip(data["controls"], (16, 2))] == ["3", "-4"]
    default = data["frames"]["16,2"]
    f, dfdx, dfdy = staged.value_and_grad(3.0, -4.0)
    assert default["table"]["caption"].startswith(f"f = {f:.6g},")
    assert f"∂f/∂y = {dfdy:.6g}" in default["table"]["caption"]
    assert [r[0] for r in default["table"]["rows"]] == [t["t"] for t in default["xticks"]]
    assert len(default["table"]["rows"]) == 8
    html = _page("book/staged_backprop").read_text(encoding="utf-8")
    assert "application/vnd.jupyter.widget-view+json" not in html
    assert "widget-view" not in html


@pytest.mark.parametrize("name", NOTEBOOK_CHAPTERS)
def test_ipynb_downloads_exist(build_log, name):
    import nbformat

    executed = HTML / "_sources" / "book" / f"{name}.ipynb"
    clean = HTML / "notebooks" / f"{name}.ipynb"
    for path in (executed, clean):
        assert path.is_file(), path
        nbformat.validate(nbformat.read(path, as_version=4))
    ran = nbformat.read(executed, as_version=4)
    assert any(c.get("outputs") for c in ran.cells if c.cell_type == "code")
    plain = nbformat.read(clean, as_version=4)
    assert "import lstm_core" in plain.cells[0].source
    assert not any(c.get("outputs") for c in plain.cells if c.cell_type == "code")
    page = _page(f"book/{name}").read_text(encoding="utf-8")
    assert f"_sources/book/{name}.ipynb" in page
    assert f"notebooks/{name}.ipynb" in page
    # nothing is written into the sources
    assert not (BOOK / f"{name}.ipynb").exists()


def test_static_explorer_responds_in_a_browser(build_log):
    """Move chapter 1's x slider in headless Chromium (skipped when no browser is installed)."""
    import browser

    from lstm_core import staged

    with browser.chromium(width=1200, height=1000) as driver:
        browser.open_page(driver, _page("book/staged_backprop"))
        root, _ = _chapter1_explorer(_soup(_page("book/staged_backprop")))
        dom_id = root["id"]
        assert dom_id in browser.wait_for_explorers(driver)
        start = browser.figure_state(driver, dom_id)
        assert start["table_caption"].startswith("f = 1.54564")
        assert start["controls"] == {"x": "16", "y": "2"}
        browser.press_key(driver, dom_id, "x", "ARROW_LEFT")  # one grid step: x = 2.5
        moved = browser.figure_state(driver, dom_id)
        assert moved["frame_key"] == "15,2"
        f, dfdx, _ = staged.value_and_grad(2.5, -4.0)
        assert moved["table_caption"].startswith(f"f = {f:.6g},")
        assert f"∂f/∂x = {dfdx:.6g}" in moved["table_caption"]
        assert len(moved["table"]) == 1 + 8 and moved["lines"] != start["lines"]
        # network failures (the MathJax CDN when offline) are not the page's fault
        errors = [e for e in browser.console_errors(driver)
                  if "net::ERR" not in e and "Failed to load resource" not in e]
        assert not errors, errors


# pages whose gradient explorers are driven in the browser: every toc page that has one
def test_every_gradient_explorer_responds_in_a_browser(build_log):
    """On every built page, move each control of each explorer one step and check the figure changed."""
    import browser

    browser.require_browser()
    pages = [p for p in PAGES if "lstm-gx-" in _page(p).read_text(encoding="utf-8")]
    assert pages, "no page has a gradient explorer"
    with browser.chromium(width=1200, height=1000) as driver:
        for docname in pages:
            browser.open_page(driver, _page(docname))
            ids = browser.wait_for_explorers(driver)
            for dom_id in ids:
                for name in browser.control_names(driver, dom_id):
                    before = browser.figure_state(driver, dom_id)
                    n = driver.execute_script(
                        "const e = document.getElementById(arguments[0]).querySelector("
                        "'[data-control=\"' + arguments[1] + '\"]');"
                        "return e.tagName === 'SELECT' ? e.options.length : Number(e.max) + 1;",
                        dom_id, name)
                    current = int(float(before["controls"][name]))
                    browser.set_control(driver, dom_id, name, (current + 1) % n)
                    after = browser.figure_state(driver, dom_id)
                    assert after["frame_key"] != before["frame_key"], (docname, dom_id, name)
                    assert after["title"] and after["xlabel"] and after["ylabel"], (docname, dom_id)
                    browser.set_control(driver, dom_id, name, current)
            errors = [e for e in browser.console_errors(driver)
                      if "net::ERR" not in e and "Failed to load resource" not in e]
            assert not errors, (docname, errors)


@pytest.mark.parametrize("docname", PAGES)
def test_no_markdown_table_is_left_unrendered(build_log, docname):
    """A Markdown table printed by a cell must become an HTML table (a stray '|' in a cell breaks it)."""
    soup = _soup(_page(docname))
    for tag in soup(["pre", "code", "script", "style"]):
        tag.decompose()
    leftovers = re.findall(r"\|\s*(?:—|–|---)\s*\|", soup.get_text())
    assert not leftovers, f"{docname}: raw Markdown table text in the page"
