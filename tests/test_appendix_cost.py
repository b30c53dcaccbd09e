"""Claims of book/appendix_cost.md ("What BPTT costs"), recomputed by independent routes.

* Memory: the bytes of the arrays a forward cache holds (params and x excluded) equal the
  closed forms (T+1)BH, (7T+2)BH and (5T+1)BH floats derived from the model equations, and
  the LSTM cache holds exactly the seven per-step blocks the derivation counts.
* FLOPs: the matrix products that ``forward`` and ``backward`` actually execute are counted
  (weights wrapped in an array subclass that tallies every matmul it takes part in, and the
  one helper that multiplies two activation arrays wrapped by monkeypatch). The forward count
  equals T times ``cost.cost_breakdown(...)["matmul"]`` and the hand formula 2TB(D+H)G; the
  backward count is exactly twice the forward count.
* Peak memory (tracemalloc): the leading terms 11TBH (forward) and 8TBH + TBD (backward) floats.
* Truncated BPTT in chunks of k: its gradient is the gradient of the loss in which the state
  at every chunk start is held fixed (central differences), k = T is full BPTT, and with a loss
  on the last step and k | T it is the sliding-window truncation of ``lstm_core.bptt``.
* Checkpointing (the exercise): exact gradients from segment start states and ``dc_last``.

No timing is asserted anywhere: timings depend on the machine.
"""
from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lstm_core import bptt, cost, gru, lstm, rnn
from lstm_core.gradcheck import numerical_gradient, relative_error
from lstm_core.memory import cache_bytes, lstm_da_block_bytes, peak_bytes
from lstm_core.segmented_bptt import checkpointed_lstm_backward, chunked_bptt

MODULES = {"rnn": rnn, "lstm": lstm, "gru": gru}
# forward kwargs per configuration: every cell/variant keeps the same cache
CONFIGS = [("rnn", {}), ("rnn", {"activation": "relu"}), ("lstm", {}),
           ("lstm", {"cell": "coupled"}), ("lstm", {"output_activation": "identity"}),
           ("gru", {"variant": "torch"}), ("gru", {"variant": "cho"})]
GATE_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}



def closed_form_floats(model, T, B, H):
    """Derived from the equations, not from the code: per step the RNN keeps h_t; the LSTM
    i, f, g, o (4 blocks), c_t, tanh(c_t), h_t; the GRU r_t, z_t, n_t, m_t, h_t; plus h_0
    (and c_0 for the LSTM)."""
    per_step, initial = {"rnn": (1, 1), "lstm": (4 + 3, 2), "gru": (5, 1)}[model]
    return (per_step * T + initial) * B * H


def make(model, T, B, D, H, *, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    params = MODULES[model].init_params(D, H, rng=rng, dtype=dtype)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    states = [(0.5 * rng.standard_normal((B, H))).astype(dtype)
              for _ in range(2 if model == "lstm" else 1)]
    return params, x, states, rng


# ----------------------------------------------------------------------------- memory

@pytest.mark.parametrize("model,kwargs", CONFIGS)
@given(T=st.integers(1, 30), B=st.integers(1, 5), D=st.integers(1, 4), H=st.integers(1, 9),
       single=st.booleans())
def test_cache_bytes_equal_the_closed_form(model, kwargs, T, B, D, H, single):
    dtype = np.float32 if single else np.float64
    params, x, states, _ = make(model, T, B, D, H, dtype=dtype)
    _, cache = MODULES[model].forward(params, x, *states, **kwargs)
    assert cache_bytes(cache) == closed_form_floats(model, T, B, H) * np.dtype(dtype).itemsize


def test_lstm_cache_holds_seven_blocks_per_step():
    T, B, D, H = 6, 2, 3, 5
    params, x, states, _ = make("lstm", T, B, D, H)
    _, cache = lstm.forward(params, x, *states)
    arrays = {k: v.shape for k, v in cache.arrays().items() if k != "x"}
    assert arrays == {"h0": (B, H), "c0": (B, H), "h": (T, B, H), "c": (T, B, H),
                      "s": (T, B, H), "gates": (T, B, 4 * H)}
    # s is tanh(c): the block the derivation calls s_t, not a second copy of h
    np.testing.assert_array_equal(cache.s, np.tanh(cache.c))


@pytest.mark.parametrize("B,D,H", [(8, 8, 32), (4, 16, 48)])
def test_peak_memory_of_lstm_passes_grows_by_the_stated_leading_terms(B, D, H):
    """Measured at T and 2T: each extra step costs exactly the leading terms, and what is left
    (per-step and per-block scratch, parameter-sized arrays) does not grow with T."""
    peaks = {}
    for T in (200, 400):
        params, x, _, rng = make("lstm", T, B, D, H)
        dh = rng.standard_normal((T, B, H))
        (_, cache), peak_fwd = peak_bytes(lambda: lstm.forward(params, x))
        _, peak_bwd = peak_bytes(lambda: lstm.backward(dh, cache))
        peaks[T] = peak_fwd, peak_bwd
    per_step_fwd, per_step_bwd = ((peaks[400][k] - peaks[200][k]) / 200 for k in (0, 1))
    assert per_step_fwd == pytest.approx(7 * B * H * 8, rel=0.01)  # the cache: gates (4), h, c, s
    assert per_step_bwd == pytest.approx((2 * B * H + B * D) * 8, rel=0.01)  # dh_t, dc_t; dx
    T = 400
    assert 7 * T * B * H * 8 <= peaks[T][0] <= 1.1 * 7 * T * B * H * 8
    # on top of the leading terms: one block of da_t and that block's scratch (each less than a
    # block), the parameter-sized gradients, W_h's copy and temporaries
    lead_bwd, block = (2 * T * B * H + T * B * D) * 8, lstm_da_block_bytes(T, B, H)
    params_bytes = sum(v.nbytes for v in params.values())
    assert lead_bwd + block <= peaks[T][1] <= lead_bwd + 2 * block + 4 * params_bytes


def test_lstm_backward_without_the_per_step_arrays_adds_only_dx_per_step():
    """keep_steps=False: on top of the cache, the backward pass grows by dL/dx_t only."""
    B, D, H = 8, 8, 32
    peaks = {}
    for T in (200, 400):
        params, x, _, rng = make("lstm", T, B, D, H)
        dh = rng.standard_normal((T, B, H))
        _, cache = lstm.forward(params, x)
        _, peaks[T] = peak_bytes(lambda: lstm.backward(dh, cache, keep_steps=False))
    assert (peaks[400] - peaks[200]) / 200 == pytest.approx(B * D * 8, rel=0.01)


# ----------------------------------------------------------------------------- FLOPs by execution

class Tally:
    matmul = 0


class CountedWeight(np.ndarray):
    """A weight matrix that tallies 2 m k n FLOPs for every (m, k) @ (k, n) it takes part in."""

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        assert method == "__call__" and not kwargs
        args = [np.asarray(a) for a in inputs]
        if ufunc is np.matmul:
            (m, k), (k2, n) = args[0].shape, args[1].shape
            assert k == k2
            Tally.matmul += 2 * m * k * n
        if out is None:
            return ufunc(*args)
        return ufunc(*args, out=tuple(np.asarray(o) for o in out))  # np.matmul(..., out=...)


@pytest.fixture
def count_activation_products(monkeypatch):
    """Count sum_t a_t^T da_t, the only product of two activation arrays in the models."""
    from lstm_core import _common

    original = _common.sum_outer_over_time

    def counted(a, da):
        n, p, q = a.shape[0] * a.shape[1], a.shape[-1], da.shape[-1]
        Tally.matmul += 2 * n * p * q
        return original(a, da)

    for mod in MODULES.values():
        monkeypatch.setattr(mod, "sum_outer_over_time", counted)


@pytest.mark.parametrize("model,kwargs", [c for c in CONFIGS if "activation" not in c[1]])
@pytest.mark.parametrize("T,B,D,H", [(1, 1, 1, 1), (5, 3, 2, 4), (7, 2, 6, 3)])
def test_executed_matmul_flops_forward_and_twice_that_backward(
        count_activation_products, model, kwargs, T, B, D, H):
    params, x, states, rng = make(model, T, B, D, H)
    counted = {k: (v.view(CountedWeight) if k.startswith("W_") else v) for k, v in params.items()}
    Tally.matmul = 0
    h, cache = MODULES[model].forward(counted, x, *states, **kwargs)
    fwd = Tally.matmul
    Tally.matmul = 0
    g = MODULES[model].backward(rng.standard_normal(h.shape), cache)
    bwd = Tally.matmul
    # the counted run computes the same numbers as a plain one
    h_plain, cache_plain = MODULES[model].forward(params, x, *states, **kwargs)
    np.testing.assert_array_equal(np.asarray(h), h_plain)
    G = GATE_BLOCKS[model] * H
    assert fwd == T * cost.cost_breakdown(model, D, H, B)["matmul"] == 2 * T * B * (D + H) * G
    assert bwd == 2 * fwd
    # forward + backward = 6 T B (D + H) G, e.g. 48 T B H^2 for an LSTM with D = H
    assert fwd + bwd == 6 * T * B * (D + H) * G
    assert g.params["W_h"].shape == params["W_h"].shape


def test_lstm_training_step_is_48_TBH2_when_D_equals_H():
    T, B, H = 100, 32, 512
    assert 3 * T * cost.cost_breakdown("lstm", H, H, B)["matmul"] == 48 * T * B * H**2


# ----------------------------------------------------------------------------- truncated BPTT

def chunk_start_states(model, params, x, k, states):
    """The states at every chunk start of the untruncated run (carried, never truncated)."""
    hs, cache = MODULES[model].forward(params, x, *states)
    out = [tuple(states)]
    for s in range(k, x.shape[0], k):
        out.append((hs[s - 1], cache.c[s - 1]) if model == "lstm" else (hs[s - 1],))
    return out


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("k", [1, 3, 4])
def test_chunked_truncation_is_the_gradient_with_frozen_chunk_starts(model, k):
    T, B, D, H = 8, 2, 3, 3
    params, x, states, rng = make(model, T, B, D, H, seed=k)
    w = rng.standard_normal((T, B, H))
    grads = chunked_bptt(model, params, x, w, k, states).grads
    frozen = [tuple(s.copy() for s in st_) for st_ in chunk_start_states(model, params, x, k, states)]

    def loss():   # every chunk starts from the fixed state of the unperturbed run
        return sum(float(np.sum(w[s:s + k] * MODULES[model].forward(params, x[s:s + k], *f)[0]))
                   for s, f in zip(range(0, T, k), frozen))

    for name in params:
        assert relative_error(grads[name], numerical_gradient(loss, params[name])) < 1e-8, name
    # and it really is a truncation: different from the full gradient
    full = MODULES[model].backward(w, MODULES[model].forward(params, x, *states)[1]).params
    assert relative_error(grads["W_h"], full["W_h"]) > 1e-3


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
def test_one_chunk_of_length_T_is_full_bptt(model):
    T, B, D, H = 9, 2, 3, 4
    params, x, states, rng = make(model, T, B, D, H)
    w = rng.standard_normal((T, B, H))
    run = chunked_bptt(model, params, x, w, T, states)
    grads = run.grads
    full_grads = MODULES[model].backward(w, MODULES[model].forward(params, x, *states)[1])
    np.testing.assert_allclose(run.dh_steps[1:], full_grads.dh_steps, rtol=1e-12, atol=1e-14)
    full = MODULES[model].backward(w, MODULES[model].forward(params, x, *states)[1]).params
    for name in params:
        np.testing.assert_allclose(grads[name], full[name], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("k", [2, 3, 6])
def test_chunks_equal_the_sliding_window_for_a_last_step_loss(k):
    T, B, D, H = 12, 2, 3, 5
    params, x, states, rng = make("rnn", T, B, D, H)
    w = np.zeros((T, B, H))
    w[-1] = rng.standard_normal((B, H))
    grads = chunked_bptt("rnn", params, x, w, k, states).grads
    sliding = bptt.truncated_bptt(w, rnn.forward(params, x, *states)[1], k)
    for name in params:
        np.testing.assert_allclose(grads[name], sliding[name], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("k", [1, 5, 16])
def test_a_chunk_window_holds_7k_plus_2_blocks(k):
    B, D, H = 3, 2, 4
    params, x, states, _ = make("lstm", k, B, D, H)
    assert cache_bytes(lstm.forward(params, x, *states)[1]) == (7 * k + 2) * B * H * 8


# ----------------------------------------------------------------------------- checkpointing

@pytest.mark.parametrize("k", [1, 4, 5, 20])
def test_checkpointed_lstm_gradient_is_exact(k):
    """Keep only (h, c) at segment starts, recompute each segment, chain dh0/dc0 backwards."""
    T, B, D, H = 20, 2, 3, 4
    params, x, (h, c), rng = make("lstm", T, B, D, H)
    dh = rng.standard_normal((T, B, H))
    full = lstm.backward(dh, lstm.forward(params, x, h, c)[1])
    total, dh_next, dc_next, memory = checkpointed_lstm_backward(params, x, dh, k, h, c)
    segments = -(-T // k)
    assert memory == (7 * min(k, T) + 2) * B * H * 8 + segments * 2 * B * H * 8
    for name in params:
        np.testing.assert_allclose(total[name], full.params[name], rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(dh_next, full.dh0, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(dc_next, full.dc0, rtol=1e-11, atol=1e-13)
