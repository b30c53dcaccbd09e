"""An Agg canvas that rasterises each distinct text once and then stamps the pixels.

matplotlib (3.11) renders every glyph of every text through a Python loop on each draw;
in an explorer's figure (title, axis labels, tick labels, legend, notes) that is most of
the time a redraw takes, although from one slider move to the next nearly every string is
one drawn before.  :class:`CachedTextCanvas` draws a string once into a small transparent
image (with matplotlib's own text drawing, at the same font, size, angle and colour) and
composites that image wherever the string is drawn again.  The image is placed at a whole
pixel, as matplotlib placed text up to 3.10, so a text may sit up to half a pixel from where
an uncached draw puts it; everything else is drawn by matplotlib unchanged.  The font's
line metrics that matplotlib's text layout reads from the font file for every text it
measures are read once per font as well.  Imported by :mod:`.live` only (this module imports
matplotlib).
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.font_manager import fontManager, get_font
from matplotlib.text import _get_text_metrics_with_cache

__all__ = ["CachedTextCanvas", "CachedTextRenderer"]

# Blank pixels kept around a text's extent, so antialiased glyph edges are not cut.
_PAD = 4


class CachedTextRenderer(RendererAgg):
    """:class:`RendererAgg` whose ``draw_text`` reuses the pixels of a string drawn before."""

    #: Most distinct strings kept (an explorer needs a few dozen); the cache restarts when full.
    max_sprites = 2048

    def __init__(self, width, height, dpi):
        super().__init__(width, height, dpi)
        self.sprites: dict[tuple, tuple[np.ndarray, int, int]] = {}
        self.height_metrics: dict = {}

    def _get_font_height_metrics(self, prop):
        """(ascent, descent, line gap) in pixels of the font ``prop`` selects, read from its
        OS/2 or hhea table as ``matplotlib.text.Text._get_layout`` reads them when a renderer
        has no such method (matplotlib >= 3.10 asks for it), but once per font."""
        key = prop.copy()
        if key not in self.height_metrics:
            font = get_font(fontManager._find_fonts_by_props(prop))
            metrics = (None, None, None)
            for table_name, gap, ascent, descent in (
                    ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
                    ("hhea", "lineGap", "ascent", "descent")):
                table = font.get_sfnt_table(table_name)
                if table is not None:
                    units_per_em = font.get_sfnt_table("head")["unitsPerEm"]
                    scale = 1 / units_per_em * prop.get_size_in_points() * self.dpi / 72
                    metrics = (table[ascent] * scale, -table[descent] * scale, table[gap] * scale)
                    break
            self.height_metrics[key] = metrics
        return self.height_metrics[key]

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath == "TeX" or not s.strip():
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        key = (s, prop.copy(), float(angle), ismath, tuple(gc.get_rgb()), gc.get_alpha(),
               gc.get_forced_alpha(), gc.get_antialiased())
        sprite = self.sprites.get(key)
        if sprite is None:
            if len(self.sprites) >= self.max_sprites:
                self.sprites.clear()
            sprite = self.sprites[key] = self._sprite(gc, s, prop, angle, ismath, mtext)
        image, ax, ay = sprite
        top = round(y) - ay  # y runs downwards here, as in RendererAgg.draw_text
        stamp = self.new_gc()
        stamp.copy_properties(gc)  # keeps the clip rectangle and path
        stamp.set_alpha(1.0)  # the sprite's pixels already carry the text's alpha
        # draw_image takes the lower-left corner, y upwards (the sprite's rows are bottom first)
        self._renderer.draw_image(stamp, round(x) - ax, self.height - top - image.shape[0], image)
        stamp.restore()

    def _sprite(self, gc, s, prop, angle, ismath, mtext):
        """``(rgba, ax, ay)``: the text drawn with its anchor at pixel (ax, ay) counted from the
        top left of ``rgba``, whose rows are stored bottom row first (as draw_image takes them)."""
        # measured already, when the text's layout was made: matplotlib's cache of the metrics
        w, h, d = _get_text_metrics_with_cache(self, s, prop, ismath, self.dpi)
        cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        corners = [(0, -d), (w, -d), (w, h - d), (0, h - d)]  # from the anchor, y upwards
        xs = [px * cos - py * sin for px, py in corners]
        ys = [px * sin + py * cos for px, py in corners]
        x0, x1 = math.floor(min(xs)) - _PAD, math.ceil(max(xs)) + _PAD
        y0, y1 = math.floor(min(ys)) - _PAD, math.ceil(max(ys)) + _PAD
        scratch = RendererAgg(x1 - x0, y1 - y0, self.dpi)
        pen = scratch.new_gc()
        pen.copy_properties(gc)
        pen.set_clip_rectangle(None)
        pen.set_clip_path(None)
        ax, ay = -x0, y1
        RendererAgg.draw_text(scratch, pen, ax, ay, s, prop, angle, ismath, mtext)
        pen.restore()
        return np.ascontiguousarray(np.asarray(scratch.buffer_rgba())[::-1]), ax, ay


class CachedTextCanvas(FigureCanvasAgg):
    """:class:`FigureCanvasAgg` drawing with a :class:`CachedTextRenderer`."""

    def get_renderer(self):
        w, h = self.get_width_height(physical=True)
        key = w, h, self.figure.dpi
        if self._lastKey != key:
            self.renderer = CachedTextRenderer(w, h, self.figure.dpi)
            self._lastKey = key
        return self.renderer
