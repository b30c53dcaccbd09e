"""The rendered book, checked for what a reader sees: appendix numbers, bibliography labels,
one search box, and a build log without the kernels' transport warning."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
BOOK = ROOT / "book"


def _soup(docname: str):
    from bs4 import BeautifulSoup

    return BeautifulSoup((HTML / f"{docname}.html").read_text(encoding="utf-8"), "html.parser")


def _appendices() -> list[str]:
    """The appendix pages in table-of-contents order."""
    import yaml

    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    files = re.findall(r"-\s*file:\s*(\S+)", yaml.safe_dump(yaml.safe_load(toc)))
    return [f for f in files if Path(f).name.startswith("appendix_")]


def test_appendices_number_their_own_equations_and_exercises(build_log):
    appendices = _appendices()
    assert len(appendices) >= 3
    for letter, doc in zip("ABCDEFGH", appendices):
        source = (ROOT / f"{doc}.md").read_text(encoding="utf-8")
        labels = re.findall(r"^\$\$ \((eq-[\w-]+)\)$", source, flags=re.M)
        soup = _soup(doc)
        assert soup.find("h1").get_text(" ", strip=True).startswith(f"Appendix {letter}:"), doc
        numbers = [soup.find(id=f"equation-{label}").find(class_="eqno").get_text(strip=True)
                   .rstrip("#") for label in labels]
        assert numbers == [f"({letter}.{k})" for k in range(1, len(labels) + 1)], (doc, numbers)
        titles = [t.get_text(" ", strip=True) for t in soup.select("div.exercise p.admonition-title")]
        n_exercises = len(re.findall(r"^:::\{exercise\}|^```\{exercise-start\}", source, flags=re.M))
        assert len(titles) == n_exercises
        for k, title in enumerate(titles, start=1):
            assert title.startswith(f"Exercise {letter}.{k}"), (doc, title)


def test_bibliography_labels_are_author_year(build_log):
    soup = _soup("book/bibliography")
    labels = [el.get_text(strip=True) for el in soup.select("div.citation > span.label")]
    assert len(labels) >= 10, labels
    for label in labels:
        assert re.fullmatch(r"\[[^\]]+, \d{4}[a-z]?\]", label), label
    # the labels say what the text says
    assert "[Hochreiter and Schmidhuber, 1997]" in labels
    assert "[Cho et al., 2014]" in labels


def test_one_search_box_per_page(build_log):
    for doc in ("book/intro", "book/rnn_bptt", "book/appendix_cost"):
        fields = _soup(doc).select(".search-button-field")
        assert len(fields) == 1, (doc, len(fields))


@pytest.mark.skipif(os.name != "posix", reason="ZeroMQ has no IPC transport on Windows")
def test_kernels_do_not_warn_about_tcp(build_log):
    assert "Kernel is running over TCP" not in build_log


def test_code_blocks_wrap_instead_of_hiding_their_ends(build_log):
    css = (HTML / "_static" / "readable-code.css").read_text(encoding="utf-8")
    assert "white-space: pre-wrap" in css and "article div.highlight pre" in css
    for doc in ("book/rnn_bptt", "book/appendix_cost"):
        links = [link.get("href", "") for link in _soup(doc).select('link[rel="stylesheet"]')]
        assert any(href.split("?")[0].endswith("readable-code.css") for href in links), doc


def test_equation_references_have_one_pair_of_parentheses(build_log):
    # math_eqref_format already prints "(4.1)"; "({eq}`x`)" in the source gave "((4.1))"
    doubled = {}
    for page in sorted((HTML / "book").glob("*.html")):
        text = _soup(f"book/{page.stem}").get_text(" ")
        found = re.findall(r"\(\(\s*[A-Z0-9]+\.[0-9]+\s*\)\)", text)
        if found:
            doubled[page.stem] = found[:3]
    assert not doubled, doubled


# ------------------------------------------------------------------------------ phones, laptops

PHONE_WIDTH = 400
LAPTOP_WIDTH = 1280

# Display equations that may still scroll sideways inside their box on a phone (with the edge
# shadow of _static/narrow-screens.css), each with the reason it cannot be written on shorter
# lines. Every other display equation fits a 400 px screen.
MAY_SCROLL_ON_A_PHONE: dict[str, str] = {}

_BOX_STATE_JS = """
const done = arguments[arguments.length - 1];
const vw = arguments[0];
// what a reader can open is measured open: collapsed solutions, hidden cell inputs
document.querySelectorAll('details').forEach(d => { d.open = true; });
document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
const report = () => {
  const shown = e => !e.closest('.bd-sidebar-primary, .bd-sidebar-secondary');
  // elements whose right edge is past the screen's (the first few, to say what is too wide)
  const wide = Array.from(document.querySelectorAll('.bd-article *')).filter(e => shown(e)
      && e.getBoundingClientRect().right > vw + 0.5 && e.scrollWidth <= e.clientWidth + 1
      && getComputedStyle(e.parentElement).overflowX === 'visible')
    .slice(0, 3).map(e => e.tagName + '.' + e.className + ' ' + e.textContent.slice(0, 50));
  // boxes that scroll sideways inside the page: display equations, tables, anything else
  const name = e => {
    const math = e.closest('div.math');
    if (math) return math.id ? math.id.replace(/^equation-/, '')
                             : 'unlabelled "' + e.textContent.slice(0, 40) + '"';
    const section = e.closest('section[id]');
    return e.tagName.toLowerCase() + '.' + String(e.className).split(' ')[0]
      + ' in #' + (section ? section.id : '?') + ' "' + e.textContent.trim().slice(0, 40) + '"';
  };
  const scrolling = Array.from(document.querySelectorAll('.bd-article *')).filter(e => shown(e)
      && e.scrollWidth > e.clientWidth + 1
      && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))
    .map(e => ({name: name(e), math: !!e.closest('div.math'),
                width: e.scrollWidth, box: e.clientWidth}));
  done({scroll: document.documentElement.scrollWidth, body: document.body.scrollWidth,
        wide: wide, maths: document.querySelectorAll('div.math mjx-container').length,
        scrolling: scrolling});
};
if (window.MathJax && MathJax.startup) MathJax.startup.promise.then(() => setTimeout(report, 200));
else setTimeout(report, 500);
"""


def _box_states(width: int, mobile: bool) -> dict[str, dict]:
    """Every page of the book at ``width`` CSS pixels: its width and what scrolls inside it."""
    import browser

    from test_book import PAGES

    states = {}
    with browser.chromium(width=max(width, 500), height=900) as driver:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": 900, "deviceScaleFactor": 2 if mobile else 1,
                                "mobile": mobile})
        driver.set_script_timeout(60)
        for doc in PAGES:
            browser.open_page(driver, HTML / f"{doc}.html")
            states[doc] = driver.execute_async_script(_BOX_STATE_JS, width)
    return states


@pytest.fixture(scope="module")
def phone(build_log) -> dict[str, dict]:
    return _box_states(PHONE_WIDTH, mobile=True)


@pytest.fixture(scope="module")
def laptop(build_log) -> dict[str, dict]:
    return _box_states(LAPTOP_WIDTH, mobile=False)


def _equations_wider_than_their_box(states: dict[str, dict]) -> dict[str, list[str]]:
    return {doc: [f"{b['name']} ({b['width']} px in {b['box']})" for b in st["scrolling"] if b["math"]]
            for doc, st in states.items() if any(b["math"] for b in st["scrolling"])}


def test_no_page_is_wider_than_a_phone(phone):
    """At 400 px (a phone, with the phone's viewport rules) no page scrolls sideways as a whole:
    wide tables scroll inside their own boxes (_static/narrow-screens.css)."""
    too_wide = {doc: st for doc, st in phone.items() if max(st["scroll"], st["body"]) > PHONE_WIDTH}
    assert not too_wide, too_wide


def test_display_equations_fit_a_phone(phone):
    """At 400 px every display equation fits its box (long ones are written on several lines),
    except those listed in MAY_SCROLL_ON_A_PHONE, which scroll inside it."""
    assert sum(st["maths"] for st in phone.values()) >= 90  # the measurement saw the equations
    wider = _equations_wider_than_their_box(phone)
    print("display equations wider than their box at 400 px:", wider)
    unexpected = {doc: [e for e in found if e.split(" (")[0] not in MAY_SCROLL_ON_A_PHONE]
                  for doc, found in wider.items()}
    assert not any(unexpected.values()), unexpected


def test_nothing_scrolls_sideways_on_a_laptop(laptop):
    """At 1280 px no display equation, table or other box in the text column is wider than its
    box (which would make the reader scroll it sideways)."""
    assert sum(st["maths"] for st in laptop.values()) >= 90
    scrolling = {doc: [f"{b['name']} ({b['width']} px in {b['box']})" for b in st["scrolling"]]
                 for doc, st in laptop.items() if st["scrolling"]}
    assert not scrolling, scrolling
