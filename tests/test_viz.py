"""Tests for lstm_core.viz: data sanitising, grid sweeps, static HTML, widget mode, browser rendering."""

import itertools
import json
import math
import re

import numpy as np
import pytest

from lstm_core import viz
from lstm_core.viz import (
    CAP,
    FLOOR,
    Control,
    StaticExplorer,
    explorer_frames,
    gradient_explorer,
    gradient_norms_per_step,
    sanitise_series,
)

T = 30


def toy_compute(rho, steps=T, act="linear"):
    """|dL/dh_t| of a scalar linear recurrence h_t = rho * h_{t-1}, loss on the last step."""
    k = np.arange(steps)[::-1].astype(float)  # distance from the loss
    gain = 0.5 if act == "squash" else 1.0
    with np.errstate(over="ignore"):
        norms = (abs(rho) * gain) ** k  # 1e20**29 overflows to inf
    return {"|dL/dh_t|": norms, "bound": np.abs(rho) ** np.arange(min(steps, 10))[::-1]}


TOY_CONTROLS = {"rho": [0.0, 0.5, 1.0, 1.5, 1e20], "steps": [10, 30], "act": ["linear", "squash"]}


# ----------------------------------------------------------------------------- sanitise_series

def test_sanitise_flags_inf_nan_zero_and_huge():
    y = np.array([1.0, np.inf, np.nan, 0.0, -np.inf, 1e305, 5e-324, -2.0, 3e-3, 1e299])
    y_plot, over, under = sanitise_series(y, floor=FLOOR, cap=CAP)
    assert over.tolist() == [False, True, True, False, False, True, False, False, False, False]
    assert under.tolist() == [False, False, False, True, True, False, True, True, False, False]
    assert np.all(np.isfinite(y_plot))
    assert np.all((y_plot >= FLOOR) & (y_plot <= CAP))
    assert np.all(y_plot[over] == CAP) and np.all(y_plot[under] == FLOOR)
    keep = ~(over | under)
    np.testing.assert_array_equal(y_plot[keep], y[keep])


def test_sanitise_on_a_linear_axis_keeps_zero_and_negatives():
    y = np.array([0.0, -3.0, np.inf, -np.inf, 2.0])
    y_plot, over, under = sanitise_series(y, floor=-CAP, cap=CAP)
    assert over.tolist() == [False, False, True, False, False]
    assert under.tolist() == [False, False, False, True, False]
    np.testing.assert_array_equal(y_plot, [0.0, -3.0, CAP, -CAP, 2.0])


@pytest.mark.parametrize("bad", [np.ones((2, 3)), np.array(["a", "b"]), np.float64(3.0)])
def test_sanitise_rejects_non_series(bad):
    with pytest.raises((TypeError, ValueError)):
        sanitise_series(bad)


# ----------------------------------------------------------------------------- gradient_norms_per_step

def test_gradient_norms_per_step_matches_numpy_norm():
    rng = np.random.default_rng(0)
    g = rng.normal(size=(7, 3, 5))
    expected = [np.linalg.norm(g[t]) for t in range(7)]
    np.testing.assert_allclose(gradient_norms_per_step(g), expected, rtol=1e-12)
    assert gradient_norms_per_step(g).shape == (7,)


def test_gradient_norms_per_step_is_honest_about_extremes():
    g = np.zeros((5, 2, 2))
    g[1] = 1e200  # finite, but squaring it naively would overflow
    g[2, 0, 0] = np.inf
    g[3, 1, 1] = np.nan
    g[4] = 3.0
    norms = gradient_norms_per_step(g)
    assert norms[0] == 0.0
    assert math.isclose(norms[1], 2e200, rel_tol=1e-12)
    assert norms[2] == np.inf
    assert np.isnan(norms[3])
    assert math.isclose(norms[4], 6.0)


def test_gradient_norms_per_step_rejects_1d():
    with pytest.raises(ValueError, match=r"\(4,\)"):
        gradient_norms_per_step(np.ones(4))


# ----------------------------------------------------------------------------- explorer_frames

def test_explorer_frames_sweeps_whole_grid_and_flags_everything_unplottable():
    calls = []

    def compute(**values):
        calls.append(values)
        return toy_compute(**values)

    frames = explorer_frames(compute, TOY_CONTROLS)
    assert len(frames) == 5 * 2 * 2
    combos = [tuple(v.values()) for v, _, _ in frames]
    assert combos == list(itertools.product(*TOY_CONTROLS.values()))
    assert calls == [v for v, _, _ in frames]
    for values, series, flags in frames:
        raw = toy_compute(**values)
        assert set(series) == set(raw) == set(flags)
        for name, y in series.items():
            assert y.shape == raw[name].shape
            assert np.all(np.isfinite(y)) and np.all((y >= FLOOR) & (y <= CAP))
            over, under = flags[name]["overflow"], flags[name]["underflow"]
            plottable = np.isfinite(raw[name]) & (raw[name] > 0) & (raw[name] <= CAP)
            np.testing.assert_array_equal(plottable, ~(over | under))
    # the exploding setting must be flagged as overflow at the early steps, the rho=0 one as underflow
    values, _, flags = frames[[c[:3] for c in combos].index((1e20, 30, "linear"))]
    over = flags["|dL/dh_t|"]["overflow"]
    assert over[0] and not over[-1]
    values, _, flags = frames[[c[:3] for c in combos].index((0.0, 30, "linear"))]
    assert flags["|dL/dh_t|"]["underflow"][:-1].all() and not flags["|dL/dh_t|"]["underflow"][-1]


def test_layout_notes_say_where_overflow_happened():
    (_, series, flags), = explorer_frames(toy_compute, {"rho": [1e20]})
    frame = viz.frames.layout_frame(series, flags, logy=True, ylim=None, xname="t")
    # (1e20)**k overflows beyond CAP for k >= 16, i.e. t <= 29 - 16 = 13
    k = int(np.flatnonzero(flags["|dL/dh_t|"]["overflow"])[-1])
    assert k == 13
    assert frame["notes"] == [f"|dL/dh_t|: overflow at t \u2264 {k}"]
    lo, hi = frame["ylim"]
    assert 0 < lo < hi and math.isfinite(hi)
    line = frame["series"][0]
    assert np.all((line["y"] >= lo) & (line["y"] <= hi))
    assert line["top"].tolist() == list(range(k + 1))
    assert all("e" in t for t in frame["yticks"])  # decade ticks on a log axis


def test_grid_too_large_names_controls():
    big = {"a": list(range(30)), "b": list(range(30))}
    with pytest.raises(ValueError, match="controls"):
        explorer_frames(lambda a, b: {"y": np.ones(3)}, big)
    with pytest.raises(ValueError, match="controls.*900"):
        gradient_explorer(lambda a, b: {"y": np.ones(3)}, big, title="t", ylabel="y", mode="static")


@pytest.mark.parametrize(
    "output, exc, pattern",
    [
        ([1.0, 2.0], TypeError, r"compute.*list"),
        (np.ones(3), TypeError, r"compute.*\(3,\)"),
        ({"y": np.ones((3, 4))}, ValueError, r"compute.*'y'.*\(3, 4\)"),
        ({"y": np.float64(2.0)}, ValueError, r"compute.*\(\)"),
        ({"y": np.array([])}, ValueError, r"compute.*\(0,\)"),
        ({"y": np.array(["a", "b"])}, TypeError, r"compute.*'y'.*\(2,\)"),
        ({}, ValueError, r"compute"),
    ],
)
def test_bad_compute_output_names_compute_and_shape(output, exc, pattern):
    with pytest.raises(exc, match=pattern):
        explorer_frames(lambda x: output, {"x": [1]})


@pytest.mark.parametrize(
    "controls",
    [
        {"x": "abc"},
        {"x": []},
        {"x": [1, 1]},
        {"x": Control("y", [1, 2])},
        [("x", [1, 2])],
        "x",
    ],
)
def test_bad_controls_name_controls(controls):
    with pytest.raises((TypeError, ValueError), match="controls"):
        explorer_frames(lambda x: {"y": np.ones(2)}, controls)


def test_control_default_must_be_allowed():
    assert Control("x", [1, 2, 3], default=2).index(2) == 1
    with pytest.raises(ValueError, match="controls"):
        Control("x", [1, 2, 3], default=5)


# ----------------------------------------------------------------------------- static HTML

def _payload(explorer: StaticExplorer) -> dict:
    m = re.search(r'<script type="application/json" class="gx-data" id="([^"]+)-data">(.*?)</script>',
                  explorer.html, re.S)
    assert m and m.group(1) == explorer.dom_id
    return json.loads(m.group(2))


def test_static_html_embeds_every_frame_and_needs_no_network():
    ex = gradient_explorer(toy_compute, TOY_CONTROLS, title="toy", ylabel="|dL/dh_t|", mode="static")
    assert isinstance(ex, StaticExplorer) and ex._repr_html_() == ex.html
    data = _payload(ex)
    keys = [",".join(map(str, c)) for c in itertools.product(range(5), range(2), range(2))]
    assert sorted(data["frames"]) == sorted(keys) == sorted(ex.frame_keys)
    frames = explorer_frames(toy_compute, TOY_CONTROLS)
    for key, (values, series, flags) in zip(keys, frames):
        got = data["frames"][key]
        assert [s["name"] for s in got["series"]] == list(series)
        for s in got["series"]:
            assert len(s["y"]) == series[s["name"]].size
            assert all(math.isfinite(v) for v in s["y"])
            flagged = flags[s["name"]]["overflow"] | flags[s["name"]]["underflow"]
            assert set(np.flatnonzero(flagged)) <= set(s["top"]) | set(s["bottom"])
    # the exploding frame carries its note
    assert any("overflow at t" in n for n in data["frames"]["4,1,0"]["notes"])
    # self-contained: no external scripts, styles or fetches
    assert not re.search(r"<script[^>]*\ssrc=", ex.html)
    assert not re.search(r"<link\b", ex.html)
    assert re.findall(r"https?://[^\s\"']+", ex.html) == ["http://www.w3.org/2000/svg"] * 2
    assert "fetch(" not in ex.html and "XMLHttpRequest" not in ex.html
    # controls: a range for the numeric ones, a select for the strings
    assert ex.html.count('type="range"') == 2 and ex.html.count("<select") == 1


def test_static_explorers_get_unique_dom_ids():
    a = gradient_explorer(toy_compute, {"rho": [0.5, 2.0]}, title="a", ylabel="y", mode="static")
    b = gradient_explorer(toy_compute, {"rho": [0.5, 2.0]}, title="a", ylabel="y", mode="static")
    assert a.dom_id != b.dom_id
    ids_a = set(re.findall(r'id="([^"]+)"', a.html))
    ids_b = set(re.findall(r'id="([^"]+)"', b.html))
    assert ids_a and not ids_a & ids_b


def test_static_mode_reads_the_switch(monkeypatch):
    cases = [("1", True), ("yes", True), (" 1 ", True), ("0", False), (" 0", False), ("", False),
             ("  ", False), (None, False)]
    for flag, expected in cases:
        if flag is None:
            monkeypatch.delenv("LSTM_CORE_STATIC_WIDGETS", raising=False)
        else:
            monkeypatch.setenv("LSTM_CORE_STATIC_WIDGETS", flag)
        assert viz.static_mode() is expected, flag


def test_auto_mode_follows_environment(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    for flag, static in [("1", True), ("yes", True), ("0", False), ("", False), (None, False)]:
        if flag is None:
            monkeypatch.delenv(viz.STATIC_ENV, raising=False)
        else:
            monkeypatch.setenv(viz.STATIC_ENV, flag)
        out = gradient_explorer(toy_compute, {"rho": [0.5]}, title="t", ylabel="y")
        assert isinstance(out, StaticExplorer) is static, flag


# ----------------------------------------------------------------------------- widget mode

def test_widget_mode_redraws_one_figure_in_place():
    import ipywidgets
    import matplotlib

    matplotlib.use("Agg")
    box = gradient_explorer(toy_compute, TOY_CONTROLS, title="toy", ylabel="|dL/dh_t|", mode="widget")
    assert isinstance(box, ipywidgets.VBox)
    fig = box.figure
    (ax,) = fig.axes
    line = next(ln for ln in ax.get_lines() if ln.get_label() == "|dL/dh_t|")
    before = np.array(line.get_ydata(), dtype=float)
    n_lines, png_before = len(ax.get_lines()), box.children[1].value

    box.update(rho=1.5)
    after = np.array(line.get_ydata(), dtype=float)
    assert not np.array_equal(before, after)
    assert box.figure is fig and len(fig.axes) == 1 and len(ax.get_lines()) == n_lines
    assert box.pickers["rho"].value == 3  # the slider follows update()
    assert box.children[1].value != png_before

    # moving the slider (what a user does) redraws as well
    box.pickers["steps"].value = 0
    assert np.array(line.get_ydata()).size == 10
    assert box.current == {"rho": 1.5, "steps": 10, "act": "linear"}

    # an exploding setting is drawn clipped, with top-edge markers and a note
    box.update(rho=1e20, steps=30)
    lo, hi = ax.get_ylim()
    assert np.all(np.isfinite(line.get_ydata())) and max(line.get_ydata()) <= hi
    assert "overflow at t" in ax.get_title(loc="left")
    assert any(ln.get_marker() == "^" and len(ln.get_xdata()) for ln in ax.get_lines())

    with pytest.raises(ValueError, match="controls"):
        box.update(rho=0.7)  # not an allowed value
    with pytest.raises(ValueError, match="unknown control"):
        box.update(nope=1)


def test_widget_reports_compute_errors_without_raising():
    import matplotlib

    matplotlib.use("Agg")

    def compute(x):
        if x == 2:
            raise RuntimeError("boom")
        return {"y": np.ones(4) * x}

    box = gradient_explorer(compute, {"x": [1, 2]}, title="t", ylabel="y", mode="widget")
    box.pickers["x"].value = 1
    assert "boom" in box.children[2].value
    with pytest.raises(RuntimeError, match="boom"):
        box.update(x=2)


def test_widget_mode_does_not_cap_the_grid():
    import matplotlib

    matplotlib.use("Agg")
    big = {"a": list(range(30)), "b": list(range(30))}
    compute = lambda a, b: {"y": np.arange(1, 4) * (a + 1.0)}  # noqa: E731
    with pytest.raises(ValueError, match="900"):  # too many frames to precompute ...
        gradient_explorer(compute, big, title="t", ylabel="y", mode="static")
    box = gradient_explorer(compute, big, title="t", ylabel="y", mode="widget")  # ... not to draw
    box.update(a=29)
    (line,) = [ln for ln in box.figure.axes[0].get_lines() if ln.get_label() == "y"]
    np.testing.assert_array_equal(line.get_ydata(), [30.0, 60.0, 90.0])
    assert box.current == {"a": 29, "b": 0}


# ----------------------------------------------------------------------------- the fast redraw

def _pixels(png: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _savefig_pixels(fig) -> np.ndarray:
    """matplotlib's own full draw of the figure (every artist, in z order), as RGB."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return _pixels(buf.getvalue())


def test_widget_redraw_draws_what_a_full_draw_of_the_figure_draws():
    """After each move the widget's PNG (kept layers + what changed drawn on top) equals
    matplotlib's full draw of the same figure, and the curves are compute's numbers; the
    moves take every path: a full draw, the x axis and later layers, the y axis and notes
    and the data, the data alone."""
    import matplotlib

    matplotlib.use("Agg")
    # 28 and 30 steps: the same x ticks in different x limits
    box = gradient_explorer(toy_compute, {**TOY_CONTROLS, "steps": [10, 28, 30]}, title="toy",
                            ylabel="|dL/dh_t|", mode="widget")
    fig, ax = box.figure, box.figure.axes[0]
    line = next(ln for ln in ax.get_lines() if ln.get_label() == "|dL/dh_t|")
    drawn = []  # what each move drew: "figure" and the axes' artists drawn one by one
    full_draw, draw_artist = fig.canvas.draw, ax.draw_artist
    fig.canvas.draw = lambda: (drawn.append("figure"), full_draw())[1]
    ax.draw_artist = lambda a: (drawn.append(a), draw_artist(a))[1]
    # moves that keep the axes (rho 1.0 -> 1.5 at 10 steps stays within the same decades),
    # moves that change limits, ticks, notes, legend entries, and the x axis alone
    moves = [dict(steps=10), dict(rho=1.5), dict(rho=1.0), dict(act="squash"), dict(rho=1e20),
             dict(steps=30), dict(rho=0.0), dict(act="linear"), dict(rho=0.5), dict(rho=1.0),
             dict(steps=28), dict(steps=30)]
    paths = set()
    for move in moves:
        drawn.clear()
        box.update(**move)
        paths.add("figure" if "figure" in drawn else "x axis" if ax.xaxis in drawn
                  else "y axis" if ax.yaxis in drawn else "data")
        fast, full = _pixels(box.children[1].value), _savefig_pixels(box.figure)
        # the same image, up to antialiasing rounding where two artists overlap
        assert fast.shape == full.shape, box.current
        assert np.abs(fast - full).max() <= 2 and (fast != full).mean() < 1e-4, box.current
        y = toy_compute(**box.current)["|dL/dh_t|"]
        lo, hi = ax.get_ylim()
        np.testing.assert_array_equal(line.get_ydata(), np.clip(y, lo, hi))
        np.testing.assert_array_equal(line.get_xdata(), np.arange(y.size))
    assert paths == {"figure", "x axis", "y axis", "data"}


def test_widget_layout_makes_room_for_longer_tick_labels_and_keeps_it_for_shorter():
    """Longer y tick labels move the axes right (a new layout), shorter ones leave them where
    they are; the labels never overlap the axis label or leave the figure."""
    import matplotlib

    matplotlib.use("Agg")
    box = gradient_explorer(toy_compute, TOY_CONTROLS, title="toy", ylabel="|dL/dh_t|",
                            mode="widget")
    fig, ax = box.figure, box.figure.axes[0]
    lefts = []
    for rho in (1.5, 0.5, 1.0, 1.5):  # labels 10⁰..10² (3 characters), 10⁻³..10⁰ (4), 3, 3
        box.update(rho=rho)
        lefts.append(ax.get_position().x0)
        renderer = fig.canvas.get_renderer()
        label = ax.yaxis.label.get_window_extent(renderer)
        for tick in ax.get_yticklabels():
            box_ = tick.get_window_extent(renderer)
            assert label.x1 < box_.x0 and box_.x1 < ax.get_window_extent(renderer).x0
        assert label.x0 >= 0
    assert lefts[1] > lefts[0] and lefts[1] == lefts[2] == lefts[3]


def test_widget_computes_each_setting_once_while_it_is_kept():
    import matplotlib

    from lstm_core.viz.live import KEPT_FRAMES

    matplotlib.use("Agg")
    calls = []

    def compute(a):
        calls.append(a)
        return {"y": np.arange(1.0, 5.0) * (a + 1)}

    n = KEPT_FRAMES + 1
    box = gradient_explorer(compute, {"a": list(range(n))}, title="t", ylabel="y", mode="widget")
    line = next(ln for ln in box.figure.axes[0].get_lines() if ln.get_label() == "y")
    box.update(a=1)
    box.update(a=0)  # kept: drawn again without calling compute
    assert calls == [0, 1]
    np.testing.assert_array_equal(line.get_ydata(), [1.0, 2.0, 3.0, 4.0])
    for a in range(2, n):
        box.update(a=a)
    box.update(a=n - 2)  # kept
    box.update(a=1)  # the least recently drawn of KEPT_FRAMES + 1 settings: computed again
    assert calls == [0, 1, *range(2, n), 1]
    np.testing.assert_array_equal(line.get_ydata(), [2.0, 4.0, 6.0, 8.0])


def layered(depth, cell="a"):
    """One curve per layer, top layer first (like the deeper-networks chapter's explorer)."""
    scale = {"a": 1.0, "b": 1e-3}[cell]
    return {f"layer {k + 1}": scale * 10.0 ** (-np.arange(8.0)[::-1] / (k + 1))
            for k in range(depth - 1, -1, -1)}


def test_widget_legend_lists_the_curves_drawn_in_their_order():
    import matplotlib

    matplotlib.use("Agg")
    box = gradient_explorer(layered, {"depth": [1, 2, 3, 4], "cell": ["a", "b"]}, title="t",
                            ylabel="y", mode="widget")
    for depth in (3, 1, 4, 2):
        box.update(depth=depth)
        (legend,) = box.figure.legends
        names = [t.get_text() for t in legend.get_texts()]
        assert names == list(layered(depth, "a"))
        visible = [ln.get_label() for ln in box.figure.axes[0].get_lines()
                   if ln.get_visible() and ln.get_label() in names]
        assert sorted(visible) == sorted(names)


def test_widget_moving_back_to_a_layout_puts_the_axes_where_constrained_layout_did():
    """Legend rows change the room below the axes (a new constrained layout); moving back to
    a room laid out before puts the axes where a fresh constrained layout puts them, without
    running it again, and the PNG is matplotlib's full draw of that figure."""
    import matplotlib
    import matplotlib.layout_engine

    matplotlib.use("Agg")
    controls = {"depth": [1, 2, 3, 4], "cell": ["a", "b"]}
    runs = []
    execute = matplotlib.layout_engine.ConstrainedLayoutEngine.execute

    def counted(self, fig):
        runs.append(fig)
        return execute(self, fig)

    box = gradient_explorer(layered, controls, title="t", ylabel="y", mode="widget")
    matplotlib.layout_engine.ConstrainedLayoutEngine.execute = counted
    try:
        positions = {1: box.figure.axes[0].get_position().bounds}  # laid out when built
        for depth in (4, 1, 4, 1):
            runs.clear()
            box.update(depth=depth)
            position = box.figure.axes[0].get_position().bounds
            if depth in positions:
                assert not runs and position == positions[depth], depth
                fast, full = _pixels(box.children[1].value), _savefig_pixels(box.figure)
                assert np.abs(fast - full).max() <= 2 and (fast != full).mean() < 1e-4
            else:
                assert runs, depth
            positions[depth] = position
        fresh = gradient_explorer(layered, controls, title="t", ylabel="y", mode="widget")
        fresh.update(depth=4)
        assert fresh.figure.axes[0].get_position().bounds == positions[4]
        assert positions[4] != positions[1]
    finally:
        matplotlib.layout_engine.ConstrainedLayoutEngine.execute = execute


def test_static_explorer_prints_in_the_web_page_colours():
    import matplotlib

    matplotlib.use("Agg")
    ex = gradient_explorer(layered, {"depth": Control("depth", [1, 2, 3, 4], default=3)},
                           title="t", ylabel="y", mode="static")
    web = _payload(ex)["styles"]
    assert web["layer 1"]["color"] == viz.frames.PALETTE[0]  # first seen in the grid: depth 1
    from lstm_core.viz.live import MplPlot

    plot = MplPlot(dpi=50, **ex.plot_options)
    plot.draw(ex.default_frame)
    drawn = {ln.get_label(): ln.get_color() for ln in plot.ax.get_lines() if ln.get_label() in web}
    assert drawn == {name: web[name]["color"] for name in ("layer 1", "layer 2", "layer 3")}


def test_live_plot_without_the_text_cache_calls_draws_with_matplotlibs_canvas(monkeypatch):
    """With a matplotlib that lacks agg_text's private FreeType calls, the live plot falls back
    to FigureCanvasAgg and draws the figure matplotlib draws; this matplotlib has them."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from lstm_core.viz import live
    from lstm_core.viz.agg_text import CachedTextCanvas

    matplotlib.use("Agg")
    assert live.text_cache_available(), "agg_text's tests cover a matplotlib with its calls"
    ex = gradient_explorer(layered, {"depth": Control("depth", [1, 2, 3, 4], default=3)},
                           title="t", ylabel="y", mode="static")
    kinds = {}
    for available in (True, False):
        monkeypatch.setattr(live, "text_cache_available", lambda available=available: available)
        plot = live.MplPlot(dpi=50, cache_text=True, **ex.plot_options)
        plot.draw(ex.default_frame)
        kinds[available] = type(plot.fig.canvas)
    assert kinds == {True: CachedTextCanvas, False: FigureCanvasAgg}
    fallback, reference = plot, live.MplPlot(dpi=50, **ex.plot_options)
    reference.draw(ex.default_frame)
    images = []
    for p in (fallback, reference):
        p.fig.canvas.draw()
        images.append(np.asarray(p.fig.canvas.buffer_rgba()).copy())
    np.testing.assert_array_equal(images[0], images[1])


def test_encode_png_round_trips_through_pillow():
    from lstm_core.viz.live import encode_png

    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, size=(7, 11, 3), dtype=np.uint8)
    np.testing.assert_array_equal(_pixels(encode_png(image)), image)
    rgba = rng.integers(0, 256, size=(5, 13, 4), dtype=np.uint8)  # the canvas's buffer
    np.testing.assert_array_equal(_pixels(encode_png(rgba[..., :3])), rgba[..., :3])
    with pytest.raises(ValueError, match=r"encode_png: expected a \(height, width, 3\) uint8"):
        encode_png(image.astype(float))


def test_cached_text_draws_the_text_matplotlib_draws():
    """Each string rasterised once and stamped at a whole pixel: within half a pixel of
    matplotlib's own text, in every text of a figure with rotated, bold and math text."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    from lstm_core.viz.agg_text import CachedTextCanvas

    def figure(canvas):
        fig = Figure(figsize=(4, 3), dpi=100, facecolor="white")
        canvas(fig)
        ax = fig.add_subplot()
        ax.set_yscale("log")
        ax.set_ylim(1e-5, 1e2)
        ax.set_ylabel("gradient norm (log scale)")
        ax.set_title("‖∂L/∂h_t‖ at t ≤ 12\nsecond line", color="#b22222", loc="left")
        fig.suptitle("bold title", fontweight="bold")
        return fig

    images, extents = [], []
    for canvas in (FigureCanvasAgg, CachedTextCanvas, CachedTextCanvas):
        fig = figure(canvas)
        fig.canvas.draw()
        fig.canvas.draw()  # the second draw stamps cached sprites
        images.append(np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int))
        renderer = fig.canvas.get_renderer()
        extents.append([t.get_window_extent(renderer).bounds for t in fig.findobj(Text)])
    plain, cached, again = images
    np.testing.assert_array_equal(cached, again)
    # the font metrics read once per font: every text measured exactly as matplotlib measures it
    assert extents[0] == extents[1] == extents[2] and len(extents[0]) > 10
    ink_plain, ink_cached = (255 * 3 - im.sum(axis=-1) for im in (plain, cached))
    assert abs(ink_cached.sum() / ink_plain.sum() - 1) < 0.02  # the same amount of ink ...
    rows, cols = np.indices(ink_plain.shape)
    for ink_a, ink_b in ((ink_plain, ink_cached),):  # ... in the same place
        for axis in (rows, cols):
            centre_a = (axis * ink_a).sum() / ink_a.sum()
            centre_b = (axis * ink_b).sum() / ink_b.sum()
            assert abs(centre_a - centre_b) < 0.5
    assert (np.abs(plain - cached).max(axis=-1) > 64).mean() < 0.01


def test_cached_glyphs_compose_the_pixels_and_extents_matplotlib_draws():
    """A new string's sprite is composed from glyph bitmaps rendered once per fraction of a
    pixel: pixel for pixel what matplotlib's RendererAgg.draw_text draws at the same
    (fractional) anchor, at any angle, size and weight, antialiased or not; its extent is the
    one RendererAgg measures. A string that differs from one drawn before in a digit renders
    only the glyphs it did not have."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    from lstm_core.viz.agg_text import CachedTextRenderer

    rng = np.random.default_rng(5)
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;()/-_=")
    alphabet += list("≤≥∂‖−⁰¹²³⁴⁵⁶⁷⁸⁹⁻") + ["fl", "ffi", "AV", "To"]  # ligatures, kerning
    strings = ["LSTM: dropped from ∂L/∂c_t: zero/underflow at t ≥ 41", "10⁻⁵", "",
               *("".join(rng.choice(alphabet, size=rng.integers(1, 25))) for _ in range(12))]
    cached = CachedTextRenderer(10, 10, 120)
    for angle, size, weight, antialiased in itertools.product(
            (0, 90, 30), (9.5, 13), ("normal", "bold"), (True, False)):
        prop = FontProperties(size=size, weight=weight)
        for s in strings:
            images = []
            x, y = 60 + rng.random(), 60 + rng.random()
            for draw in (RendererAgg.draw_text, cached._compose):
                target = RendererAgg(120, 120, 120)
                gc = target.new_gc()
                gc.set_foreground("#b22222")
                gc.set_antialiased(antialiased)
                draw(target, gc, x, y, s, prop, angle, mtext=None)
                images.append(np.asarray(target.buffer_rgba()).copy())
            np.testing.assert_array_equal(images[1], images[0], err_msg=f"{s!r} {angle} {size}")
            assert (cached.get_text_width_height_descent(s, prop, False)
                    == RendererAgg(10, 10, 120).get_text_width_height_descent(s, prop, False)), s
    prop = FontProperties(size=9.5)
    target = RendererAgg(400, 40, 120)
    cached._compose(target, target.new_gc(), 10, 30, "zero/underflow at t ≥ 41", prop, 0)
    before = len(cached.glyphs)
    cached._compose(target, target.new_gc(), 10, 30, "zero/underflow at t ≥ 42", prop, 0)
    assert len(cached.glyphs) - before <= 1  # the "2" at that place, if not drawn there before



def test_text_caches_restart_when_full_and_draw_the_same():
    """Every cache of the renderer holds at most max_sprites entries (it starts again empty
    when full), and a renderer with tiny caches draws what one with roomy caches draws."""
    from matplotlib.font_manager import FontProperties

    from lstm_core.viz.agg_text import CachedTextRenderer

    class Tiny(CachedTextRenderer):
        max_sprites = 3

    prop, images = FontProperties(size=9.5), []
    for renderer in (Tiny(200, 40, 120), CachedTextRenderer(200, 40, 120)):
        for s in ("at t ≥ 41", "10⁻⁵", "abc", "xyz", "at t ≥ 41", "qrs"):
            renderer.draw_text(renderer.new_gc(), 10.3, 30.6, s, prop, 0)
            for cache in (renderer.sprites, renderer.layouts, renderer.glyph_metrics,
                          renderer.glyphs):
                assert 0 < len(cache) <= renderer.max_sprites
        images.append(np.asarray(renderer.buffer_rgba()).copy())
    np.testing.assert_array_equal(images[0], images[1])


# ----------------------------------------------------------------------------- in a real browser

def test_static_explorer_in_headless_chromium(tmp_path):
    browser = pytest.importorskip("browser")
    browser.require_browser()
    first = gradient_explorer(toy_compute, TOY_CONTROLS, title="toy sweep", ylabel="|dL/dh_t|", mode="static")
    second = gradient_explorer(toy_compute, {"rho": [0.5, 0.9]}, title="second", ylabel="y", mode="static",
                               logy=False)
    page = browser.write_page(tmp_path / "page.html", first.html + "<p>between</p>" + second.html)
    with browser.chromium() as driver:
        browser.open_page(driver, page)
        ids = browser.wait_for_explorers(driver, 2)
        assert ids == [first.dom_id, second.dom_id]
        start = browser.figure_state(driver, first.dom_id)
        assert start["frame_key"] == "0,0,0"
        assert start["title"] == "toy sweep" and start["xlabel"] == "time step t"
        assert start["ylabel"] == "|dL/dh_t|" and set(start["lines"]) == {"|dL/dh_t|", "bound"}
        assert start["yticks"] and all(t.startswith("10") for t in start["yticks"])
        assert start["legend"][:2] == ["|dL/dh_t|", "bound"]

        browser.set_control(driver, first.dom_id, "rho", 3)
        moved = browser.figure_state(driver, first.dom_id)
        assert moved["frame_key"] == "3,0,0"
        assert moved["lines"]["|dL/dh_t|"] != start["lines"]["|dL/dh_t|"]
        assert len(moved["lines"]["|dL/dh_t|"].split()) == 10

        browser.set_control(driver, first.dom_id, "act", 1)
        assert browser.figure_state(driver, first.dom_id)["frame_key"] == "3,0,1"

        # the exploding corner of the grid: clipped line, red markers, a note
        browser.set_control(driver, first.dom_id, "steps", 1)
        browser.set_control(driver, first.dom_id, "act", 0)
        browser.set_control(driver, first.dom_id, "rho", 4)
        boom = browser.figure_state(driver, first.dom_id)
        assert boom["frame_key"] == "4,1,0"
        assert boom["overflow_markers"] == 14
        assert boom["notes"] == ["|dL/dh_t|: overflow at t \u2264 13"]

        # a real key press on the second explorer leaves the first alone
        other = browser.figure_state(driver, second.dom_id)
        browser.press_key(driver, second.dom_id, "rho", "ARROW_RIGHT")
        pressed = browser.figure_state(driver, second.dom_id)
        assert (other["frame_key"], pressed["frame_key"]) == ("0", "1")
        assert pressed["lines"] != other["lines"]
        assert browser.figure_state(driver, first.dom_id)["frame_key"] == "4,1,0"
        assert browser.console_errors(driver) == []


def test_static_legend_lists_the_curves_of_the_frame_shown(tmp_path):
    """Depth 3 of a layered explorer lists layers 3, 2, 1 (not layer 4 from another frame),
    and the figure keeps its height while the legend changes."""
    browser = pytest.importorskip("browser")
    browser.require_browser()
    controls = {"depth": Control("depth", [1, 2, 3, 4], default=3), "cell": ["a", "b"]}
    ex = gradient_explorer(layered, controls, title="layers", ylabel="y", mode="static")
    page = browser.write_page(tmp_path / "page.html", ex.html)
    height = "return document.getElementById(arguments[0]).querySelector('svg').viewBox.baseVal.height"
    for width in (400, 1280):
        with browser.chromium(width=width, height=900) as driver:
            browser.open_page(driver, page)
            browser.wait_for_explorers(driver, 1)
            heights = set()
            for index, depth in [(2, 3), (0, 1), (3, 4), (1, 2)]:
                browser.set_control(driver, ex.dom_id, "depth", index)
                state = browser.figure_state(driver, ex.dom_id)
                assert state["legend"] == list(layered(depth)), (width, depth)
                assert sorted(state["lines"]) == sorted(layered(depth))
                heights.add(driver.execute_script(height, ex.dom_id))
            assert len(heights) == 1, heights
            assert browser.console_errors(driver) == []


# ----------------------------------------------------------------------------- package layout

def test_plotter_and_styles_are_package_data_used_verbatim():
    from lstm_core.viz import static

    js, css = static.asset("explorer.js"), static.asset("explorer.css")
    assert "function init(root)" in js and ".lstm-gx" in css
    a = gradient_explorer(toy_compute, {"rho": [0.5, 2.0]}, title="a", ylabel="y", mode="static")
    b = gradient_explorer(toy_compute, {"rho": [0.5]}, title="b", ylabel="y", mode="static")
    for ex in (a, b):  # the same text in every explorer: nothing is substituted into it
        assert f"<script>{js}</script>" in ex.html and f"<style>{css}</style>" in ex.html
        assert "__ID__" not in ex.html


def test_no_viz_module_is_longer_than_450_lines():
    from importlib import resources

    files = [f for f in resources.files("lstm_core.viz").iterdir() if f.name.endswith((".py", ".js"))]
    assert {"explorer.js", "static.py", "live.py", "frames.py", "controls.py"} <= {f.name for f in files}
    lengths = {f.name: len(f.read_text(encoding="utf-8").splitlines()) for f in files}
    assert max(lengths.values()) <= 450, lengths


# ----------------------------------------------------------------------------- one layout, two renderers

def test_widget_and_static_draw_the_same_layout():
    import matplotlib

    matplotlib.use("Agg")
    data = _payload(gradient_explorer(toy_compute, TOY_CONTROLS, title="toy", ylabel="y",
                                      mode="static"))
    box = gradient_explorer(toy_compute, TOY_CONTROLS, title="toy", ylabel="y", mode="widget")
    ax = box.figure.axes[0]
    for values, key in [(dict(rho=1e20, steps=30, act="linear"), "4,1,0"),
                        (dict(rho=0.5, steps=10, act="squash"), "1,0,1")]:
        box.update(**values)
        frame = data["frames"][key]
        np.testing.assert_allclose(ax.get_ylim(), frame["ylim"])
        np.testing.assert_allclose(ax.get_yticks(), [t["v"] for t in frame["yticks"]])
        np.testing.assert_allclose(ax.get_xticks(), [t["v"] for t in frame["xticks"]])
        assert ax.get_title(loc="left").splitlines() == frame["notes"]


# ----------------------------------------------------------------------------- categories and tables

STAGES = ["a", "b", "c"]


def stage_compute(x):
    # value 0 at stage b when x = 0: an underflow on the log axis, named by its category
    return {"|value|": np.array([1.0, abs(x), 10.0]), "|grad|": np.array([2.0, 3.0, 4.0 * x + 1])}


def stage_table(x):
    return viz.FrameTable(["stage", "value"], [[s, f"{v:g}"] for s, v in zip(STAGES, [1.0, x, 10.0])],
                          caption=f"x = {x}", code_columns=[0])


def test_categorical_axis_labels_every_point_and_names_it_in_notes():
    frames = explorer_frames(stage_compute, {"x": [0.0]})
    (_, series, flags), = frames
    frame = viz.frames.layout_frame(series, flags, logy=True, ylim=None, xname="t", xticklabels=STAGES)
    assert frame["xlim"] == [-0.5, 2.5]
    assert [(t["v"], t["t"]) for t in frame["xticks"]] == [(0, "a"), (1, "b"), (2, "c")]
    assert frame["notes"] == ["|value|: zero/underflow at b"]
    with pytest.raises(ValueError, match="xticklabels"):
        viz.frames.layout_frame(series, flags, logy=True, ylim=None, xname="t", xticklabels=["a"])


def test_table_per_frame_in_static_and_widget_mode():
    import matplotlib

    matplotlib.use("Agg")
    ex = gradient_explorer(stage_compute, {"x": [0.0, 2.0]}, title="s", ylabel="y", mode="static",
                           xticklabels=STAGES, table=stage_table)
    data = _payload(ex)
    assert data["tableColumns"] == ["stage", "value"] and data["codeColumns"] == [0]
    assert data["frames"]["1"]["table"] == {"caption": "x = 2.0", "rows": [["a", "1"], ["b", "2"], ["c", "10"]]}
    assert data["categorical"] is True and 'class="gx-details"' in ex.html

    box = gradient_explorer(stage_compute, {"x": [0.0, 2.0]}, title="s", ylabel="y", mode="widget",
                            xticklabels=STAGES, table=stage_table)
    box.update(x=2.0)
    assert "<code>b</code></td><td>2</td>" in box.details.value and "x = 2.0" in box.details.value
    assert [t.get_text() for t in box.figure.axes[0].get_xticklabels()] == STAGES


@pytest.mark.parametrize("bad, exc, pattern", [
    (lambda x: [["a", "1"]], TypeError, r"table must return a FrameTable; table\(x=0.0\) returned list"),
    (lambda x: viz.FrameTable(["a", "b"], [["1"]]), ValueError, r"table: row 0 has 1 cells for 2"),
])
def test_bad_table_is_named(bad, exc, pattern):
    with pytest.raises(exc, match=pattern):
        gradient_explorer(stage_compute, {"x": [0.0]}, title="s", ylabel="y", mode="static", table=bad)


# ----------------------------------------------------------------------------- the printed figure

def test_static_explorer_prints_its_default_frame_as_a_captioned_figure():
    import base64
    import io

    from PIL import Image

    controls = {"rho": Control("rho", [0.5, 1.5, 1e20], default=1e20, label="ρ"),
                "steps": Control("steps", [10, 30], default=30), "act": ["linear", "squash"]}
    ex = gradient_explorer(toy_compute, controls, title="toy *sweep*", ylabel="y", mode="static")
    bundle = ex._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/markdown", "text/plain"}
    assert "StaticExplorer" not in bundle["text/plain"] + bundle["text/markdown"]
    md = bundle["text/markdown"]
    m = re.fullmatch(r"```\{figure\} data:image/png;base64,([A-Za-z0-9+/=]+)\n:figclass: lstm-explorer\n"
                     r":alt: [^\n]+\n:width: 100%\n\n([^\n]+)\n```\n", md)
    assert m, md[:200]
    image = Image.open(io.BytesIO(base64.b64decode(m.group(1))))
    assert image.size[0] == 7.2 * 200  # 7.2 in at 200 dpi: twice a printed column's resolution
    assert r"toy \*sweep\*" in m.group(2)  # Markdown in the title is escaped ...
    caption = re.sub(r"\\(.)", r"\1", m.group(2))  # ... and only escaped
    assert caption == ex.caption()
    for part in ["“toy *sweep*”", "(ρ = 1e+20; steps = 30; act = linear)",
                 "ρ (0.5, 1.5, 1e+20); steps (10, 30); act (linear, squash)"]:
        assert part in caption, part
    # the printed frame is the default one: exploding, so its PNG differs from another default's
    other = gradient_explorer(toy_compute, {"rho": [0.5, 1e20], "steps": [30]}, title="toy *sweep*",
                              ylabel="y", mode="static")
    assert other.png(dpi=50) != ex.png(dpi=50)
    assert ex.default_frame["notes"] == ["|dL/dh_t|: overflow at t \u2264 13"]


def test_static_text_keeps_its_size_at_phone_and_desktop_width(tmp_path):
    """The SVG is laid out at the width it gets, so 12-px tick labels stay >= 11.4 px on a phone."""
    browser = pytest.importorskip("browser")
    browser.require_browser()
    ex = gradient_explorer(stage_compute, {"x": [0.0, 2.0]}, title="stages, a title long enough "
                           "to need two lines on a phone", ylabel="y", mode="static",
                           xticklabels=["sig_y", "numerator", "sig_x", "x_plus_y"], table=stage_table)
    page = browser.write_page(tmp_path / "page.html",
                              '<meta name="viewport" content="width=device-width">' + ex.html)
    for width in (400, 1280):
        with browser.chromium(width=width, height=900) as driver:
            browser.open_page(driver, page)
            browser.wait_for_explorers(driver, 1)
            state = browser.figure_state(driver, ex.dom_id)
            scale = state["client_width"] / state["viewbox_width"]
            assert 0.95 <= scale <= 1.1, (width, state["client_width"], state["viewbox_width"])
            assert state["xticks"] == ["sig_y", "numerator", "sig_x", "x_plus_y"]
            assert state["table_caption"] == "x = 0.0"
            assert state["table"] == [["stage", "value"], ["a", "1"], ["b", "0"], ["c", "10"]]
            assert state["notes"] == ["|value|: zero/underflow at numerator"]
            browser.set_control(driver, ex.dom_id, "x", 1)
            moved = browser.figure_state(driver, ex.dom_id)
            assert moved["table_caption"] == "x = 2.0" and moved["table"][2] == ["b", "2"]
            assert moved["notes"] == []
            browser.screenshot(driver, ex.dom_id, tmp_path / f"explorer-{width}.png")
            assert browser.console_errors(driver) == []


def test_a_built_wheel_ships_the_plotter(tmp_path):
    """A non-editable install gets explorer.js and explorer.css (pyproject's package-data)."""
    import shutil
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"  # build from a copy: setuptools writes build/ and *.egg-info
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, src / name)
    shutil.copytree(root / "lstm_core", src / "lstm_core",
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", str(src), "-w", str(tmp_path / "wheel")],
                   check=True, capture_output=True)
    (wheel,) = (tmp_path / "wheel").glob("lstm_core-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("explorer.js", "explorer.css", "static.py", "__init__.py"):
        assert f"lstm_core/viz/{name}" in names, name
