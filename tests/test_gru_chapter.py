"""Chapter 5 (book/gru.md): the GRU's claims, recomputed without the notebook.

Reference values come from routes that share no code with ``lstm_core.gru``:
sympy differentiating a symbolic GRU step, a gate-by-gate implementation of the
tutorial convention, central differences, and closed forms (identity, zeta^T I).
The finite-difference check of every GRU parameter lives in test_gradients.py
(configs "gru-torch" and "gru-cho") and is not repeated here.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from lstm_core import gru
from lstm_core.gradcheck import numerical_gradient, relative_error

VARIANTS = ("torch", "cho")
HS, DS = 2, 2  # the chapter's symbolic step: H = 2, D = 2
BOOK = Path(__file__).resolve().parents[1] / "book" / "gru.md"
SOURCE = Path(gru.__file__).read_text()


# ----------------------------------------------------------------------------- sympy

def _sym(name, rows, cols):
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}{j}", real=True))


SYM = {"h0": _sym("h", 1, HS), "W_x": _sym("Wx", DS, 3 * HS), "W_h": _sym("Wh", HS, 3 * HS),
       "b_x": _sym("bx", 1, 3 * HS), "b_h": _sym("bh", 1, 3 * HS), "x": _sym("x", 1, DS)}
ALL = [s for M in SYM.values() for s in M]


def _block(M, k):
    return M[:, k * HS:(k + 1) * HS]


@functools.lru_cache(maxsize=None)
def symbolic_jacobian(variant):
    """d h_1 / d(h0, W_x, W_h, b_x, b_h, x) as a numeric function, from sympy."""
    h, x = SYM["h0"], SYM["x"]
    sig = lambda A: A.applyfunc(lambda a: 1 / (1 + sp.exp(-a)))  # noqa: E731
    ax = [x * _block(SYM["W_x"], k) + _block(SYM["b_x"], k) for k in range(3)]
    r = sig(ax[0] + h * _block(SYM["W_h"], 0) + _block(SYM["b_h"], 0))
    z = sig(ax[1] + h * _block(SYM["W_h"], 1) + _block(SYM["b_h"], 1))
    W_hn, b_hn = _block(SYM["W_h"], 2), _block(SYM["b_h"], 2)
    if variant == "torch":
        a_n = ax[2] + r.multiply_elementwise(h * W_hn + b_hn)
    else:
        a_n = ax[2] + r.multiply_elementwise(h) * W_hn + b_hn
    n = a_n.applyfunc(sp.tanh)
    h1 = (sp.ones(1, HS) - z).multiply_elementwise(n) + z.multiply_elementwise(h)
    return sp.lambdify(ALL, h1.jacobian(ALL), "numpy")


def _random_point(rng):
    return {k: rng.uniform(-1.5, 1.5, M.shape) for k, M in SYM.items()}


def _library_rows(values, variant):
    """Row k = d h_1[k] / d(all symbols) from gru.backward with a unit upstream gradient."""
    p = {"W_x": values["W_x"], "W_h": values["W_h"], "b_x": values["b_x"][0], "b_h": values["b_h"][0]}
    _, cache = gru.forward(p, values["x"][None], values["h0"], variant=variant)
    rows = []
    for k in range(HS):
        e = np.zeros((1, 1, HS))
        e[0, 0, k] = 1.0
        g = gru.backward(e, cache)
        parts = {"h0": g.dh0, "x": g.dx[0], **g.params}
        rows.append(np.concatenate([np.ravel(parts[name]) for name in SYM]))
    return np.array(rows), cache


def _closed_form_step_jacobian(values, cache, variant):
    """The chapter's eq-gru-jac-torch / eq-gru-jac-cho, written from the equations."""
    W_h = values["W_h"]
    W_hr, W_hz, W_hn = (_np_block(W_h, k) for k in range(3))
    h_prev = values["h0"][0]
    r, z, n = (getattr(cache, k)[0, 0] for k in "rzn")
    m = h_prev @ W_hn + values["b_h"][0][2 * HS:] if variant == "torch" else h_prev
    s_z, s_n, s_r = (h_prev - n) * z * (1 - z), (1 - z) * (1 - n ** 2), r * (1 - r)
    if variant == "torch":
        through_n = np.diag(r) @ W_hn.T + np.diag(m * s_r) @ W_hr.T
    else:
        through_n = W_hn.T @ (np.diag(r) + np.diag(h_prev * s_r) @ W_hr.T)
    return np.diag(z) + np.diag(s_z) @ W_hz.T + np.diag(s_n) @ through_n


def _evaluate(jac, values):
    """The lambdified sympy Jacobian at a point given as {name: array}, in ALL's order."""
    return np.array(jac(*np.concatenate([v.ravel() for v in values.values()])), dtype=float)


def _np_block(W, k):
    return W[:, k * HS:(k + 1) * HS]


@pytest.mark.parametrize("variant", VARIANTS)
def test_sympy_jacobian_equals_backward(variant):
    """Every column: h_{t-1}, each entry of W_x, W_h, b_x, b_h, and x_t, at random points."""
    jac = symbolic_jacobian(variant)
    rng = np.random.default_rng(51)
    for _ in range(4):
        values = _random_point(rng)
        exact = _evaluate(jac, values)
        ours, _ = _library_rows(values, variant)
        assert exact.shape == ours.shape == (HS, len(ALL))
        assert np.max(np.abs(exact - ours)) < 1e-10
        # the comparison is not vacuous: every parameter group has non-zero derivatives
        col = 0
        for name, M in SYM.items():
            assert np.max(np.abs(exact[:, col:col + len(M)])) > 1e-3, name
            col += len(M)


@pytest.mark.parametrize("variant", VARIANTS)
def test_closed_form_step_jacobian_equals_sympy(variant):
    jac = symbolic_jacobian(variant)
    rng = np.random.default_rng(52)
    for _ in range(4):
        values = _random_point(rng)
        exact = _evaluate(jac, values)
        _, cache = _library_rows(values, variant)
        closed = _closed_form_step_jacobian(values, cache, variant)
        assert np.max(np.abs(exact[:, :HS] - closed)) < 1e-10


def test_the_two_variants_are_different_models():
    """Same weights, different functions: the variant switch matters."""
    rng = np.random.default_rng(53)
    p = gru.init_params(3, 4, rng=rng)
    x, h0 = rng.standard_normal((6, 2, 3)), rng.standard_normal((2, 4))
    h_t, _ = gru.forward(p, x, h0, variant="torch")
    h_c, _ = gru.forward(p, x, h0, variant="cho")
    assert np.max(np.abs(h_t - h_c)) > 1e-2


# ----------------------------------------------------------------------------- z <-> 1 - z

def tutorial_forward(p, x, h0, variant):
    """h = (1 - u) h_prev + u n, gate by gate, with the z block of p read as u."""
    H = h0.shape[-1]
    blk = [slice(k * H, (k + 1) * H) for k in range(3)]
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    h, out = h0, []
    for x_t in x:
        pre = [x_t @ p["W_x"][:, s] + p["b_x"][s] for s in blk]
        r = sig(pre[0] + h @ p["W_h"][:, blk[0]] + p["b_h"][blk[0]])
        u = sig(pre[1] + h @ p["W_h"][:, blk[1]] + p["b_h"][blk[1]])
        if variant == "torch":
            n = np.tanh(pre[2] + r * (h @ p["W_h"][:, blk[2]] + p["b_h"][blk[2]]))
        else:
            n = np.tanh(pre[2] + (r * h) @ p["W_h"][:, blk[2]] + p["b_h"][blk[2]])
        h = (1 - u) * h + u * n
        out.append(h)
    return np.stack(out)


def negate_update_block(p):
    H = p["W_h"].shape[0]
    q = {k: v.copy() for k, v in p.items()}
    for v in q.values():
        v[..., H:2 * H] *= -1
    return q


@pytest.mark.parametrize("variant", VARIANTS)
def test_update_gate_flip_gives_identical_outputs(variant):
    rng = np.random.default_rng(54)
    T, B, D, H = 9, 3, 4, 5
    p = gru.init_params(D, H, rng=rng)
    p["b_x"] += 0.5  # keep the update gate away from 1/2, where z and 1 - z look alike
    x, h0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H))
    h_lib, _ = gru.forward(p, x, h0, variant=variant)
    h_tut = tutorial_forward(negate_update_block(p), x, h0, variant)
    np.testing.assert_allclose(h_tut, h_lib, rtol=0, atol=1e-13)
    # without the sign flip the conventions disagree, so the check above can fail
    assert np.max(np.abs(tutorial_forward(p, x, h0, variant) - h_lib)) > 1e-2


@pytest.mark.parametrize("variant", VARIANTS)
def test_tutorial_gradients_are_the_sign_flipped_library_gradients(variant):
    """d L / d(tutorial params) = P d L / d(params), P = -1 on the update block (exercise)."""
    rng = np.random.default_rng(55)
    T, B, D, H = 4, 2, 3, 3
    p = gru.init_params(D, H, rng=rng)
    x, h0, w = rng.standard_normal((T, B, D)), rng.standard_normal((B, H)), rng.standard_normal((T, B, H))
    q = negate_update_block(p)

    def loss():
        return float(np.sum(w * tutorial_forward(q, x, h0, variant)))

    g = gru.backward(w, gru.forward(p, x, h0, variant=variant)[1]).params
    predicted = negate_update_block(g)
    for k in q:
        assert relative_error(predicted[k], numerical_gradient(loss, q[k])) < 1e-8, k


# ----------------------------------------------------------------------------- the highway

def _dhT_dh0(p, x, h0, variant):
    """d h_T / d h_0 for the first sequence, one backward pass per output unit."""
    _, cache = gru.forward(p, x, h0, variant=variant)
    T, B, H = x.shape[0], h0.shape[0], h0.shape[1]
    rows = []
    for k in range(H):
        e = np.zeros((T, B, H))
        e[-1, 0, k] = 1.0
        rows.append(gru.backward(e, cache).dh0[0])
    return np.array(rows), cache


def _dhT_dh0_central_differences(p, x, h0, variant, eps=1e-4):
    H = h0.shape[1]
    J = np.empty((H, H))
    for j in range(H):
        hp, hm = h0.copy(), h0.copy()
        hp[0, j] += eps
        hm[0, j] -= eps
        J[:, j] = (gru.forward(p, x, hp, variant=variant)[0][-1, 0]
                   - gru.forward(p, x, hm, variant=variant)[0][-1, 0]) / (2 * eps)
    return J


@pytest.mark.parametrize("variant", VARIANTS)
def test_update_gate_forced_to_one_gives_identity(variant):
    """z = 1 at every step: h_T = h_0, so d h_T / d h_0 = I (to 1e-12)."""
    rng = np.random.default_rng(56)
    T, B, D, H = 30, 2, 3, 4
    p = gru.init_params(D, H, rng=rng)
    p["b_x"][H:2 * H] = 100.0  # sigmoid(100 + O(1)) rounds to exactly 1.0
    x, h0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H))
    J, cache = _dhT_dh0(p, x, h0, variant)
    assert np.all(cache.z == 1.0)
    assert np.max(np.abs(J - np.eye(H))) < 1e-12
    assert np.max(np.abs(_dhT_dh0_central_differences(p, x, h0, variant) - np.eye(H))) < 1e-9


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("zeta", [0.5, 0.9, 0.99])
def test_constant_update_gate_gives_geometric_decay(variant, zeta):
    """z = zeta constant and W_h = 0: only the direct path reads h_{t-1}, d h_T/d h_0 = zeta^T I."""
    rng = np.random.default_rng(57)
    T, B, D, H = 25, 2, 3, 4
    p = gru.init_params(D, H, rng=rng)
    p["W_h"][:] = 0.0
    p["W_x"][:, H:2 * H] = 0.0
    p["b_x"][H:2 * H] = np.log(zeta / (1 - zeta))
    p["b_h"][H:2 * H] = 0.0
    x, h0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H))
    J, cache = _dhT_dh0(p, x, h0, variant)
    np.testing.assert_allclose(cache.z, zeta, rtol=1e-14)
    np.testing.assert_allclose(J, zeta ** T * np.eye(H), rtol=1e-12, atol=1e-12 * zeta ** T)


# ----------------------------------------------------------------------------- equation labels

def _chapter_labels():
    return set(re.findall(r"^\$\$ \((eq-gru-[a-z-]+)\)$", BOOK.read_text(), flags=re.M))


def test_every_code_label_is_an_equation_of_the_chapter():
    """Comments like ``(eq-gru-bp-n)`` in gru.py must name equations that exist in book/gru.md."""
    in_code = set(re.findall(r"\((eq-gru-[a-z-]+)\)", SOURCE))
    assert in_code, "gru.py has no equation labels"
    assert in_code <= _chapter_labels(), in_code - _chapter_labels()


def test_every_backward_equation_has_code():
    """Each derived backward equation of the chapter is tagged on at least one line of gru.py."""
    backward = {lab for lab in _chapter_labels() if lab.startswith("eq-gru-bp-")}
    assert len(backward) == 10, sorted(backward)
    missing = [lab for lab in backward if f"({lab})" not in SOURCE]
    assert not missing, missing
