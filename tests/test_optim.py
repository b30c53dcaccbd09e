"""Optimisers of lstm_core.optim: hand-computed updates, purity, and a loss that goes down."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lstm_core import data, optim, train


# ----------------------------------------------------------------------------- hand-computed updates

def test_sgd_momentum_matches_two_hand_computed_steps():
    # v1 = g1 = (0.5, 1.0);               p1 = p0 - 0.1 v1 = (0.95, -2.1)
    # v2 = 0.9 v1 + g2 = (-0.55, 1.15);   p2 = p1 - 0.1 v2 = (1.005, -2.215)
    p0 = {"w": np.array([1.0, -2.0])}
    g1 = {"w": np.array([0.5, 1.0])}
    g2 = {"w": np.array([-1.0, 0.25])}
    s = optim.sgd_init(p0)
    p1, s = optim.sgd_step(p0, g1, s, lr=0.1, momentum=0.9)
    np.testing.assert_allclose(p1["w"], [0.95, -2.1], rtol=0, atol=1e-15)
    p2, s = optim.sgd_step(p1, g2, s, lr=0.1, momentum=0.9)
    np.testing.assert_allclose(s["velocity"]["w"], [-0.55, 1.15], rtol=0, atol=1e-15)
    np.testing.assert_allclose(p2["w"], [1.005, -2.215], rtol=0, atol=1e-15)


def test_sgd_without_momentum_is_gradient_descent():
    p = {"a": np.array([[1.0, 2.0]]), "b": np.array([3.0])}
    g = {"a": np.array([[0.5, -0.5]]), "b": np.array([2.0])}
    new, _ = optim.sgd_step(p, g, optim.sgd_init(p), lr=0.5, momentum=0.0)
    np.testing.assert_allclose(new["a"], [[0.75, 2.25]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(new["b"], [2.0], rtol=0, atol=1e-15)


def test_adam_matches_two_hand_computed_steps():
    # lr = 0.1, beta1 = 0.9, beta2 = 0.999, eps = 1e-8; one scalar p0 = 1 and gradients 0.5, then -1.
    # step 1: m = 0.05, v = 0.00025, m_hat = 0.5, v_hat = 0.25 -> p1 = 1 - 0.1 * 0.5 / (0.5 + 1e-8)
    # step 2: m = 0.9*0.05 - 0.1 = -0.055, v = 0.999*0.00025 + 0.001 = 0.00124975,
    #         m_hat = -0.055 / 0.19, v_hat = 0.00124975 / 0.001999
    #         p2 = p1 - 0.1 * m_hat / (sqrt(v_hat) + 1e-8) = 0.93661035424056560...  (30-digit mpmath)
    p0 = {"w": np.array([1.0])}
    s = optim.adam_init(p0)
    assert s["t"] == 0
    p1, s = optim.adam_step(p0, {"w": np.array([0.5])}, s, lr=0.1)
    assert s["t"] == 1
    np.testing.assert_allclose(p1["w"], [1.0 - 0.1 * 0.5 / (0.5 + 1e-8)], rtol=0, atol=1e-15)
    np.testing.assert_allclose(s["m"]["w"], [0.05], rtol=1e-15)
    np.testing.assert_allclose(s["v"]["w"], [0.00025], rtol=1e-15)
    p2, s = optim.adam_step(p1, {"w": np.array([-1.0])}, s, lr=0.1)
    assert s["t"] == 2
    np.testing.assert_allclose(s["m"]["w"], [-0.055], rtol=1e-14)
    np.testing.assert_allclose(s["v"]["w"], [0.00124975], rtol=1e-14)
    np.testing.assert_allclose(p2["w"], [0.93661035424056560281], rtol=0, atol=1e-14)


@given(scale=st.floats(1e-2, 1e4), seed=st.integers(0, 2**16))
def test_adam_first_step_moves_every_coordinate_by_lr(scale, seed):
    # bias correction: m_hat = g, v_hat = g^2, so the first update is lr * g / (|g| + eps)
    rng = np.random.default_rng(seed)
    g = scale * rng.choice([-1.0, 1.0], size=(3, 4)) * rng.uniform(0.5, 2.0, size=(3, 4))
    p = {"w": rng.standard_normal((3, 4))}
    new, _ = optim.adam_step(p, {"w": g}, optim.adam_init(p), lr=0.01)
    step = p["w"] - new["w"]
    # |g| >= 5e-3 here, so eps = 1e-8 changes the step by less than 2e-6 of itself
    np.testing.assert_allclose(step, 0.01 * np.sign(g), rtol=1e-5)


# ----------------------------------------------------------------------------- purity and validation

@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_steps_are_pure(name):
    init, step = optim.OPTIMIZERS[name]
    rng = np.random.default_rng(0)
    p = {"a": rng.standard_normal((2, 3)), "b": rng.standard_normal(3)}
    g = {k: rng.standard_normal(v.shape) for k, v in p.items()}
    s = init(p)
    copies = {k: v.copy() for k, v in p.items()}, {k: v.copy() for k, v in g.items()}
    new_p, new_s = step(p, g, s, lr=0.1)
    new_p2, _ = step(p, g, s, lr=0.1)  # same inputs, same output: no hidden state
    for k in p:
        np.testing.assert_array_equal(p[k], copies[0][k])
        np.testing.assert_array_equal(g[k], copies[1][k])
        np.testing.assert_array_equal(new_p[k], new_p2[k])
        assert not np.array_equal(new_p[k], p[k])
    assert new_s is not s
    if name == "adam":
        assert s["t"] == 0 and new_s["t"] == 1
        assert all(not np.any(v) for v in s["m"].values())


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_mismatched_keys_and_bad_lr_are_refused(name):
    init, step = optim.OPTIMIZERS[name]
    p = {"a": np.ones(2)}
    s = init(p)
    with pytest.raises(ValueError, match="keys"):
        step(p, {"b": np.ones(2)}, s, lr=0.1)
    with pytest.raises(ValueError, match="shape"):
        step(p, {"a": np.ones(3)}, s, lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        step(p, {"a": np.ones(2)}, s, lr=0.0)
    with pytest.raises(ValueError, match="made for keys"):
        step({"b": np.ones(2)}, {"b": np.ones(2)}, s, lr=0.1)


# ----------------------------------------------------------------------------- a step decreases the loss

@pytest.mark.parametrize("opt,lr", [("sgd", 0.05), ("adam", 1e-3)])
@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
def test_one_optimiser_step_decreases_the_loss(model, opt, lr):
    rng = np.random.default_rng(7)
    x, y = data.adding_problem(8, 16, rng=rng)
    theta = train.init_theta(model, 2, 5, 1, rng=rng)
    L0, grads, _ = train.loss_and_grads(model, theta, x, y)
    init, step = optim.OPTIMIZERS[opt]
    new, _ = step(theta, grads, init(theta), lr=lr)
    L1, _, _ = train.loss_and_grads(model, new, x, y)
    # a descent step: the decrease is close to the first-order prediction <g, theta - new>
    predicted = sum(float(np.sum(grads[k] * (theta[k] - new[k]))) for k in theta)
    assert predicted > 0
    assert L1 < L0
    assert math.isclose(L0 - L1, predicted, rel_tol=0.2)
