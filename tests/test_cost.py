"""lstm_core.cost: parameter counts and FLOPs per step, checked by independent routes.

* parameter counts: the sizes of the arrays that ``init_params`` really creates, and the
  closed forms H(D+H+1), 4H(D+H+1), 3H(D+H+2);
* FLOPs: one time step written from the textbook equations is *executed* on arrays that
  count every matmul (2 FLOPs per multiply-add), every element-wise +, -, * (1 FLOP per
  element) and every sigmoid/tanh evaluation; the executed step is checked against the
  library's forward pass, so the counted program is the model.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lstm_core import cost, gru, lstm, rnn

INIT = {"rnn": rnn.init_params, "lstm": lstm.init_params, "gru": gru.init_params}
SIZES = [(1, 1), (3, 5), (7, 4), (64, 128)]


@pytest.mark.parametrize("model", cost.MODELS)
@pytest.mark.parametrize("D,H", SIZES)
def test_param_count_is_the_size_of_the_initialised_arrays(model, D, H):
    arrays = INIT[model](D, H, rng=np.random.default_rng(0))
    assert cost.param_count(model, D, H) == sum(a.size for a in arrays.values())


@given(D=st.integers(1, 500), H=st.integers(1, 500))
def test_param_count_closed_forms(D, H):
    assert cost.param_count("rnn", D, H) == H * (D + H + 1)
    assert cost.param_count("lstm", D, H) == 4 * H * (D + H + 1)
    assert cost.param_count("gru", D, H) == 3 * H * (D + H + 2)


@pytest.mark.parametrize("model", cost.MODELS)
@pytest.mark.parametrize("D,H", SIZES)
@pytest.mark.parametrize("B", [1, 3])
def test_matmul_flops_are_two_per_weight_entry_and_row(model, D, H, B):
    """Every weight entry takes part in one multiply-add per sequence and step."""
    arrays = INIT[model](D, H, rng=np.random.default_rng(0))
    weights = arrays["W_x"].size + arrays["W_h"].size
    assert cost.cost_breakdown(model, D, H, B)["matmul"] == 2 * B * weights


# ----------------------------------------------------------------------------- counting by execution

class Tally:
    def __init__(self):
        self.matmul = self.elementwise = self.nonlinearities = 0


TALLY = Tally()
COUNTED_ELEMENTWISE = (np.add, np.subtract, np.multiply)


class Counted(np.ndarray):
    """An array whose ufunc calls are tallied in TALLY; anything else is refused."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        assert method == "__call__" and not kwargs, (ufunc, method, kwargs)
        args = [np.asarray(a) for a in inputs]  # plain ndarrays: no recursion
        out = ufunc(*args)
        if ufunc is np.matmul:
            (m, k), (k2, n) = args[0].shape, args[1].shape
            assert k == k2
            TALLY.matmul += 2 * m * k * n
        elif ufunc in COUNTED_ELEMENTWISE:
            TALLY.elementwise += out.size
        elif ufunc is np.tanh:
            TALLY.nonlinearities += out.size
        else:
            raise AssertionError(f"the reference step used an uncounted ufunc {ufunc.__name__}")
        return out.view(Counted)


def sig(a):
    TALLY.nonlinearities += a.size
    a = np.asarray(a)
    return (1.0 / (1.0 + np.exp(-a))).view(Counted)


def step_rnn(p, x, h):
    return np.tanh(x @ p["W_x"] + p["b"] + h @ p["W_h"])


def step_lstm(p, x, h, c):
    H = h.shape[1]
    a = x @ p["W_x"] + p["b"] + h @ p["W_h"]
    i, f, g, o = (a[:, k * H:(k + 1) * H] for k in range(4))
    i, f, o, g = sig(i), sig(f), sig(o), np.tanh(g)
    c = f * c + i * g
    return o * np.tanh(c)


def step_gru(p, x, h, variant):
    H = h.shape[1]
    r_, z_, n_ = (slice(k * H, (k + 1) * H) for k in range(3))
    ax = x @ p["W_x"] + p["b_x"]
    if variant == "torch":
        ah = h @ p["W_h"] + p["b_h"]
        r = sig(ax[:, r_] + ah[:, r_])
        z = sig(ax[:, z_] + ah[:, z_])
        n = np.tanh(ax[:, n_] + r * ah[:, n_])
    else:
        a_rz = h @ p["W_h"][:, :2 * H] + p["b_h"][:2 * H]
        r = sig(ax[:, r_] + a_rz[:, r_])
        z = sig(ax[:, z_] + a_rz[:, z_])
        n = np.tanh(ax[:, n_] + (r * h) @ p["W_h"][:, n_] + p["b_h"][n_])
    return (1 - z) * n + z * h


CASES = [("rnn", None), ("lstm", None), ("gru", "torch"), ("gru", "cho")]


@pytest.mark.parametrize("model,variant", CASES)
@pytest.mark.parametrize("D,H,B", [(1, 1, 1), (3, 5, 2), (7, 4, 3)])
def test_flops_match_an_executed_and_counted_step(model, variant, D, H, B):
    rng = np.random.default_rng(1)
    p = INIT[model](D, H, rng=rng)
    x, h0, c0 = (rng.standard_normal(s) for s in ((B, D), (B, H), (B, H)))
    counted = {k: v.view(Counted) for k, v in p.items()}
    TALLY.__init__()
    if model == "rnn":
        h1 = step_rnn(counted, x.view(Counted), h0.view(Counted))
        ref = rnn.forward(p, x[None], h0)[0][0]
    elif model == "lstm":
        h1 = step_lstm(counted, x.view(Counted), h0.view(Counted), c0.view(Counted))
        ref = lstm.forward(p, x[None], h0, c0)[0][0]
    else:
        h1 = step_gru(counted, x.view(Counted), h0.view(Counted), variant)
        ref = gru.forward(p, x[None], h0, variant=variant)[0][0]
    # the counted program computes the library's model
    np.testing.assert_allclose(np.asarray(h1), ref, rtol=0, atol=1e-14)
    parts = cost.cost_breakdown(model, D, H, B)
    assert parts == {"matmul": TALLY.matmul, "elementwise": TALLY.elementwise,
                     "nonlinearities": TALLY.nonlinearities}
    assert cost.flops_per_step(model, D, H, B) == TALLY.matmul + TALLY.elementwise


def test_gru_costs_three_quarters_of_an_lstm_in_the_large_h_limit():
    ratio = cost.flops_per_step("gru", 4096, 4096) / cost.flops_per_step("lstm", 4096, 4096)
    assert abs(ratio - 0.75) < 1e-3


BAD_SIZES = [dict(model="GRU", D=3, H=4), dict(model="transformer", D=3, H=4),
             dict(model="gru", D=0, H=4), dict(model="gru", D=3, H=-1),
             dict(model="gru", D=3.0, H=4), dict(model="gru", D=True, H=4)]


@pytest.mark.parametrize("bad", BAD_SIZES)
def test_invalid_model_or_sizes_are_refused(bad):
    for fn in (cost.param_count, cost.flops_per_step, cost.cost_breakdown):
        with pytest.raises(ValueError, match=r"^(model|D|H) must"):
            fn(**bad)


@pytest.mark.parametrize("B", [0, -2, 1.5, True])
def test_invalid_batch_is_refused(B):
    with pytest.raises(ValueError, match=r"^B must"):
        cost.flops_per_step("lstm", 3, 4, B)


@pytest.mark.parametrize("model", cost.MODELS)
@given(T=st.integers(1, 50), B=st.integers(1, 9), D=st.integers(1, 40), H=st.integers(1, 40))
def test_training_products_add_up_to_three_forward_passes(model, T, B, D, H):
    """The products of forward + backward: 6 T B (D + H) G FLOPs (the closed form of the cost
    appendix, eq-cost-total), T recurrent products each way, operand widths of the model."""
    G = {"rnn": 1, "lstm": 4, "gru": 3}[model] * H
    products = cost.training_products(model, T, B, D, H)
    assert sum(p.flops for p in products) == 6 * T * B * (D + H) * G
    assert sum(p.flops for p in products) == 3 * T * cost.cost_breakdown(model, D, H, B)["matmul"]
    per_step = [(p.m, p.k, p.n, p.count) for p in products if "every step" in p.what]
    assert per_step == [(B, H, G, T), (B, G, H, T)]
    assert all(p.count == 1 for p in products if "every step" not in p.what)


@pytest.mark.parametrize("T", [0, -1, 2.0, True])
def test_training_products_refuse_a_bad_length(T):
    with pytest.raises(ValueError, match="T must be a positive integer"):
        cost.training_products("lstm", T, 2, 3, 4)
