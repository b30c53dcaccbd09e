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
    reader = HTML / "notebooks" / f"{name}.ipynb"
    for path in (executed, reader):
        assert path.is_file(), path
        nbformat.validate(nbformat.read(path, as_version=4))
    ran = nbformat.read(executed, as_version=4)
    assert any(c.get("outputs") for c in ran.cells if c.cell_type == "code")
    plain = nbformat.read(reader, as_version=4)
    assert "import lstm_core" in plain.cells[0].source
    # only the cells that show package source keep their output (the listing)
    for cell in plain.cells:
        if cell.cell_type == "code" and cell.get("outputs"):
            assert "show_source(" in cell.source, cell.source[:200]
    page = _page(f"book/{name}").read_text(encoding="utf-8")
    assert f"_sources/book/{name}.ipynb" in page
    assert f"notebooks/{name}.ipynb" in page
    assert "notebooks/lstm-by-hand-notebooks.zip" in page
    # nothing is written into the sources
    assert not (BOOK / f"{name}.ipynb").exists()


def test_notebook_zip_holds_every_chapter(build_log):
    import zipfile

    with zipfile.ZipFile(HTML / "notebooks" / "lstm-by-hand-notebooks.zip") as zf:
        names = sorted(zf.namelist())
        assert names == sorted(f"lstm-by-hand/{n}.ipynb" for n in NOTEBOOK_CHAPTERS)
        for n in NOTEBOOK_CHAPTERS:
            assert zf.read(f"lstm-by-hand/{n}.ipynb") == (HTML / "notebooks" / f"{n}.ipynb").read_bytes()


def test_site_publishes_the_package_wheel(build_log):
    import zipfile

    (wheel,) = (HTML / "_static" / "wheels").glob("lstm_core-*-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    package = ROOT / "lstm_core"
    expected = {p.relative_to(ROOT).as_posix() for p in package.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    assert expected <= names, sorted(expected - names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read(metadata).decode()
    assert 'Provides-Extra: book' in text


# raw MyST that must not reach a reader: roles, directives, labels, glue, unresolved refs
RAW_MYST = re.compile(r"\{[a-z]+(?::[a-z]+)?\}`|^\s*\([\w-]+\)=\s*$|^\s*:::|^\s*```\{|\{glue"
                      r"|^\s*:(?:label|class|tags):|\?\?", re.M)


@pytest.mark.parametrize("name", NOTEBOOK_CHAPTERS)
def test_reader_notebooks_are_plain_markdown(build_log, name):
    """The reader's notebook: no MyST left, equations numbered as on the site, every exercise
    numbered with its solution collapsed, every citation as author-year text."""
    import nbformat

    source = (BOOK / f"{name}.md").read_text(encoding="utf-8")
    nb = nbformat.read(HTML / "notebooks" / f"{name}.ipynb", as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    prose = re.sub(r"^(`{3,}|~{3,}).*?^\1\s*$", "", markdown, flags=re.M | re.S)  # not in code
    raw = [m.group(0) for m in RAW_MYST.finditer(prose)]
    assert not raw, raw[:10]
    labels = re.findall(r"\$\$ \((eq-[\w-]+)\)\s*$", source, flags=re.M)
    site = _soup(_page(f"book/{name}"))
    for label in labels:
        eqno = site.find(id=f"equation-{label}").find(class_="eqno").get_text(strip=True)
        assert f"\\tag{{{eqno.rstrip('#').strip('()')}}}" in markdown, label
    exercises = len(re.findall(r"^:::\{exercise\}", source, flags=re.M))
    assert len(re.findall(r"^\*\*Exercise [A-Z\d]+(?:\.\d+)?\*\*", markdown, flags=re.M)) == exercises
    solutions = len(re.findall(r"^(?::::\{solution\}|```\{solution-start\})", source, flags=re.M))
    assert len(re.findall(r"<summary>Solution to Exercise [A-Z\d]+(?:\.\d+)?</summary>", markdown)) \
        == solutions
    assert markdown.count("<details>") == markdown.count("</details>")
    if re.search(r"\{cite:[pt]\}", source):
        assert re.search(r"[A-Z]\w+(?: et al\.| & \w+)?,? \(?\[?\d{4}", markdown)
        assert nb.cells[-1].source.startswith("## References")


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


# ----------------------------------------------------------------------------- public addresses

PLACEHOLDERS = ("OWNER", "example.org", "TODO(publisher)")


def _built_text_files():
    """Every page and notebook of the site (MathJax's own files excluded)."""
    for path in sorted(HTML.rglob("*")):
        if path.suffix in {".html", ".ipynb", ".txt", ".js", ".json"} and path.is_file() \
                and "mathjax" not in path.relative_to(HTML).parts:
            yield path


def test_no_placeholder_address_reaches_the_site(build_log):
    found = [(str(p.relative_to(HTML)), word) for p in _built_text_files()
             for word in PLACEHOLDERS if word in p.read_text(encoding="utf-8", errors="replace")]
    assert not found, found


def test_only_known_addresses_are_rendered(build_log):
    """With LSTM_BOOK_REPO / LSTM_BOOK_URL unset (and _config.yml's left empty) nothing that
    needs them is rendered; when set, the repository button points at the repository."""
    import os

    repo = os.environ.get("LSTM_BOOK_REPO", "").rstrip("/")
    site = os.environ.get("LSTM_BOOK_URL", "")
    for docname in PAGES:
        soup = _soup(_page(docname))
        buttons = soup.select(".article-header-buttons a[href], .header-article-items a[href]")
        hrefs = [a["href"] for a in buttons]
        launch = [h for h in hrefs if "mybinder" in h or "/hub/" in h or "colab" in h]
        repo_links = [h for h in hrefs if "github.com" in h or "gitlab" in h]
        if repo:
            assert any(h.startswith(repo) for h in repo_links), (docname, hrefs)
        else:
            assert not launch and not repo_links, (docname, hrefs)
    for name in NOTEBOOK_CHAPTERS:
        text = (HTML / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8")
        assert ("%pip install" in text) == bool(site), name


# ----------------------------------------------------------------------------- math, offline

_MATH_STATE_JS = """
const done = arguments[arguments.length - 1];
const report = () => {
  const maths = Array.from(document.querySelectorAll('.math'));
  const body = document.body.cloneNode(true);
  body.querySelectorAll('pre, code, script, style, textarea, mjx-assistive-mml')
      .forEach(e => e.remove());
  done({
    mathjax: !!window.MathJax,
    src: Array.from(document.scripts).map(s => s.src).filter(s => /mathjax/i.test(s)),
    maths: maths.length,
    typeset: maths.filter(e => e.querySelector('mjx-container')).length,
    containers: document.querySelectorAll('mjx-container').length,
    errors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
    text: body.textContent,
    resources: performance.getEntriesByType('resource').map(e => e.name),
  });
};
if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
  MathJax.startup.promise.then(report, e => done({failed: String(e)}));
} else { report(); }
"""


def _math_state(driver, where) -> dict:
    import browser

    browser.open_page(driver, where)
    driver.set_script_timeout(60)
    return driver.execute_async_script(_MATH_STATE_JS)


def _assert_math_typeset(state: dict, where, origin: str) -> None:
    assert "failed" not in state, (where, state)
    assert state["typeset"] == state["maths"], (where, state["typeset"], state["maths"])
    assert state["errors"] == 0, where
    if state["maths"]:
        assert state["src"] and all(s.startswith(origin) for s in state["src"]), state["src"]
    raw = re.findall(r".{0,30}(?:\\\(|\\\[|\$\$).{0,30}", state["text"])
    assert not raw, (where, raw[:5])
    outside = [u for u in state["resources"] if not u.startswith(origin)]
    assert not outside, (where, outside)


def test_math_is_typeset_offline(build_log):
    """Every page, opened from disk with every non-file: request blocked, typesets all its
    formulas with the site's own MathJax, shows no MathJax error and no raw TeX."""
    import browser

    with browser.chromium(width=1200, height=1000) as driver:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setBlockedURLs",
                               {"urls": ["http://*", "https://*", "ws://*", "wss://*"]})
        total = 0
        for docname in PAGES:
            state = _math_state(driver, _page(docname))
            _assert_math_typeset(state, docname, "file:")
            total += state["maths"]
        assert total > 500, total  # the book has formulas on most pages


def test_math_is_typeset_over_http(build_log):
    """The same site served over http (loopback) loads MathJax from itself, nothing else."""
    import browser
    from conftest import serve

    heaviest = max(PAGES, key=lambda d: _page(d).read_text(encoding="utf-8").count('class="math'))
    with serve(HTML) as url, browser.chromium(width=1200, height=1000) as driver:
        state = _math_state(driver, f"{url}{heaviest}.html")
        assert state["maths"] > 100, heaviest
        _assert_math_typeset(state, heaviest, url)
