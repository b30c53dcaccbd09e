"""The entry point :func:`gradient_explorer` and the static-mode switch."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .controls import normalise_controls
from .frames import MAX_FRAMES, check_ylim

__all__ = ["STATIC_ENV", "gradient_explorer", "static_mode"]

#: Environment variable that switches ``mode="auto"`` to static HTML.
STATIC_ENV = "LSTM_CORE_STATIC_WIDGETS"


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
    xticklabels: Sequence[str] | None = None,
    table: Callable[..., Any] | None = None,
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
    at most ``max_frames`` of them) or ``"auto"`` (:func:`static_mode` decides).
    ``ylim=None`` fits the y axis to each frame (whole decades on a log axis);
    pass ``(lo, hi)`` to keep it fixed.  ``xname`` is the symbol used in the
    overflow notes ("overflow at t ≤ 12").  ``height_px`` is the approximate
    height of the plotting area.

    ``xticklabels`` makes the x axis categorical (point i is labelled
    ``xticklabels[i]`` and drawn with a marker).  ``table(**values)``, if given,
    returns a :class:`FrameTable` shown under the plot for that setting.
    """
    if mode not in ("auto", "widget", "static"):
        raise ValueError(f"mode must be 'auto', 'widget' or 'static', got {mode!r}")
    if not callable(compute):
        raise TypeError(f"compute must be callable, got {type(compute).__name__}")
    if table is not None and not callable(table):
        raise TypeError(f"table must be callable or None, got {type(table).__name__}")
    ctrls = normalise_controls(controls)
    ylim = check_ylim(ylim, logy)
    if xticklabels is not None:
        xticklabels = [str(t) for t in xticklabels]
    if mode == "auto":
        mode = "static" if static_mode() else "widget"
    kwargs = dict(title=title, ylabel=ylabel, xlabel=xlabel, logy=logy, ylim=ylim,
                  height_px=height_px, xname=xname, xticklabels=xticklabels, table=table)
    if mode == "static":
        from .static import static_explorer

        return static_explorer(compute, ctrls, max_frames=max_frames, **kwargs)
    from .live import widget_explorer

    return widget_explorer(compute, ctrls, **kwargs)
