"""lstm_core.figures: decade ticks through 10^0 and edge markers for points off the axis.

Expected tick sets are written out by hand from the rule (multiples of 1, 2, 5, 10 ... decades).
"""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from lstm_core.figures import decade_exponents, decade_ticks, mark_out_of_range


@pytest.mark.parametrize("lo, hi, expected", [
    (1e-9, 1e29, [-5, 0, 5, 10, 15, 20, 25]),      # matplotlib alone: -9, -4, 1, 6, ...
    (1e-55, 1e2, [-50, -40, -30, -20, -10, 0]),
    (1e-17, 1e2, [-15, -10, -5, 0]),
    (1e-4, 2.0, [-4, -3, -2, -1, 0]),
    (3e-3, 7e-3, []),                               # no decade on the axis
])
def test_decade_exponents(lo, hi, expected):
    assert decade_exponents(lo, hi) == expected


def test_decade_exponents_refuses_a_non_positive_range():
    with pytest.raises(ValueError, match="0 < lo < hi"):
        decade_exponents(0.0, 1.0)


def test_decade_ticks_label_one():
    fig, ax = plt.subplots()
    ax.semilogy([0, 1], [1e-9, 1e29])
    ax.set_ylim(1e-9, 1e29)
    assert 0 in decade_ticks(ax)
    assert 1.0 in ax.get_yticks()
    plt.close(fig)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    with pytest.raises(ValueError, match="not logarithmic"):
        decade_ticks(ax)
    plt.close(fig)


def test_mark_out_of_range_counts_and_places_markers():
    fig, ax = plt.subplots()
    ax.set_yscale("log")
    y = np.array([1e-1, 1e-6, 0.0, 5.0, np.inf, np.nan, 1e-2])
    x = np.arange(y.size)
    ax.plot(x, y)
    ax.set_ylim(1e-4, 2.0)
    n_lines = len(ax.lines)
    assert mark_out_of_range(ax, x, y, color="tab:blue", label="off the axis") == 5
    below, above = ax.lines[n_lines:]
    np.testing.assert_array_equal(below.get_xdata(), [1, 2])
    np.testing.assert_array_equal(below.get_ydata(), [1e-4, 1e-4])
    np.testing.assert_array_equal(above.get_xdata(), [3, 4, 5])
    np.testing.assert_array_equal(above.get_ydata(), [2.0, 2.0, 2.0])
    assert ax.get_ylim() == (1e-4, 2.0)
    assert mark_out_of_range(ax, x[:1], y[:1], color="k") == 0
    with pytest.raises(ValueError, match="one shape"):
        mark_out_of_range(ax, x, y[:-1], color="k")
    plt.close(fig)
