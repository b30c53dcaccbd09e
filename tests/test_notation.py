"""The notation page's variable table agrees with the code's indexing convention.

book/notation.md maps each symbol to an array expression such as `h[t-1]`. The test reads that
mapping from the page and checks it against the model equations written out here (not taken from
the library): with the page's index, step 1 must be computed from the initial state `h0` / `c0`,
step t from step t-1, and the backward recursion must end in `dh0`. A table that says `h[t]`
(step t at index t) fails: index 0 then has no predecessor inside the array, and the recursion
does not close on `dh0`.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from lstm_core import lstm, rnn

NOTATION = Path(__file__).resolve().parents[1] / "book" / "notation.md"


def _variable_rows() -> dict[str, str]:
    """{symbol: code} for every row of the 'Variables' table."""
    text = NOTATION.read_text(encoding="utf-8")
    section = text.split("## Variables", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0].startswith("$"):
            rows[cells[0]] = line
    return rows


def _index_of(symbol: str):
    """The page's array name and index function for `symbol` (t -> array index)."""
    line = _variable_rows()[symbol]
    code = line.split("|")[2]
    m = re.fullmatch(r"\s*`(\w+)\[\s*t\s*(?:([-+])\s*(\d+))?\s*\]`\s*", code)
    assert m, f"notation.md: no `name[t ...]` code for {symbol}: {code!r}"
    shift = int(m.group(3) or 0) * (-1 if m.group(2) == "-" else 1)
    return m.group(1), (lambda t: t + shift), line


def _check_range(index, T):
    """Steps 1..T must address exactly the T stored entries, in order."""
    assert [index(t) for t in range(1, T + 1)] == list(range(T)), "steps 1..T must be indices 0..T-1"


@pytest.fixture
def rng():
    return np.random.default_rng(17)


def test_rnn_rows_match_the_recurrence(rng):
    T, B, D, H = 5, 3, 4, 6
    params = rnn.init_params(D, H, rng=rng, spectral_radius=1.1)
    x = rng.standard_normal((T, B, D))
    h0 = 0.5 * rng.standard_normal((B, H))
    h, cache = rnn.forward(params, x, h0, activation="tanh")
    arrays = {"x": x, "h": h}
    name_x, ix, _ = _index_of("$x_t$")
    name_h, ih, line_h = _index_of("$h_t$")
    assert "`h0`" in line_h, "the h_t row should name the initial state h0"
    _check_range(ix, T)
    _check_range(ih, T)
    prev = h0
    for t in range(1, T + 1):   # h_t = tanh(x_t W_x + h_{t-1} W_h + b), h_0 = h0
        expected = np.tanh(arrays[name_x][ix(t)] @ params["W_x"] + prev @ params["W_h"] + params["b"])
        np.testing.assert_allclose(arrays[name_h][ih(t)], expected, rtol=0, atol=1e-13)
        prev = expected

    # delta_{t-1} = e_{t-1} + (delta_t * tanh'(a_t)) W_h^T with delta_0 = dh0 (no loss at h_0)
    dh = rng.standard_normal(h.shape)
    grads = rnn.backward(dh, cache)
    name_d, idelta, line_d = _index_of("$\\delta_t$")
    assert name_d == "dh_steps" and "`dh0`" in line_d
    _check_range(idelta, T)
    delta = getattr(grads, name_d)
    for t in range(1, T + 1):
        carried = (delta[idelta(t)] * (1 - h[ih(t)] ** 2)) @ params["W_h"].T
        if t == 1:
            np.testing.assert_allclose(grads.dh0, carried, rtol=1e-12, atol=1e-13)
        else:
            np.testing.assert_allclose(delta[idelta(t - 1)], dh[idelta(t - 1)] + carried,
                                       rtol=1e-12, atol=1e-13)
    # dL/dx_t = (delta_t * tanh'(a_t)) W_x^T
    name_dx, idx, _ = _index_of("$\\partial L / \\partial x_t$")
    _check_range(idx, T)
    for t in range(1, T + 1):
        expected = (delta[idelta(t)] * (1 - h[ih(t)] ** 2)) @ params["W_x"].T
        np.testing.assert_allclose(getattr(grads, name_dx)[idx(t)], expected, rtol=1e-12, atol=1e-13)


def test_lstm_cell_row_matches_the_recurrence(rng):
    T, B, D, H = 4, 2, 3, 5
    params = lstm.init_params(D, H, rng=rng)
    x = rng.standard_normal((T, B, D))
    h0 = 0.5 * rng.standard_normal((B, H))
    c0 = 0.5 * rng.standard_normal((B, H))
    h, cache = lstm.forward(params, x, h0, c0)
    arrays = {"x": x, "h": h, "c": cache.c}
    _, ix, _ = _index_of("$x_t$")
    _, ih, _ = _index_of("$h_t$")
    name_c, ic, line_c = _index_of("$c_t$")
    assert "`c0`" in line_c, "the c_t row should name the initial cell state c0"
    _check_range(ic, T)

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    h_prev, c_prev = h0, c0
    for t in range(1, T + 1):   # gate blocks i, f, g, o (notation page, "Row vectors")
        a = arrays["x"][ix(t)] @ params["W_x"] + h_prev @ params["W_h"] + params["b"]
        i, f, g, o = (a[:, k * H:(k + 1) * H] for k in range(4))
        c_t = sigmoid(f) * c_prev + sigmoid(i) * np.tanh(g)
        h_t = sigmoid(o) * np.tanh(c_t)
        np.testing.assert_allclose(arrays[name_c][ic(t)], c_t, rtol=0, atol=1e-13)
        np.testing.assert_allclose(arrays["h"][ih(t)], h_t, rtol=0, atol=1e-13)
        h_prev, c_prev = h_t, c_t
