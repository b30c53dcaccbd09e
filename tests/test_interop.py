"""Layout converters: exact round trips, and the converted weights run the
same model when evaluated by independent reference steps written in the other
layouts' own conventions (lstm_core.framework_cells, which uses no lstm_core.lstm code)."""
import numpy as np
import pytest

from lstm_core import gru, interop, lstm
from lstm_core.framework_cells import ifog_step, tf_basic_lstm_step

D, H, T, B = 3, 4, 6, 2


@pytest.fixture
def lstm_params():
    return lstm.init_params(D, H, rng=np.random.default_rng(11))


@pytest.fixture
def data():
    rng = np.random.default_rng(12)
    return rng.standard_normal((T, B, D)), 0.5 * rng.standard_normal((B, H)), 0.5 * rng.standard_normal((B, H))


def _same(a, b):
    return set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)


def test_round_trips_are_exact(lstm_params):
    assert _same(interop.lstm_from_torch(interop.lstm_to_torch(lstm_params)), lstm_params)
    kernel, bias = interop.lstm_to_tf(lstm_params)
    assert _same(interop.lstm_from_tf(kernel, bias, D), lstm_params)
    assert _same(interop.lstm_from_ifog(interop.lstm_to_ifog(lstm_params), D), lstm_params)
    gp = gru.init_params(D, H, rng=np.random.default_rng(13))
    assert _same(interop.gru_from_torch(interop.gru_to_torch(gp)), gp)


def test_torch_to_ours_to_torch_keeps_the_gru_exactly_and_the_lstm_bias_sum():
    rng = np.random.default_rng(14)
    sd = {"weight_ih_l0": rng.standard_normal((4 * H, D)), "weight_hh_l0": rng.standard_normal((4 * H, H)),
          "bias_ih_l0": rng.standard_normal(4 * H), "bias_hh_l0": rng.standard_normal(4 * H)}
    back = interop.lstm_to_torch(interop.lstm_from_torch(sd))
    assert np.array_equal(back["weight_ih_l0"], sd["weight_ih_l0"])
    assert np.array_equal(back["weight_hh_l0"], sd["weight_hh_l0"])
    assert np.array_equal(back["bias_ih_l0"] + back["bias_hh_l0"], sd["bias_ih_l0"] + sd["bias_hh_l0"])
    sd3 = {k: v[: 3 * H] for k, v in sd.items()}
    assert _same(interop.gru_to_torch(interop.gru_from_torch(sd3)), sd3)


@pytest.mark.parametrize("forget_bias", [0.0, 1.0])
def test_tf_layout_runs_the_same_model(lstm_params, data, forget_bias):
    x, h0, c0 = data
    ours, _ = lstm.forward(lstm_params, x, h0, c0, forget_bias=forget_bias)
    kernel, bias = interop.lstm_to_tf(lstm_params)
    h, c = h0, c0
    for t in range(T):
        h, c = tf_basic_lstm_step(kernel, bias, x[t], h, c, forget_bias)
        assert np.max(np.abs(h - ours[t])) < 1e-13


def test_ifog_layout_runs_the_same_model(lstm_params, data):
    x, h0, c0 = data
    ours, _ = lstm.forward(lstm_params, x, h0, c0)
    W = interop.lstm_to_ifog(lstm_params)
    h, c = h0, c0
    for t in range(T):
        h, c = ifog_step(W, x[t], h, c)
        assert np.max(np.abs(h - ours[t])) < 1e-13


def test_bad_layouts_are_named():
    with pytest.raises(ValueError, match=r"kernel must have shape \(D \+ H, 4H\) with D = 3"):
        interop.lstm_from_tf(np.ones((6, 8)), np.ones(8), 3)
    with pytest.raises(ValueError, match=r"WLSTM must have shape \(1 \+ D \+ H, 4H\)"):
        interop.lstm_from_ifog(np.ones((5, 8)), 3)
    with pytest.raises(ValueError, match=r"unexpected keys \['weight_ih_l1'\]"):
        interop.lstm_from_torch({"weight_ih_l0": np.ones((8, 3)), "weight_ih_l1": np.ones((8, 2))})
    with pytest.raises(ValueError, match="state_dict must have key 'weight_hh_l0'"):
        interop.lstm_from_torch({"weight_ih_l0": np.ones((8, 3))})
    with pytest.raises(ValueError, match=r"state_dict\['weight_ih_l0'\] must have shape \(4H, D\)"):
        interop.lstm_from_torch({"weight_ih_l0": np.ones((7, 3)), "weight_hh_l0": np.ones((4, 1))})
