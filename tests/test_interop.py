"""Layout converters: exact round trips, and the converted weights run the
same model when evaluated by independent reference steps written in the other
layouts' own conventions (lstm_core.framework_cells, which uses no lstm_core.lstm code)."""
import numpy as np
import pytest

from lstm_core import gru, interop, lstm, stack
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
    with pytest.raises(ValueError, match=r"must have key 'weight_hh_l0' \(num_layers=2, bidirectional=False\)"):
        interop.lstm_from_torch({"weight_ih_l0": np.ones((8, 3)), "weight_ih_l1": np.ones((8, 2))})
    with pytest.raises(ValueError, match=r"key 'weight_hr_l0' is not one of .*proj_size"):
        interop.lstm_from_torch({"weight_hr_l0": np.ones((2, 3))})
    with pytest.raises(ValueError, match="state_dict must have key 'weight_hh_l0'"):
        interop.lstm_from_torch({"weight_ih_l0": np.ones((8, 3))})
    with pytest.raises(ValueError, match=r"state_dict\['weight_ih_l0'\] must have shape \(4H, D\)"):
        interop.lstm_from_torch({"weight_ih_l0": np.ones((7, 3)), "weight_hh_l0": np.ones((4, 1)),
                                 "bias_ih_l0": np.ones(7), "bias_hh_l0": np.ones(7)})


def _torch_stack_state_dict(n_gates, num_layers, bidirectional, rng):
    """A random state_dict with PyTorch's names and shapes for a stacked module."""
    K = 2 if bidirectional else 1
    sd = {}
    for k in range(num_layers):
        for suffix in [""] + (["_reverse"] if bidirectional else []):
            d_in = D if k == 0 else K * H
            sd[f"weight_ih_l{k}{suffix}"] = rng.standard_normal((n_gates * H, d_in))
            sd[f"weight_hh_l{k}{suffix}"] = rng.standard_normal((n_gates * H, H))
            sd[f"bias_ih_l{k}{suffix}"] = rng.standard_normal(n_gates * H)
            sd[f"bias_hh_l{k}{suffix}"] = rng.standard_normal(n_gates * H)
    return sd


@pytest.mark.parametrize("num_layers, bidirectional", [(2, False), (1, True), (3, True)])
def test_stacked_state_dicts_round_trip(num_layers, bidirectional):
    rng = np.random.default_rng(15)
    sd = _torch_stack_state_dict(3, num_layers, bidirectional, rng)
    p = interop.gru_from_torch(sd)
    assert p.num_layers == num_layers and p.bidirectional == bidirectional and p.cell == "gru"
    np.testing.assert_array_equal(p.layers[-1][p.directions[-1]]["W_x"],
                                  sd[f"weight_ih_l{num_layers - 1}" + ("_reverse" if bidirectional else "")].T)
    assert _same(interop.gru_to_torch(p), sd)
    sd4 = _torch_stack_state_dict(4, num_layers, bidirectional, rng)
    back = interop.lstm_to_torch(interop.lstm_from_torch(sd4))
    assert set(back) == set(sd4)
    for name in sd4:
        if name.startswith("weight"):
            assert np.array_equal(back[name], sd4[name])
        elif name.startswith("bias_ih"):
            hh = name.replace("bias_ih", "bias_hh")
            assert np.array_equal(back[name] + back[hh], sd4[name] + sd4[hh])
    ours = stack.init_params("lstm", D, H, num_layers, bidirectional=bidirectional,
                             rng=np.random.default_rng(16))
    assert all(_same(a, b) for la, lb in zip(interop.lstm_from_torch(interop.lstm_to_torch(ours)).layers,
                                               ours.layers) for a, b in zip(la.values(), lb.values()))


def test_lstm_gradients_go_to_both_torch_biases():
    p = stack.init_params("lstm", D, H, 2, rng=np.random.default_rng(17))
    x = np.random.default_rng(18).standard_normal((T, B, D))
    y, cache = stack.forward(p, x)
    g = stack.backward(np.ones_like(y), cache)
    named = interop.lstm_to_torch(g)
    assert np.array_equal(named["bias_ih_l1"], g.params.layers[1]["forward"]["b"])
    assert np.array_equal(named["bias_hh_l1"], named["bias_ih_l1"])
    single = lstm.init_params(D, H, rng=np.random.default_rng(19))
    h, c1 = lstm.forward(single, x)
    g1 = lstm.backward(np.ones_like(h), c1)
    assert np.array_equal(interop.lstm_to_torch(g1)["bias_hh_l0"], g1.params["b"])


def test_stacks_torch_cannot_express_are_refused():
    rng = np.random.default_rng(20)
    with pytest.raises(ValueError, match=r"nn.GRU has no equivalent of the cell option\(s\) \{'variant': 'cho'\}"):
        interop.gru_to_torch(stack.init_params("gru", D, H, 2, rng=rng, variant="cho"))
    with pytest.raises(ValueError, match="expected lstm stack params, got a 'gru' stack"):
        interop.lstm_to_torch(stack.init_params("gru", D, H, 2, rng=rng))
    with pytest.raises(ValueError, match=r"layers\[0\]\['forward'\]: nn.LSTM has no peephole connections"):
        interop.lstm_to_torch(stack.init_params("lstm", D, H, 2, rng=rng, peephole=True))
    with pytest.raises(ValueError, match=r"^params: nn.LSTM has no peephole connections; got \['p_i', 'p_o'\]"):
        interop.lstm_to_torch(lstm.init_params(D, H, rng=rng, peephole="io"))
    sd = _torch_stack_state_dict(4, 2, True, rng)
    del sd["bias_hh_l1_reverse"]
    with pytest.raises(ValueError, match=r"must have key 'bias_hh_l1_reverse' \(num_layers=2, bidirectional=True\)"):
        interop.lstm_from_torch(sd)
    sd = _torch_stack_state_dict(4, 2, False, rng)
    sd["weight_ih_l1"] = sd["weight_ih_l1"][:, :-1]
    with pytest.raises(ValueError, match=r"state_dict\['weight_ih_l1'\] must have shape \(4H, K H\) = \(16, 4\)"):
        interop.lstm_from_torch(sd)
