"""Two finishing touches for the chapters' static matplotlib figures, matching the explorer.

* :func:`decade_ticks` puts a log axis's major ticks on decades that are multiples of a step
  (1, 2, 5, 10, ... decades), so that 10^0 is labelled whenever it is on the axis; matplotlib's
  own choice for long ranges starts at the lowest decade and can skip 1 (10^-9, 10^-4, 10^1).
* :func:`mark_out_of_range` marks the points of a curve that fall outside the axis limits with a
  marker on the edge, as the gradient explorer does: an open downward triangle in the curve's
  colour below the axis (or zero on a log axis), a red upward triangle above it (or inf / nan).

Call both after the limits are final (after ``set_ylim`` or the last plot call).
"""
from __future__ import annotations

import math

import numpy as np

#: ticks per axis at most (the explorer uses the same number)
MAX_TICKS = 8
_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000)
OVERFLOW_COLOUR = "#d62728"   # matplotlib's tab:red, kept for overflow as in the explorer


def decade_exponents(lo: float, hi: float, max_ticks: int = MAX_TICKS) -> list[int]:
    """Exponents e with 10^e in [lo, hi], every `step` decades, step from 1, 2, 5, 10, ...

    The exponents are multiples of the step, so 0 is among them whenever 1 is in [lo, hi].
    """
    if not 0 < lo < hi:
        raise ValueError(f"decade_exponents: need 0 < lo < hi, got lo={lo}, hi={hi}")
    e0 = math.ceil(math.log10(lo) - 1e-9)
    e1 = math.floor(math.log10(hi) + 1e-9)
    if e1 < e0:
        return []
    step = next((s for s in _STEPS if (e1 - e0) // s + 1 <= max_ticks), _STEPS[-1])
    start = math.ceil(e0 / step) * step
    return list(range(start, e1 + 1, step))


def decade_ticks(ax, axis: str = "y", max_ticks: int = MAX_TICKS) -> list[int]:
    """Major ticks of the log `axis` ("x" or "y") of `ax` on :func:`decade_exponents`.

    Minor ticks are kept only when every decade is labelled. Returns the exponents.
    """
    from matplotlib.ticker import FixedLocator, LogFormatterSciNotation, NullLocator

    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    target = ax.yaxis if axis == "y" else ax.xaxis
    if target.get_scale() != "log":
        raise ValueError(f"decade_ticks: the {axis} axis is not logarithmic")
    lo, hi = sorted(ax.get_ylim() if axis == "y" else ax.get_xlim())
    exps = decade_exponents(lo, hi, max_ticks)
    target.set_major_locator(FixedLocator([10.0 ** e for e in exps]))
    target.set_major_formatter(LogFormatterSciNotation())
    if len(exps) > 1 and exps[1] - exps[0] > 1:
        target.set_minor_locator(NullLocator())
    return exps


def mark_out_of_range(ax, x, y, *, color, label: str | None = None) -> int:
    """Mark the points of the curve (x, y) that lie outside the y-limits of `ax`.

    Below the axis (and zero or negative on a log axis): an open "v" on the bottom edge in
    `color`; above it (and inf or nan): a red "^" on the top edge. `label` names the markers in
    a legend. Returns the number of marked points.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("mark_out_of_range: x and y must be 1-D arrays of one shape, "
                         f"got {x.shape} and {y.shape}")
    lo, hi = sorted(ax.get_ylim())
    logy = ax.yaxis.get_scale() == "log"
    with np.errstate(invalid="ignore"):
        above = ~np.isfinite(y) | (y > hi)
        below = ~above & ((y < lo) | ((y <= 0) if logy else False))
    common = dict(ls="none", ms=8, clip_on=False, zorder=5)
    if below.any():
        (line,) = ax.plot(x[below], np.full(below.sum(), lo), marker="v", mfc="white", mec=color,
                          mew=1.5, label=label, **common)
        line.set_in_layout(False)
    if above.any():
        (line,) = ax.plot(x[above], np.full(above.sum(), hi), marker="^", color=OVERFLOW_COLOUR,
                          label=None if below.any() else label, **common)
        line.set_in_layout(False)
    return int(below.sum() + above.sum())
