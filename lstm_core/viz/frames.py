"""Data preparation and layout shared by both renderers of an explorer.

One pass per setting of the controls: ``compute`` is evaluated, every series is made
drawable (:func:`sanitise_series`: overflow, inf and nan go to the top edge, zeros and
underflow to the bottom edge of a log axis), and :func:`layout_frame` fixes the axis
limits, ticks, clipped curves, edge markers and notes.  The static HTML plotter
(``explorer.js``) and the matplotlib renderer (``live.py``) only map a laid-out frame
to pixels, so both show the same figure.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .controls import Control, check_grid, describe_values, normalise_controls

__all__ = [
    "CAP", "FLOOR", "MAX_FRAMES", "FrameTable", "check_ylim", "evaluate", "explorer_frames",
    "gradient_norms_per_step", "layout_frame", "prepare_frame", "sanitise_series", "styles",
]

#: Smallest magnitude drawn on a log axis; anything below (0 included) is "underflow".
FLOOR = 1e-300
#: Largest magnitude drawn; anything above (and inf / nan) is "overflow".
CAP = 1e300
#: Largest number of control combinations static mode will precompute.
MAX_FRAMES = 400

# Series colours (red is deliberately absent: it is reserved for overflow).
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)
OVERFLOW_COLOUR = "#d62728"
NOTE_COLOUR = "#b22222"
OVERFLOW_LABEL = "overflow / inf / nan (clipped to top)"
UNDERFLOW_LABEL = "zero / underflow (clipped to bottom)"
_MAX_YTICKS = 8


# --------------------------------------------------------------------------- series

def gradient_norms_per_step(arr: Any) -> np.ndarray:
    """Euclidean norm at each time step of a (T, B, H) array -> shape (T,).

    Any array with at least two axes is accepted; all axes after the first are
    reduced.  The norm is computed with per-step rescaling, so finite entries
    as large as 1e300 give a finite norm instead of overflowing while being
    squared; inf entries give inf and nan entries give nan.
    """
    a = np.asarray(arr)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"gradient_norms_per_step: expected a numeric array, got dtype {a.dtype}")
    if a.ndim < 2:
        raise ValueError(
            f"gradient_norms_per_step: expected shape (T, B, H) (or (T, ...)), got shape {a.shape}"
        )
    flat = a.reshape(a.shape[0], -1).astype(float)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        absval = np.abs(flat)
        # max() propagates nan; an empty (T, 0) array has norm 0.
        scale = absval.max(axis=1) if flat.shape[1] else np.zeros(flat.shape[0])
        safe = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        norms = safe * np.sqrt(np.sum((absval / safe[:, None]) ** 2, axis=1))
        norms = np.where(scale == 0, 0.0, norms)
        norms = np.where(np.isposinf(scale), np.inf, norms)
        norms = np.where(np.isnan(scale), np.nan, norms)
    return norms


def sanitise_series(y: Any, *, floor: float = FLOOR, cap: float = CAP):
    """Make a 1-D series drawable and say which points had to be altered.

    Returns ``(y_plot, overflow, underflow)``:

    * ``overflow`` marks nan, +inf and values above ``cap``;
    * ``underflow`` marks -inf and values below ``floor`` (with the default
      floor that means zeros and negatives, which a log axis cannot show);
    * ``y_plot`` is a finite float copy in ``[floor, cap]``: overflowed points
      are set to ``cap``, underflowed ones to ``floor``.
    """
    if not floor < cap:
        raise ValueError(f"sanitise_series: need floor < cap, got floor={floor}, cap={cap}")
    a = np.asarray(y)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"sanitise_series: expected real numbers, got dtype {a.dtype}")
    a = a.astype(float)
    if a.ndim != 1:
        raise ValueError(f"sanitise_series: expected a 1-D series, got shape {a.shape}")
    with np.errstate(invalid="ignore"):
        nan = np.isnan(a)
        overflow = nan | (a > cap)
        underflow = ~nan & (a < floor)
    y_plot = np.where(overflow, cap, np.where(underflow, floor, a))
    return y_plot, overflow, underflow


def _sanitise_all(raw: Mapping[str, np.ndarray], floor: float, cap: float):
    series, flags = {}, {}
    for name, y in raw.items():
        series[name], over, under = sanitise_series(y, floor=floor, cap=cap)
        flags[name] = {"overflow": over, "underflow": under}
    return series, flags


def _check_output(out: Any, values: Mapping[str, Any]) -> dict[str, np.ndarray]:
    where = f"compute({describe_values(values)})"
    if not isinstance(out, Mapping):
        shape = getattr(out, "shape", None)
        extra = f" with shape {shape}" if shape is not None else ""
        raise TypeError(
            f"compute must return a dict {{series name: 1-D array}}; {where} returned "
            f"{type(out).__name__}{extra}"
        )
    if not out:
        raise ValueError(f"compute must return at least one series; {where} returned an empty dict")
    series = {}
    for name, y in out.items():
        if not isinstance(name, str):
            raise TypeError(f"compute must use str series names; {where} returned key {name!r}")
        try:
            a = np.asarray(y)
        except ValueError as exc:  # ragged nested lists
            raise ValueError(
                f"compute must return 1-D arrays; {where} series {name!r} is not array-like ({exc})"
            ) from None
        if a.dtype.kind not in "biuf":
            raise TypeError(
                f"compute must return real-valued 1-D arrays; {where} series {name!r} has "
                f"dtype {a.dtype} and shape {a.shape}"
            )
        if a.ndim != 1 or a.size == 0:
            raise ValueError(
                f"compute must return non-empty 1-D arrays; {where} series {name!r} "
                f"has shape {a.shape}"
            )
        series[name] = a.astype(float)
    return series


def _call(fn: Callable[..., Any], values: Mapping[str, Any], what: str) -> Any:
    try:
        return fn(**values)
    except Exception as exc:
        if hasattr(exc, "add_note"):  # Python >= 3.11
            exc.add_note(f"(raised by {what}({describe_values(values)}) in gradient_explorer)")
        raise


def evaluate(compute: Callable[..., Any], values: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """``compute(**values)``, checked: a dict of non-empty real 1-D float arrays."""
    return _check_output(_call(compute, values, "compute"), values)


# --------------------------------------------------------------------------- tables

@dataclass(frozen=True)
class FrameTable:
    """A table shown under an explorer's plot, one per setting of the controls.

    ``rows`` hold one cell per column (converted with ``str``); ``caption`` is a line
    above the table; cells of the columns listed in ``code_columns`` are shown as code.
    """

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str = ""
    code_columns: Sequence[int] = ()

    def __post_init__(self) -> None:
        cols = tuple(str(c) for c in self.columns)
        rows = tuple(tuple(str(c) for c in r) for r in self.rows)
        for i, r in enumerate(rows):
            if len(r) != len(cols):
                raise ValueError(f"table: row {i} has {len(r)} cells for {len(cols)} columns {cols}")
        code = tuple(int(j) for j in self.code_columns)
        if any(not 0 <= j < len(cols) for j in code):
            raise ValueError(f"table: code_columns {code} outside 0..{len(cols) - 1}")
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "caption", str(self.caption))
        object.__setattr__(self, "code_columns", code)


def _table_of(table: Callable[..., Any], values: Mapping[str, Any]) -> FrameTable:
    out = _call(table, values, "table")
    if not isinstance(out, FrameTable):
        raise TypeError(
            f"table must return a FrameTable; table({describe_values(values)}) returned "
            f"{type(out).__name__}"
        )
    return out


# --------------------------------------------------------------------------- sweeps

def explorer_frames(
    compute: Callable[..., Any],
    controls: Any,
    *,
    logy: bool = True,
    floor: float | None = None,
    cap: float = CAP,
    max_frames: int | None = MAX_FRAMES,
) -> list[tuple[dict[str, Any], dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]]:
    """Evaluate ``compute`` on every combination of control values.

    Returns one ``(values, series, flags)`` triple per combination, in
    ``itertools.product`` order (the first control varies slowest):

    * ``values``: the keyword arguments passed to ``compute``;
    * ``series``: name -> finite float array (see :func:`sanitise_series`);
    * ``flags``: name -> ``{"overflow": bool array, "underflow": bool array}``.

    ``floor`` defaults to :data:`FLOOR` on a log axis and ``-cap`` on a linear
    one.  Raises ValueError naming ``controls`` when the grid is larger than
    ``max_frames`` (``None`` disables the check).
    """
    ctrls = normalise_controls(controls)
    check_grid(ctrls, max_frames)
    lo = (FLOOR if logy else -cap) if floor is None else floor
    frames = []
    for values in grid(ctrls):
        series, flags = _sanitise_all(evaluate(compute, values), lo, cap)
        frames.append((values, series, flags))
    return frames


def grid(ctrls: Sequence[Control]) -> Iterable[dict[str, Any]]:
    """Every combination of control values, the first control varying slowest."""
    for combo in itertools.product(*(c.values for c in ctrls)):
        yield {c.name: v for c, v in zip(ctrls, combo)}


def check_ylim(ylim: Any, logy: bool) -> tuple[float, float] | None:
    """``None`` or a checked ``(lo, hi)``: lo < hi, and 0 < lo on a log axis."""
    if ylim is None:
        return None
    lo, hi = (float(v) for v in ylim)
    if not lo < hi or (logy and lo <= 0):
        raise ValueError(
            f"ylim must satisfy 0 < lo < hi on a log axis (lo < hi otherwise), got {ylim}"
        )
    return lo, hi


def prepare_frame(compute, values, *, logy: bool, ylim, xname: str,
                  xticklabels: Sequence[str] | None = None, table=None) -> dict:
    """Evaluate, sanitise and lay out one setting of the controls (both renderers use this)."""
    series, flags = _sanitise_all(evaluate(compute, values), FLOOR if logy else -CAP, CAP)
    frame = layout_frame(series, flags, logy=logy, ylim=ylim, xname=xname,
                         xticklabels=xticklabels)
    frame["table"] = None if table is None else _table_of(table, values)
    return frame


# --------------------------------------------------------------------------- layout

def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def _linear_ticks(lo: float, hi: float, *, integer: bool = False, target: int = 6) -> list[dict]:
    step = _nice_step(hi - lo, target)
    if integer:
        step = max(1.0, float(round(step))) if step >= 1 else 1.0
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    ticks = []
    for k in range(first, last + 1):
        v = k * step
        v = 0.0 if abs(v) < 1e-12 * step else v
        ticks.append({"v": v, "t": f"{v:g}" if not integer else str(int(round(v)))})
    return ticks


def _log_ticks(lo: float, hi: float) -> list[dict]:
    e0 = math.ceil(math.log10(lo) - 1e-9)
    e1 = math.floor(math.log10(hi) + 1e-9)
    if e1 < e0:  # the axis spans less than a decade boundary
        return [{"v": lo, "t": f"{lo:.3g}"}, {"v": hi, "t": f"{hi:.3g}"}]
    # decade steps that read well (every decade, every 2nd, 5th, 10th, ...)
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 1000)
                if (e1 - e0) / s <= _MAX_YTICKS - 1)
    start = math.ceil(e0 / step) * step
    return [{"v": 10.0 ** e, "e": e} for e in range(start, e1 + 1, step)]


def _auto_ylim(values: np.ndarray, logy: bool, headroom_top: bool, headroom_bottom: bool):
    if logy:
        values = values[values > 0]
        if values.size == 0:
            e0, e1 = -1, 1
        else:
            e0 = math.floor(math.log10(values.min()))
            e1 = math.ceil(math.log10(values.max()))
            if e0 == e1:
                e0, e1 = e0 - 1, e1 + 1
        # one spare decade so edge markers do not sit on top of real data
        e1 += 1 if headroom_top else 0
        e0 -= 1 if headroom_bottom else 0
        e0, e1 = max(e0, -307), min(e1, 307)
        return 10.0 ** e0, 10.0 ** e1
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = float(values.min()), float(values.max())
    lo = min(lo, 0.0)
    if hi <= lo:
        hi = lo + 1.0
    step = _nice_step(hi - lo, 5)
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
    pad = step if headroom_top else 0.0
    return lo - (step if headroom_bottom else 0.0), hi + pad


def _where_text(mask: np.ndarray, what: str, xname: str, names: Sequence[str] | None) -> str:
    idx = np.flatnonzero(mask)
    if names is not None:  # a categorical axis: name the points
        shown = ", ".join(names[i] for i in idx[:4]) + (", ..." if idx.size > 4 else "")
        return f"{what} at {shown}"
    n = mask.size
    k0, k1 = int(idx[0]), int(idx[-1])
    contiguous = idx.size == k1 - k0 + 1
    if idx.size == 1:
        return f"{what} at {xname} = {k0}"
    if contiguous and k1 == n - 1:
        return f"{what} at {xname} \u2265 {k0}"
    if contiguous and k0 == 0:
        return f"{what} at {xname} \u2264 {k1}"
    if contiguous:
        return f"{what} at {k0} \u2264 {xname} \u2264 {k1}"
    return f"{what} at {idx.size} steps, first at {xname} = {k0}"


def layout_frame(series, flags, *, logy: bool, ylim, xname: str,
                 xticklabels: Sequence[str] | None = None) -> dict:
    """Axis limits, ticks, clipped curves, edge markers and notes for one frame.

    ``ylim`` is ``None`` (fit this frame) or a pair checked by :func:`check_ylim`.
    With ``xticklabels`` the x axis is categorical: point i is labelled ``xticklabels[i]``.
    """
    any_over = any(f["overflow"].any() for f in flags.values())
    any_under = any(f["underflow"].any() for f in flags.values())
    if ylim is None:
        good = [y[~(flags[n]["overflow"] | flags[n]["underflow"])] for n, y in series.items()]
        lo, hi = _auto_ylim(np.concatenate(good), logy, any_over, any_under)
    else:
        lo, hi = check_ylim(ylim, logy)
    n_points = max(y.size for y in series.values())
    if xticklabels is not None:
        if len(xticklabels) < n_points:
            raise ValueError(f"xticklabels: {len(xticklabels)} labels for series of {n_points} points")
        xticks = [{"v": i, "t": str(t)} for i, t in enumerate(xticklabels)]
        xlim = [-0.5, len(xticklabels) - 0.5]
    else:
        xmax = max(1, n_points - 1)
        xticks, xlim = _linear_ticks(0, xmax, integer=True), [0, xmax]
    out_series, notes = [], []
    for name, y in series.items():
        over, under = flags[name]["overflow"], flags[name]["underflow"]
        top = over | (y > hi)
        bottom = under | (y < lo)
        parts = []
        if over.any():
            parts.append(_where_text(over, "overflow", xname, xticklabels))
        if (top & ~over).any():
            parts.append(_where_text(top & ~over, "above the axis", xname, xticklabels))
        if under.any():
            what = "zero/underflow" if logy else "underflow"
            parts.append(_where_text(under, what, xname, xticklabels))
        if (bottom & ~under).any():
            parts.append(_where_text(bottom & ~under, "below the axis", xname, xticklabels))
        if parts:
            notes.append(f"{name}: " + "; ".join(parts))
        out_series.append({
            "name": name,
            "y": np.clip(y, lo, hi),
            "top": np.flatnonzero(top),
            "bottom": np.flatnonzero(bottom),
        })
    return {
        "ylim": [lo, hi],
        "xlim": xlim,
        "yticks": _log_ticks(lo, hi) if logy else _linear_ticks(lo, hi),
        "xticks": xticks,
        "series": out_series,
        "notes": notes,
    }


def styles(names: Iterable[str]) -> dict[str, dict]:
    """Colour and dash of each series, in order of first appearance ("bound..." is dashed)."""
    out: dict[str, dict] = {}
    for name in names:
        if name not in out:
            out[name] = {
                "color": PALETTE[len(out) % len(PALETTE)],
                "dash": name.startswith("bound"),
            }
    return out
