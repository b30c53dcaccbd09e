"""Chapter 1 (book/staged_backprop.md): the staged scalar example, checked without the notebook.

The reference values come from sympy, differentiating the closed form of f directly, so they
share no code with ``lstm_core.staged``.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from lstm_core import staged

X, Y = sp.symbols("x y", real=True)


def _sig(z):
    return 1 / (1 + sp.exp(-z))


F = (X + _sig(Y)) / (_sig(X) + (X + Y) ** 2)
DFDX = sp.diff(F, X)
DFDY = sp.diff(F, Y)


def reference(x: float, y: float) -> tuple[float, float, float]:
    """(f, df/dx, df/dy) from sympy, evaluated with 40 significant digits."""
    at = {X: sp.Float(x, 40), Y: sp.Float(y, 40)}
    return tuple(float(e.evalf(40, subs=at)) for e in (F, DFDX, DFDY))


def edge_derivatives(x: float, y: float):
    """What each edge of the graph sends back, and df/d(stage) for each stage, from sympy.

    The eight stages are written here as one sympy expression of x, y and two kinds of
    perturbation symbols: e[(stage, input)] is added to the value *that stage reads* of that
    input (so df/de is what that one edge sends back, upstream x local), d[stage] is added to
    the stage's output (so df/dd is the stage's upstream gradient). Nothing is taken from
    lstm_core.staged but the names.
    """
    e, d, env = {}, {}, {"x": X, "y": Y}

    def read(stage, name):
        e[(stage, name)] = sp.Symbol(f"e_{stage}_{name}")
        return env[name] + e[(stage, name)]

    def out(stage, expr):
        d[stage] = sp.Symbol(f"d_{stage}")
        env[stage] = expr + d[stage]

    out("sig_y", _sig(read("sig_y", "y")))
    out("num", read("num", "x") + read("num", "sig_y"))
    out("sig_x", _sig(read("sig_x", "x")))
    out("xpy", read("xpy", "x") + read("xpy", "y"))
    out("xpy_sq", read("xpy_sq", "xpy") ** 2)
    out("den", read("den", "sig_x") + read("den", "xpy_sq"))
    out("inv_den", 1 / read("inv_den", "den"))
    out("f", read("f", "num") * read("f", "inv_den"))
    at = {X: sp.Float(x, 40), Y: sp.Float(y, 40), **{s: 0 for s in (*e.values(), *d.values())}}
    f = env["f"]
    sent = {k: float(sp.diff(f, s).evalf(40, subs=at)) for k, s in e.items()}
    upstream = {k: float(sp.diff(f, s).evalf(40, subs=at)) for k, s in d.items()}
    return sent, upstream


def test_value_and_gradient_at_the_chapter_point_match_sympy():
    f, dfdx, dfdy = staged.value_and_grad(3, -4)
    rf, rdx, rdy = reference(3, -4)
    assert abs(f - rf) < 1e-12
    assert abs(dfdx - rdx) < 1e-12
    assert abs(dfdy - rdy) < 1e-12
    # the numbers the chapter's prose quotes
    assert round(f, 4) == 1.5456
    assert round(dfdx, 3) == 2.060
    assert round(dfdy, 3) == 1.592


@pytest.mark.parametrize("seed", range(6))
def test_gradient_matches_sympy_at_random_points(seed):
    rng = np.random.default_rng(seed)
    x, y = (float(v) for v in rng.uniform(-5, 5, size=2))
    got = staged.value_and_grad(x, y)
    for g, r in zip(got, reference(x, y)):
        assert math.isclose(g, r, rel_tol=1e-11, abs_tol=1e-12), (x, y, got)


def test_eight_stages_in_the_documented_order():
    res = staged.forward(3.0, -4.0)
    names = [s.name for s in res.stages]
    assert names == ["sig_y", "num", "sig_x", "xpy", "xpy_sq", "den", "inv_den", "f"]
    assert res.stages[-1].value == res.f


def test_input_gradients_are_the_sum_of_their_contributions():
    """Each contribution upstream x local is what sympy says that edge alone sends back, and
    they add up to sympy's total derivative."""
    res = staged.forward(3.0, -4.0)
    grads = staged.backward(res)
    sent, _ = edge_derivatives(3.0, -4.0)
    _, rdx, rdy = reference(3.0, -4.0)
    for var, fan_out, total in (("x", 3, rdx), ("y", 2, rdy)):
        parts = {s.name: s.upstream * s.local[var] for s in res.stages if var in s.local}
        assert len(parts) == fan_out
        for stage, part in parts.items():
            assert math.isclose(part, sent[(stage, var)], rel_tol=1e-12, abs_tol=1e-15), stage
        assert math.isclose(sum(sent[(st, var)] for st in parts), total, rel_tol=1e-12)
        assert math.isclose(grads[var], total, rel_tol=1e-12)
    # each intermediate variable is read by exactly one stage
    for s in res.stages[:-1]:
        readers = [t for t in res.stages if s.name in t.local]
        assert len(readers) == 1, s.name


def test_overwriting_instead_of_accumulating_is_caught_by_the_reference():
    res = staged.forward(3.0, -4.0)
    good = staged.backward(res)
    bad = staged.backward_overwriting(staged.forward(3.0, -4.0))
    _, rdx, rdy = reference(3.0, -4.0)
    # the buggy pass keeps only the last contribution (num for x, sig_y for y) ...
    assert bad["x"] == pytest.approx(good["num"])
    assert bad["y"] == pytest.approx(good["sig_y"] * res.stages[0].local["y"])
    # ... which the sympy comparison rejects by a wide margin
    assert abs(bad["x"] - rdx) > 1.0
    assert abs(bad["y"] - rdy) > 1.0
    # while every intermediate gradient is unaffected (single reader each)
    for s in res.stages:
        assert bad[s.name] == pytest.approx(good[s.name], abs=1e-15)


def test_stage_table_rows_are_upstream_times_local():
    """Every row's upstream and sent-back value against sympy's per-stage and per-edge ones."""
    res = staged.forward(1.5, 0.25)
    staged.backward(res)
    rows = staged.stage_table(res)
    sent, upstream = edge_derivatives(1.5, 0.25)
    assert len(rows) == len(sent) == 12
    assert {(r["stage"], r["input"]) for r in rows} == set(sent)
    for row in rows:
        key = (row["stage"], row["input"])
        assert math.isclose(row["upstream"], upstream[row["stage"]], rel_tol=1e-12, abs_tol=1e-15), key
        assert math.isclose(row["sent_back"], sent[key], rel_tol=1e-12, abs_tol=1e-15), key


def test_central_differences_agree_to_second_order():
    x, y = 3.0, -4.0
    _, dfdx, dfdy = staged.value_and_grad(x, y)
    h = 1e-5
    fd_x = (staged.forward(x + h, y).f - staged.forward(x - h, y).f) / (2 * h)
    fd_y = (staged.forward(x, y + h).f - staged.forward(x, y - h).f) / (2 * h)
    assert abs(fd_x - dfdx) < 1e-9
    assert abs(fd_y - dfdy) < 1e-9
