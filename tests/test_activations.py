"""Activations and their derivatives against sympy, and the stable sigmoid."""
import numpy as np
import pytest
import sympy as sp

from lstm_core.activations import ACTIVATIONS, get_activation, sigmoid

z = sp.Symbol("z", real=True)
SYMBOLIC = {
    "sigmoid": 1 / (1 + sp.exp(-z)),
    "tanh": sp.tanh(z),
    "identity": z,
    "relu": sp.Max(z, 0),
}
POINTS = np.array([-7.3, -2.0, -0.4, 0.3, 1.1, 4.5])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_value_and_derivative_match_sympy(name):
    act = get_activation(name)
    expr = SYMBOLIC[name]
    dexpr = sp.diff(expr, z)
    f = sp.lambdify(z, expr, "math")
    df = sp.lambdify(z, dexpr, "math")
    for p in POINTS:
        y = act.fn(np.array([p]))[0]
        assert y == pytest.approx(float(f(p)), rel=1e-14, abs=1e-15)
        # the package computes the derivative from the output y only
        assert act.grad_from_output(np.array([y]))[0] == pytest.approx(float(df(p)), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_max_slope_is_the_supremum_of_the_derivative(name):
    act = get_activation(name)
    grid = np.linspace(-20, 20, 40001)
    slope = act.grad_from_output(act.fn(grid))
    assert slope.max() == pytest.approx(act.max_slope, rel=1e-6)


def test_sigmoid_is_stable_for_large_inputs():
    with np.errstate(over="raise", invalid="raise"):  # an overflow or nan would raise here
        y = sigmoid(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0]))
    assert np.all(np.isfinite(y))
    assert y[0] == 0.0 and y[-1] == 1.0 and y[2] == 0.5
    assert y[1] == pytest.approx(np.exp(-50.0), rel=1e-12)


def test_sigmoid_keeps_float32():
    assert sigmoid(np.ones(3, dtype=np.float32)).dtype == np.float32


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match="activation"):
        get_activation("swish")
