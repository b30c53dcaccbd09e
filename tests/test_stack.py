"""Stacked and bidirectional networks: every gradient against central differences.

The loss looks at every output step and at the final states, L = sum(w_y y) + sum(w_h h_n)
(+ sum(w_c c_n) for the LSTM), with non-zero initial states, so every path through depth,
time and both directions carries gradient.
"""
import numpy as np
import pytest

from lstm_core import stack
from lstm_core.gradcheck import check_gradients, numerical_gradient, relative_error

T, B, D, H = 5, 2, 3, 4
CASES = [("rnn", {}), ("lstm", {}), ("lstm", {"forget_bias": 0.5, "output_activation": "identity"}),
         ("lstm", {"peephole": True}), ("gru", {}), ("gru", {"variant": "cho"})]


def _problem(cell, num_layers, bidirectional, seed, **options):
    rng = np.random.default_rng(seed)
    params = stack.init_params(cell, D, H, num_layers, bidirectional=bidirectional, rng=rng,
                               **options)
    K = 2 if bidirectional else 1
    data = {
        "x": rng.standard_normal((T, B, D)),
        "h0": 0.5 * rng.standard_normal((num_layers * K, B, H)),
        "c0": 0.5 * rng.standard_normal((num_layers * K, B, H)) if cell == "lstm" else None,
    }
    w = {"y": rng.standard_normal((T, B, K * H)), "h": rng.standard_normal((num_layers * K, B, H)),
         "c": rng.standard_normal((num_layers * K, B, H))}
    return params, data, w


def _loss(params, data, w):
    y, cache = stack.forward(params, data["x"], data["h0"], data["c0"])
    loss = np.sum(w["y"] * y) + np.sum(w["h"] * cache.h_n)
    if cache.c_n is not None:
        loss += np.sum(w["c"] * cache.c_n)
    return loss


def _grads(params, data, w):
    y, cache = stack.forward(params, data["x"], data["h0"], data["c0"])
    dc_n = w["c"] if params.cell == "lstm" else None
    return stack.backward(w["y"], cache, dh_n=w["h"], dc_n=dc_n)


@pytest.mark.parametrize("cell, options", CASES, ids=lambda c: str(c))
def test_three_layer_bidirectional_stack_matches_finite_differences(cell, options):
    params, data, w = _problem(cell, 3, True, 7, **options)
    g = _grads(params, data, w)
    arrays = dict(params.arrays())
    analytic = dict(g.params.arrays())
    per_cell = 4 if cell == "gru" else 3 + (3 if options.get("peephole") else 0)
    assert len(arrays) == 3 * 2 * per_cell
    for name in ("x", "h0") + (("c0",) if cell == "lstm" else ()):
        arrays[name] = data[name]
        analytic[name] = {"x": g.dx, "h0": g.dh0, "c0": g.dc0}[name]
    errors = check_gradients(lambda: _loss(params, data, w), arrays, analytic, eps=1e-3)
    assert max(errors.values()) < 1e-8, errors
    # every parameter really receives gradient
    assert min(np.max(np.abs(a)) for a in analytic.values()) > 1e-3


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, False), (1, True)])
def test_smaller_stacks_match_finite_differences(cell, num_layers, bidirectional):
    params, data, w = _problem(cell, num_layers, bidirectional, 3)
    g = _grads(params, data, w)
    arrays = dict(params.arrays(), x=data["x"], h0=data["h0"])
    analytic = dict(g.params.arrays(), x=g.dx, h0=g.dh0)
    errors = check_gradients(lambda: _loss(params, data, w), arrays, analytic, eps=1e-3)
    assert max(errors.values()) < 1e-8, errors


def _last_c(cache):
    """The LSTM cache's final cell state."""
    return cache.c[-1]


def _loss_with_nudged_state(params, data, w, where, delta):
    """The loss recomputed with h_t of one layer, direction and step moved by ``delta`` (B, H):
    the cell run is cut at that step and restarted from the moved state, so the move reaches
    the layer's output and its own later steps (an independent route to the total dL/dh_t)."""
    module = stack.CELLS[params.cell]
    K = len(params.directions)
    inp, h_n, c_n = data["x"], [], []
    for k, layer in enumerate(params.layers):
        outs = []
        for j, d in enumerate(params.directions):
            row = k * K + j
            seq = inp if d == "forward" else inp[::-1]
            state = [data["h0"][row]] + ([data["c0"][row]] if params.cell == "lstm" else [])
            if where[:2] == (k, d):
                t = where[2] if d == "forward" else len(seq) - 1 - where[2]  # in the run's order
                h_a, cache_a = module.forward(layer[d], seq[:t + 1], *state, **params.options)
                h_t = h_a[-1] + delta
                state = [h_t] + ([_last_c(cache_a)] if params.cell == "lstm" else [])
                parts = [h_a[:-1], h_t[None]]
                if t + 1 < len(seq):
                    h_b, cache_b = module.forward(layer[d], seq[t + 1:], *state, **params.options)
                    parts.append(h_b)
                    state = [h_b[-1]] + ([_last_c(cache_b)] if params.cell == "lstm" else [])
                h = np.concatenate(parts)
            else:
                h, cache = module.forward(layer[d], seq, *state, **params.options)
                state = [h[-1]] + ([_last_c(cache)] if params.cell == "lstm" else [])
            h_n.append(state[0])
            c_n.append(state[-1])
            outs.append(h if d == "forward" else h[::-1])
        inp = np.concatenate(outs, axis=-1)
    loss = np.sum(w["y"] * inp) + np.sum(w["h"] * np.array(h_n))
    if params.cell == "lstm":
        loss += np.sum(w["c"] * np.array(c_n))
    return loss


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_dh_steps_is_the_total_gradient_of_every_hidden_state(cell):
    params, data, w = _problem(cell, 2, True, 11)
    g = _grads(params, data, w)
    assert g.dh_steps.shape == (2, 2, T, B, H)
    # the no-nudge route reproduces the stack's own loss
    assert abs(_loss_with_nudged_state(params, data, w, (0, "forward", 0), 0.0)
               - _loss(params, data, w)) < 1e-12
    for where in [(0, "forward", 0), (0, "reverse", 0), (0, "reverse", T - 1), (1, "forward", 2),
                  (1, "reverse", 1), (1, "forward", T - 1)]:
        delta = np.zeros((B, H))
        numeric = numerical_gradient(
            lambda: _loss_with_nudged_state(params, data, w, where, delta), delta)
        k, d, t = where
        analytic = g.dh_steps[k, stack.DIRECTIONS.index(d), t]
        assert relative_error(analytic, numeric) < 1e-8, where


def test_final_states_and_layouts_follow_pytorch():
    params, data, w = _problem("lstm", 2, True, 5)
    y, cache = stack.forward(params, data["x"], data["h0"], data["c0"])
    assert y.shape == (T, B, 2 * H)
    # h_n row l*K + k: forward direction ends at t = T-1, reverse at t = 0
    np.testing.assert_array_equal(cache.h_n[2], y[-1, :, :H])
    np.testing.assert_array_equal(cache.h_n[3], y[0, :, H:])
    g = _grads(params, data, w)
    assert g.dx.shape == data["x"].shape and g.dh0.shape == g.dc0.shape == (4, B, H)


def test_reverse_direction_is_the_cell_on_the_reversed_sequence():
    from lstm_core import gru

    params, data, _ = _problem("gru", 1, True, 9)
    y, _ = stack.forward(params, data["x"], data["h0"])
    h_rev, _ = gru.forward(params.layers[0]["reverse"], data["x"][::-1], data["h0"][1])
    np.testing.assert_array_equal(y[:, :, H:], h_rev[::-1])


def test_options_reach_the_cell_and_unknown_ones_are_refused():
    rng = np.random.default_rng(0)
    p = stack.init_params("gru", D, H, 2, rng=rng, variant="cho")
    assert p.options == {"variant": "cho"}
    p = stack.init_params("rnn", D, H, 1, rng=rng, spectral_radius=0.5, activation="relu")
    assert abs(np.max(np.abs(np.linalg.eigvals(p.layers[0]["forward"]["W_h"]))) - 0.5) < 1e-12
    assert p.options == {"activation": "relu"}
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['variant'\] for cell 'lstm'"):
        stack.init_params("lstm", D, H, 2, rng=rng, variant="cho")


def test_bad_input_is_named():
    rng = np.random.default_rng(1)
    p = stack.init_params("lstm", D, H, 2, bidirectional=True, rng=rng)
    x = rng.standard_normal((T, B, D))
    with pytest.raises(ValueError, match="cell must be one of"):
        stack.init_params("transformer", D, H, 2, rng=rng)
    with pytest.raises(ValueError, match="num_layers must be a positive integer, got 0"):
        stack.init_params("rnn", D, H, 0, rng=rng)
    with pytest.raises(TypeError, match="bidirectional must be True or False"):
        stack.init_params("rnn", D, H, 1, bidirectional=1, rng=rng)
    with pytest.raises(TypeError, match="params must be stack.StackParams"):
        stack.forward(p.layers[0]["forward"], x)
    with pytest.raises(ValueError, match=r"x must be time-major with shape \(T, B, D\) = \(\?, \?, 3\)"):
        stack.forward(p, x.transpose(1, 0, 2)[..., :2])
    with pytest.raises(ValueError, match=r"h0 must have shape \(L K, B, H\) = \(4, 2, 4\), got shape \(2, 2, 4\)"):
        stack.forward(p, x, np.zeros((2, B, H)))
    with pytest.raises(ValueError, match=r"c0 is only for an LSTM stack"):
        stack.forward(stack.init_params("gru", D, H, 1, rng=rng), x, None, np.zeros((1, B, H)))
    bad = stack.StackParams("lstm", [p.layers[0], {"forward": p.layers[1]["forward"]}])
    with pytest.raises(ValueError, match=r"params.layers\[1\] must have keys \['forward', 'reverse'\]"):
        stack.forward(bad, x)
    bad = stack.StackParams("lstm", [p.layers[0], {d: p.layers[0][d] for d in stack.DIRECTIONS}])
    with pytest.raises(ValueError, match=r"params.layers\[1\]\['forward'\]: W_x must have 8 rows"):
        stack.forward(bad, x)
    y, cache = stack.forward(p, x)
    with pytest.raises(ValueError, match=r"dy must have shape \(T, B, K H\) = \(5, 2, 8\)"):
        stack.backward(y[..., :H], cache)
    with pytest.raises(TypeError, match="cache must be the StackCache"):
        stack.backward(y, {})
    nan_p = stack.init_params("rnn", D, H, 2, rng=rng)
    nan_p.layers[1]["forward"]["b"][0] = np.nan
    with pytest.raises(ValueError, match=r"layer 1, forward direction: params\['b'\] contains 1 non-finite"):
        stack.forward(nan_p, x)


def test_step_norms_are_the_norms_of_each_layer_direction_and_step():
    params, data, w = _problem("gru", 2, True, 13)
    g = _grads(params, data, w)
    n = g.step_norms()
    assert n.shape == (2, 2, T)
    assert n[1, 0, 2] == pytest.approx(np.linalg.norm(g.dh_steps[1, 0, 2]), rel=1e-14)
    assert n[0, 1, 0] == pytest.approx(np.linalg.norm(g.dh_steps[0, 1, 0]), rel=1e-14)
