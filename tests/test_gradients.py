"""Central-difference gradient checks of every parameter, input and initial
state of every model configuration, for both loss placements."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from lstm_core.gradcheck import check_gradients
from models import CONFIGS, Problem

TOL = 1e-6
# below this scale finite differences cannot confirm 1e-6 relative (see gradcheck.relative_error)
FLOOR = 1e-6


@pytest.mark.parametrize("placement", ["every", "last"])
@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_every_gradient_matches_finite_differences(config, placement):
    rng = np.random.default_rng(1234)
    p = Problem(config, T=5, B=3, D=4, H=3, rng=rng, placement=placement)
    errors = check_gradients(p.loss, p.arrays, p.analytic(), floor=FLOOR)
    assert max(errors.values()) < TOL, errors
    # the check is only meaningful if the gradients are not trivially zero
    nonzero = [k for k, v in p.analytic().items() if np.max(np.abs(v)) > 1e-8]
    assert len(nonzero) >= len(errors) - (1 if config.kwargs.get("cell") in ("no_forget", "coupled") else 0)


def _dh_steps_by_finite_differences(p, eps=1e-3):
    """dL/dh_t for each t, obtained by perturbing h_t *inside* the recurrence:
    run steps 0..t, nudge h_t, then continue the recurrence from the nudged state."""
    h, cache = p.run_forward()
    T, B, H = h.shape
    m, kw = p.config.module, p.config.kwargs
    out = np.zeros_like(h)
    for t in range(T):
        def loss_with(h_t):
            if p.config.has_cell:
                rest, _ = m.forward(p.params, p.x[t + 1:], h_t, cache.c[t], **kw) if t + 1 < T else (h[:0], None)
            else:
                rest, _ = m.forward(p.params, p.x[t + 1:], h_t, **kw) if t + 1 < T else (h[:0], None)
            full = np.concatenate([h[:t], h_t[None], rest], axis=0)
            return p.loss_of_hidden(full)[0]
        for b in range(B):
            for k in range(H):
                def f_at(delta):
                    ht = h[t].copy()
                    ht[b, k] += delta
                    return loss_with(ht)
                out[t, b, k] = (8 * (f_at(eps) - f_at(-eps)) - (f_at(2 * eps) - f_at(-2 * eps))) / (12 * eps)
    return out


def _min_abs_preactivation(p):
    h, cache = p.run_forward()
    h_prev = cache.h_prev
    a = p.x @ p.params["W_x"] + h_prev @ p.params["W_h"] + p.params["b"]
    return np.min(np.abs(a))


@given(
    config=st.sampled_from(CONFIGS),
    T=st.integers(1, 12), B=st.integers(1, 4), D=st.integers(1, 6), H=st.integers(1, 6),
    placement=st.sampled_from(["every", "last"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_gradients_and_dh_steps(config, T, B, D, H, placement, seed):
    rng = np.random.default_rng(seed)
    p = Problem(config, T, B, D, H, rng=rng, placement=placement)
    eps, floor = 1e-3, FLOOR
    if config.kwargs.get("activation") == "relu":
        # relu has a kink at 0: finite differences are only valid away from it,
        # so use a smaller step; rounding noise grows as 1/eps, and so does the floor
        eps, floor = 1e-5, FLOOR * 100
        assume(_min_abs_preactivation(p) > 1e-3)
    errors = check_gradients(p.loss, p.arrays, p.analytic(), eps=eps, floor=floor)
    assert max(errors.values()) < TOL, errors
    g, _, _ = p.backward()
    numeric = _dh_steps_by_finite_differences(p, eps)
    scale = max(np.max(np.abs(numeric)), floor)
    assert np.max(np.abs(g.dh_steps - numeric)) / scale < TOL


@pytest.mark.parametrize("config", [c for c in CONFIGS if c.has_cell], ids=str)
def test_lstm_dc_steps_match_finite_differences(config):
    """dc_steps[t] = dL/dc_t, with c_t perturbed inside the recurrence."""
    rng = np.random.default_rng(7)
    p = Problem(config, T=4, B=2, D=3, H=2, rng=rng)
    g, _, _ = p.backward()
    h, cache = p.run_forward()
    m, kw = p.config.module, p.config.kwargs
    eps = 1e-3
    for t in range(4):
        psi = np.tanh if kw.get("output_activation", "tanh") == "tanh" else (lambda v: v)
        o = cache.gates[t][:, 3 * 2:]
        numeric = np.zeros_like(cache.c[t])
        for idx in np.ndindex(numeric.shape):
            vals = []
            for delta in (eps, -eps, 2 * eps, -2 * eps):
                c_t = cache.c[t].copy()
                c_t[idx] += delta
                h_t = o * psi(c_t)  # h_t depends on c_t through the output gate
                rest = m.forward(p.params, p.x[t + 1:], h_t, c_t, **kw)[0] if t + 1 < 4 else h[:0]
                vals.append(p.loss_of_hidden(np.concatenate([h[:t], h_t[None], rest]))[0])
            numeric[idx] = (8 * (vals[0] - vals[1]) - (vals[2] - vals[3])) / (12 * eps)
        assert np.max(np.abs(g.dc_steps[t] - numeric)) <= TOL * max(np.max(np.abs(numeric)), FLOOR)


def test_dc_last_enters_the_cell_gradient():
    """A loss on the final cell state: L = sum(w * c_{T-1}); backward with dc_last = w."""
    from lstm_core import lstm
    rng = np.random.default_rng(3)
    params = lstm.init_params(3, 4, rng=rng)
    x = rng.standard_normal((5, 2, 3))
    h0, c0 = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    w = rng.standard_normal((2, 4))

    def loss():
        return float(np.sum(w * lstm.forward(params, x, h0, c0)[1].c[-1]))

    _, cache = lstm.forward(params, x, h0, c0)
    g = lstm.backward(np.zeros((5, 2, 4)), cache, dc_last=w)
    arrays = {**{f"p.{k}": v for k, v in params.items()}, "x": x, "h0": h0, "c0": c0}
    analytic = {**{f"p.{k}": v for k, v in g.params.items()}, "x": g.dx, "h0": g.dh0, "c0": g.dc0}
    errors = check_gradients(loss, arrays, analytic)
    assert max(errors.values()) < TOL, errors
