"""The matplotlib renderer of a laid-out frame, and the live ipywidgets explorer.

:class:`MplPlot` draws frames made by :func:`frames.prepare_frame` (the same frames the
static HTML plotter draws); it serves the live widget and the static image of an
explorer's default frame (the printed book).  matplotlib and ipywidgets are imported
inside the functions, so ``import lstm_core`` stays light.
"""

from __future__ import annotations

import html
import struct
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from .controls import describe_values
from .frames import (NOTE_COLOUR, OVERFLOW_COLOUR, OVERFLOW_LABEL, UNDERFLOW_LABEL, FrameTable,
                     prepare_frame, styles)

__all__ = ["KEPT_FRAMES", "MplPlot", "decade_label", "encode_png", "table_html", "widget_explorer"]

#: How many laid-out frames a live explorer keeps for settings it may be moved back to.
KEPT_FRAMES = 64


def text_cache_available() -> bool:
    """Whether :mod:`.agg_text` can run with this matplotlib. It composes text from FreeType
    calls that matplotlib 3.11 has but keeps private (``FT2Font._layout``, ``_set_transform``,
    ``_render_glyph``); an older matplotlib (a hosted notebook's, say) or a later one that
    renames them gets the uncached canvas instead of an error."""
    try:
        from matplotlib.ft2font import FT2Font

        from . import agg_text  # noqa: F401  (its imports name private matplotlib calls too)
    except ImportError:
        return False
    return all(hasattr(FT2Font, name) for name in ("_layout", "_set_transform", "_render_glyph"))


class MplPlot:
    """One matplotlib Figure whose artists are updated in place for each frame.

    A move of a control redraws only what changed. The figure is drawn in layers, each over
    the pixels of the ones before: (0) the figure and axes backgrounds, the title and the
    legend; (1) the x axis; (2) the y axis and the notes above the axes; (3) the data (curves,
    edge markers and the axes frame). :meth:`draw` sets the curves' data and touches the
    limits, ticks, notes and legend only when the frame's differ from the last one's;
    :meth:`render` keeps the pixels of layers 0 to 2 and draws again only from the first
    layer that changed (after most moves only the data, after a move that changes the y axis,
    the usual first visit, layers 2 and 3). Constrained layout runs only when the room taken
    around the axes grew or changed (see :meth:`draw`), and then everything is drawn again;
    moving back to a room laid out before puts the axes where that layout put them.
    With ``cache_text`` each distinct string is rasterised once (:mod:`.agg_text`), where
    this matplotlib has the calls that module needs (:func:`text_cache_available`); without
    them the figure is drawn by matplotlib's own Agg canvas: the same figure, drawn slower.
    """

    def __init__(self, *, title, ylabel, xlabel, logy, height_px, dpi=120, cache_text=False,
                 series_styles=None):
        from matplotlib.figure import Figure

        if cache_text and text_cache_available():  # the live widget (see agg_text)
            from .agg_text import CachedTextCanvas as Canvas
        else:
            from matplotlib.backends.backend_agg import FigureCanvasAgg as Canvas
        self.fig = Figure(figsize=(7.2, (height_px + 150) / 100), dpi=dpi, layout="constrained",
                          facecolor="white")
        Canvas(self.fig)
        self.ax = self.fig.add_subplot()
        self.ax.set_yscale("log" if logy else "linear")
        self.ax.set_xlabel(xlabel)
        self.ax.set_ylabel(ylabel)
        self.fig.suptitle(title, fontsize=13, fontweight="bold")
        self.ax.grid(True, color="#e6e6e6")
        self.ax.set_axisbelow(True)
        # the notes above the axes; the title's position is fixed (no x ticks at the top), so
        # a draw does not measure the y axis three times to place the (two empty) titles
        self.notes = self.ax.set_title("", loc="left", fontsize=9.5, color=NOTE_COLOUR, y=1.0)
        # colour and dash per series name: given (the static explorer's, so that its printed
        # figure matches the web page) or assigned in order of first appearance
        self.styles: dict[str, dict] = dict(series_styles or {})
        self.lines: dict[str, Any] = {}
        self.tops: dict[str, Any] = {}
        self.bottoms: dict[str, Any] = {}
        self.legend = None
        self._layout = None  # (room around the axes, y tick label length) of the last layout
        self._placements: dict = {}  # _layout -> where constrained layout put the axes for it
        self._laying_out = False  # whether the next draw of the figure runs constrained layout
        # layers 1 and 2 (layer 0 is what a draw of the figure draws, layer 3 the rest)
        self._layers = ((self.ax.xaxis,), (self.ax.yaxis, self.notes))
        self._keys = [None, None, None]  # what layers 0-2 show, as draw() last set them
        self._pixels = [None, None, None]  # the figure's pixels up to each of layers 0-2
        self._layered = frozenset((*self._layers[0], *self._layers[1]))
        self._frame = frozenset(self.ax.spines.values())  # the data layer's other artists: lines
        for artist in (*self.ax.spines.values(), *self._layered):
            artist.set_animated(True)
        self._data_layer()

    def _data_layer(self) -> None:
        """Set the artists of layer 3 (every other animated one of the axes) in drawing order;
        called when the axes get new artists."""
        self._data = sorted((a for a in self.ax.get_children()
                             if a.get_animated() and a not in self._layered),
                            key=lambda a: a.get_zorder())

    def _artists_for(self, name: str):
        if name not in self.lines:
            if name not in self.styles:
                self.styles.update(styles([*self.styles, name]))
            st = self.styles[name]
            (self.lines[name],) = self.ax.plot([], [], color=st["color"], lw=2,
                                               ls="--" if st["dash"] else "-", label=name)
            (self.tops[name],) = self.ax.plot([], [], ls="none", marker="^", ms=8,
                                              color=OVERFLOW_COLOUR, clip_on=False, zorder=5)
            (self.bottoms[name],) = self.ax.plot([], [], ls="none", marker="v", ms=8, mfc="white",
                                                 mec=st["color"], mew=1.4, clip_on=False, zorder=5)
            # edge markers poke out of the axes on purpose; keep them out of the layout
            self.tops[name].set_in_layout(False)
            self.bottoms[name].set_in_layout(False)
            for art in (self.lines[name], self.tops[name], self.bottoms[name]):
                art.set_animated(True)  # drawn by render() over the kept background
            self._data_layer()
        return self.lines[name], self.tops[name], self.bottoms[name]

    def draw(self, frame: dict) -> None:
        """Set the artists to ``frame``; what surrounds the data is touched only if it changed."""
        lo, hi = frame["ylim"]
        categorical = frame["xlim"][0] < 0
        shown = [s["name"] for s in frame["series"]]
        any_top = any_bottom = False
        for s in frame["series"]:
            line, top, bottom = self._artists_for(s["name"])
            line.set_data(np.arange(s["y"].size), s["y"])
            line.set_marker("o" if categorical or s["y"].size == 1 else "None")
            top.set_data(s["top"], np.full(s["top"].size, hi))
            bottom.set_data(s["bottom"], np.full(s["bottom"].size, lo))
            any_top |= bool(s["top"].size)
            any_bottom |= bool(s["bottom"].size)
        for name in self.lines:
            for art in (self.lines[name], self.tops[name], self.bottoms[name]):
                art.set_visible(name in shown)
        ticks = frame["yticks"]
        labels = [decade_label(t["e"]) if "e" in t else t["t"] for t in ticks]
        entries = (*shown, *([OVERFLOW_LABEL] if any_top else []),
                   *([UNDERFLOW_LABEL] if any_bottom else []))
        # up to 3 legend columns, fewer for long names (the figure is about 140 characters wide)
        ncol = max(1, min(len(entries), 3, 120 // (max(map(len, entries), default=1) + 8)))
        # Constrained layout costs about as much as drawing the figure. It runs when the room
        # taken around the axes changed (x ticks, legend rows, note lines) or the y tick labels
        # are longer than the last layout made room for; shorter ones keep it (so the axes do
        # not shift sideways whenever the decades shown change).
        room = (len(frame["xticks"]), ncol, -(-len(entries) // ncol), len(frame["notes"]))
        width = max((len(lab) for lab in labels), default=0)
        relayout = self._layout is None or room != self._layout[0] or width > self._layout[1]
        if relayout:
            self._layout = (room, width)
        keys = [(entries, ncol, self._layout),
                (tuple(frame["xlim"]), tuple((t["v"], t["t"]) for t in frame["xticks"])),
                ((lo, hi), tuple(t["v"] for t in ticks), tuple(labels), tuple(frame["notes"]))]
        if keys[0] != self._keys[0]:
            self._set_legend(shown, any_top, any_bottom, ncol)
            placed = self._placements.get(self._layout) if relayout else None
            if placed is not None:  # the layout made for this room before (moving back)
                self.ax._set_position(placed)  # as constrained layout sets it
            self._laying_out = relayout and placed is None
            self.fig.set_layout_engine("constrained" if self._laying_out else "none")
        if keys[1] != self._keys[1]:
            self.ax.set_xlim(*frame["xlim"])
            self.ax.set_xticks([t["v"] for t in frame["xticks"]],
                               labels=[t["t"] for t in frame["xticks"]])
        if keys[2] != self._keys[2]:
            from matplotlib.ticker import NullLocator

            self.ax.set_ylim(lo, hi)
            self.ax.set_yticks([t["v"] for t in ticks], labels=labels)
            self.ax.yaxis.set_minor_locator(NullLocator())
            self.notes.set_text("\n".join(frame["notes"]))
        changed = next((i for i in range(3) if keys[i] != self._keys[i]), 3)
        self._pixels[changed:] = [None] * (3 - changed)  # a layer drawn again hides the later
        self._keys = keys

    def _set_legend(self, shown, any_top, any_bottom, ncol) -> None:
        from matplotlib.lines import Line2D

        handles = [self.lines[n] for n in shown]  # in the frame's order
        if any_top:
            handles.append(Line2D([], [], ls="none", marker="^", ms=8, color=OVERFLOW_COLOUR,
                                  label=OVERFLOW_LABEL))
        if any_bottom:
            handles.append(Line2D([], [], ls="none", marker="v", ms=8, mfc="white", mec="#555",
                                  label=UNDERFLOW_LABEL))
        if self.legend is not None:
            self.legend.remove()
        self.legend = self.fig.legend(handles=handles, loc="outside lower center",
                                      ncol=ncol, frameon=False, fontsize=9.5)

    def render(self) -> None:
        """Draw the figure into the canvas's pixel buffer, from the first layer that changed.

        The artists of layers 1-3 are animated, so a draw of the figure renders layer 0 alone;
        each later layer is drawn over the pixels of the ones before (in the order the axes
        would draw them) and the result kept, up to layer 2; the data is drawn last.
        """
        canvas = self.fig.canvas
        start = next((i for i in range(3) if self._pixels[i] is None), 3)
        if start == 0:
            canvas.draw()
            if self._laying_out:  # this draw ran constrained layout: keep where it put the axes
                self._placements[self._layout] = self.ax.get_position(original=True).frozen()
                self._laying_out = False
            self._pixels[0] = canvas.copy_from_bbox(self.fig.bbox)
            start = 1
        else:
            canvas.restore_region(self._pixels[start - 1])
        for i in range(start, 3):
            for artist in self._layers[i - 1]:
                self.ax.draw_artist(artist)
            self._pixels[i] = canvas.copy_from_bbox(self.fig.bbox)
        for artist in self._data:
            # a hidden series or an edge marker line with no points draws nothing
            if artist.get_visible() and (artist in self._frame or len(artist.get_xdata())):
                self.ax.draw_artist(artist)

    def png(self) -> bytes:
        """The figure as PNG bytes, drawn once at the figure's own dpi (see :func:`encode_png`)."""
        self.render()
        rgba = np.asarray(self.fig.canvas.buffer_rgba())
        return encode_png(rgba[..., :3])  # the figure is opaque: no alpha channel


_SUPERSCRIPTS = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076"
                              "\u2077\u2078\u2079")


def decade_label(e: int) -> str:
    """The tick label of 10^e as plain text with Unicode superscripts: "10⁻⁵".

    As mathtext ("$10^{-5}$") each new label would cost two runs of matplotlib's mathtext
    parser (one to measure it, one to draw it), about as long as the rest of a move's redraw.
    """
    return "10" + str(int(e)).translate(_SUPERSCRIPTS)


def encode_png(rgb: np.ndarray) -> bytes:
    """An (height, width, 3) uint8 image as PNG bytes: unfiltered rows, zlib level 1.

    A slider's redraw waits for this.  ``savefig`` would draw the figure a second time;
    Pillow's encoder tries every row filter and takes about three times as long for a
    file a tenth smaller.  The format: PNG specification (ISO/IEC 15948), sections 5 and 11.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"encode_png: expected a (height, width, 3) uint8 array, got "
                         f"{rgb.dtype} {rgb.shape}")
    height, width, _ = rgb.shape
    rows = np.empty((height, 1 + 3 * width), np.uint8)  # each row: filter type 0, then pixels
    rows[:, 0] = 0
    pixels = rows[:, 1:].reshape(height, width, 3)
    for channel in range(3):  # one strided copy per channel: ~7x faster than one of (.., 3)
        pixels[..., channel] = rgb[..., channel]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b""))


def table_html(table: FrameTable | None) -> str:
    """A frame's table as escaped HTML (empty when there is none)."""
    if table is None:
        return ""

    def cell(j: int, text: str, tag: str = "td") -> str:
        text = html.escape(text)
        return f"<{tag}>{f'<code>{text}</code>' if j in table.code_columns else text}</{tag}>"

    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(cell(j, c) for j, c in enumerate(r)) + "</tr>"
                   for r in table.rows)
    caption = f'<p class="gx-caption"><b>{html.escape(table.caption)}</b></p>' if table.caption else ""
    return f'{caption}<table class="gx-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def widget_explorer(compute, ctrls, *, title, ylabel, xlabel, logy, ylim, height_px, xname,
                    xticklabels=None, table=None):
    """ipywidgets controls wired to one matplotlib figure (and table) redrawn in place."""
    import ipywidgets as widgets

    plot = MplPlot(title=title, ylabel=ylabel, xlabel=xlabel, logy=logy, height_px=height_px,
                   cache_text=True)
    current = {c.name: c.default for c in ctrls}
    # Frames of the settings visited last, so moving back to one does not compute it again:
    # compute must be a function of the control values alone, as static mode assumes too.
    frames: OrderedDict[tuple[int, ...], dict] = OrderedDict()

    def render(values: Mapping[str, Any]) -> None:
        key = tuple(c.index(values[c.name]) for c in ctrls)
        frame = frames.pop(key, None)
        if frame is None:
            frame = prepare_frame(compute, values, logy=logy, ylim=ylim, xname=xname,
                                  xticklabels=xticklabels, table=table)
            if len(frames) >= KEPT_FRAMES:
                frames.popitem(last=False)
        frames[key] = frame
        plot.draw(frame)
        image.value = plot.png()
        details.value = table_html(frame["table"])

    pickers = {}
    for c in ctrls:
        options = list(zip(c.labels, range(len(c.values))))
        common = dict(options=options, value=c.index(c.default), description=c.label,
                      style={"description_width": "initial"})
        if c.numeric:
            w = widgets.SelectionSlider(continuous_update=False, **common)
        elif len(options) <= 5 and all(len(t) <= 14 for t in c.labels):
            w = widgets.ToggleButtons(**common)
        else:
            w = widgets.Dropdown(**common)
        pickers[c.name] = w

    image = widgets.Image(format="png", layout=widgets.Layout(width="100%", max_width="760px"))
    status = widgets.HTML("")
    details = widgets.HTML("")
    syncing = [False]

    def on_change(_change) -> None:
        if syncing[0]:
            return
        values = {c.name: c.values[pickers[c.name].value] for c in ctrls}
        try:
            render(values)
        except Exception as exc:  # keep the last good figure, say what went wrong
            status.value = (f'<span style="color:{NOTE_COLOUR}">compute failed for '
                            f"{html.escape(describe_values(values))}: {html.escape(repr(exc))}</span>")
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
    controls_row = widgets.HBox(list(pickers.values()), layout=widgets.Layout(flex_flow="row wrap"))
    box = widgets.VBox([controls_row, image, status, details])
    # handles for tests and for authors who want to drive the explorer from code
    box.figure = plot.fig
    box.update = update
    box.pickers = pickers
    box.current = current
    box.details = details
    return box
