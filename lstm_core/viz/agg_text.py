"""An Agg canvas that rasterises each distinct text once and then stamps the pixels.

matplotlib (3.11) renders every glyph of every text through a Python loop on each draw;
in an explorer's figure (title, axis labels, tick labels, legend, notes) that is most of
the time a redraw takes, although from one slider move to the next nearly every string is
one drawn before.  :class:`CachedTextCanvas` draws a string once into a small transparent
image (a sprite) and composites that image wherever the string is drawn again.  The sprite
is placed at a whole pixel, as matplotlib placed text up to 3.10, so a text may sit up to
half a pixel from where an uncached draw puts it; everything else is drawn by matplotlib
unchanged.

A new string (the note "… at t ≥ 41" after "… at t ≥ 61") is mostly made of glyphs drawn
before, so a sprite is composed from cached glyph bitmaps: FreeType's rendering of a glyph
depends on the glyph, the font size and the transform, and on the pen position only through
its fraction of a pixel (1/64 steps), so a glyph drawn at the same fraction before is the same
bitmap shifted by whole pixels.  The sprite is then pixel for pixel what matplotlib's
``RendererAgg.draw_text`` draws there.  The layout of a string (FreeType and HarfBuzz, the
slow part of a new string) is made once and serves both its measurement, computed from
the glyphs' metrics as ``FT2Font.set_text`` computes it, and its drawing; the font's line
metrics that matplotlib's text layout reads from the font file for every text it measures
are read once per font as well.  Imported by :mod:`.live` only (this module imports
matplotlib).
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.font_manager import fontManager, get_font
from matplotlib.ft2font import RenderMode
from matplotlib.text import _get_text_metrics_with_cache

__all__ = ["CachedTextCanvas", "CachedTextRenderer"]

# Blank pixels kept around a text's extent, so antialiased glyph edges are not cut.
_PAD = 4


class _Bounded(dict):
    """A dict that starts again empty when an entry is added to it while it holds ``limit``."""

    def __init__(self, limit):
        super().__init__()
        self.limit = limit

    def __setitem__(self, key, value):
        if len(self) >= self.limit:
            self.clear()
        super().__setitem__(key, value)


class CachedTextRenderer(RendererAgg):
    """:class:`RendererAgg` whose ``draw_text`` reuses the pixels of a string drawn before."""

    #: Most distinct strings (and string layouts, and glyph bitmaps) kept; an explorer needs a
    #: few dozen strings and a few hundred glyphs. Each cache restarts when full.
    max_sprites = 2048

    def __init__(self, width, height, dpi):
        super().__init__(width, height, dpi)
        self.sprites = _Bounded(self.max_sprites)  # text -> (its pixels, anchor x, anchor y)
        self.height_metrics: dict = {}
        self.layouts = _Bounded(self.max_sprites)  # (string, font, features, language) -> glyphs
        self.glyph_metrics = _Bounded(self.max_sprites)  # glyph -> (its box, its advance), 26.6
        self.glyphs = _Bounded(self.max_sprites)  # rendered glyph bitmaps

    def _layout(self, s, prop, features=None, language=None):
        """The glyphs of ``s`` (``FT2Font._layout``, as ``RendererAgg.draw_text`` makes them)."""
        key = (s, prop.copy(), features, language)
        items = self.layouts.get(key)
        if items is None:
            font = self._prepare_font(prop)
            items = self.layouts[key] = font._layout(s, flags=get_hinting_flag(),
                                                     features=features, language=language)
        return items

    def get_text_width_height_descent(self, s, prop, ismath):
        """The extent of ``s`` as ``RendererAgg`` measures it (``FT2Font.set_text``: the width
        is the pen's advance, the height and descent those of the union of the glyphs' boxes),
        computed from the string's layout, which its drawing uses too, and the glyphs'
        metrics, each read once."""
        if ismath:
            return super().get_text_width_height_descent(s, prop, ismath)
        size, flags = prop.get_size_in_points(), get_hinting_flag()
        advance, y_min, y_max = 0, 32000, -32000
        for item in self._layout(s, prop):
            key = (item.ft_object, size, item.glyph_index, flags)
            metrics = self.glyph_metrics.get(key)
            if metrics is None:
                item.ft_object.set_size(size, self.dpi)
                glyph = item.ft_object.load_glyph(item.glyph_index, flags)
                metrics = self.glyph_metrics[key] = glyph.bbox, glyph.horiAdvance
            (_, box_y0, _, box_y1), glyph_advance = metrics
            x, y = round(item.x * 64), round(item.y * 64)
            y_min, y_max = min(y_min, box_y0 + y), max(y_max, box_y1 + y)
            advance = x + glyph_advance
        if y_min > y_max:  # no glyphs
            y_min = y_max = 0
        return advance / 64, (y_max - y_min) / 64, -y_min / 64

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
        if ismath:
            RendererAgg.draw_text(scratch, pen, ax, ay, s, prop, angle, ismath, mtext)
        else:
            self._compose(scratch, pen, ax, ay, s, prop, angle, mtext)
        pen.restore()
        return np.ascontiguousarray(np.asarray(scratch.buffer_rgba())[::-1]), ax, ay

    def _compose(self, scratch, gc, x, y, s, prop, angle, mtext=None):
        """Draw ``s`` into ``scratch`` as ``RendererAgg.draw_text`` does (its glyphs at the same
        26.6 positions, with the same transform, hinting and render mode), each glyph's bitmap
        rendered once per fraction of a pixel it is placed at."""
        items = self._layout(s, prop, *((mtext.get_fontfeatures(), mtext.get_language())
                                        if mtext is not None else ()))
        size, flags = prop.get_size_in_points(), get_hinting_flag()
        antialiased = gc.get_antialiased()
        cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        matrix = (0x10000 * np.array([[cos, -sin], [sin, cos]])).round().astype(int)
        matrix_key = tuple(matrix.ravel())
        for item in items:
            # the pen position of RendererAgg._draw_text_glyphs_and_boxes (y upwards), split
            # into whole pixels and the 1/64 fraction the bitmap depends on
            px, fx = divmod(round(0x40 * (x + item.x * cos - item.y * sin)), 0x40)
            py, fy = divmod(round(0x40 * (scratch.height - y + item.x * sin + item.y * cos)), 0x40)
            key = (item.ft_object, size, item.glyph_index, flags, matrix_key, fx, fy, antialiased)
            glyph = self.glyphs.get(key)
            if glyph is None:
                font = item.ft_object
                font.set_size(size, self.dpi)
                font._set_transform(matrix, [fx, fy])
                bitmap = font._render_glyph(item.glyph_index, flags, RenderMode.NORMAL
                                            if antialiased else RenderMode.MONO)
                buffer = np.array(bitmap.buffer)  # a copy: FreeType reuses its buffer
                if not antialiased:
                    buffer *= 0xff
                glyph = self.glyphs[key] = buffer, bitmap.left, bitmap.top
            buffer, left, top = glyph
            # draw_text_image's y is downwards and the bitmap's bottom side
            scratch._renderer.draw_text_image(buffer, left + px,
                                              int(scratch.height) - (top + py) + buffer.shape[0],
                                              0, gc)


class CachedTextCanvas(FigureCanvasAgg):
    """:class:`FigureCanvasAgg` drawing with a :class:`CachedTextRenderer`."""

    def get_renderer(self):
        w, h = self.get_width_height(physical=True)
        key = w, h, self.figure.dpi
        if self._lastKey != key:
            self.renderer = CachedTextRenderer(w, h, self.figure.dpi)
            self._lastKey = key
        return self.renderer
