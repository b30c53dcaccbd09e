"""Chapter 3 (book/lstm_forward.md): the LSTM forward pass.

Every claim of the chapter is recomputed here from lstm_core, against an independent route:
a scalar Python implementation of the six equations, closed forms for the memory experiment,
TensorFlow's and the IFOG tutorials' stacked layouts, and central finite differences for the
sensitivity ||dh_T/dx_t||. No timing is asserted.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lstm_core import gradcheck, interop, lstm
from lstm_core.viz import Control, gradient_explorer, gradient_norms_per_step

ROOT = Path(__file__).resolve().parents[1]
# the rendered chapter; LSTM_CORE_BOOK_HTML points at another build's html directory
BUILT_PAGE = Path(os.environ.get("LSTM_CORE_BOOK_HTML", ROOT / "_build" / "html")) / "book" / "lstm_forward.html"


def _problem(rng, T, B, D, H, scale=1.0):
    params = {k: scale * v for k, v in lstm.init_params(D, H, rng=rng).items()}
    x = rng.standard_normal((T, B, D))
    h0 = 0.5 * rng.standard_normal((B, H))
    c0 = 0.5 * rng.standard_normal((B, H))
    return params, x, h0, c0


# --------------------------------------------------------------------------- independent forms

def _sig(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def scalar_reference(params, x, h0, c0, forget_bias=0.0, output_activation="tanh"):
    """The six equations with Python floats, one unit at a time (gate blocks i, f, g, o)."""
    T, B, D = x.shape
    H = h0.shape[1]
    Wx, Wh, b = params["W_x"].tolist(), params["W_h"].tolist(), params["b"].tolist()
    hs, cs = np.empty((T, B, H)), np.empty((T, B, H))
    for s in range(B):
        h, c = list(h0[s]), list(c0[s])
        for t in range(T):
            pre = [b[j] + sum(x[t, s, d] * Wx[d][j] for d in range(D))
                   + sum(h[k] * Wh[k][j] for k in range(H)) for j in range(4 * H)]
            i = [_sig(pre[u]) for u in range(H)]
            f = [_sig(pre[H + u] + forget_bias) for u in range(H)]
            g = [math.tanh(pre[2 * H + u]) for u in range(H)]
            o = [_sig(pre[3 * H + u]) for u in range(H)]
            c = [f[u] * c[u] + i[u] * g[u] for u in range(H)]
            psi = math.tanh if output_activation == "tanh" else (lambda v: v)
            h = [o[u] * psi(c[u]) for u in range(H)]
            hs[t, s], cs[t, s] = h, c
    return hs, cs


def _np_sig(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # an identity of the logistic function, not lstm_core's


def _psi(name):
    return np.tanh if name == "tanh" else (lambda v: v)


def split_form(params, x, h0, c0, forget_bias=0.0, output_activation="tanh"):
    """Per gate: W_gh (H x H) h_{t-1} + W_gx (H x D) x_t + b_g, column-vector convention."""
    H = h0.shape[1]
    mats = {n: (params["W_h"][:, lstm.gate_slice(n, H)].T, params["W_x"][:, lstm.gate_slice(n, H)].T,
                params["b"][lstm.gate_slice(n, H)]) for n in "ifgo"}
    h, c, hs, cs = h0, c0, [], []
    for x_t in x:
        pre = {n: (W_h @ h.T + W_x @ x_t.T).T + b for n, (W_h, W_x, b) in mats.items()}
        i, o = _np_sig(pre["i"]), _np_sig(pre["o"])
        f = _np_sig(pre["f"] + forget_bias)
        c = f * c + i * np.tanh(pre["g"])
        h = o * _psi(output_activation)(c)
        hs.append(h)
        cs.append(c)
    return np.stack(hs), np.stack(cs)


def stacked_form(params, x, h0, c0, forget_bias=0.0, output_activation="tanh"):
    """One (B, H + D) @ (H + D, 4H) product per step on the row [h_{t-1}, x_t]."""
    H = h0.shape[1]
    W = np.vstack([params["W_h"], params["W_x"]])
    assert W.shape == (H + x.shape[2], 4 * H)
    h, c, hs, cs = h0, c0, [], []
    for x_t in x:
        a = np.concatenate([h, x_t], axis=1) @ W + params["b"]
        i, f, g, o = np.split(a, 4, axis=1)
        c = _np_sig(f + forget_bias) * c + _np_sig(i) * np.tanh(g)
        h = _np_sig(o) * _psi(output_activation)(c)
        hs.append(h)
        cs.append(c)
    return np.stack(hs), np.stack(cs)


@given(
    T=st.integers(1, 6), B=st.integers(1, 3), D=st.integers(1, 4), H=st.integers(1, 5),
    forget_bias=st.sampled_from([0.0, 1.0, -0.5, 2.5]),
    output_activation=st.sampled_from(["tanh", "identity"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_split_stacked_and_loop_forms_agree(T, B, D, H, forget_bias, output_activation, seed):
    params, x, h0, c0 = _problem(np.random.default_rng(seed), T, B, D, H, scale=2.0)
    opts = dict(forget_bias=forget_bias, output_activation=output_activation)
    h_ref, c_ref = scalar_reference(params, x, h0, c0, **opts)
    h_lib, cache = lstm.forward(params, x, h0, c0, **opts)
    for name, (h, c) in {"split": split_form(params, x, h0, c0, **opts),
                         "stacked": stacked_form(params, x, h0, c0, **opts),
                         "lstm_core": (h_lib, cache.c)}.items():
        assert np.abs(h - h_ref).max() <= 1e-12, name
        assert np.abs(c - c_ref).max() <= 1e-12, name


def test_the_forms_are_not_trivially_equal():
    """Guard for the test above: a swapped gate order is detected."""
    params, x, h0, c0 = _problem(np.random.default_rng(1), 5, 2, 3, 4)
    h_ref, _ = scalar_reference(params, x, h0, c0)
    H = 4
    perm = np.r_[lstm.gate_slice("f", H), lstm.gate_slice("i", H), lstm.gate_slice("g", H),
                 lstm.gate_slice("o", H)]
    swapped = {"W_x": params["W_x"][:, perm], "W_h": params["W_h"][:, perm], "b": params["b"][perm]}
    h_bad, _ = lstm.forward(swapped, x, h0, c0)
    assert np.abs(h_bad - h_ref).max() > 1e-3


@pytest.mark.parametrize("forget_bias", [0.0, 1.0])
def test_stacked_library_layouts_compute_the_same_model(forget_bias):
    """TF BasicLSTMCell: kernel on [x, h], blocks i, j, f, o, forget_bias added inside the cell;
    IFOG tutorials: [1, x, h] @ WLSTM with blocks i, f, o, g."""
    T, B, D, H = 7, 2, 3, 5
    params, x, h0, c0 = _problem(np.random.default_rng(7), T, B, D, H)
    h_lib, _ = lstm.forward(params, x, h0, c0, forget_bias=forget_bias)

    kernel, bias = interop.lstm_to_tf(params)
    assert kernel.shape == (D + H, 4 * H)
    h, c, hs = h0, c0, []
    for x_t in x:  # BasicLSTMCell.call, transcribed
        i, j, f, o = np.split(np.concatenate([x_t, h], axis=1) @ kernel + bias, 4, axis=1)
        c = c * _np_sig(f + forget_bias) + _np_sig(i) * np.tanh(j)
        h = np.tanh(c) * _np_sig(o)
        hs.append(h)
    assert np.abs(np.stack(hs) - h_lib).max() <= 1e-12

    WLSTM = interop.lstm_to_ifog(params)
    assert WLSTM.shape == (1 + D + H, 4 * H)
    h, c, hs = h0, c0, []
    for x_t in x:
        a = np.concatenate([np.ones((B, 1)), x_t, h], axis=1) @ WLSTM
        i, f, o, g = np.split(a, 4, axis=1)
        c = _np_sig(f + forget_bias) * c + _np_sig(i) * np.tanh(g)
        h = _np_sig(o) * np.tanh(c)
        hs.append(h)
    assert np.abs(np.stack(hs) - h_lib).max() <= 1e-12


# --------------------------------------------------------------------------- shared parameters

def test_parameters_are_shared_so_any_length_runs_and_prefixes_agree():
    D, H = 3, 4
    rng = np.random.default_rng(11)
    params = lstm.init_params(D, H, rng=rng)
    assert sum(v.size for v in params.values()) == 4 * H * (D + H + 1)
    x = rng.standard_normal((300, 2, D))
    h0, c0 = 0.5 * rng.standard_normal((2, H)), 0.5 * rng.standard_normal((2, H))
    h_full, cache = lstm.forward(params, x, h0, c0)
    for T in (1, 2, 17, 299):
        h, c = lstm.forward(params, x[:T], h0, c0)
        # equal up to the summation order of the (T*B, D) @ (D, 4H) input projection
        assert np.abs(h - h_full[:T]).max() <= 1e-15
        assert np.abs(c.c - cache.c[:T]).max() <= 1e-14


# --------------------------------------------------------------------------- forget_bias

@pytest.mark.parametrize("beta", [-2.0, 0.5, 1.0, 3.0])
@pytest.mark.parametrize("output_activation", ["tanh", "identity"])
def test_forget_bias_equals_shifting_the_forget_block_of_b(beta, output_activation):
    T, B, D, H = 9, 2, 3, 4
    params, x, h0, c0 = _problem(np.random.default_rng(5), T, B, D, H)
    shifted = {k: v.copy() for k, v in params.items()}
    shifted["b"][H:2 * H] += beta  # the forget block, columns H:2H, written out by hand
    h_fb, cache_fb = lstm.forward(params, x, h0, c0, forget_bias=beta, output_activation=output_activation)
    h_sh, cache_sh = lstm.forward(shifted, x, h0, c0, output_activation=output_activation)
    assert np.abs(h_fb - h_sh).max() <= 1e-12
    assert np.abs(cache_fb.c - cache_sh.c).max() <= 1e-12
    assert np.abs(cache_fb.gates - cache_sh.gates).max() <= 1e-12
    # the shift matters, and only in the forget block
    wrong = {k: v.copy() for k, v in params.items()}
    wrong["b"][0:H] += beta
    h_wrong, _ = lstm.forward(wrong, x, h0, c0, output_activation=output_activation)
    assert np.abs(h_wrong - h_fb).max() > 1e-4


# --------------------------------------------------------------------------- memory experiment

def _write_once_lstm(rng, D, H, write_channel=0):
    """Random LSTM whose forget gate is forced to 1 and whose input gate opens only when
    x[write_channel] = 1 (pre-activation 80 - 40 = 40) and is closed otherwise (-40)."""
    params = lstm.init_params(D, H, rng=rng)
    params = {k: 2.0 * v for k, v in params.items()}
    for block, bias in (("f", 40.0), ("i", -40.0)):
        cols = lstm.gate_slice(block, H)
        params["W_x"][:, cols] = 0.0
        params["W_h"][:, cols] = 0.0
        params["b"][cols] = bias
    params["W_x"][write_channel, lstm.gate_slice("i", H)] = 80.0
    return params


def test_forget_one_input_zero_keeps_the_cell_constant():
    T, D, H, s = 60, 4, 6, 7
    rng = np.random.default_rng(21)
    params = _write_once_lstm(rng, D, H)
    x = rng.standard_normal((T, 2, D))
    x[:, :, 0] = 0.0
    x[s, :, 0] = 1.0  # the spike on the write channel
    h0, c0 = 0.5 * rng.standard_normal((2, H)), 0.5 * rng.standard_normal((2, H))
    _, cache = lstm.forward(params, x, h0, c0)
    gates = cache.gates
    assert np.all(gates[:, :, lstm.gate_slice("f", H)] == 1.0)  # sigmoid(40) rounds to 1
    i = gates[:, :, lstm.gate_slice("i", H)]
    assert np.all(np.delete(i, s, axis=0) < 1e-17) and np.all(i[s] == 1.0)
    c = cache.c
    assert np.abs(c[s] - c0).max() > 0.1  # the spike did write something
    assert np.abs(c[s:] - c[s]).max() <= 1e-12  # ... and it is kept unchanged afterwards
    assert np.abs(c[:s] - c0).max() <= 1e-12  # before the spike nothing was written


@pytest.mark.parametrize("phi", [0.3, 0.9, 0.99])
def test_trace_of_a_spike_decays_like_phi_to_the_power(phi):
    """Isolated memory cells with a constant forget value phi: c_t = phi^(t-s) c_s (closed form)."""
    T, s, H = 80, 4, 3
    params = {"W_x": np.zeros((1, 4 * H)), "W_h": np.zeros((H, 4 * H)), "b": np.zeros(4 * H)}
    params["W_x"][0, lstm.gate_slice("i", H)] = 20.0
    params["b"][lstm.gate_slice("i", H)] = -10.0
    params["W_x"][0, lstm.gate_slice("g", H)] = [1.0, 2.0, -3.0]
    params["b"][lstm.gate_slice("f", H)] = math.log(phi / (1 - phi))
    params["b"][lstm.gate_slice("o", H)] = 40.0
    x = np.zeros((T, 1, 1))
    x[s] = 1.0
    h, cache = lstm.forward(params, x)
    c = cache.c[:, 0]
    c_s = _np_sig(10.0) * np.tanh(np.array([1.0, 2.0, -3.0]))
    expected = phi ** np.arange(T - s)[:, None] * c_s
    assert np.abs(c[s:] - expected).max() <= 1e-12
    assert np.all(c[:s] == 0.0)
    assert np.abs(h[s:, 0] - np.tanh(expected)).max() <= 1e-12


@pytest.mark.parametrize("forget_bias", [0.0, 1.0])
def test_measured_decay_matches_the_product_of_forget_gates(forget_bias):
    """W_h = 0 and time-varying forget gates: Delta c_t = (prod_{k=s+1}^t f_k) * Delta c_s,
    with f_k recomputed here from the inputs (they do not depend on the state when W_h = 0)."""
    T, B, D, H, s = 40, 2, 3, 5, 6
    params, x, h0, c0 = _problem(np.random.default_rng(31), T, B, D, H, scale=2.0)
    params["W_h"][:] = 0.0
    x_spike = x.copy()
    x_spike[s] += np.array([2.0, -1.5, 1.0])
    _, base = lstm.forward(params, x, h0, c0, forget_bias=forget_bias)
    _, spk = lstm.forward(params, x_spike, h0, c0, forget_bias=forget_bias)
    dc = spk.c - base.c
    cols = lstm.gate_slice("f", H)
    f = _np_sig(np.einsum("tbd,dh->tbh", x, params["W_x"][:, cols]) + params["b"][cols] + forget_bias)
    assert np.ptp(f) > 0.3  # the forget gates really vary over time
    prod = np.cumprod(f[s + 1:], axis=0)
    assert np.abs(dc[:s]).max() == 0.0
    assert np.abs(dc[s + 1:] - prod * dc[s]).max() <= 1e-12
    assert np.abs(dc[s]).max() > 0.1


def test_recurrent_weights_add_a_second_path_to_the_trace():
    """With W_h != 0 the product of forget gates no longer predicts the trace (the chapter says so)."""
    T, B, D, H, s = 40, 1, 3, 8, 4
    params, x, h0, c0 = _problem(np.random.default_rng(31), T, B, D, H)
    x_spike = x.copy()
    x_spike[s] += 2.0
    _, base = lstm.forward(params, x, h0, c0, forget_bias=1.0)
    _, spk = lstm.forward(params, x_spike, h0, c0, forget_bias=1.0)
    dc = (spk.c - base.c)[:, 0]
    f = spk.gates[:, 0, lstm.gate_slice("f", H)]
    pred = np.cumprod(f[s + 1:], axis=0) * dc[s]
    rel = np.linalg.norm(dc[s + 1:] - pred, axis=1) / np.linalg.norm(dc[s + 1:], axis=1)
    assert rel.min() > 0.05  # off from the first step after the spike ...
    assert rel[-10:].mean() > 0.5  # ... and unrelated to the product far from it


# --------------------------------------------------------------------------- h = o * c

def test_identity_output_grows_linearly_and_tanh_output_is_bounded():
    T = 50
    params = {"W_x": np.zeros((1, 4)), "W_h": np.zeros((1, 4)), "b": np.full(4, 20.0)}
    x = np.zeros((T, 1, 1))
    h_id, _ = lstm.forward(params, x, output_activation="identity")
    h_tanh, _ = lstm.forward(params, x)
    gate, g = 1.0 / (1.0 + math.exp(-20.0)), math.tanh(20.0)
    one_minus_gate = math.exp(-20.0) / (1.0 + math.exp(-20.0))  # 1 - gate without cancellation
    t = np.arange(1, T + 1)
    # geometric series from c_0 = 0: c_t = i g (1 - f^t) / (1 - f), with i = f = gate
    expected_c = gate * g * -np.expm1(t * math.log1p(-one_minus_gate)) / one_minus_gate
    assert np.allclose(h_id[:, 0, 0], gate * expected_c, rtol=1e-12, atol=0)
    assert np.all(np.abs(h_tanh) < 1.0)
    assert h_id[-1, 0, 0] > 0.999 * T


# --------------------------------------------------------------------------- sensitivity dh_T/dx_t

def last_output_jacobian(params, x, h0=None, c0=None, **options):
    """dh_T/dx_t as (T, H, D): one lstm.backward on a batch of H copies of the sequence."""
    H = params["W_h"].shape[0]

    def rep(a):
        return None if a is None else np.repeat(a, H, axis=0)

    h, cache = lstm.forward(params, np.repeat(x, H, axis=1), rep(h0), rep(c0), **options)
    dh = np.zeros_like(h)
    dh[-1, np.arange(H), np.arange(H)] = 1.0
    return lstm.backward(dh, cache).dx


OPTIONS = [
    {},
    {"forget_bias": 1.0},
    {"forget_bias": -1.0, "output_activation": "identity"},
    {"cell": "coupled"},
    {"cell": "no_forget", "output_activation": "identity"},
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_sensitivity_of_last_output_matches_finite_differences(options):
    T, D, H = 8, 3, 5
    params, x, h0, c0 = _problem(np.random.default_rng(41), T, 1, D, H, scale=1.5)
    J = last_output_jacobian(params, x, h0, c0, **options)
    assert J.shape == (T, H, D)
    J_fd = np.empty_like(J)
    for k in range(H):
        J_fd[:, k, :] = gradcheck.numerical_gradient(
            lambda: lstm.forward(params, x, h0, c0, **options)[0][-1, 0, k], x)[:, 0, :]
    assert gradcheck.relative_error(J, J_fd) < 1e-8
    norms = gradient_norms_per_step(J)
    norms_fd = np.sqrt((J_fd ** 2).sum(axis=(1, 2)))  # Frobenius norm of each H x D block
    assert np.max(np.abs(norms - norms_fd) / norms_fd) < 1e-7


def test_batched_jacobian_equals_one_backward_per_output_unit():
    T, D, H = 12, 2, 4
    params, x, h0, c0 = _problem(np.random.default_rng(43), T, 1, D, H)
    J = last_output_jacobian(params, x, h0, c0, forget_bias=1.0)
    h, cache = lstm.forward(params, x, h0, c0, forget_bias=1.0)
    for k in range(H):
        dh = np.zeros_like(h)
        dh[-1, 0, k] = 1.0
        assert np.abs(lstm.backward(dh, cache).dx[:, 0, :] - J[:, k, :]).max() <= 1e-14


def test_larger_forget_bias_keeps_early_inputs_visible():
    """The explorer's main message: the sensitivity to old inputs grows with the forget bias."""
    T, D, H = 60, 3, 8
    params = lstm.init_params(D, H, rng=np.random.default_rng(50))
    x = np.random.default_rng(51).standard_normal((T, 1, D))
    first = [gradient_norms_per_step(last_output_jacobian(params, x, forget_bias=b))[0]
             for b in (-2.0, 0.0, 1.0, 3.0)]
    assert all(a < b for a, b in zip(first, first[1:]))
    assert first[-1] / first[0] > 1e6


# --------------------------------------------------------------------------- the explorer

EX_D, EX_H, EX_TMAX = 3, 8, 60
EX_PARAMS = lstm.init_params(EX_D, EX_H, rng=np.random.default_rng(11))
EX_X = np.random.default_rng(12).standard_normal((EX_TMAX, 1, EX_D))
CONTROLS = [
    Control("forget_bias", [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0], default=1.0, label="forget bias β"),
    Control("weight_scale", [0.5, 1.0, 2.0, 4.0], default=1.0, label="weight scale"),
    Control("T", [10, 30, 60], default=30, label="length T"),
    Control("output_activation", ["tanh", "identity"], label="output activation"),
]


def sensitivity(forget_bias, weight_scale, T, output_activation):
    p = {"W_x": weight_scale * EX_PARAMS["W_x"], "W_h": weight_scale * EX_PARAMS["W_h"], "b": EX_PARAMS["b"]}
    J = last_output_jacobian(p, EX_X[:T], forget_bias=forget_bias, output_activation=output_activation)
    return {"‖∂h_T/∂x_t‖_F": gradient_norms_per_step(J)}


def test_explorer_grid_is_small_and_every_frame_is_finite():
    frames = math.prod(len(c.values) for c in CONTROLS)
    assert frames <= 150
    static = gradient_explorer(sensitivity, CONTROLS, title="t", ylabel="y", mode="static")
    assert len(static.frame_keys) == frames
    for T in (10, 30, 60):
        y = sensitivity(3.0, 4.0, T, "identity")["‖∂h_T/∂x_t‖_F"]
        assert y.shape == (T,) and np.all(np.isfinite(y)) and np.all(y > 0)


def test_explorer_live_widget_redraws():
    import matplotlib

    matplotlib.use("Agg")
    box = gradient_explorer(sensitivity, CONTROLS, title="t", ylabel="y", mode="widget")
    before = box.children[1].value
    box.update(forget_bias=3.0, T=60)
    assert box.current["forget_bias"] == 3.0 and box.current["T"] == 60
    assert box.children[1].value != before


def _drive_explorer(driver, browser, dom_id):
    start = browser.figure_state(driver, dom_id)
    assert set(start["controls"]) == {"forget_bias", "weight_scale", "T", "output_activation"}
    n_start = len(next(iter(start["lines"].values())).split())
    assert n_start == 30  # default T
    browser.set_control(driver, dom_id, "T", 2)  # T = 60
    longer = browser.figure_state(driver, dom_id)
    assert longer["frame_key"] != start["frame_key"]
    assert {len(pts.split()) for pts in longer["lines"].values()} == {60}
    browser.set_control(driver, dom_id, "forget_bias", 0)  # beta = -2
    low = browser.figure_state(driver, dom_id)
    assert low["lines"] != longer["lines"]
    browser.set_control(driver, dom_id, "output_activation", 1)
    assert browser.figure_state(driver, dom_id)["frame_key"] == "0,1,2,1"
    return start


def test_static_explorer_responds_in_a_browser(tmp_path):
    browser = pytest.importorskip("browser")
    browser.require_browser()
    static = gradient_explorer(sensitivity, CONTROLS, title="sensitivity", ylabel="y", mode="static")
    page = browser.write_page(tmp_path / "page.html", static.html)
    with browser.chromium() as driver:
        browser.open_page(driver, page)
        (dom_id,) = browser.wait_for_explorers(driver, 1)
        start = _drive_explorer(driver, browser, dom_id)
        assert start["frame_key"] == "3,1,1,0"
        assert browser.console_errors(driver) == []


@pytest.mark.book
def test_built_chapter_explorer_responds_in_a_browser(build_log):
    """The explorer of the rendered chapter (the session's book build, see conftest.build_log)."""
    if "LSTM_CORE_BOOK_HTML" not in os.environ:
        assert BUILT_PAGE.is_file(), f"{BUILT_PAGE} was not built"
    browser = pytest.importorskip("browser")
    browser.require_browser()
    html = BUILT_PAGE.read_text(encoding="utf-8")
    assert "widget-view" not in html
    with browser.chromium(width=1200, height=1000) as driver:
        browser.open_page(driver, BUILT_PAGE)
        ids = browser.wait_for_explorers(driver, 1)
        state = _drive_explorer(driver, browser, ids[0])
        assert state["frame_key"] == "3,1,1,0"
        assert "h_T" in state["title"]
        errors = [e for e in browser.console_errors(driver)
                  if "net::ERR" not in e and "Failed to load resource" not in e]
        assert not errors, errors
