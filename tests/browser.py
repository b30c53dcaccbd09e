"""Helpers that drive headless Chromium over pages holding static gradient explorers.

Used by tests/test_viz.py on a standalone page and meant to be reused by tests
of the built book (open ``_build/html/<chapter>.html`` with :func:`open_page`).
Everything here skips the calling test, with a reason, when selenium, chromium
or chromedriver is not available.  Paths can be overridden with the environment
variables ``LSTM_CORE_CHROMIUM`` and ``LSTM_CORE_CHROMEDRIVER``.

Typical use::

    with chromium() as driver:
        open_page(driver, tmp_path / "page.html")
        (gx,) = wait_for_explorers(driver)
        before = figure_state(driver, gx)
        set_control(driver, gx, "n_steps", 3)
        after = figure_state(driver, gx)
"""

from __future__ import annotations

import contextlib
import html
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def _find(env: str, name: str, fallback: str) -> str | None:
    for candidate in (os.environ.get(env), shutil.which(name), fallback):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def chromium_path() -> str | None:
    return _find("LSTM_CORE_CHROMIUM", "chromium", "/usr/bin/chromium")


def chromedriver_path() -> str | None:
    return _find("LSTM_CORE_CHROMEDRIVER", "chromedriver", "/usr/bin/chromedriver")


def browser_missing_reason() -> str | None:
    """Why a browser test cannot run here, or None when it can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    if chromium_path() is None:
        return "chromium not found (Debian: apt-get install chromium, or set LSTM_CORE_CHROMIUM)"
    if chromedriver_path() is None:
        return "chromedriver not found (Debian: apt-get install chromium-driver, or set LSTM_CORE_CHROMEDRIVER)"
    return None


def require_browser() -> None:
    reason = browser_missing_reason()
    if reason:
        pytest.skip(reason)


@contextlib.contextmanager
def chromium(width: int = 1000, height: int = 900) -> Iterator[Any]:
    """A headless Chromium WebDriver with a throw-away profile; always shut down."""
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="lstm-core-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium_path()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver_path()), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def write_page(path: Path, body_html: str, title: str = "explorer test page") -> Path:
    """Wrap HTML fragments (e.g. StaticExplorer.html) in a minimal standalone page."""
    path = Path(path)
    path.write_text(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title></head>\n<body>\n{body_html}\n</body></html>\n",
        encoding="utf-8",
    )
    return path


def open_page(driver: Any, where: str | Path) -> None:
    """Load a local file (path) or a URL and wait until the document is complete."""
    target = str(where)
    if "://" not in target:
        target = Path(where).resolve().as_uri()
    driver.get(target)
    _wait(lambda: driver.execute_script("return document.readyState") == "complete", 10, "page load")


def _wait(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def explorer_ids(driver: Any) -> list[str]:
    """DOM ids of the explorers on the page whose script has run."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('.lstm-gx[data-ready]')).map(e => e.id);"
    )


def wait_for_explorers(driver: Any, count: int | None = None, timeout: float = 10) -> list[str]:
    """Wait until ``count`` explorers (at least one if None) are initialised; return their ids."""
    need = 1 if count is None else count
    _wait(lambda: len(explorer_ids(driver)) >= need, timeout, f"{need} initialised explorer(s)")
    ids = explorer_ids(driver)
    if count is not None:
        assert len(ids) == count, f"expected {count} explorers, found {len(ids)}: {ids}"
    return ids


def control_names(driver: Any, dom_id: str) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.getElementById(arguments[0]).querySelectorAll('[data-control]'))"
        ".map(e => e.getAttribute('data-control'));",
        dom_id,
    )


def _control_element(driver: Any, dom_id: str, name: str) -> Any:
    from selenium.webdriver.common.by import By

    root = driver.find_element(By.ID, dom_id)
    found = [e for e in root.find_elements(By.CSS_SELECTOR, "[data-control]")
             if e.get_attribute("data-control") == name]
    assert found, f"explorer {dom_id} has no control {name!r}; it has {control_names(driver, dom_id)}"
    return found[0]


def set_control(driver: Any, dom_id: str, name: str, index: int) -> None:
    """Move a range input / select to position ``index`` the way a user edit would (input + change events)."""
    el = _control_element(driver, dom_id, name)
    driver.execute_script(
        "const el = arguments[0];"
        "if (el.tagName === 'SELECT') { el.selectedIndex = arguments[1]; } else { el.value = String(arguments[1]); }"
        "el.dispatchEvent(new Event('input', {bubbles: true}));"
        "el.dispatchEvent(new Event('change', {bubbles: true}));",
        el,
        int(index),
    )


def press_key(driver: Any, dom_id: str, name: str, key: str = "ARROW_RIGHT") -> None:
    """Focus a control and press a key (a real keyboard event, e.g. ARROW_RIGHT on a slider)."""
    from selenium.webdriver.common.keys import Keys

    el = _control_element(driver, dom_id, name)
    driver.execute_script("arguments[0].focus();", el)  # a click would also move a slider
    el.send_keys(getattr(Keys, key))


def figure_state(driver: Any, dom_id: str) -> dict[str, Any]:
    """What the explorer's SVG currently shows, as plain data."""
    return driver.execute_script(
        """
        const root = document.getElementById(arguments[0]);
        const svg = root.querySelector('svg.gx-plot');
        const texts = sel => Array.from(svg.querySelectorAll(sel)).map(e => e.textContent);
        const controls = {};
        root.querySelectorAll('[data-control]').forEach(e => { controls[e.getAttribute('data-control')] = e.value; });
        const lines = {};
        svg.querySelectorAll('polyline.gx-line').forEach(p => { lines[p.getAttribute('data-series')] = p.getAttribute('points'); });
        return {
          frame_key: svg.getAttribute('data-frame-key'),
          controls: controls,
          lines: lines,
          overflow_markers: svg.querySelectorAll('.gx-overflow').length,
          underflow_markers: svg.querySelectorAll('.gx-underflow').length,
          notes: texts('.gx-note'),
          title: texts('.gx-title').join(''),
          xlabel: texts('.gx-xlabel').join(''),
          ylabel: texts('.gx-ylabel').join(''),
          yticks: texts('.gx-ytick'),
          xticks: texts('.gx-xtick'),
          legend: texts('.gx-legend text'),
          // text is drawn in viewBox units: their ratio to CSS pixels is the text's scale
          viewbox_width: svg.viewBox.baseVal.width,
          client_width: svg.getBoundingClientRect().width,
          table_caption: Array.from(root.querySelectorAll('.gx-details .gx-caption')).map(e => e.textContent).join(''),
          table: Array.from(root.querySelectorAll('.gx-details tr')).map(
            tr => Array.from(tr.children).map(c => c.textContent)),
        };
        """,
        dom_id,
    )


def console_errors(driver: Any) -> list[str]:
    """Severe messages (JavaScript errors) from the browser console since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


def screenshot(driver: Any, dom_id: str, path: str | Path) -> Path:
    """PNG of one explorer (controls and figure)."""
    from selenium.webdriver.common.by import By

    path = Path(path)
    el = driver.find_element(By.ID, dom_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", el)
    el.screenshot(str(path))
    return path
