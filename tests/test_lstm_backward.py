"""Chapter 4 (book/lstm_backward.md): LSTM backpropagation through time.

Every quantity of the derivation is checked against an independent route:

* sympy differentiates the worked example's loss (H = 1, D = 2, T = 2) with
  respect to every weight, and with respect to a perturbation inserted at
  every intermediate (pre-activations, gate values, c_t on each of its two
  paths, h_t, h_t as fed to the next step);
* central differences on random problems with non-zero weights and states,
  with the perturbation inserted *inside* the recurrence by a forward pass
  written here from the equations (not lstm_core's), for every LSTM variant
  and both loss placements;
* closed forms for the claims about loss placement, the cell-state path and
  the constant error carousel.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import sympy as sp

from lstm_core import examples, losses, lstm, rnn
from lstm_core._common import OnDemand
from lstm_core.gradcheck import check_gradients, numerical_gradient, relative_error
from lstm_core.memory import lstm_da_block_bytes, peak_bytes
from lstm_core.perturbation import forward_with_perturbations
from models import CONFIGS, Problem

TOL = 1e-6
FLOOR = 1e-6
LSTM_CONFIGS = [c for c in CONFIGS if c.has_cell]
GATES = ("i", "f", "g", "o")


# ----------------------------------------------------------------------------- sympy, worked example

def _sigmoid(z):
    return 1 / (1 + sp.exp(-z))


def _gomez_numbers():
    """Gomez's numbers as exact rationals, transcribed from the issue (not from lstm_core)."""
    R = sp.Rational
    per_gate = {  # our block: (W row, U, b); Gomez's "a" is our candidate g
        "g": ((R(45, 100), R(25, 100)), R(15, 100), R(2, 10)),
        "i": ((R(95, 100), R(8, 10)), R(8, 10), R(65, 100)),
        "f": ((R(7, 10), R(45, 100)), R(1, 10), R(15, 100)),
        "o": ((R(6, 10), R(4, 10)), R(25, 100), R(1, 10)),
    }
    xs = ((R(1), R(2)), (R(1, 2), R(3)))
    ys = (R(1, 2), R(5, 4))
    return per_gate, xs, ys


def _symbolic_loss(W, U, b, xs, ys, eps=None):
    """0.5 * sum_t (h_t - y_t)^2 of the one-unit LSTM, written out from the equations.

    ``eps`` maps (site, t) to a sympy expression added at that site:
    ("a", k) pre-activation of gate k, ("v", k) gate value, "c" the cell state
    (both paths), "c->h" c_t inside h_t only, "c->c" c_t carried to step t+1
    only, "h" the hidden state (loss and next step), "h->next" h_t fed to
    step t+1 only, ("x", d) the input.
    """
    eps = eps or {}
    e = lambda *key: eps.get(key, 0)  # noqa: E731
    h = c = 0
    loss = 0
    for t in range(len(xs)):
        x = [xs[t][d] + e("x", d, t) for d in range(2)]
        a = {k: W[k][0] * x[0] + W[k][1] * x[1] + U[k] * h + b[k] + e("a", k, t) for k in GATES}
        v = {k: (sp.tanh(a[k]) if k == "g" else _sigmoid(a[k])) + e("v", k, t) for k in GATES}
        c_new = v["f"] * c + v["i"] * v["g"] + e("c", t)
        h_new = v["o"] * sp.tanh(c_new + e("c->h", t)) + e("h", t)
        loss += sp.Rational(1, 2) * (h_new - ys[t]) ** 2
        h = h_new + e("h->next", t)
        c = c_new + e("c->c", t)
    return loss


@pytest.fixture(scope="module")
def worked():
    return examples.gomez_example()


@pytest.fixture(scope="module")
def sympy_gradients():
    """dL/d(every weight) of the worked example, symbolic, evaluated with 40 digits."""
    per_gate, xs, ys = _gomez_numbers()
    W = {k: sp.symbols(f"W_{k}0 W_{k}1", real=True) for k in GATES}
    U = {k: sp.Symbol(f"U_{k}", real=True) for k in GATES}
    b = {k: sp.Symbol(f"b_{k}", real=True) for k in GATES}
    loss = _symbolic_loss(W, U, b, xs, ys)
    at = {}
    for k in GATES:
        (w0, w1), u, bb = per_gate[k]
        at.update({W[k][0]: sp.Float(w0, 40), W[k][1]: sp.Float(w1, 40),
                   U[k]: sp.Float(u, 40), b[k]: sp.Float(bb, 40)})
    grads = {}
    for k in GATES:
        for name, sym in (("W0", W[k][0]), ("W1", W[k][1]), ("U", U[k]), ("b", b[k])):
            grads[(k, name)] = float(sp.diff(loss, sym).xreplace(at))
    return float(loss.xreplace(at)), grads, {key: float(v) for key, v in at.items()}, (W, U, b)


def _ours(params, k, name):
    sl = lstm.gate_slice(k, 1)
    return {"W0": params["W_x"][0, sl][0], "W1": params["W_x"][1, sl][0],
            "U": params["W_h"][0, sl][0], "b": params["b"][sl][0]}[name]


def test_worked_example_parameter_gradients_match_sympy(worked, sympy_gradients):
    loss, grads, _, _ = sympy_gradients
    assert abs(worked.loss - loss) < 1e-12
    for (k, name), g in grads.items():
        assert abs(_ours(worked.trace.grads.params, k, name) - g) < 1e-12, (k, name)
    # none of the checks is vacuous: every gradient but the two that c_0 = 0 / h_0 = 0 leave
    # with a single term is clearly non-zero
    assert sum(abs(g) > 1e-4 for g in grads.values()) >= 14


def test_worked_example_sgd_step_matches_sympy(worked, sympy_gradients):
    _, grads, at, (W, U, b) = sympy_gradients
    for k in GATES:
        start = {"W0": at[W[k][0]], "W1": at[W[k][1]], "U": at[U[k]], "b": at[b[k]]}
        for name, v in start.items():
            expected = v - 0.1 * grads[(k, name)]
            assert abs(_ours(worked.updated, k, name) - expected) < 1e-12, (k, name)


def _d_eps(site_key, t_index, xs, ys, per_gate):
    """d loss / d eps at eps = 0, for a perturbation inserted at one site (numbers, one symbol)."""
    eps = sp.Symbol("eps", real=True)
    W = {k: [sp.Float(w, 40) for w in per_gate[k][0]] for k in GATES}
    U = {k: sp.Float(per_gate[k][1], 40) for k in GATES}
    b = {k: sp.Float(per_gate[k][2], 40) for k in GATES}
    key = (*site_key, t_index) if isinstance(site_key, tuple) else (site_key, t_index)
    loss = _symbolic_loss(W, U, b, xs, ys, {key: eps})
    return float(sp.diff(loss, eps).xreplace({eps: 0}))


def test_worked_example_every_intermediate_matches_sympy(worked):
    per_gate, xs, ys = _gomez_numbers()
    tr = worked.trace
    H = 1
    for t in range(2):
        expected = {
            "dh": _d_eps("h", t, xs, ys, per_gate),
            "dh_recurrent": _d_eps("h->next", t, xs, ys, per_gate),
            "dc": _d_eps("c", t, xs, ys, per_gate),
            "dc_via_h": _d_eps("c->h", t, xs, ys, per_gate),
            "dc_via_c": _d_eps("c->c", t, xs, ys, per_gate),
        }
        for name, v in expected.items():
            assert abs(getattr(tr, name)[t, 0, 0] - v) < 1e-12, (name, t)
        for k in GATES:
            j = lstm.gate_slice(k, H).start
            assert abs(tr.da[t, 0, j] - _d_eps(("a", k), t, xs, ys, per_gate)) < 1e-12, ("delta", k, t)
            assert abs(tr.dgates[t, 0, j] - _d_eps(("v", k), t, xs, ys, per_gate)) < 1e-12, ("gate", k, t)
        for d in range(2):
            assert abs(tr.grads.dx[t, 0, d] - _d_eps(("x", d), t, xs, ys, per_gate)) < 1e-12


def test_worked_example_tables_report_the_checked_numbers(worked, sympy_gradients):
    """The tables a reader sees carry the sympy-checked values, printed with 5 significant digits."""
    _, grads, _, _ = sympy_gradients
    tables = examples.gomez_tables(worked)
    assert set(tables) == {"forward", "backward", "gradients", "updated"}
    grad_table = tables["gradients"]
    for k, title in zip(GATES, ("input gate", "forget gate", "candidate", "output gate")):
        row = next(r for r in grad_table.rows if r[0] == title)
        for value, name in zip(row[2:], ("W0", "W1", "U", "b")):
            assert abs(value - grads[(k, name)]) < 1e-12
    # 5 significant digits, trailing zeros kept
    assert examples.format_sig(-0.0189196252260229) == "-0.018920"
    assert examples.format_sig(0.5) == "0.50000"
    for table in tables.values():
        for cells, row in zip(table.cells(), table.rows):
            for text, value in zip(cells[table.n_labels:], row[table.n_labels:]):
                if value not in (None, 0.0):
                    assert abs(float(text) - value) <= 5e-5 * abs(value)
                    assert len(text.lstrip("-").replace(".", "").lstrip("0").split("e")[0]) == 5
    # the hand-checkable headline numbers of the forward table (sympy-free closed forms)
    fwd = tables["forward"]
    s = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    c1 = s(0.95 + 1.6 + 0.65) * np.tanh(0.45 + 0.5 + 0.2)
    h1 = s(0.6 + 0.8 + 0.1) * np.tanh(c1)
    assert abs(fwd.value("cell state", "t = 1") - c1) < 1e-15
    assert abs(fwd.value("hidden state", "t = 1") - h1) < 1e-15


def test_per_gate_layout_round_trip():
    params = examples.params_from_per_gate(examples.GOMEZ_WEIGHTS)
    assert params["W_x"].shape == (2, 4) and params["W_h"].shape == (1, 4)
    # block g of our layout holds Gomez's candidate "a"
    assert params["W_x"][:, 2].tolist() == [0.45, 0.25] and params["W_h"][0, 2] == 0.15
    back = examples.per_gate_from_params(params)
    for name, w in examples.GOMEZ_WEIGHTS.items():
        assert back[name]["W"].ravel().tolist() == list(w["W"])
        assert back[name]["U"].item() == w["U"] and back[name]["b"].item() == w["b"]


# ----------------------------------------------------------------------------- finite differences on intermediates

def _forward_with_perturbations(p: Problem, pert=None, frozen_gates=None, frozen_carry=None):
    """lstm_core.perturbation's forward pass (written from the equations, not lstm.forward's
    code) on the problem ``p``, with perturbations at named sites."""
    return forward_with_perturbations(p.params, p.x, p.h0, p.c0, pert, frozen_gates=frozen_gates,
                                      frozen_carry=frozen_carry, **p.config.kwargs)


def _fd_at(p, site, t, shape, loss_of_hidden=None, frozen_gates=None, frozen_carry=None):
    """d loss / d (perturbation at ``site`` of step t) by 4th-order central differences."""
    loss_of_hidden = loss_of_hidden or (lambda h: p.loss_of_hidden(h)[0])
    arr = np.zeros(shape)
    pert = {(site, t): arr}
    return numerical_gradient(
        lambda: loss_of_hidden(_forward_with_perturbations(p, pert, frozen_gates, frozen_carry)), arr)


def _problem(config, placement, seed=11, T=4, B=2, D=3, H=2):
    return Problem(config, T=T, B=B, D=D, H=H, rng=np.random.default_rng(seed), placement=placement)


@pytest.mark.parametrize("placement", ["every", "last"])
@pytest.mark.parametrize("config", LSTM_CONFIGS, ids=str)
def test_every_intermediate_matches_finite_differences(config, placement):
    """delta_o, delta_f, delta_i, delta_g, the gate values, dL/dc_t (total and each path),
    delta_t and delta_{t-1} = sum_k delta_k W_h,k^T, each against a perturbation of
    that very intermediate inside the recurrence."""
    p = _problem(config, placement)
    h, cache = p.run_forward()
    np.testing.assert_allclose(_forward_with_perturbations(p), h, rtol=0, atol=1e-13)  # same model
    _, dh_direct, _ = p.loss_of_hidden(h)
    tr = examples.backward_trace(dh_direct, cache)
    T, B, H = h.shape
    W_h = p.params["W_h"]
    checked = 0
    for t in range(T):
        pairs = {
            "a": tr.da[t], "v": tr.dgates[t], "c": tr.dc[t], "c->h": tr.dc_via_h[t],
            "c->c": tr.dc_via_c[t], "h": tr.dh[t], "h->next": tr.dh_recurrent[t],
        }
        numerics = {}
        for site, analytic in pairs.items():
            numeric = numerics[site] = _fd_at(p, site, t, analytic.shape)
            err = relative_error(analytic, numeric, floor=FLOOR)
            assert err < TOL, (site, t, err)
            checked += np.max(np.abs(numeric)) > 1e-8
        # the two paths into c_t add up to the total [eq-lstm-bw-dc], in finite differences
        err = relative_error(numerics["c->h"] + numerics["c->c"], numerics["c"], floor=FLOOR)
        assert err < TOL, ("dc paths", t, err)
        # delta_{t-1} = sum over the gates of delta_k,t W_h,k^T: what h_{t-1} receives from step t
        sent = tr.da[t] @ W_h.T
        if t > 0:
            numeric = _fd_at(p, "h->next", t - 1, sent.shape)
        else:
            numeric = numerical_gradient(p.loss, p.h0)
        assert relative_error(sent, numeric, floor=FLOOR) < TOL, ("delta_{t-1}", t)
    # dL/dc_0 = dL/dc_1 * f_1
    assert relative_error(tr.grads.dc0, numerical_gradient(p.loss, p.c0), floor=FLOOR) < TOL
    assert checked >= 6 * T - 1  # the checks compared real, non-zero gradients


@pytest.mark.parametrize("config", LSTM_CONFIGS, ids=str)
def test_trace_error_terms_add_up_to_the_bias_gradient_by_finite_differences(config):
    """sum over steps and rows of backward_trace's delta_{i,f,g,o} = dL/db, the latter from
    central differences of the loss in b (the check examples.py used to assert inside)."""
    p = _problem(config, "every", seed=4, T=5)
    h, cache = p.run_forward()
    tr = examples.backward_trace(p.loss_of_hidden(h)[1], cache)
    numeric = numerical_gradient(p.loss, p.params["b"])
    assert relative_error(tr.da.sum(axis=(0, 1)), numeric, floor=FLOOR) < TOL


def test_gate_error_terms_are_the_closed_forms():
    """delta_o = delta_t psi(c_t) o(1-o) etc., written out here, for a tanh and an identity psi."""
    for config in (LSTM_CONFIGS[1], LSTM_CONFIGS[2]):
        p = _problem(config, "every", seed=5, T=5)
        h, cache = p.run_forward()
        tr = examples.backward_trace(p.loss_of_hidden(h)[1], cache)
        H = h.shape[-1]
        c = cache.c
        c_prev = np.concatenate([p.c0[None], c[:-1]])
        i, f, g, o = (cache.gates[..., k * H:(k + 1) * H] for k in range(4))
        identity = config.kwargs["output_activation"] == "identity"
        psi = c if identity else np.tanh(c)
        dpsi = np.ones_like(c) if identity else 1 - np.tanh(c) ** 2
        dc = np.empty_like(c)
        nxt = np.zeros_like(c[0])
        for t in range(len(c) - 1, -1, -1):
            dc[t] = tr.dh[t] * o[t] * dpsi[t] + nxt
            nxt = dc[t] * f[t]
        expected = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                                   dc * i * (1 - g ** 2), tr.dh * psi * o * (1 - o)], axis=-1)
        np.testing.assert_allclose(tr.da, expected, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(tr.dc, dc, rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------- weight gradients: sums over every step

@pytest.mark.parametrize("placement", ["every", "last"])
def test_weight_gradients_sum_outer_products_over_every_step(placement):
    p = _problem(LSTM_CONFIGS[1], placement, seed=3, T=6, B=2, D=3, H=3)
    h, cache = p.run_forward()
    tr = examples.backward_trace(p.loss_of_hidden(h)[1], cache)
    h_prev = np.concatenate([p.h0[None], h[:-1]])
    per_step_Wh = [h_prev[t].T @ tr.da[t] for t in range(6)]
    per_step_Wx = [p.x[t].T @ tr.da[t] for t in range(6)]
    np.testing.assert_allclose(sum(per_step_Wh), tr.grads.params["W_h"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(sum(per_step_Wx), tr.grads.params["W_x"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(tr.da.sum(axis=(0, 1)), tr.grads.params["b"], rtol=1e-12, atol=1e-15)
    # the last step alone is not the gradient (the bug the chapter warns about)
    assert relative_error(per_step_Wh[-1], tr.grads.params["W_h"]) > 1e-2
    # and the sum is the true gradient: central differences through the shared machinery
    errors = check_gradients(p.loss, p.arrays, p.analytic(), floor=FLOOR)
    assert max(errors.values()) < TOL, errors


# ----------------------------------------------------------------------------- where the loss sits

def test_last_step_softmax_delta_comes_from_the_classifier_only():
    p = _problem(LSTM_CONFIGS[1], "last", seed=21, T=6, B=3, D=3, H=4)
    h, cache = p.run_forward()
    _, dh_direct, _ = p.loss_of_hidden(h)
    tr = examples.backward_trace(dh_direct, cache)
    assert not np.any(dh_direct[:-1])
    np.testing.assert_array_equal(tr.dh[:-1], tr.dh_recurrent[:-1])  # delta_t = r_t for t < T
    assert not np.any(tr.dh_recurrent[-1])
    # dL/dz = (softmax(z) - onehot) / B, written out independently of lstm_core.losses
    z = h[-1] @ p.readout["W"] + p.readout["b"]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    y_hat = e / e.sum(axis=1, keepdims=True)
    onehot = np.eye(z.shape[1])[p.labels]
    np.testing.assert_allclose(tr.dh[-1], (y_hat - onehot) / len(z) @ p.readout["W"].T, rtol=1e-12)


def test_every_step_loss_obeys_the_cumulative_recursion():
    """delta_t = dL(t)/dh_t with L(t) = l(t) + L(t+1) the loss from step t on, and
    r_t = dL(t+1)/dh_t; the losses before t do not see h_t."""
    p = _problem(LSTM_CONFIGS[1], "every", seed=8, T=5, B=2, D=3, H=3)
    h, cache = p.run_forward()
    T = h.shape[0]
    tr = examples.backward_trace(p.loss_of_hidden(h)[1], cache)

    def step_losses(hh):
        y = hh @ p.readout["W"] + p.readout["b"]
        return np.sum((y - p.targets) ** 2, axis=(1, 2)) / p.targets.size  # l_t; sum_t l_t = mse

    assert abs(step_losses(h).sum() - p.loss_of_hidden(h)[0]) < 1e-14
    for t in range(T):
        suffix = lambda hh, t=t: step_losses(hh)[t:].sum()  # noqa: E731
        later = lambda hh, t=t: step_losses(hh)[t + 1:].sum()  # noqa: E731
        earlier = lambda hh, t=t: step_losses(hh)[:t].sum()  # noqa: E731
        shape = h[t].shape
        assert relative_error(tr.dh[t], _fd_at(p, "h", t, shape, suffix), floor=FLOOR) < TOL
        assert relative_error(tr.dh_recurrent[t], _fd_at(p, "h", t, shape, later), floor=FLOOR) < TOL
        assert np.max(np.abs(_fd_at(p, "h", t, shape, earlier))) < 1e-12  # rounding only
        assert np.any(tr.dh_direct[t])


# ----------------------------------------------------------------------------- the two paths, variants

@pytest.mark.parametrize("placement", ["every", "last"])
@pytest.mark.parametrize("config", LSTM_CONFIGS[:4], ids=str)
def test_cell_path_is_the_gradient_with_frozen_gates(config, placement):
    p = _problem(config, placement, seed=4, T=6)
    h, cache = p.run_forward()
    dh_direct = p.loss_of_hidden(h)[1]
    path = examples.cell_path_gradient(dh_direct, cache)
    for t in range(6):
        numeric = _fd_at(p, "c", t, path[t].shape, frozen_gates=cache.gates)
        assert relative_error(path[t], numeric, floor=FLOOR) < TOL, t
    assert np.max(np.abs(path[0])) > 1e-6


@pytest.mark.parametrize("placement", ["every", "last"])
@pytest.mark.parametrize("config", LSTM_CONFIGS[:4], ids=str)
def test_hidden_path_is_the_gradient_with_the_cell_carry_cut(config, placement):
    p = _problem(config, placement, seed=6, T=6)
    h, cache = p.run_forward()
    dh_direct = p.loss_of_hidden(h)[1]
    path = examples.hidden_path_gradient(dh_direct, cache)
    carry = np.concatenate([p.c0[None], cache.c[:-1]])
    for t in range(6):
        numeric = _fd_at(p, "c", t, path[t].shape, frozen_carry=carry)
        assert relative_error(path[t], numeric, floor=FLOOR) < TOL, t
    assert np.max(np.abs(path[0])) > 1e-9 and np.max(np.abs(path[-2])) > 1e-4  # real values were compared
    # the two pure paths (which share the direct injection e_t) do not add up to the total:
    # paths that use both the cell state and the hidden states carry the rest
    tr = examples.backward_trace(dh_direct, cache)
    cell = examples.cell_path_gradient(dh_direct, cache)
    H = h.shape[-1]
    e = dh_direct * cache.gates[..., 3 * H:] * cache.options.psi.grad_from_output(cache.s)
    np.testing.assert_allclose(cell[-1] + path[-1] - e[-1], tr.dc[-1], rtol=1e-12)  # no room to mix yet
    assert relative_error(cell[:-2] + path[:-2] - e[:-2], tr.dc[:-2]) > 1e-3
    with pytest.raises(ValueError, match="standard cell"):
        q = _problem(LSTM_CONFIGS[4], placement, seed=6, T=3)
        examples.hidden_path_gradient(q.loss_of_hidden(q.run_forward()[0])[1], q.run_forward()[1])


def test_cell_path_with_a_last_step_loss_is_a_product_of_forget_gates():
    p = _problem(LSTM_CONFIGS[1], "last", seed=9, T=8, B=2, D=3, H=3)
    h, cache = p.run_forward()
    dh_direct = p.loss_of_hidden(h)[1]
    H = 3
    f = cache.gates[..., H:2 * H]
    o = cache.gates[..., 3 * H:]
    top = dh_direct[-1] * o[-1] * (1 - np.tanh(cache.c[-1]) ** 2)
    path = examples.cell_path_gradient(dh_direct, cache)
    for t in range(8):
        expected = top * np.prod(f[t + 1:], axis=0)
        np.testing.assert_allclose(path[t], expected, rtol=1e-12)


def _ratio_first_last(v):
    n = np.sqrt(np.sum(v ** 2, axis=(1, 2)))
    return n[0] / n[-1]


def test_forget_bias_keeps_the_cell_path_alive():
    """Same weights and inputs, only the forget bias changes: the cell path from the last step
    back to the first shrinks by about sigma(b_f)^(T-1), so a larger bias keeps more of it."""
    rng = np.random.default_rng(0)
    D, H, B, T = 4, 8, 4, 40
    params = lstm.init_params(D, H, rng=rng)
    x = rng.standard_normal((T, B, D))
    dh = np.zeros((T, B, H))
    dh[-1] = rng.standard_normal((B, H))
    ratios = []
    for fb in (0.0, 1.0, 4.0):
        _, cache = lstm.forward(params, x, forget_bias=fb)
        ratios.append(_ratio_first_last(examples.cell_path_gradient(dh, cache)))
        f = cache.gates[1:, :, H:2 * H]
        lo, hi = np.prod(f.min(axis=(1, 2))), np.prod(f.max(axis=(1, 2)))
        assert lo * 0.999 <= ratios[-1] <= hi * 1.001  # the product of forget gates bounds it
    assert ratios[0] < 1e-9 < ratios[1] < 1e-3 < 0.05 < ratios[2]


def test_constant_error_carousel():
    """f ~ 1 and i ~ 0: the gradient along the cell state arrives at c_1 unchanged."""
    rng = np.random.default_rng(1)
    D, H, B, T = 3, 4, 2, 50
    params = lstm.init_params(D, H, rng=rng)
    params["b"][lstm.gate_slice("i", H)] = -12.0  # input gate closed
    x = rng.standard_normal((T, B, D))
    dh = np.zeros((T, B, H))
    dh[-1] = rng.standard_normal((B, H))
    _, cache = lstm.forward(params, x, forget_bias=12.0)  # forget gate open
    path = examples.cell_path_gradient(dh, cache)
    np.testing.assert_allclose(path, np.broadcast_to(path[-1], path.shape), rtol=1e-3)
    tr = examples.backward_trace(dh, cache)
    # and the candidate / input gate error terms are (almost) switched off with i ~ 0
    assert np.max(np.abs(tr.da[..., lstm.gate_slice("g", H)])) < 1e-4 * np.max(np.abs(tr.dc))


def test_identity_output_removes_the_tanh_slope():
    """h = o * c: the path c_t -> h_t is delta_t * o_t exactly."""
    p = _problem(LSTM_CONFIGS[2], "every", seed=2, T=5)
    h, cache = p.run_forward()
    tr = examples.backward_trace(p.loss_of_hidden(h)[1], cache)
    H = h.shape[-1]
    o = cache.gates[..., 3 * H:4 * H]  # blocks i, f, g, o
    for t in range(h.shape[0]):
        # both sides from finite differences of perturbations inside the recurrence
        via_h, total_h = _fd_at(p, "c->h", t, h[t].shape), _fd_at(p, "h", t, h[t].shape)
        assert relative_error(via_h, total_h * o[t], floor=FLOOR) < TOL, t
        assert relative_error(tr.dc_via_h[t], via_h, floor=FLOOR) < TOL, t


# ----------------------------------------------------------------------------- LSTM vs RNN (the explorer's claim)

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lstm_cell_path_outlives_the_rnn_gradient(seed):
    """Matched size (D = 8, H = 32, B = 8), same inputs and loss on the last of T = 100 steps,
    weights uniform(+-1/sqrt(H)): the RNN's dL/dh_t has vanished by t = 0, the LSTM's
    cell-state path with forget bias 4 has not."""
    rng = np.random.default_rng(seed)
    D, H, B, T, C = 8, 32, 8, 100, 4
    p_lstm = lstm.init_params(D, H, rng=rng)
    p_rnn = rnn.init_params(D, H, rng=rng)
    x = rng.standard_normal((T, B, D))
    readout = losses.init_readout(H, C, rng=rng)
    labels = rng.integers(0, C, size=B)
    h_r, cache_r = rnn.forward(p_rnn, x)
    g_r = rnn.backward(losses.last_step_softmax_loss(h_r, readout, labels)[1], cache_r)
    rnn_ratio = np.linalg.norm(g_r.dh0) / np.linalg.norm(g_r.dh_steps[-1])
    h_l, cache_l = lstm.forward(p_lstm, x, forget_bias=4.0)
    dh = losses.last_step_softmax_loss(h_l, readout, labels)[1]
    path = examples.cell_path_gradient(dh, cache_l)
    lstm_ratio = _ratio_first_last(path)
    assert rnn_ratio < 1e-12
    assert lstm_ratio > 1e-2


@pytest.mark.parametrize("cell,peephole", [("standard", False), ("standard", True),
                                           ("coupled", "io"), ("no_forget", "o")])
@pytest.mark.parametrize("output_activation", ["tanh", "identity"])
def test_float32_in_float32_everywhere(cell, peephole, output_activation):
    """No silent upcast: every array forward and backward return is float32 for float32 input."""
    T, B, D, H = 7, 3, 4, 5
    rng = np.random.default_rng(5)
    params = lstm.init_params(D, H, rng=rng, dtype=np.float32, peephole=peephole)
    x, h0, c0, dh, dc_last = (rng.standard_normal(shape).astype(np.float32)
                              for shape in ((T, B, D), (B, H), (B, H), (T, B, H), (B, H)))
    h, cache = lstm.forward(params, x, h0, c0, cell=cell, output_activation=output_activation)
    g = lstm.backward(dh, cache, dc_last)
    arrays = {"h": h, **{f"cache.{k}": v for k, v in cache.arrays().items()},
              **{f"grads[{k!r}]": v for k, v in g.params.items()},
              **{k: getattr(g, k) for k in ("dx", "dh0", "dc0", "dh_steps", "dc_steps", "da_steps")}}
    assert len(g.params) == len(params)
    not_single = {k: v.dtype for k, v in arrays.items() if v.dtype != np.float32}
    assert not not_single, not_single


@pytest.mark.parametrize("T", [1, 9, 130])
def test_keep_steps_false_gives_the_same_gradients_without_the_per_step_arrays(T):
    B, D, H = 3, 4, 5
    rng = np.random.default_rng(T)
    params = lstm.init_params(D, H, rng=rng, peephole=True)
    x, h0, c0, dh, dc_last = (rng.standard_normal(shape)
                              for shape in ((T, B, D), (B, H), (B, H), (T, B, H), (B, H)))
    _, cache = lstm.forward(params, x, h0, c0)
    full = lstm.backward(dh, cache, dc_last)
    lean = lstm.backward(dh, cache, dc_last, keep_steps=False)
    for k in params:
        np.testing.assert_array_equal(lean.params[k], full.params[k])
    for k in ("dx", "dh0", "dc0"):
        np.testing.assert_array_equal(getattr(lean, k), getattr(full, k))
    assert lean.dh_steps is None and lean.dc_steps is None and lean.da_steps is None
    # the cache is left as it was: a second backward pass gives the same result
    np.testing.assert_array_equal(lstm.backward(dh, cache, dc_last).dx, full.dx)


# ----------------------------------------------------------------------------- da_steps on demand

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cell,peephole,output_activation", [
    ("standard", False, "tanh"), ("standard", True, "identity"), ("coupled", "io", "tanh"),
    ("no_forget", "o", "tanh")])
def test_da_steps_on_demand_are_the_bits_each_step_computed(cell, peephole, output_activation,
                                                            dtype):
    """The default backward keeps no da_t; its da_steps, computed when read, equal bit for bit
    the da_t that lstm.cell_backward returns when backward calls it at every step (and keeps).
    T = 150 with B = 8, H = 32 spans three blocks of steps."""
    T, B, D, H = 150, 8, 6, 32
    rng = np.random.default_rng(4)
    params = lstm.init_params(D, H, rng=rng, dtype=dtype, peephole=peephole)
    x, h0, c0, dh, dc_last = (rng.standard_normal(shape).astype(dtype)
                              for shape in ((T, B, D), (B, H), (B, H), (T, B, H), (B, H)))
    _, cache = lstm.forward(params, x, h0, c0, cell=cell, output_activation=output_activation)
    g = lstm.backward(dh, cache, dc_last)
    stepwise = lstm.backward(dh, cache, dc_last, cell_backward=lstm.cell_backward)
    assert isinstance(vars(g)["_da_steps"], OnDemand)        # not computed yet
    assert isinstance(vars(stepwise)["_da_steps"], np.ndarray)  # a custom step's, as returned
    for k in params:
        np.testing.assert_array_equal(g.params[k], stepwise.params[k])
    for k in ("dx", "dh0", "dc0", "dh_steps", "dc_steps", "da_steps"):
        np.testing.assert_array_equal(getattr(g, k), getattr(stepwise, k), err_msg=k)
    assert g.da_steps is g.da_steps and g.da_steps.dtype == dtype  # computed once, no upcast


@pytest.mark.parametrize("config", LSTM_CONFIGS, ids=str)
def test_da_steps_on_demand_match_finite_differences_of_the_pre_activations(config):
    """Every step's da_steps against a perturbation of that step's pre-activations inside the
    recurrence (lstm_core.perturbation's forward pass, written from the equations)."""
    p = _problem(config, "every")
    h, cache = p.run_forward()
    g = lstm.backward(p.loss_of_hidden(h)[1], cache)
    for t in range(h.shape[0]):
        numeric = _fd_at(p, "a", t, g.da_steps[t].shape)
        assert relative_error(g.da_steps[t], numeric, floor=FLOOR) < TOL, t


def test_da_steps_can_be_assigned_like_any_field():
    """errata overwrites fields of the result; an assigned da_steps replaces the on-demand one."""
    rng = np.random.default_rng(6)
    params = lstm.init_params(3, 4, rng=rng)
    _, cache = lstm.forward(params, rng.standard_normal((5, 2, 3)))
    g = lstm.backward(rng.standard_normal((5, 2, 4)), cache)
    replacement = np.zeros((5, 2, 16))
    g.da_steps = replacement
    assert g.da_steps is replacement
    assert dataclasses.replace(g).da_steps is replacement


def test_default_backward_holds_no_da_of_all_steps():
    """tracemalloc counts bytes deterministically. The default pass peaks above keep_steps=False
    by the two (T, B, H) arrays dh_steps, dc_steps it returns, less the one block of each that
    keep_steps=False reuses: not by the 4 TBH of a da of every step."""
    T, B, D, H = 400, 8, 8, 32
    rng = np.random.default_rng(7)
    params = lstm.init_params(D, H, rng=rng)
    x, dh = rng.standard_normal((T, B, D)), rng.standard_normal((T, B, H))
    _, cache = lstm.forward(params, x)
    g, default = peak_bytes(lambda: lstm.backward(dh, cache))
    _, lean = peak_bytes(lambda: lstm.backward(dh, cache, keep_steps=False))
    tbh = T * B * H * 8
    one_block_of_dh_and_dc = lstm_da_block_bytes(T, B, H) // 2  # each a quarter of da's width
    assert default - lean == pytest.approx(2 * tbh - one_block_of_dh_and_dc, rel=0.01)
    _, read = peak_bytes(lambda: g.da_steps)  # reading it makes the (T, B, 4H) array
    assert 4 * tbh <= read < 5 * tbh


def test_pre_activation_gradients_refuse_wrong_shapes():
    rng = np.random.default_rng(8)
    _, cache = lstm.forward(lstm.init_params(3, 4, rng=rng), rng.standard_normal((5, 2, 3)))
    with pytest.raises(ValueError, match=r"dc_steps must have shape \(T, B, H\) = \(5, 2, 4\)"):
        lstm.pre_activation_gradients(np.zeros((5, 2, 4)), np.zeros((4, 2, 4)), cache)
