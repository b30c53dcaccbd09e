"""Interactive plots of per-step gradient magnitudes, for the book's chapters.

Every chapter asks the same kind of question: "how large is the gradient at
time step t, and how does that change when I turn this knob?".  The single
entry point :func:`gradient_explorer` answers it in two interchangeable ways:

* in a live Jupyter kernel it returns ipywidgets controls wired to one
  matplotlib figure that is redrawn in place;
* when the book is built (environment variable ``LSTM_CORE_STATIC_WIDGETS``
  set) it evaluates the whole grid of control settings up front and returns a
  self-contained HTML snippet (inline JSON + a small inline SVG plotter), so
  the rendered page stays interactive without a kernel, a CDN or a server.

Both renderings share the same data preparation (:func:`sanitise_series`,
:func:`explorer_frames` and the private frame layout), so overflow (inf, nan,
huge values) and underflow (zeros on a log axis) are shown identically: the
curve is clipped to the axis edge, a marker sits on the edge and a note
states at which steps it happened.

Only numpy is imported at module level; matplotlib and ipywidgets are
imported inside the functions that need them, so ``import lstm_core`` stays
light.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

__all__ = [
    "CAP",
    "FLOOR",
    "MAX_FRAMES",
    "STATIC_ENV",
    "Control",
    "StaticExplorer",
    "explorer_frames",
    "gradient_explorer",
    "gradient_norms_per_step",
    "sanitise_series",
    "static_mode",
]

#: Smallest magnitude drawn on a log axis; anything below (0 included) is "underflow".
FLOOR = 1e-300
#: Largest magnitude drawn; anything above (and inf / nan) is "overflow".
CAP = 1e300
#: Largest number of control combinations static mode will precompute.
MAX_FRAMES = 400
#: Environment variable that switches ``mode="auto"`` to static HTML.
STATIC_ENV = "LSTM_CORE_STATIC_WIDGETS"

# Series colours (red is deliberately absent: it is reserved for overflow).
_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)
_OVERFLOW_COLOUR = "#d62728"
_NOTE_COLOUR = "#b22222"
_MAX_YTICKS = 8

_dom_counter = itertools.count()


# --------------------------------------------------------------------------
# Controls
# --------------------------------------------------------------------------

def _is_number(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, (bool, np.bool_))


def _label_of(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):g}"
    return str(v)


@dataclass(frozen=True)
class Control:
    """One knob of an explorer.

    ``values`` is the list of allowed settings (numbers give a slider, anything
    else a drop-down / toggle buttons); ``default`` (first value if omitted)
    is the initial setting; ``label`` is the text shown next to the control
    (the name if omitted).
    """

    name: str
    values: Sequence[Any]
    default: Any = None
    label: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"controls: a control name must be a non-empty str, got {self.name!r}")
        vals = self.values
        if isinstance(vals, (str, bytes)) or not isinstance(vals, Iterable):
            raise TypeError(
                f"controls: control {self.name!r} needs a list of allowed values, "
                f"got {type(vals).__name__} {vals!r}"
            )
        vals = tuple(vals)
        if not vals:
            raise ValueError(f"controls: control {self.name!r} has no values")
        labels = [_label_of(v) for v in vals]
        if len(set(labels)) != len(labels):
            raise ValueError(f"controls: control {self.name!r} has repeated values {labels}")
        object.__setattr__(self, "values", vals)
        default = vals[0] if self.default is None else self.default
        object.__setattr__(self, "default", default)
        self.index(default)  # raises if the default is not allowed
        if self.label is None:
            object.__setattr__(self, "label", self.name)

    @property
    def labels(self) -> list[str]:
        return [_label_of(v) for v in self.values]

    @property
    def numeric(self) -> bool:
        return all(_is_number(v) for v in self.values)

    def index(self, value: Any) -> int:
        for i, v in enumerate(self.values):
            if type(v) is type(value) or (_is_number(v) and _is_number(value)):
                if v == value:
                    return i
        raise ValueError(
            f"controls: {value!r} is not an allowed value of control {self.name!r} "
            f"(allowed: {self.labels})"
        )


def _normalise_controls(controls: Any) -> list[Control]:
    if isinstance(controls, Mapping):
        out = []
        for key, spec in controls.items():
            if isinstance(spec, Control):
                if spec.name != key:
                    raise ValueError(
                        f"controls: key {key!r} holds a Control named {spec.name!r}; they must match"
                    )
                out.append(spec)
            else:
                out.append(Control(key, spec))
    elif isinstance(controls, Sequence) and not isinstance(controls, (str, bytes)):
        out = list(controls)
        for c in out:
            if not isinstance(c, Control):
                raise TypeError(
                    "controls: a list of controls must hold Control objects, "
                    f"got {type(c).__name__}"
                )
    else:
        raise TypeError(
            "controls must be a dict {name: allowed values} or a list of Control, "
            f"got {type(controls).__name__}"
        )
    names = [c.name for c in out]
    if len(set(names)) != len(names):
        raise ValueError(f"controls: repeated control names {names}")
    return out


# --------------------------------------------------------------------------
# Pure data helpers
# --------------------------------------------------------------------------

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


def _check_output(out: Any, values: Mapping[str, Any]) -> dict[str, np.ndarray]:
    where = f"compute({_describe_values(values)})"
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
                f"compute must return non-empty 1-D arrays; {where} series {name!r} has shape {a.shape}"
            )
        series[name] = a.astype(float)
    return series


def _describe_values(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items())


def _evaluate(compute: Callable[..., Any], values: Mapping[str, Any]) -> dict[str, np.ndarray]:
    try:
        out = compute(**values)
    except Exception as exc:
        if hasattr(exc, "add_note"):
            exc.add_note(f"(raised by compute({_describe_values(values)}) in gradient_explorer)")
        raise
    return _check_output(out, values)


def _grid_size(ctrls: Sequence[Control]) -> int:
    return math.prod(len(c.values) for c in ctrls)


def _check_grid(ctrls: Sequence[Control], max_frames: int | None) -> None:
    n = _grid_size(ctrls)
    if max_frames is not None and n > max_frames:
        sizes = " x ".join(f"{len(c.values)} ({c.name})" for c in ctrls)
        raise ValueError(
            f"controls: the grid has {sizes} = {n} combinations, more than max_frames={max_frames}; "
            "use fewer values per control or pass a larger max_frames"
        )


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
    ctrls = _normalise_controls(controls)
    _check_grid(ctrls, max_frames)
    lo = (FLOOR if logy else -cap) if floor is None else floor
    frames = []
    for combo in itertools.product(*(c.values for c in ctrls)):
        values = {c.name: v for c, v in zip(ctrls, combo)}
        raw = _evaluate(compute, values)
        series, flags = {}, {}
        for name, y in raw.items():
            y_plot, over, under = sanitise_series(y, floor=lo, cap=cap)
            series[name] = y_plot
            flags[name] = {"overflow": over, "underflow": under}
        frames.append((values, series, flags))
    return frames


# --------------------------------------------------------------------------
# Frame layout shared by both renderers
# --------------------------------------------------------------------------

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
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 1000) if (e1 - e0) / s <= _MAX_YTICKS - 1)
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


def _where_text(mask: np.ndarray, what: str, xname: str) -> str:
    idx = np.flatnonzero(mask)
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


def _layout_frame(series, flags, *, logy: bool, ylim, xname: str) -> dict:
    """Axis limits, ticks, clipped curves, edge markers and notes for one frame."""
    any_over = any(f["overflow"].any() for f in flags.values())
    any_under = any(f["underflow"].any() for f in flags.values())
    if ylim is None:
        good = [y[~(flags[n]["overflow"] | flags[n]["underflow"])] for n, y in series.items()]
        lo, hi = _auto_ylim(np.concatenate(good), logy, any_over, any_under)
    else:
        lo, hi = (float(v) for v in ylim)
        if not lo < hi or (logy and lo <= 0):
            raise ValueError(f"ylim must satisfy 0 < lo < hi on a log axis (lo < hi otherwise), got {ylim}")
    out_series, notes = [], []
    xmax = max(1, max(y.size for y in series.values()) - 1)
    for name, y in series.items():
        over, under = flags[name]["overflow"], flags[name]["underflow"]
        top = over | (y > hi)
        bottom = under | (y < lo)
        parts = []
        if over.any():
            parts.append(_where_text(over, "overflow", xname))
        if (top & ~over).any():
            parts.append(_where_text(top & ~over, "above the axis", xname))
        if under.any():
            parts.append(_where_text(under, "zero/underflow" if logy else "underflow", xname))
        if (bottom & ~under).any():
            parts.append(_where_text(bottom & ~under, "below the axis", xname))
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
        "xlim": [0, xmax],
        "yticks": _log_ticks(lo, hi) if logy else _linear_ticks(lo, hi),
        "xticks": _linear_ticks(0, xmax, integer=True),
        "series": out_series,
        "notes": notes,
    }


def _styles(names: Iterable[str]) -> dict[str, dict]:
    styles: dict[str, dict] = {}
    for name in names:
        if name not in styles:
            styles[name] = {
                "color": _PALETTE[len(styles) % len(_PALETTE)],
                "dash": name.startswith("bound"),
            }
    return styles


# --------------------------------------------------------------------------
# Static HTML rendering
# --------------------------------------------------------------------------

class StaticExplorer:
    """A precomputed explorer; displays as self-contained HTML in notebooks and the book."""

    def __init__(self, html_text: str, dom_id: str, frame_keys: list[str], title: str):
        self.html = html_text
        self.dom_id = dom_id
        self.frame_keys = frame_keys
        self.title = title

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"<StaticExplorer {self.title!r}: {len(self.frame_keys)} frames, id {self.dom_id}>"


def _round_sig(a: np.ndarray, digits: int = 5) -> list[float]:
    return [float(f"{v:.{digits}g}") for v in np.asarray(a, dtype=float)]


def _frame_json(frame: dict) -> dict:
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


_STATIC_CSS = """
#__ID__ { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; max-width: 760px; margin: 0.6em 0 1.2em 0; padding: 0.4em 0.5em; color: #222; background: #fff; border-radius: 4px; }
#__ID__ .gx-controls { display: flex; flex-wrap: wrap; gap: 0.4em 1.6em; align-items: center; margin: 0 0 0.4em 0; font-size: 0.9em; }
#__ID__ .gx-control { display: inline-flex; align-items: center; gap: 0.45em; }
#__ID__ .gx-control input[type=range] { width: 11em; }
#__ID__ .gx-control output { min-width: 3.5em; font-weight: 600; font-variant-numeric: tabular-nums; }
#__ID__ svg.gx-plot { display: block; width: 100%; height: auto; background: #fff; border: 1px solid #ddd; border-radius: 4px; }
#__ID__ svg.gx-plot text { font-family: inherit; fill: #222; }
"""

# The plotter receives fully prepared frames (limits, ticks, clipped values,
# marker indices, notes) and only maps them to SVG coordinates.
_STATIC_JS = r"""
(function () {
  "use strict";
  var root = document.getElementById("__ID__");
  if (!root || root.getAttribute("data-ready")) { return; }
  var D = JSON.parse(document.getElementById("__ID__-data").textContent);
  var NS = "http://www.w3.org/2000/svg";
  var svg = root.querySelector("svg.gx-plot");
  var inputs = D.controls.map(function (c, i) { return document.getElementById("__ID__-c" + i); });
  var W = 720, L = 74, R = 18, PH = D.height, PW = W - L - R;

  function charW(s, px) { return s.length * px * 0.6; }
  // legend entries: every series of the sweep plus the edge markers if any frame has them
  var legend = D.series.map(function (s) { return {kind: "line", name: s.name, color: s.color, dash: s.dash}; });
  if (D.hasTop) { legend.push({kind: "top", name: "overflow / inf / nan (clipped to top)"}); }
  if (D.hasBottom) { legend.push({kind: "bottom", name: "zero / underflow (clipped to bottom)"}); }
  var row = 0, cx = L;
  legend.forEach(function (it) {
    var w = 30 + charW(it.name, 12) + 18;
    if (cx + w > W - R && cx > L) { row += 1; cx = L; }
    it.row = row; it.x = cx; cx += w;
  });
  var legendRows = legend.length ? row + 1 : 0;
  var T = 12 + (D.title ? 24 : 0) + D.noteRows * 17 + 6;
  var B = 22 + (D.xlabel ? 22 : 0) + legendRows * 20 + 10;
  var H = T + PH + B;
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);

  function el(tag, attrs, parent, text) {
    var e = document.createElementNS(NS, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    (parent || svg).appendChild(e);
    return e;
  }
  function tri(x, y, up, fill, stroke, cls) {
    var s = 5.5, d = up
      ? "M" + x + "," + (y - s) + " L" + (x - s) + "," + (y + s * 0.8) + " L" + (x + s) + "," + (y + s * 0.8) + " Z"
      : "M" + x + "," + (y + s) + " L" + (x - s) + "," + (y - s * 0.8) + " L" + (x + s) + "," + (y - s * 0.8) + " Z";
    return el("path", {d: d, fill: fill, stroke: stroke, "stroke-width": 1.4, "class": cls});
  }
  function currentIndices() {
    return inputs.map(function (inp) { return parseInt(inp.value, 10); });
  }

  function draw() {
    var idx = currentIndices(), key = idx.join(",");
    D.controls.forEach(function (c, i) {
      var out = document.getElementById("__ID__-c" + i + "-out");
      if (out) { out.textContent = c.labels[idx[i]]; }
    });
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    svg.setAttribute("data-frame-key", key);
    var F = D.frames[key];
    if (D.title) {
      el("text", {x: W / 2, y: 12 + 16, "text-anchor": "middle", "font-size": 15, "font-weight": "bold", "class": "gx-title"}, svg, D.title);
    }
    if (!F) {
      el("text", {x: W / 2, y: T + PH / 2, "text-anchor": "middle", "font-size": 13}, svg, "no data for this setting");
      return;
    }
    var lo = F.ylim[0], hi = F.ylim[1], x0 = F.xlim[0], x1 = F.xlim[1];
    function ymap(v) {
      v = Math.min(hi, Math.max(lo, v));
      var f = D.logy ? (Math.log10(hi) - Math.log10(v)) / (Math.log10(hi) - Math.log10(lo))
                     : (hi - v) / (hi - lo);
      return +(T + f * PH).toFixed(2);
    }
    function xmap(x) { return +(L + (x - x0) / (x1 - x0) * PW).toFixed(2); }

    F.notes.forEach(function (n, i) {
      el("text", {x: L, y: 12 + (D.title ? 24 : 0) + 13 + i * 17, "font-size": 12.5, "class": "gx-note", style: "fill:" + D.noteColor}, svg, n);
    });
    // grid, ticks and tick labels
    F.yticks.forEach(function (t) {
      var y = ymap(t.v);
      el("line", {x1: L, x2: L + PW, y1: y, y2: y, stroke: "#e6e6e6", "stroke-width": 1});
      el("line", {x1: L - 5, x2: L, y1: y, y2: y, stroke: "#333", "stroke-width": 1});
      var lab = el("text", {x: L - 8, y: y + 4, "text-anchor": "end", "font-size": 12, "class": "gx-ytick"});
      if (t.e !== undefined) {
        lab.appendChild(document.createTextNode("10"));
        var sup = el("tspan", {dy: -6, "font-size": 9}, lab, String(t.e).replace("-", "\u2212"));
        sup.setAttribute("baseline-shift", "0");
      } else {
        lab.textContent = t.t;
      }
    });
    F.xticks.forEach(function (t) {
      var x = xmap(t.v);
      el("line", {x1: x, x2: x, y1: T, y2: T + PH, stroke: "#f0f0f0", "stroke-width": 1});
      el("line", {x1: x, x2: x, y1: T + PH, y2: T + PH + 5, stroke: "#333", "stroke-width": 1});
      el("text", {x: x, y: T + PH + 18, "text-anchor": "middle", "font-size": 12, "class": "gx-xtick"}, svg, t.t);
    });
    el("rect", {x: L, y: T, width: PW, height: PH, fill: "none", stroke: "#333", "stroke-width": 1});
    if (D.ylabel) {
      var yl = T + PH / 2;
      el("text", {x: 16, y: yl, transform: "rotate(-90 16 " + yl + ")", "text-anchor": "middle", "font-size": 13, "class": "gx-ylabel"}, svg, D.ylabel);
    }
    if (D.xlabel) {
      el("text", {x: L + PW / 2, y: T + PH + 40, "text-anchor": "middle", "font-size": 13, "class": "gx-xlabel"}, svg, D.xlabel);
    }
    // curves, then edge markers on top of them
    F.series.forEach(function (s) {
      var st = D.styles[s.name];
      var pts = s.y.map(function (v, i) { return xmap(i) + "," + ymap(v); }).join(" ");
      var attrs = {points: pts, fill: "none", stroke: st.color, "stroke-width": 2, "stroke-linejoin": "round", "class": "gx-line", "data-series": s.name};
      if (st.dash) { attrs["stroke-dasharray"] = "7 4"; }
      el("polyline", attrs);
      if (s.y.length === 1) { el("circle", {cx: xmap(0), cy: ymap(s.y[0]), r: 3, fill: st.color}); }
    });
    F.series.forEach(function (s) {
      var st = D.styles[s.name];
      s.top.forEach(function (i) { tri(xmap(i), T, true, D.overflowColor, D.overflowColor, "gx-overflow"); });
      s.bottom.forEach(function (i) { tri(xmap(i), T + PH, false, "#fff", st.color, "gx-underflow"); });
    });
    // legend
    var ly0 = T + PH + 22 + (D.xlabel ? 22 : 0) + 8;
    legend.forEach(function (it) {
      var y = ly0 + it.row * 20, g = el("g", {"class": "gx-legend"});
      if (it.kind === "line") {
        var a = {x1: it.x, x2: it.x + 24, y1: y, y2: y, stroke: it.color, "stroke-width": 2};
        if (it.dash) { a["stroke-dasharray"] = "7 4"; }
        el("line", a, g);
      } else if (it.kind === "top") {
        g.appendChild(tri(it.x + 12, y, true, D.overflowColor, D.overflowColor, "gx-legend-marker"));
      } else {
        g.appendChild(tri(it.x + 12, y, false, "#fff", "#555", "gx-legend-marker"));
      }
      el("text", {x: it.x + 30, y: y + 4, "font-size": 12}, g, it.name);
    });
  }

  inputs.forEach(function (inp) {
    inp.addEventListener("input", draw);
    inp.addEventListener("change", draw);
  });
  root.setAttribute("data-ready", "1");
  draw();
})();
"""


def _static_explorer(compute, ctrls, *, title, ylabel, xlabel, logy, ylim, height_px, xname, max_frames):
    frames = explorer_frames(compute, ctrls, logy=logy, max_frames=max_frames)
    keys = [",".join(map(str, combo)) for combo in itertools.product(*(range(len(c.values)) for c in ctrls))]
    laid = [_layout_frame(series, flags, logy=logy, ylim=ylim, xname=xname) for _, series, flags in frames]
    styles = _styles(name for _, series, _ in frames for name in series)
    payload = {
        "title": title,
        "xlabel": xlabel,
        "ylabel": ylabel,
        "logy": bool(logy),
        "height": int(height_px),
        "overflowColor": _OVERFLOW_COLOUR,
        "noteColor": _NOTE_COLOUR,
        "controls": [{"name": c.name, "label": c.label, "labels": c.labels} for c in ctrls],
        "series": [{"name": n, **s} for n, s in styles.items()],
        "styles": styles,
        "hasTop": any(len(s["top"]) for f in laid for s in f["series"]),
        "hasBottom": any(len(s["bottom"]) for f in laid for s in f["series"]),
        "noteRows": max(len(f["notes"]) for f in laid),
        "frames": {k: _frame_json(f) for k, f in zip(keys, laid)},
    }
    data = _json_for_script(payload)
    digest = hashlib.sha1(data.encode("ascii")).hexdigest()[:8]
    dom_id = f"lstm-gx-{digest}-{next(_dom_counter)}"
    text = (
        f'<div class="lstm-gx" id="{dom_id}">'
        f"<style>{_STATIC_CSS.replace('__ID__', dom_id)}</style>"
        f'<div class="gx-controls">{_controls_html(dom_id, ctrls)}</div>'
        f'<svg class="gx-plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 720 {int(height_px) + 120}" '
        f'role="img" aria-label="{html.escape(title, quote=True)}"></svg>'
        f'<noscript><p>This interactive plot needs JavaScript.</p></noscript>'
        f'<script type="application/json" id="{dom_id}-data">{data}</script>'
        f"<script>{_STATIC_JS.replace('__ID__', dom_id)}</script>"
        "</div>"
    )
    return StaticExplorer(text, dom_id, keys, title)


# --------------------------------------------------------------------------
# matplotlib rendering (live widget mode)
# --------------------------------------------------------------------------

class _MplPlot:
    """One matplotlib Figure whose artists are updated in place for each frame."""

    def __init__(self, *, title, ylabel, xlabel, logy, height_px):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=(7.2, (height_px + 150) / 100), dpi=120, layout="constrained",
                          facecolor="white")
        FigureCanvasAgg(self.fig)
        self.ax = self.fig.add_subplot()
        self.logy = logy
        self.ax.set_yscale("log" if logy else "linear")
        self.ax.set_xlabel(xlabel)
        self.ax.set_ylabel(ylabel)
        self.fig.suptitle(title, fontsize=13, fontweight="bold")
        self.ax.grid(True, color="#e6e6e6")
        self.ax.set_axisbelow(True)
        self.styles: dict[str, dict] = {}
        self.lines: dict[str, Any] = {}
        self.tops: dict[str, Any] = {}
        self.bottoms: dict[str, Any] = {}
        self.legend = None
        self._layout_key = None

    def _artists_for(self, name: str):
        if name not in self.lines:
            self.styles.update(_styles([*self.styles, name]))
            st = self.styles[name]
            (self.lines[name],) = self.ax.plot([], [], color=st["color"], lw=2,
                                               ls="--" if st["dash"] else "-", label=name)
            (self.tops[name],) = self.ax.plot([], [], ls="none", marker="^", ms=8, color=_OVERFLOW_COLOUR,
                                              clip_on=False, zorder=5)
            (self.bottoms[name],) = self.ax.plot([], [], ls="none", marker="v", ms=8, mfc="white",
                                                 mec=st["color"], mew=1.4, clip_on=False, zorder=5)
            # edge markers poke out of the axes on purpose; keep them out of the layout
            self.tops[name].set_in_layout(False)
            self.bottoms[name].set_in_layout(False)
        return self.lines[name], self.tops[name], self.bottoms[name]

    def draw(self, frame: dict) -> None:
        from matplotlib.lines import Line2D
        from matplotlib.ticker import NullLocator

        lo, hi = frame["ylim"]
        shown = set()
        any_top = any_bottom = False
        for s in frame["series"]:
            line, top, bottom = self._artists_for(s["name"])
            x = np.arange(s["y"].size)
            line.set_data(x, s["y"])
            line.set_marker("o" if s["y"].size == 1 else "None")
            top.set_data(s["top"], np.full(s["top"].size, hi))
            bottom.set_data(s["bottom"], np.full(s["bottom"].size, lo))
            any_top |= bool(s["top"].size)
            any_bottom |= bool(s["bottom"].size)
            shown.add(s["name"])
        for name in self.lines:
            vis = name in shown
            for art in (self.lines[name], self.tops[name], self.bottoms[name]):
                art.set_visible(vis)
        self.ax.set_xlim(*frame["xlim"])
        self.ax.set_ylim(lo, hi)
        ticks = frame["yticks"]
        labels = [f"$10^{{{t['e']}}}$" if "e" in t else t["t"] for t in ticks]
        self.ax.set_yticks([t["v"] for t in ticks], labels=labels)
        self.ax.yaxis.set_minor_locator(NullLocator())
        self.ax.set_xticks([t["v"] for t in frame["xticks"]], labels=[t["t"] for t in frame["xticks"]])
        self.ax.set_title("\n".join(frame["notes"]), loc="left", fontsize=9.5, color=_NOTE_COLOUR)

        handles = [self.lines[n] for n in self.lines if n in shown]
        if any_top:
            handles.append(Line2D([], [], ls="none", marker="^", ms=8, color=_OVERFLOW_COLOUR,
                                  label="overflow / inf / nan (clipped to top)"))
        if any_bottom:
            handles.append(Line2D([], [], ls="none", marker="v", ms=8, mfc="white", mec="#555",
                                  label="zero / underflow (clipped to bottom)"))
        if self.legend is not None:
            self.legend.remove()
        self.legend = self.fig.legend(handles=handles, loc="outside lower center",
                                      ncol=min(len(handles), 3), frameon=False, fontsize=9.5)
        # Constrained layout costs about as much as drawing the figure. Run it only when what
        # takes space around the axes changed (tick label widths, legend entries, note lines);
        # otherwise keep the last layout.
        key = (max((len(lab) for lab in labels), default=0), len(frame["xticks"]),
               tuple(h.get_label() for h in handles), len(frame["notes"]))
        if key != self._layout_key:
            self.fig.set_layout_engine("constrained")
            self._layout_key = key
        else:
            self.fig.set_layout_engine("none")

    def png(self) -> bytes:
        """The figure as PNG bytes, drawn once at the figure's own dpi.

        ``savefig`` would draw the figure a second time and compress harder; drawing
        the canvas and encoding its pixels with a light compression takes about
        three quarters of the time, which is what a slider's redraw waits for.
        """
        import io

        from PIL import Image  # a dependency of matplotlib

        self.fig.canvas.draw()
        size = self.fig.canvas.get_width_height(physical=True)
        image = Image.frombuffer("RGBA", size, self.fig.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buf = io.BytesIO()
        image.save(buf, format="png", compress_level=1)
        return buf.getvalue()


def _widget_explorer(compute, ctrls, *, title, ylabel, xlabel, logy, ylim, height_px, xname):
    import ipywidgets as widgets

    plot = _MplPlot(title=title, ylabel=ylabel, xlabel=xlabel, logy=logy, height_px=height_px)
    floor = FLOOR if logy else -CAP
    current = {c.name: c.default for c in ctrls}

    def render(values: Mapping[str, Any]) -> None:
        raw = _evaluate(compute, values)
        series, flags = {}, {}
        for name, y in raw.items():
            series[name], over, under = sanitise_series(y, floor=floor, cap=CAP)
            flags[name] = {"overflow": over, "underflow": under}
        plot.draw(_layout_frame(series, flags, logy=logy, ylim=ylim, xname=xname))
        image.value = plot.png()

    pickers = {}
    for c in ctrls:
        options = list(zip(c.labels, range(len(c.values))))
        k = c.index(c.default)
        common = dict(options=options, value=k, description=c.label, style={"description_width": "initial"})
        if c.numeric:
            w = widgets.SelectionSlider(continuous_update=False, **common)
        elif len(options) <= 5 and all(len(t) <= 14 for t in c.labels):
            w = widgets.ToggleButtons(**common)
        else:
            w = widgets.Dropdown(**common)
        pickers[c.name] = w

    image = widgets.Image(format="png", layout=widgets.Layout(width="100%", max_width="760px"))
    status = widgets.HTML("")
    syncing = [False]

    def on_change(_change) -> None:
        if syncing[0]:
            return
        values = {c.name: c.values[pickers[c.name].value] for c in ctrls}
        try:
            render(values)
        except Exception as exc:  # keep the last good figure, say what went wrong
            status.value = (f'<span style="color:{_NOTE_COLOUR}">compute failed for '
                            f"{html.escape(_describe_values(values))}: {html.escape(repr(exc))}</span>")
            return
        current.update(values)
        status.value = ""

    for w in pickers.values():
        w.observe(on_change, names="value")

    def update(**changes: Any) -> None:
        """Redraw with some controls changed (raises on bad names/values/compute output)."""
        by_name = {c.name: c for c in ctrls}
        for k in changes:
            if k not in by_name:
                raise ValueError(f"update: unknown control {k!r}; controls are {list(by_name)}")
        indices = {k: by_name[k].index(v) for k, v in changes.items()}
        values = {**current, **changes}
        render(values)
        current.update(values)
        syncing[0] = True
        try:
            for k, i in indices.items():
                pickers[k].value = i
        finally:
            syncing[0] = False
        status.value = ""

    render(current)
    box = widgets.VBox([widgets.HBox(list(pickers.values()), layout=widgets.Layout(flex_flow="row wrap")),
                        image, status])
    # handles for tests and for authors who want to drive the explorer from code
    box.figure = plot.fig
    box.update = update
    box.pickers = pickers
    box.current = current
    return box


# --------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------

def static_mode() -> bool:
    """True when explorers should render as precomputed static HTML (the book build).

    The one reading of the switch: the environment variable ``LSTM_CORE_STATIC_WIDGETS``
    set to anything other than "" or "0" (surrounding blanks ignored).  Chapters that
    choose between a live and a static rendering themselves call this too.
    """
    flag = os.environ.get(STATIC_ENV, "").strip()
    return flag not in ("", "0")


def gradient_explorer(
    compute: Callable[..., Mapping[str, Any]],
    controls: Any,
    *,
    title: str,
    ylabel: str,
    xlabel: str = "time step t",
    logy: bool = True,
    mode: str = "auto",
    height_px: int = 320,
    ylim: tuple[float, float] | None = None,
    xname: str = "t",
    max_frames: int = MAX_FRAMES,
):
    """Plot per-step gradient magnitudes with controls, live or precomputed.

    ``compute(**values)`` receives one value per control and returns a dict
    ``{series name: 1-D array}`` (e.g. ``{"‖∂L/∂h_t‖": norms}`` for
    t = 0..T-1).  Series may differ in length; names starting with ``"bound"``
    are drawn dashed.  ``controls`` is a dict ``{name: allowed values}`` (the
    first value is the initial one) whose values may also be :class:`Control`
    objects, or a list of :class:`Control`.

    ``mode``: ``"widget"`` (ipywidgets + one matplotlib figure redrawn in
    place), ``"static"`` (self-contained HTML, every combination precomputed;
    at most ``max_frames`` of them) or ``"auto"`` (static when the environment
    variable ``LSTM_CORE_STATIC_WIDGETS`` is set to something other than ""
    or "0", widget otherwise).  ``ylim=None`` fits the y axis to each frame
    (whole decades on a log axis); pass ``(lo, hi)`` to keep it fixed.
    ``xname`` is the symbol used in the overflow notes ("overflow at t ≤ 12").
    ``height_px`` is the approximate height of the plotting area.
    """
    if mode not in ("auto", "widget", "static"):
        raise ValueError(f"mode must be 'auto', 'widget' or 'static', got {mode!r}")
    if not callable(compute):
        raise TypeError(f"compute must be callable, got {type(compute).__name__}")
    ctrls = _normalise_controls(controls)
    if ylim is not None:
        lo, hi = (float(v) for v in ylim)
        if not lo < hi or (logy and lo <= 0):
            raise ValueError(f"ylim must satisfy 0 < lo < hi on a log axis (lo < hi otherwise), got {ylim}")
    if mode == "auto":
        mode = "static" if static_mode() else "widget"
    kwargs = dict(title=title, ylabel=ylabel, xlabel=xlabel, logy=logy, ylim=ylim,
                  height_px=height_px, xname=xname)
    if mode == "static":
        return _static_explorer(compute, ctrls, max_frames=max_frames, **kwargs)
    return _widget_explorer(compute, ctrls, **kwargs)
