"""Chapter 2 (rnn_bptt): the BPTT bound, its closed forms, truncated BPTT, clipping.

Expected values come from routes that do not use the code under test:
closed forms (identity activation with W_h = rho Q, the scalar RNN), explicit
sums written out in the test, finite differences of a loss whose early states
are frozen (truncated BPTT), and finite-difference Jacobians.
``dh_steps`` itself is checked against finite differences in test_gradients.py.
"""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lstm_core import bptt, losses, rnn
from lstm_core.activations import ACTIVATIONS
from lstm_core.gradcheck import check_gradients, numerical_gradient
from lstm_core.optim import clip_by_global_norm

ACTS = sorted(ACTIVATIONS)  # identity, relu, sigmoid, tanh
REL = 1e-10                 # rounding slack for "never exceeds"


def make_rnn(rng, *, T, B, D, H, activation, rho=None, W_h=None, scale=1.0):
    """Random non-zero weights, inputs and initial state; W_h rescaled or given."""
    params = rnn.init_params(D, H, rng=rng, spectral_radius=rho)
    if W_h is not None:
        params["W_h"] = W_h
    x = scale * rng.standard_normal((T, B, D))
    h0 = 0.5 * rng.standard_normal((B, H))
    h, cache = rnn.forward(params, x, h0, activation=activation)
    return params, x, h0, h, cache


def direct_gradient(rng, h, placement):
    """dL/dh_t sent by the loss directly, for a loss at the last step, every step or one step."""
    T = h.shape[0]
    dh = np.zeros_like(h)
    if placement == "last":
        dh[-1] = rng.standard_normal(h.shape[1:])
    elif placement == "every":
        dh[:] = rng.standard_normal(h.shape)
    elif placement == "one":
        t = int(rng.integers(T))
        dh[t] = rng.standard_normal(h.shape[1:])
    else:
        raise ValueError(placement)
    return dh


def sigma_max(W):
    return float(np.linalg.svd(W, compute_uv=False)[0])


# ----------------------------------------------------------------------------- the bound

@given(
    rho=st.floats(0.05, 3.0), T=st.integers(1, 40), H=st.integers(1, 8), B=st.integers(1, 3),
    activation=st.sampled_from(ACTS), placement=st.sampled_from(["last", "every", "one"]),
    scale=st.floats(0.1, 3.0), seed=st.integers(0, 2**32 - 1),
)
def test_measured_delta_never_exceeds_the_bounds(rho, T, H, B, activation, placement, scale, seed):
    """||delta_k|| <= Jacobian-product bound <= (beta_phi beta_W)-bound, for every k = 0..T.

    With the loss at one step t the bound is ||e_t|| beta^(t-k); with several
    loss terms it is the sum of those, sum_{t >= k} ||e_t|| beta^(t-k).
    """
    rng = np.random.default_rng(seed)
    params, _, _, h, cache = make_rnn(rng, T=T, B=B, D=3, H=H, activation=activation, rho=rho, scale=scale)
    dh = direct_gradient(rng, h, placement)
    measured = bptt.delta_norms(rnn.backward(dh, cache))
    beta = ACTIVATIONS[activation].max_slope * sigma_max(params["W_h"])
    jac = bptt.jacobian_bound(dh, cache)
    geo = bptt.geometric_bound(dh, beta)
    assert measured.shape == jac.shape == geo.shape == (T + 1,)
    assert np.all(measured <= jac * (1 + REL) + 1e-300), (measured, jac)
    assert np.all(jac <= geo * (1 + REL) + 1e-300), (jac, geo)
    # the bound is about the part of delta_k that the loss terms at steps >= k send back:
    # at the last step that is e_T alone, so measured == bound there
    assert measured[-1] == pytest.approx(geo[-1], rel=1e-12)


def test_geometric_bound_equals_the_explicit_sum():
    """geometric_bound against sum_{t >= k} ||e_t|| beta^(t-k), written out per sequence."""
    rng = np.random.default_rng(11)
    T, B, H, beta = 9, 3, 4, 1.7
    dh = rng.standard_normal((T, B, H))
    dh[4] = 0.0  # a step the loss does not look at
    e = np.zeros((T + 1, B))
    e[1:] = np.linalg.norm(dh, axis=2)  # e_k for k = 1..T; k = 0 is h_0
    expected = np.zeros(T + 1)
    for k in range(T + 1):
        per_seq = [sum(e[t, b] * beta ** (t - k) for t in range(k, T + 1)) for b in range(B)]
        expected[k] = np.sqrt(np.sum(np.square(per_seq)))
    np.testing.assert_allclose(bptt.geometric_bound(dh, beta), expected, rtol=1e-13)


@given(rho=st.floats(0.5, 1.5), T=st.integers(1, 60), H=st.integers(1, 10), B=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1))
def test_identity_activation_with_scaled_orthogonal_W_is_exactly_rho_power(rho, T, H, B, seed):
    """phi = identity, W_h = rho Q: ||delta_k|| = rho^(T-k) ||delta_T|| for every k, and the bound is attained."""
    rng = np.random.default_rng(seed)
    W = bptt.scaled_orthogonal(H, rho, rng=rng)
    np.testing.assert_allclose(np.linalg.svd(W, compute_uv=False), rho, rtol=1e-12)
    _, _, _, h, cache = make_rnn(rng, T=T, B=B, D=2, H=H, activation="identity", W_h=W)
    dh = direct_gradient(rng, h, "last")
    measured = bptt.delta_norms(rnn.backward(dh, cache))
    closed = np.linalg.norm(dh[-1]) * rho ** (T - np.arange(T + 1.0))
    np.testing.assert_allclose(measured, closed, rtol=1e-10)
    np.testing.assert_allclose(bptt.geometric_bound(dh, rho), closed, rtol=1e-10)


def test_orthogonal_identity_preserves_the_norm_over_a_long_sequence():
    rng = np.random.default_rng(5)
    W = bptt.scaled_orthogonal(16, 1.0, rng=rng)
    _, _, _, h, cache = make_rnn(rng, T=300, B=2, D=3, H=16, activation="identity", W_h=W)
    dh = direct_gradient(rng, h, "last")
    measured = bptt.delta_norms(rnn.backward(dh, cache))
    np.testing.assert_allclose(measured, np.linalg.norm(dh[-1]), rtol=1e-10)


@pytest.mark.parametrize("activation", ACTS)
def test_scalar_rnn_jacobian_product_is_exact(activation):
    """H = 1: |delta_k| = |delta_T| prod_{j > k} |phi'(a_j) w|, with phi' evaluated from a_j by hand."""
    rng = np.random.default_rng(3)
    T = 25
    params = {"W_x": np.array([[0.7], [-0.4]]), "W_h": np.array([[1.3]]), "b": np.array([0.2])}
    x = rng.standard_normal((T, 1, 2))
    h0 = np.array([[0.3]])
    _, cache = rnn.forward(params, x, h0, activation=activation)
    dh = np.zeros((T, 1, 1))
    dh[-1] = -0.8
    measured = bptt.delta_norms(rnn.backward(dh, cache))
    # independent forward pass and derivatives of phi written from the pre-activation
    slope = {
        "identity": lambda a: 1.0,
        "tanh": lambda a: 1.0 / np.cosh(a) ** 2,
        "sigmoid": lambda a: np.exp(-a) / (1.0 + np.exp(-a)) ** 2,
        "relu": lambda a: float(a > 0),
    }[activation]
    fn = {"identity": lambda a: a, "tanh": np.tanh, "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
          "relu": lambda a: max(a, 0.0)}[activation]
    hp, gains = 0.3, []
    for t in range(T):
        a = 0.7 * x[t, 0, 0] - 0.4 * x[t, 0, 1] + 1.3 * hp + 0.2
        gains.append(abs(slope(a) * 1.3))
        hp = fn(a)
    expected = np.array([0.8 * np.prod(gains[k:]) for k in range(T + 1)])
    np.testing.assert_allclose(measured, expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(bptt.jacobian_bound(dh, cache), expected, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("activation", ACTS)
def test_step_jacobian_norms_match_finite_difference_jacobians(activation):
    """||J_k||_2 against the spectral norm of dh_k/dh_{k-1} obtained by central differences."""
    rng = np.random.default_rng(21)
    T, B, D, H = 4, 2, 3, 5
    params, x, h0, h, cache = make_rnn(rng, T=T, B=B, D=D, H=H, activation=activation, rho=1.2)
    norms = bptt.step_jacobian_norms(cache)
    assert norms.shape == (T, B)
    h_prev_all = np.concatenate([h0[None], h[:-1]])
    for t in range(T):
        for b in range(B):
            h_prev = h_prev_all[t, b].copy()
            a_in = x[t, b] @ params["W_x"] + params["b"]
            if activation == "relu":
                assert np.min(np.abs(a_in + h_prev @ params["W_h"])) > 1e-3  # away from the kink
            jac = np.empty((H, H))  # jac[i, j] = d h_t[i] / d h_{t-1}[j]
            for i in range(H):
                def f(i=i):
                    return float(rnn.cell_forward(a_in, h_prev, params["W_h"], ACTIVATIONS[activation])[i])
                jac[i] = numerical_gradient(f, h_prev, eps=1e-5)
            assert norms[t, b] == pytest.approx(np.linalg.norm(jac, 2), rel=1e-7)


def test_spectral_radius_alone_does_not_bound_the_gradient():
    """A non-normal W_h with spectral radius 0 still passes the gradient on: the bound needs sigma_max."""
    W = np.array([[0.0, 0.0], [3.0, 0.0]])  # nilpotent: both eigenvalues 0, sigma_max = 3
    params = {"W_x": np.ones((1, 2)), "W_h": W, "b": np.zeros(2)}
    _, cache = rnn.forward(params, np.ones((2, 1, 1)), np.ones((1, 2)), activation="identity")
    dh = np.zeros((2, 1, 2))
    dh[-1] = [[1.0, 0.0]]
    measured = bptt.delta_norms(rnn.backward(dh, cache))
    assert np.max(np.abs(np.linalg.eigvals(W))) == 0.0
    assert measured[1] == pytest.approx(3.0)                # rho(W)^1 * 1 = 0 would be violated
    assert measured[1] <= bptt.geometric_bound(dh, 3.0)[1] * (1 + REL)
    assert measured[0] == 0.0                                # W^2 = 0


# ----------------------------------------------------------------------------- truncated BPTT

def frozen_prefix_loss(params, x, h0, activation, targets, mask, k, h_frozen):
    """sum_t mask_t * 0.5 ||h_t - y_t||^2 where h_t is recomputed from h_{t-k} *frozen*.

    h_{t-k} comes from the unperturbed forward pass (h_frozen), the k steps
    t-k+1..t use ``params``: its derivative in params is truncated BPTT.
    """
    T = x.shape[0]
    total = 0.0
    for t in range(T):
        if not mask[t]:
            continue
        s0 = max(t - k + 1, 0)
        start = h0 if s0 == 0 else h_frozen[s0 - 1]
        h, _ = rnn.forward(params, x[s0:t + 1], start, activation=activation)
        total += losses.half_sum_squared_error(h[-1], targets[t])[0]
    return total


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "identity"])
@pytest.mark.parametrize("k", [1, 2, 4, 6, 9])
def test_truncated_bptt_is_the_gradient_of_the_frozen_prefix_loss(activation, k):
    rng = np.random.default_rng(100 + k)
    T, B, D, H = 6, 2, 3, 4
    params, x, h0, h, cache = make_rnn(rng, T=T, B=B, D=D, H=H, activation=activation, rho=1.1)
    targets = rng.standard_normal((T, B, H))
    mask = np.array([1, 0, 1, 1, 0, 1], dtype=bool)
    dh = np.where(mask[:, None, None], h - targets, 0.0)   # d(0.5 ||h_t - y_t||^2)/dh_t
    analytic = bptt.truncated_bptt(dh, cache, k)
    h_frozen = h.copy()
    errors = check_gradients(
        lambda: frozen_prefix_loss(params, x, h0, activation, targets, mask, k, h_frozen),
        params, analytic,
    )
    assert max(errors.values()) < 1e-8, errors
    if k < T:  # truncation really drops something here
        full = rnn.backward(dh, cache).params
        assert np.max(np.abs(full["W_h"] - analytic["W_h"])) > 1e-6


def test_truncated_bptt_limits():
    rng = np.random.default_rng(8)
    T = 7
    params, x, h0, h, cache = make_rnn(rng, T=T, B=3, D=2, H=4, activation="tanh", rho=0.9)
    dh = rng.standard_normal(h.shape)
    full = rnn.backward(dh, cache).params
    lags = bptt.lag_contributions(dh, cache)
    for name in full:
        assert lags[name].shape == (T, *full[name].shape)
        np.testing.assert_allclose(lags[name].sum(axis=0), full[name], rtol=1e-12, atol=1e-14)
        for k in (T, T + 5):
            np.testing.assert_allclose(bptt.truncated_bptt(dh, cache, k)[name], full[name], rtol=1e-12, atol=1e-14)
    # k = 1: each step's own outer product only, sum_t h_{t-1}^T (e_t * phi'(a_t))
    da = dh * (1 - h ** 2)
    h_prev = np.concatenate([h0[None], h[:-1]])
    np.testing.assert_allclose(bptt.truncated_bptt(dh, cache, 1)["W_h"],
                               np.einsum("tbi,tbj->ij", h_prev, da), rtol=1e-12)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            bptt.truncated_bptt(dh, cache, bad)


# ----------------------------------------------------------------------------- clipping

def l2_norm_by_hand(grads):
    """sqrt of the sum of squares of every entry of every array (not lstm_core's global_norm)."""
    return math.sqrt(sum(float(v) ** 2 for g in grads.values() for v in np.ravel(g)))


def exploding_rnn_gradient(rho, T=40, seed=9):
    rng = np.random.default_rng(seed)
    params, x, h0, h, cache = make_rnn(rng, T=T, B=4, D=3, H=8, activation="identity", rho=rho)
    dh = direct_gradient(rng, h, "last")
    return rnn.backward(dh, cache).params


def test_clipping_an_exploding_rnn_gradient():
    grads = exploding_rnn_gradient(rho=1.5)
    norm = l2_norm_by_hand(grads)
    assert norm > 1e6  # 1.5^40 ~ 1e7: this gradient has exploded
    threshold = 2.0
    clipped, before = clip_by_global_norm(grads, threshold)
    assert set(clipped) == set(grads)
    assert before == pytest.approx(norm, rel=1e-12)
    assert l2_norm_by_hand(clipped) == pytest.approx(threshold, rel=1e-12)
    # the direction is kept: every array is the original times the same factor
    flat = np.concatenate([grads[k].ravel() for k in sorted(grads)])
    flat_c = np.concatenate([clipped[k].ravel() for k in sorted(grads)])
    assert flat @ flat_c / (np.linalg.norm(flat) * np.linalg.norm(flat_c)) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(flat_c, flat * (threshold / norm), rtol=1e-12)


def test_clipping_leaves_a_vanishing_rnn_gradient_untouched():
    grads = exploding_rnn_gradient(rho=0.5)
    norm = l2_norm_by_hand(grads)
    assert norm < 50.0
    clipped, before = clip_by_global_norm(grads, 50.0)
    assert before == pytest.approx(norm, rel=1e-12)
    for k in grads:
        assert np.array_equal(clipped[k], grads[k])
