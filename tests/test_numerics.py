"""Dtypes, determinism, closed forms that do not depend on the backward pass."""
import numpy as np
import pytest

from lstm_core import gru, lstm, rnn
from lstm_core.gradcheck import numerical_gradient, relative_error
from lstm_core.optim import clip_by_global_norm, global_norm

MODELS = [rnn, lstm, gru]


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.__name__)
def test_float32_is_kept_and_close_to_float64(m):
    rng = np.random.default_rng(5)
    p64 = m.init_params(3, 4, rng=rng)
    x64 = rng.standard_normal((6, 2, 3))
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    h32, c32 = m.forward(p32, x64.astype(np.float32))
    h64, c64 = m.forward(p64, x64)
    g32 = m.backward(np.ones_like(h32), c32)
    g64 = m.backward(np.ones_like(h64), c64)
    assert h32.dtype == np.float32 and g32.dx.dtype == np.float32 and g32.dh_steps.dtype == np.float32
    assert all(v.dtype == np.float32 for v in g32.params.values())
    assert np.max(np.abs(h32 - h64)) < 1e-5
    for k in g64.params:
        assert relative_error(g32.params[k], g64.params[k]) < 1e-4


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.__name__)
def test_forward_is_pure(m):
    rng = np.random.default_rng(6)
    p = m.init_params(2, 3, rng=rng)
    x = rng.standard_normal((4, 2, 2))
    before = {k: v.copy() for k, v in p.items()}
    h1, _ = m.forward(p, x)
    h2, _ = m.forward(p, x)
    assert np.array_equal(h1, h2)
    assert all(np.array_equal(before[k], p[k]) for k in p)


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.__name__)
def test_sequence_equals_chained_single_steps(m):
    """Running T steps at once equals running them one by one, passing the state."""
    rng = np.random.default_rng(8)
    p = m.init_params(3, 4, rng=rng)
    x = rng.standard_normal((5, 2, 3))
    h_all, cache = m.forward(p, x)
    h_prev = None
    c_prev = None
    for t in range(5):
        if m is lstm:
            h_t, cache_t = m.forward(p, x[t:t + 1], h_prev, c_prev)
            c_prev = cache_t.c[0]
        else:
            h_t, _ = m.forward(p, x[t:t + 1], h_prev)
        h_prev = h_t[0]
        assert np.allclose(h_prev, h_all[t], rtol=0, atol=1e-14)


def test_numerical_gradient_of_a_closed_form():
    a = np.array([0.3, -1.2, 2.0])
    g = numerical_gradient(lambda: float(np.sum(np.sin(a) * a**2)), a)
    exact = np.cos(a) * a**2 + 2 * a * np.sin(a)
    assert np.max(np.abs(g - exact)) < 1e-11
    g2 = numerical_gradient(lambda: float(np.sum(np.sin(a) * a**2)), a, eps=1e-6, order=2)
    assert np.max(np.abs(g2 - exact)) < 1e-8


def test_clipping_caps_the_norm_and_keeps_direction():
    g = {"a": np.array([3.0, 4.0]), "b": np.array([[12.0]])}  # norm 13
    clipped, norm = clip_by_global_norm(g, 6.5)
    assert norm == pytest.approx(13.0, abs=1e-12)
    assert global_norm(clipped) == pytest.approx(6.5, rel=1e-14)
    assert np.allclose(clipped["a"], [1.5, 2.0]) and np.allclose(clipped["b"], [[6.0]])
    untouched, norm = clip_by_global_norm(g, 13.5)
    assert all(np.array_equal(untouched[k], g[k]) for k in g)
