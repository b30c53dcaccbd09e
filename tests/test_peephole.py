"""The peephole LSTM (Gers, Schraudolph & Schmidhuber 2002) of lstm_core.lstm.

Expected values come from central differences (every parameter incl. the peepholes, x, h0,
c0; non-zero weights and states; last-step and every-step losses, and a loss on the final
cell state) and, for the forward pass, from the published equations written out here gate by
gate with column vectors, independently of the package's stacked layout.
"""
import numpy as np
import pytest

from lstm_core import errata, examples, interop, lstm
from lstm_core.gradcheck import check_gradients, numerical_gradient, relative_error
from models import PEEPHOLE_CONFIGS, Problem

TOL = 1e-6
FLOOR = 1e-6
T, B, D, H = 5, 3, 4, 3


@pytest.mark.parametrize("placement", ["every", "last"])
@pytest.mark.parametrize("config", PEEPHOLE_CONFIGS, ids=str)
def test_every_peephole_gradient_matches_finite_differences(config, placement):
    p = Problem(config, T=T, B=B, D=D, H=H, rng=np.random.default_rng(77), placement=placement)
    present = {k for k in lstm.PEEPHOLES if k in p.params}
    assert present == {f"p_{g}" for g in ({True: "ifo"}.get(config.init_kwargs["peephole"])
                                          or config.init_kwargs["peephole"])}
    analytic = p.analytic()
    errors = check_gradients(p.loss, p.arrays, analytic, floor=FLOOR)
    assert max(errors.values()) < TOL, errors
    # every peephole gets a gradient that is not trivially zero
    for k in present:
        assert np.max(np.abs(analytic[f"params.{k}"])) > 1e-4, k


@pytest.mark.parametrize("config", PEEPHOLE_CONFIGS, ids=str)
def test_peephole_gradients_with_a_loss_on_the_final_cell_state(config):
    """dc_last enters the step that now also carries delta_o * p_o and delta_i p_i + delta_f p_f."""
    rng = np.random.default_rng(5)
    params = lstm.init_params(D, H, rng=rng, **config.init_kwargs)
    x = rng.standard_normal((T, B, D))
    h0, c0 = 0.5 * rng.standard_normal((B, H)), 0.5 * rng.standard_normal((B, H))
    w_h, w_c = rng.standard_normal((T, B, H)), rng.standard_normal((B, H))

    def loss():
        h, cache = lstm.forward(params, x, h0, c0, **config.kwargs)
        return float(np.sum(w_h * h) + np.sum(w_c * cache.c[-1]))

    g = lstm.backward(w_h, lstm.forward(params, x, h0, c0, **config.kwargs)[1], w_c)
    arrays = {**{f"params.{k}": v for k, v in params.items()}, "x": x, "h0": h0, "c0": c0}
    analytic = {**{f"params.{k}": v for k, v in g.params.items()}, "x": g.dx, "h0": g.dh0, "c0": g.dc0}
    assert set(g.params) == set(params)
    errors = check_gradients(loss, arrays, analytic, floor=FLOOR)
    assert max(errors.values()) < TOL, errors


def test_dc_steps_include_the_output_peephole_path():
    """dc_steps[t] against central differences: nudge c_t inside the recurrence (o_t recomputed
    from the nudged c_t, as the peephole makes it), then run on from (h_t, c_t)."""
    rng = np.random.default_rng(9)
    params = lstm.init_params(D, H, rng=rng, peephole=True)
    x = rng.standard_normal((T, B, D))
    h0, c0 = 0.5 * rng.standard_normal((B, H)), 0.5 * rng.standard_normal((B, H))
    w = rng.standard_normal((T, B, H))
    h, cache = lstm.forward(params, x, h0, c0)
    g = lstm.backward(w, cache)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    o_slice = lstm.gate_slice("o", H)
    for t in range(T):
        # o_t's pre-activation without its peephole term, from the cached gate value
        a_o = np.log(cache.gates[t][:, o_slice] / (1 - cache.gates[t][:, o_slice]))
        a_o_base = a_o - params["p_o"] * cache.c[t]
        c_t = cache.c[t].copy()

        def loss():
            h_t = sig(a_o_base + params["p_o"] * c_t) * np.tanh(c_t)
            rest = lstm.forward(params, x[t + 1:], h_t, c_t)[0] if t + 1 < T else h[:0]
            return float(np.sum(w[:t] * h[:t]) + np.sum(w[t] * h_t) + np.sum(w[t + 1:] * rest))

        assert relative_error(g.dc_steps[t], numerical_gradient(loss, c_t)) < 1e-8, t


def _gers_step(x, h, c, W, U, b, p):
    """One peephole-LSTM step as published, per gate with column vectors: W[k] (H, D), U[k] (H, H)."""
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    i = sig(W["i"] @ x + U["i"] @ h + b["i"] + p["i"] * c)
    f = sig(W["f"] @ x + U["f"] @ h + b["f"] + p["f"] * c)
    g = np.tanh(W["g"] @ x + U["g"] @ h + b["g"])
    c_new = f * c + i * g
    o = sig(W["o"] @ x + U["o"] @ h + b["o"] + p["o"] * c_new)
    return o * np.tanh(c_new), c_new


def test_forward_matches_the_published_equations():
    """T = 3, B = 2 sequences, run one column at a time through _gers_step."""
    rng = np.random.default_rng(11)
    params = lstm.init_params(D, H, rng=rng, peephole=True)
    for k in lstm.PEEPHOLES:
        params[k] *= 3.0  # large peepholes, so that a wrong c (c_{t-1} vs c_t) shows
    x = rng.standard_normal((3, 2, D))
    h0, c0 = 0.5 * rng.standard_normal((2, H)), 0.8 * rng.standard_normal((2, H))
    h, cache = lstm.forward(params, x, h0, c0)
    W = {k: params["W_x"][:, n * H:(n + 1) * H].T for n, k in enumerate("ifgo")}
    U = {k: params["W_h"][:, n * H:(n + 1) * H].T for n, k in enumerate("ifgo")}
    b = {k: params["b"][n * H:(n + 1) * H] for n, k in enumerate("ifgo")}
    p = {k: params[f"p_{k}"] for k in "ifo"}
    for seq in range(2):
        h_t, c_t = h0[seq], c0[seq]
        for t in range(3):
            h_t, c_t = _gers_step(x[t, seq], h_t, c_t, W, U, b, p)
            np.testing.assert_allclose(h[t, seq], h_t, rtol=0, atol=1e-15)
            np.testing.assert_allclose(cache.c[t, seq], c_t, rtol=0, atol=1e-15)
    # the peepholes matter here: without them the states differ clearly
    plain = {k: params[k] for k in ("W_x", "W_h", "b")}
    assert np.max(np.abs(lstm.forward(plain, x, h0, c0)[0] - h)) > 1e-2


def test_zero_peepholes_are_the_plain_lstm_bit_for_bit():
    rng = np.random.default_rng(12)
    params = lstm.init_params(D, H, rng=rng, peephole=True)
    for k in lstm.PEEPHOLES:
        params[k][:] = 0.0
    plain = {k: params[k] for k in ("W_x", "W_h", "b")}
    x = rng.standard_normal((T, B, D))
    h0, c0 = 0.5 * rng.standard_normal((B, H)), 0.5 * rng.standard_normal((B, H))
    dh = rng.standard_normal((T, B, H))
    h_p, cache_p = lstm.forward(params, x, h0, c0, forget_bias=1.0)
    h_0, cache_0 = lstm.forward(plain, x, h0, c0, forget_bias=1.0)
    np.testing.assert_array_equal(h_p, h_0)
    g_p, g_0 = lstm.backward(dh, cache_p), lstm.backward(dh, cache_0)
    for k in plain:
        np.testing.assert_array_equal(g_p.params[k], g_0.params[k])
    for k in ("dx", "dh0", "dc0"):
        np.testing.assert_array_equal(getattr(g_p, k), getattr(g_0, k))
    assert cache_p.options.peepholes == lstm.PEEPHOLES and cache_0.options.peepholes == ()


def test_float32_stays_float32():
    rng = np.random.default_rng(13)
    params = lstm.init_params(D, H, rng=rng, dtype=np.float32, peephole=True)
    h, cache = lstm.forward(params, rng.standard_normal((T, B, D)).astype(np.float32))
    g = lstm.backward(np.ones_like(h), cache)
    assert h.dtype == np.float32 and all(v.dtype == np.float32 for v in g.params.values())


def test_errata_variants_run_on_a_peephole_cache():
    """The step functions errata swaps in pass the peepholes through."""
    p = Problem(PEEPHOLE_CONFIGS[0], T=T, B=B, D=D, H=H, rng=np.random.default_rng(3))
    h, cache = p.run_forward()
    dh = p.loss_of_hidden(h)[1]
    right = lstm.backward(dh, cache)
    wrong = errata.backward_with("bias_from_other_gate")(dh, cache)
    np.testing.assert_array_equal(wrong.params["p_o"], right.params["p_o"])


# ----------------------------------------------------------------------------- refused

@pytest.mark.parametrize("cell", ["no_forget", "coupled"])
def test_forget_peephole_is_refused_where_the_forget_gate_is_not_learned(cell):
    params = lstm.init_params(D, H, rng=np.random.default_rng(0), peephole=True)
    with pytest.raises(ValueError, match=rf"p_f.*no effect with cell='{cell}'"):
        lstm.forward(params, np.ones((T, B, D)), cell=cell)


@pytest.mark.parametrize("bad", ["g", "ifgo", "ii", "", "x", 1, None])
def test_bad_peephole_argument(bad):
    with pytest.raises(ValueError, match="peephole must be True, False or a string"):
        lstm.init_params(D, H, rng=np.random.default_rng(0), peephole=bad)


def test_peephole_shapes_and_unknown_keys():
    rng = np.random.default_rng(0)
    params = lstm.init_params(D, H, rng=rng, peephole="if")
    assert set(params) == {"W_x", "W_h", "b", "p_i", "p_f"}
    bad = {**params, "p_i": np.ones(H + 1)}
    with pytest.raises(ValueError, match=r"params\['p_i'\] must have shape \(H\) = \(3\)"):
        lstm.forward(bad, np.ones((T, B, D)))
    with pytest.raises(ValueError, match=r"unexpected \['p_g'\]"):
        lstm.forward({**params, "p_g": np.ones(H)}, np.ones((T, B, D)))
    # PyTorch's nn.LSTM has no peepholes: the converter refuses rather than dropping them
    with pytest.raises(ValueError, match=r"nn.LSTM has no peephole connections; got \['p_f', 'p_i'\]"):
        interop.lstm_to_torch(params)


def test_chapter_4_traces_refuse_a_peephole_cache():
    """Their two-path split of dL/dc_t does not hold with peepholes: refused, not wrong."""
    p = Problem(PEEPHOLE_CONFIGS[0], T=T, B=B, D=D, H=H, rng=np.random.default_rng(4))
    h, cache = p.run_forward()
    dh = p.loss_of_hidden(h)[1]
    for fn in (examples.backward_trace, examples.cell_path_gradient, examples.hidden_path_gradient):
        with pytest.raises(ValueError, match="without peephole connections"):
            fn(dh, cache)


def test_peephole_cells_in_a_bidirectional_stack():
    """stack passes peephole=True through to every layer and direction; FD on every peephole."""
    from lstm_core import stack

    rng = np.random.default_rng(21)
    params = stack.init_params("lstm", 3, 4, 2, bidirectional=True, rng=rng, peephole=True)
    x = rng.standard_normal((5, 2, 3))
    w = rng.standard_normal((5, 2, 8))
    g = stack.backward(w, stack.forward(params, x)[1])
    for k, layer in enumerate(params.layers):
        for d, cell in layer.items():
            assert set(cell) == {"W_x", "W_h", "b", *lstm.PEEPHOLES}
            for name in lstm.PEEPHOLES:
                numeric = numerical_gradient(lambda: float(np.sum(w * stack.forward(params, x)[0])),
                                             cell[name])
                assert relative_error(g.params.layers[k][d][name], numeric) < 1e-8, (k, d, name)
