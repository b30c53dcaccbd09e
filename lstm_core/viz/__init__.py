"""Interactive plots of per-step gradient magnitudes, for the book's chapters.

Every chapter asks the same kind of question: "how large is the gradient at
time step t, and how does that change when I turn this knob?".  The single
entry point :func:`gradient_explorer` answers it in two interchangeable ways:

* in a live Jupyter kernel it returns ipywidgets controls wired to one
  matplotlib figure that is redrawn in place (:mod:`.live`);
* when the book is built (:func:`static_mode`: environment variable
  ``LSTM_CORE_STATIC_WIDGETS`` set) it evaluates the whole grid of control
  settings up front and returns a self-contained HTML snippet (inline JSON +
  a small inline SVG plotter, :mod:`.static`), so the rendered page stays
  interactive without a kernel, a CDN or a server; the printed book shows the
  default setting as a figure.

Both renderings draw frames made by one layout pass (:mod:`.frames`), so
overflow (inf, nan, huge values) and underflow (zeros on a log axis) are shown
identically: the curve is clipped to the axis edge, a marker sits on the edge
and a note states at which steps it happened.

Modules: :mod:`.controls` (the knobs), :mod:`.frames` (data preparation and
layout), :mod:`.static` (HTML; ``explorer.js`` and ``explorer.css`` are package
data), :mod:`.live` (matplotlib and ipywidgets; :mod:`.agg_text` caches its text pixels),
:mod:`.explorer` (the entry point).  Only numpy is imported at package level.
"""

from .controls import Control
from .explorer import STATIC_ENV, gradient_explorer, static_mode
from .frames import (CAP, FLOOR, MAX_FRAMES, FrameTable, explorer_frames,
                     gradient_norms_per_step, sanitise_series)
from .static import StaticExplorer

__all__ = [
    "CAP",
    "FLOOR",
    "MAX_FRAMES",
    "STATIC_ENV",
    "Control",
    "FrameTable",
    "StaticExplorer",
    "explorer_frames",
    "gradient_explorer",
    "gradient_norms_per_step",
    "sanitise_series",
    "static_mode",
]
