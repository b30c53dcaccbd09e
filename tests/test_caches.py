"""The typed caches of rnn/lstm/gru.forward: frozen, named fields, shifted states, da_steps."""
import dataclasses

import numpy as np
import pytest

from lstm_core import gru, lstm, rnn
from lstm_core.gradcheck import numerical_gradient, relative_error

MODELS = {"rnn": rnn, "lstm": lstm, "gru": gru}
T, B, D, H = 5, 2, 3, 4


def _run(name, seed=0):
    rng = np.random.default_rng(seed)
    m = MODELS[name]
    params = m.init_params(D, H, rng=rng)
    x = rng.standard_normal((T, B, D))
    states = [0.5 * rng.standard_normal((B, H)) for _ in range(2 if name == "lstm" else 1)]
    h, cache = m.forward(params, x, *states)
    return m, params, x, states, h, cache


@pytest.mark.parametrize("name", MODELS)
def test_cache_is_frozen_and_has_no_string_keys(name):
    _, _, x, _, h, cache = _run(name)
    assert cache.h is h and cache.x is x
    with pytest.raises(dataclasses.FrozenInstanceError):
        cache.h = h
    with pytest.raises(TypeError):
        cache["h"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cache.options = None
    text = repr(cache)
    assert f"h({T}, {B}, {H})" in text and "params" not in text


@pytest.mark.parametrize("name", MODELS)
def test_previous_states_are_what_a_shorter_run_ends_in(name):
    """h_prev[t] (and c_prev[t]) is the state after running the first t steps alone."""
    m, params, x, states, _, cache = _run(name, seed=1)
    h_prev = cache.h_prev
    assert h_prev.shape == (T, B, H)
    np.testing.assert_array_equal(h_prev[0], states[0])
    for t in range(1, T):
        h_t, short = m.forward(params, x[:t], *states)
        np.testing.assert_allclose(h_prev[t], h_t[-1], rtol=0, atol=1e-15)
        if name == "lstm":
            np.testing.assert_allclose(cache.c_prev[t], short.c[-1], rtol=0, atol=1e-15)
    if name == "lstm":
        np.testing.assert_array_equal(cache.c_prev[0], states[1])
    # a property computed from the stored fields: the cache keeps no copy
    assert "h_prev" not in cache.arrays() and not np.shares_memory(h_prev, cache.h)


def test_lstm_options_are_one_typed_object():
    _, cache = lstm.forward(lstm.init_params(D, H, rng=np.random.default_rng(2)),
                            np.ones((T, B, D)), forget_bias=1.0, output_activation="identity")
    assert cache.options == lstm.LSTMOptions(forget_bias=1.0, psi=cache.options.psi, cell="standard")
    assert cache.options.psi.name == "identity"
    assert set(cache.arrays()) == {"x", "h0", "h", "c0", "c", "s", "gates"}


@pytest.mark.parametrize("name", ["rnn", "lstm"])
def test_da_steps_are_the_preactivation_gradients(name):
    """With W_x = I and b = 0 the pre-activation's input part *is* x_t, so dL/dx_t = dL/da_t:
    finite differences on x check da_steps."""
    m = MODELS[name]
    G = H if name == "rnn" else 4 * H
    rng = np.random.default_rng(3)
    params = m.init_params(G, H, rng=rng)
    params["W_x"][:] = np.eye(G)
    params["b"][:] = 0.0
    x = rng.standard_normal((T, B, G))
    states = [0.5 * rng.standard_normal((B, H)) for _ in range(2 if name == "lstm" else 1)]
    w = rng.standard_normal((T, B, H))

    def loss():
        return float(np.sum(w * m.forward(params, x, *states)[0]))

    g = m.backward(w, m.forward(params, x, *states)[1])
    assert g.da_steps.shape == (T, B, G)
    assert relative_error(g.da_steps, numerical_gradient(loss, x)) < 1e-9
