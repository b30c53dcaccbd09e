"""Static rendering: every setting precomputed, one self-contained HTML snippet.

The snippet holds the controls, an empty ``<svg>``, the laid-out frames as JSON and the
plotter (``explorer.js``, ``explorer.css``: package data read with ``importlib.resources``)
inline, so the page needs no kernel, CDN or server.  The same object also carries its
default frame as a PNG inside a Markdown figure, which is what the printed (LaTeX) book
shows instead of the HTML.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import itertools
import json
import string
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np

from .controls import Control, check_grid
from .frames import (NOTE_COLOUR, OVERFLOW_COLOUR, OVERFLOW_LABEL, UNDERFLOW_LABEL, grid,
                     prepare_frame, styles)

__all__ = ["FIGURE_CLASS", "StaticExplorer", "asset", "static_explorer"]

#: Class of the printed figure; the book's LaTeX build adds the web page's address to its caption.
FIGURE_CLASS = "lstm-explorer"
_dom_counter = itertools.count()


@functools.cache
def asset(name: str) -> str:
    """The text of a package-data file of ``lstm_core.viz`` (``explorer.js``, ``explorer.css``)."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


class StaticExplorer:
    """A precomputed explorer; displays as self-contained HTML in notebooks and the web book,
    and as a figure of its default setting (Markdown + PNG) where HTML cannot be shown."""

    def __init__(self, html_text: str, dom_id: str, frame_keys: list[str], title: str, *,
                 controls: Sequence[Control] = (), default_frame: dict | None = None,
                 plot_options: dict | None = None):
        self.html = html_text
        self.dom_id = dom_id
        self.frame_keys = frame_keys
        self.title = title
        self.controls = list(controls)
        self.default_frame = default_frame
        self.plot_options = plot_options or {}

    def _repr_html_(self) -> str:
        return self.html

    def png(self, dpi: int = 200) -> bytes:
        """The default setting drawn by the matplotlib renderer (same layout as the HTML)."""
        from .live import MplPlot

        plot = MplPlot(dpi=dpi, **self.plot_options)
        plot.draw(self.default_frame)
        return plot.png()

    def caption(self) -> str:
        """Plain-text caption: what is shown and which controls the web version has."""
        def choices(c: Control) -> str:
            labels = c.labels
            return ", ".join(labels) if len(labels) <= 4 else f"{labels[0]} to {labels[-1]}"

        default = "; ".join(f"{c.label} = {c.labels[c.index(c.default)]}" for c in self.controls)
        knobs = "; ".join(f"{c.label} ({choices(c)})" for c in self.controls)
        return (f"Interactive figure \u201c{self.title}\u201d, printed at its default setting "
                f"({default}). In the web version of the book, controls set {knobs}.")

    def figure_markdown(self, dpi: int = 200) -> str:
        """A MyST figure: the default frame as an inline PNG, with :meth:`caption`."""
        data = base64.b64encode(self.png(dpi)).decode("ascii")
        return (f"```{{figure}} data:image/png;base64,{data}\n:figclass: {FIGURE_CLASS}\n"
                f":alt: {_escape_markdown(self.title)}\n:width: 100%\n\n"
                f"{_escape_markdown(self.caption())}\n```\n")

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        return {
            "text/html": self.html,
            "text/markdown": self.figure_markdown(),
            "text/plain": self.caption(),
        }

    def __repr__(self) -> str:
        return f"<StaticExplorer {self.title!r}: {len(self.frame_keys)} frames, id {self.dom_id}>"


def _escape_markdown(text: str) -> str:
    return "".join("\\" + ch if ch in string.punctuation else ch for ch in text.replace("\n", " "))


def _round_sig(a: np.ndarray, digits: int = 5) -> list[float]:
    return [float(f"{v:.{digits}g}") for v in np.asarray(a, dtype=float)]


def _frame_json(frame: dict) -> dict:
    table = frame["table"]
    return {
        "ylim": frame["ylim"],
        "xlim": frame["xlim"],
        "yticks": frame["yticks"],
        "xticks": frame["xticks"],
        "notes": frame["notes"],
        "series": [
            {"name": s["name"], "y": _round_sig(s["y"]),
             "top": [int(i) for i in s["top"]], "bottom": [int(i) for i in s["bottom"]]}
            for s in frame["series"]
        ],
        "table": None if table is None else {"caption": table.caption,
                                             "rows": [list(r) for r in table.rows]},
    }


def _json_for_script(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    # never let the payload close the <script> element or open a comment
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _controls_html(dom_id: str, ctrls: Sequence[Control]) -> str:
    parts = []
    for i, c in enumerate(ctrls):
        cid = f"{dom_id}-c{i}"
        k = c.index(c.default)
        label = html.escape(c.label)
        name = html.escape(c.name, quote=True)
        if c.numeric:
            parts.append(
                f'<span class="gx-control"><label for="{cid}">{label}</label>'
                f'<input type="range" id="{cid}" data-control="{name}" min="0" '
                f'max="{len(c.values) - 1}" step="1" value="{k}">'
                f'<output id="{cid}-out" for="{cid}">{html.escape(c.labels[k])}</output></span>'
            )
        else:
            options = "".join(
                f'<option value="{j}"{" selected" if j == k else ""}>{html.escape(t)}</option>'
                for j, t in enumerate(c.labels)
            )
            parts.append(
                f'<span class="gx-control"><label for="{cid}">{label}</label>'
                f'<select id="{cid}" data-control="{name}">{options}</select></span>'
            )
    return "".join(parts)


def _table_columns(laid: list[dict]) -> tuple[list[str], list[int]]:
    tables = [f["table"] for f in laid if f["table"] is not None]
    if not tables:
        return [], []
    if len(tables) != len(laid) or any(t.columns != tables[0].columns for t in tables):
        raise ValueError("table must return a FrameTable with the same columns for every setting")
    return list(tables[0].columns), list(tables[0].code_columns)


def static_explorer(compute, ctrls, *, title, ylabel, xlabel, logy, ylim, height_px, xname,
                    max_frames, xticklabels=None, table=None) -> StaticExplorer:
    """Lay out every setting of ``ctrls`` and wrap the frames in a self-contained snippet."""
    check_grid(ctrls, max_frames)
    keys, laid = [], []
    for combo, values in zip(itertools.product(*(range(len(c.values)) for c in ctrls)), grid(ctrls)):
        keys.append(",".join(map(str, combo)))
        laid.append(prepare_frame(compute, values, logy=logy, ylim=ylim, xname=xname,
                                  xticklabels=xticklabels, table=table))
    series_styles = styles(s["name"] for f in laid for s in f["series"])
    columns, code_columns = _table_columns(laid)
    payload = {
        "title": title,
        "xlabel": xlabel,
        "ylabel": ylabel,
        "logy": bool(logy),
        "categorical": xticklabels is not None,
        "height": int(height_px),
        "overflowColor": OVERFLOW_COLOUR,
        "noteColor": NOTE_COLOUR,
        "overflowLabel": OVERFLOW_LABEL,
        "underflowLabel": UNDERFLOW_LABEL,
        "controls": [{"name": c.name, "label": c.label, "labels": c.labels} for c in ctrls],
        "styles": series_styles,
        "tableColumns": columns,
        "codeColumns": code_columns,
        "frames": {k: _frame_json(f) for k, f in zip(keys, laid)},
    }
    data = _json_for_script(payload)
    digest = hashlib.sha1(data.encode("ascii")).hexdigest()[:8]
    dom_id = f"lstm-gx-{digest}-{next(_dom_counter)}"
    details = '<div class="gx-details"></div>' if columns else ""
    text = (
        f'<div class="lstm-gx" id="{dom_id}">'
        f"<style>{asset('explorer.css')}</style>"
        f'<div class="gx-controls">{_controls_html(dom_id, ctrls)}</div>'
        f'<svg class="gx-plot" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 720 {int(height_px) + 120}" role="img" '
        f'aria-label="{html.escape(title, quote=True)}"></svg>{details}'
        f"<noscript><p>This interactive plot needs JavaScript.</p></noscript>"
        f'<script type="application/json" class="gx-data" id="{dom_id}-data">{data}</script>'
        f"<script>{asset('explorer.js')}</script>"
        "</div>"
    )
    default_key = ",".join(str(c.index(c.default)) for c in ctrls)
    return StaticExplorer(
        text, dom_id, keys, title, controls=ctrls, default_frame=laid[keys.index(default_key)],
        plot_options=dict(title=title, ylabel=ylabel, xlabel=xlabel, logy=logy,
                          height_px=height_px, series_styles=series_styles),
    )
