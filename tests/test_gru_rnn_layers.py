"""The GRU and RNN layer loops: blocks of steps, buffers written in place, dtypes kept.

``gru.forward`` and ``gru.backward`` run the steps in blocks (``time_blocks`` of ``lstm_core._common``); every
block size must give PyTorch's numbers (the committed fixtures) and the central differences
of the loss. The cells called alone (no ``out`` buffers) must give what the layers give.
float32 input must stay float32 in every cache array and every gradient.
"""
import numpy as np
import pytest

from lstm_core import gru, rnn, torch_parity
from lstm_core.gradcheck import numerical_gradient, relative_error
from torch_reference import FIXTURE_CASES, fixture_name

GRU_FIXTURES = [fixture_name(*c) for c in FIXTURE_CASES if c[0] == "gru" and len(c) == 6]


def problem(m, seed, T, B, D, H, dtype=np.float64):
    """Random params, inputs x (T, B, D), a non-zero h0 (B, H) and an upstream dh (T, B, H)."""
    rng = np.random.default_rng(seed)
    p = m.init_params(D, H, rng=rng, dtype=dtype)
    x, h0, dh = (rng.standard_normal(s).astype(dtype) for s in ((T, B, D), (B, H), (T, B, H)))
    return p, x, (0.5 * h0).astype(dtype), dh


def blocks_of(steps):
    def time_blocks(T, B, width, itemsize):
        return [slice(t0, min(t0 + steps, T)) for t0 in range(0, T, steps)]
    return time_blocks


@pytest.mark.parametrize("steps", [1, 2, 3])
@pytest.mark.parametrize("name", GRU_FIXTURES)
def test_gru_in_blocks_of_steps_matches_the_torch_fixture(monkeypatch, name, steps):
    monkeypatch.setattr(gru, "time_blocks", blocks_of(steps))
    ref = torch_parity.load(name)
    assert ref["output"].shape[0] > steps     # several blocks, one of them shorter
    pairs, _ = torch_parity.compare(ref)
    diffs = torch_parity.max_relative_difference(pairs)
    assert max(diffs.values()) < 1e-10, diffs


@pytest.mark.parametrize("variant", gru.VARIANTS)
def test_gru_in_blocks_of_steps_matches_central_differences(monkeypatch, variant):
    monkeypatch.setattr(gru, "time_blocks", blocks_of(3))
    params, x, h0, w = problem(gru, 11, T=7, B=2, D=3, H=4)

    def loss():
        return float(np.sum(w * gru.forward(params, x, h0, variant=variant)[0]))

    g = gru.backward(w, gru.forward(params, x, h0, variant=variant)[1])
    for name, value in params.items():
        assert relative_error(g.params[name], numerical_gradient(loss, value)) < 1e-8, name
    assert relative_error(g.dx, numerical_gradient(loss, x)) < 1e-8
    assert relative_error(g.dh0, numerical_gradient(loss, h0)) < 1e-8


@pytest.mark.parametrize("variant", gru.VARIANTS)
def test_gru_cells_alone_give_what_the_layer_gives(variant):
    """cell_forward / cell_backward without ``out`` (as the chapters call them) step by step."""
    T, B, D, H = 4, 3, 2, 5
    p, x, h0, dh = problem(gru, 12, T, B, D, H)
    h, cache = gru.forward(p, x, h0, variant=variant)
    g = gru.backward(dh, cache)
    h_prev = cache.h_prev
    for t in range(T):
        b_x, b_h = gru.by_gate(p["b_x"]), gru.by_gate(p["b_h"])
        a_in = gru.by_gate(x[t] @ p["W_x"]) + gru.input_bias(b_x, b_h, variant=variant)[:, None]
        step = gru.cell_forward(a_in, h_prev[t], gru.by_gate(p["W_h"]), b_h[2], variant=variant)
        for ours, layer in zip(step, (h[t], cache.r[t], cache.z[t], cache.n[t], cache.m[t])):
            np.testing.assert_allclose(ours, layer, rtol=0, atol=1e-15)
    carry = np.zeros((B, H))
    da_x = np.empty((T, B, 3 * H))
    for t in reversed(range(T)):
        s = gru.local_derivatives(h_prev[t], cache.r[t], cache.z[t], cache.n[t], cache.m[t],
                                  variant=variant)
        deltas, carry = gru.cell_backward(dh[t] + carry, cache.r[t], cache.z[t], s,
                                          gru.by_gate(p["W_h"]), variant=variant)
        da_x[t] = gru.from_gates(deltas[[1, 2, 0]])  # delta^r, delta^z, delta^n
    np.testing.assert_allclose(carry, g.dh0, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(da_x.reshape(T * B, -1) @ p["W_x"].T, g.dx.reshape(T * B, -1),
                               rtol=1e-13, atol=1e-15)


def _float32_run(m, **kwargs):
    p, x, h0, dh = problem(m, 13, T=9, B=2, D=3, H=4, dtype=np.float32)
    h, cache = m.forward(p, x, h0, **kwargs)
    return h, cache, m.backward(dh, cache)


GRADIENT_ARRAYS = ("dx", "dh0", "dh_steps", "da_steps")


@pytest.mark.parametrize("m,kwargs", [(gru, {"variant": "torch"}), (gru, {"variant": "cho"}),
                                      (rnn, {"activation": "tanh"}), (rnn, {"activation": "relu"}),
                                      (rnn, {"activation": "sigmoid"})],
                         ids=lambda v: getattr(v, "__name__", None) or "-".join(v.values()))
def test_float32_stays_float32_in_every_output_cache_array_and_gradient(monkeypatch, m, kwargs):
    if m is gru:
        monkeypatch.setattr(gru, "time_blocks", blocks_of(4))
    h, cache, g = _float32_run(m, **kwargs)
    arrays = {"h": h, **{f"cache.{k}": v for k, v in cache.arrays().items()},
              **{f"grad.{k}": v for k, v in g.params.items()},
              **{k: getattr(g, k) for k in GRADIENT_ARRAYS if getattr(g, k) is not None}}
    assert {"grad.W_x", "grad.W_h", "dx", "dh0", "dh_steps"} <= set(arrays)
    wrong = {k: v.dtype for k, v in arrays.items() if v.dtype != np.float32}
    assert not wrong, wrong


def test_gru_cells_refuse_the_side_by_side_layout_naming_the_argument():
    """The cells take arrays by gate (3, B, H); the (B, 3H) layout is refused by name."""
    B, D, H = 2, 3, 4
    p, x, h0, dh = problem(gru, 14, 1, B, D, H)
    W_h, b_h = gru.by_gate(p["W_h"]), gru.by_gate(p["b_h"])
    a_in = x[0] @ p["W_x"] + p["b_x"]                      # (B, 3H), not by gate
    with pytest.raises(ValueError, match=r"a_in must have shape \(3, B, H\) = \(3, 2, 4\), "
                                         r"got shape \(2, 12\).*by_gate"):
        gru.cell_forward(a_in, h0, W_h, b_h[2], variant="torch")
    with pytest.raises(ValueError, match=r"W_h must have shape \(3, H, H\) = \(3, 4, 4\), "
                                         r"got shape \(4, 12\)"):
        gru.cell_forward(gru.by_gate(a_in), h0, p["W_h"], b_h[2], variant="torch")
    with pytest.raises(ValueError, match=r"b_hn must have shape \(H\) = \(4\), got shape \(3, 4\)"):
        gru.cell_forward(gru.by_gate(a_in), h0, W_h, b_h, variant="cho")
    h, r, z, n, m = gru.cell_forward(gru.by_gate(a_in), h0, W_h, b_h[2], variant="torch")
    s = gru.local_derivatives(h0, r, z, n, m, variant="torch")
    with pytest.raises(ValueError, match=r"s must have shape \(4, B, H\) = \(4, 2, 4\), "
                                         r"got shape \(2, 16\)"):
        gru.cell_backward(dh[0], r, z, np.concatenate(list(s), axis=1), W_h, variant="torch")
    with pytest.raises(ValueError, match=r"W_h must have shape \(3, H, H\)"):
        gru.cell_backward(dh[0], r, z, s, p["W_h"], variant="torch")
    with pytest.raises(ValueError, match=r"z must have shape \(B, H\) = \(2, 4\)"):
        gru.cell_backward(dh[0], r, z[None], s, W_h, variant="torch")
    # the params' flat (3H,) biases: before the check, "torch" returned a (3H,) array with
    # only element 2 replaced
    with pytest.raises(ValueError, match=r"b_x must have shape \(3, H\) = \(3, 4\), "
                                         r"got shape \(12,\).*by_gate"):
        gru.input_bias(p["b_x"], p["b_h"], variant="torch")
    with pytest.raises(ValueError, match=r"b_h must have shape \(3, H\) = \(3, 4\)"):
        gru.input_bias(gru.by_gate(p["b_x"]), p["b_h"], variant="cho")
    bias = gru.input_bias(gru.by_gate(p["b_x"]), b_h, variant="torch")
    np.testing.assert_array_equal(bias, gru.by_gate(p["b_x"]) + b_h * [[1], [1], [0]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_project_inputs_by_gate_is_the_side_by_side_projection_split_into_blocks(dtype):
    """project_inputs with W_x (3, D, H), b (3, H) gives x_t W_x + b of the (D, 3H) weights,
    block k in [k]: (3, T, B, H), in the input's dtype, filling ``out`` when given."""
    from lstm_core._common import project_inputs

    T, B, D, H = 4, 3, 2, 5
    p, x, _, _ = problem(gru, 15, T, B, D, H, dtype=dtype)
    side_by_side = np.einsum("tbd,dg->tbg", x, p["W_x"]) + p["b_x"]      # (T, B, 3H)
    expected = np.stack([side_by_side[..., k * H:(k + 1) * H] for k in range(3)])
    out = np.empty((3, T, B, H), dtype=dtype)
    got = project_inputs(x, gru.by_gate(p["W_x"]), gru.by_gate(p["b_x"]), out=out)
    assert got.shape == (3, T, B, H) and got.dtype == dtype
    assert np.shares_memory(got, out)
    tol = 1e-14 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(out, expected, rtol=0, atol=tol)
    np.testing.assert_allclose(project_inputs(x, p["W_x"], p["b_x"]), side_by_side,
                               rtol=0, atol=tol)
