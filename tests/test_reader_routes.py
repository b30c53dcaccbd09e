"""The chapters in JupyterLab (``make live``), as a reader sees them.

Slow (a JupyterLab in headless Chromium); marked ``book`` like the other rendered-book tests,
so ``make test`` runs it and ``-m "not book"`` skips it.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, free_port

pytestmark = pytest.mark.book

# ------------------------------------------------------------------------------- make live

LAB_CHAPTERS = ["staged_backprop", "rnn_bptt", "lstm_forward", "gru"]
# raw MyST a reader must not see: roles, directive fences, labels, options, glue, unresolved refs
RAW_MYST_JS = r"/\{[a-z]+(?::[a-z]+)?\}`|^\s*\([\w-]+\)=\s*$|^\s*:::|```\{|\{glue|^\s*:(label|class|tags):|\?\?/m"

_LAB_STATE_JS = """
const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
if (!panel) return null;
const md = Array.from(panel.querySelectorAll('.jp-MarkdownCell'));
const raw = new RegExp(arguments[0].slice(1, arguments[0].lastIndexOf('/')), 'm');
const rendered = md.filter(c => c.classList.contains('jp-mod-rendered')
                               && c.querySelector('.jp-MarkdownOutput'));
// the prose a reader sees, without code blocks (package listings may quote roles)
const texts = rendered.map(c => {
  const copy = c.querySelector('.jp-MarkdownOutput').cloneNode(true);
  copy.querySelectorAll('pre, code').forEach(e => e.remove());
  return copy.textContent;
});
return {
  markdown: md.length,
  rendered: rendered.length,
  math: panel.querySelectorAll('.jp-MarkdownOutput mjx-container').length,
  math_errors: panel.querySelectorAll('mjx-merror, [data-mjx-error]').length,
  raw: texts.filter(t => raw.test(t)).map(t => t.match(raw)[0]),
  raw_tex: texts.filter(t => /\\\\\\(|\\\\\\[|\\$\\$/.test(t)).length,
  details: panel.querySelectorAll('.jp-MarkdownOutput details').length,
  open_details: panel.querySelectorAll('.jp-MarkdownOutput details[open]').length,
  text: panel.innerText,
  // the notebook's tab marked modified, and the kernel's status
  dirty: !!document.querySelector('.lm-TabBar-tab.lm-mod-current.jp-mod-dirty'),
  kernel: (panel.querySelector('.jp-Notebook-ExecutionIndicator')
           || document.querySelector('.jp-Notebook-ExecutionIndicator') || {getAttribute: () => null})
          .getAttribute('data-status'),
};
"""


def _listed_objects(name: str) -> list[str]:
    """Names of the package functions/classes a chapter shows as source."""
    source = (ROOT / "book" / f"{name}.md").read_text(encoding="utf-8")
    names = re.findall(r"^:pyobject:\s*(?:\w+\.)*(\w+)\s*$", source, flags=re.M)
    names += re.findall(r"show_source\(\s*(?:\w+\.)+(\w+)\s*[,)]", source)
    return names


def test_make_live_renders_the_chapters(build_log, tmp_path):
    """``make live`` (as root too) serves JupyterLab on the reader's notebooks: in at least four
    chapters every Markdown cell is rendered, with typeset math, no raw MyST and no unresolved
    reference, solutions collapsed, and the package source each chapter walks through."""
    import json
    import signal
    import urllib.request

    import browser

    browser.require_browser()
    port, token = free_port(), "lstm-by-hand-test"
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    lab_args = (f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 "
                f"--IdentityProvider.token={token} --ServerApp.open_browser=False")
    log = tmp_path / "make-live.log"
    out = log.open("w")
    proc = subprocess.Popen(["make", "--no-print-directory", "-C", str(ROOT), "live",
                             f"BIN={Path(sys.executable).parent}", f"LAB_ARGS={lab_args}"],
                            env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as r:
                    json.load(r)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"make live exited {proc.returncode}:\n{log.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start within 180 s")
                time.sleep(0.5)
        report = {}
        with browser.chromium(width=1280, height=1000) as driver:
            for name in LAB_CHAPTERS:
                start = time.perf_counter()
                notebook = json.loads((ROOT / "_build" / "live" / f"{name}.ipynb").read_text())
                n_markdown = sum(c["cell_type"] == "markdown" for c in notebook["cells"])
                n_details = sum(c["source"].count("<details>") if isinstance(c["source"], str)
                                else "".join(c["source"]).count("<details>")
                                for c in notebook["cells"] if c["cell_type"] == "markdown")
                driver.get(f"{base}/lab/tree/{name}.ipynb?reset&token={token}")
                state, deadline = None, time.monotonic() + 120
                while time.monotonic() < deadline:
                    state = driver.execute_script(_LAB_STATE_JS, RAW_MYST_JS)
                    if state and state["rendered"] == n_markdown and state["math"] > 0:
                        time.sleep(1.0)  # let MathJax finish the last cells
                        state = driver.execute_script(_LAB_STATE_JS, RAW_MYST_JS)
                        break
                    time.sleep(0.5)
                assert state, f"{name}: no notebook panel"
                assert state["markdown"] == n_markdown, (name, state["markdown"], n_markdown)
                assert state["rendered"] == n_markdown, (name, state["rendered"], n_markdown)
                assert state["math"] > 0 and state["math_errors"] == 0, name
                assert state["raw_tex"] == 0, name
                assert not state["raw"], (name, state["raw"][:5])
                assert state["details"] == n_details and state["open_details"] == 0, name
                for obj in _listed_objects(name):
                    assert re.search(rf"\b(def|class) {obj}\b", state["text"]), (name, obj)
                # once its kernel is up (JupyterLab then rewrites the kernelspec metadata), the
                # notebook just opened is not marked modified
                deadline = time.monotonic() + 60
                while state["kernel"] != "idle" and time.monotonic() < deadline:
                    time.sleep(0.5)
                    state = driver.execute_script(_LAB_STATE_JS, RAW_MYST_JS)
                time.sleep(2.0)
                state = driver.execute_script(_LAB_STATE_JS, RAW_MYST_JS)
                assert state["kernel"] == "idle", (name, state["kernel"])
                assert not state["dirty"], f"{name}: marked modified on opening"
                report[name] = round(time.perf_counter() - start, 1)
        print("JupyterLab, seconds per chapter:", report)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        out.close()
