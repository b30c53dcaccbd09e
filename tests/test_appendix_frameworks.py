"""Appendix "Same numbers as the frameworks" (book/appendix_frameworks.md), checked without the
notebook. Reference numbers are PyTorch's (the fixtures shipped in lstm_core/fixtures) or come
from the other layouts' own equations (lstm_core.framework_cells, which the appendix shows);
tests/test_torch_parity.py covers the plain parity."""
from __future__ import annotations

import numpy as np
import pytest

from lstm_core import gru, interop, lstm, torch_parity
from lstm_core.framework_cells import ifog_step, run_steps, tf_basic_lstm_step, tf_checkpoint

LSTM_FIXTURES = torch_parity.names("lstm")
GRU_FIXTURES = torch_parity.names("gru")


def _load(name):
    ref = torch_parity.load(name)
    return ref, torch_parity.state_dict(ref)


def test_the_appendix_reads_two_lstm_and_two_gru_fixtures():
    assert len(LSTM_FIXTURES) == 2 and len(GRU_FIXTURES) == 2
    for name in LSTM_FIXTURES + GRU_FIXTURES:
        ref, _ = _load(name)
        assert str(ref["torch_version"]).strip()
        assert ref["label"].split()[0] == ref["kind"].upper()


def _gru_output(ref, sd):
    h, _ = gru.forward(interop.gru_from_torch(sd), ref["x"], ref["h0"], variant="torch")
    return h


def _lstm_output(ref, sd, forget_bias=0.0):
    h, _ = lstm.forward(interop.lstm_from_torch(sd), ref["x"], ref["h0"], ref["c0"], forget_bias=forget_bias)
    return h


@pytest.mark.parametrize("path", LSTM_FIXTURES, ids=lambda n: n[:-4])
def test_any_split_of_the_lstm_biases_is_the_same_model(path):
    ref, sd = _load(path)
    total = sd["bias_ih_l0"] + sd["bias_hh_l0"]
    u = np.random.default_rng(2024).standard_normal(total.shape)
    for b_ih, b_hh in [(total, 0 * total), (0 * total, total), (total + u, -u)]:
        h = _lstm_output(ref, {**sd, "bias_ih_l0": b_ih, "bias_hh_l0": b_hh})
        assert np.max(np.abs(h - ref["output"])) < 1e-14
    # PyTorch's own gradients of the two biases agree (they only appear as a sum)
    assert np.max(np.abs(ref["grad.bias_ih_l0"] - ref["grad.bias_hh_l0"])) < 1e-14


@pytest.mark.parametrize("path", GRU_FIXTURES, ids=lambda n: n[:-4])
def test_only_b_hn_cannot_be_moved_into_b_in(path):
    ref, sd = _load(path)
    H = ref["h0"].shape[1]
    change = {}
    for gate in ("r", "z", "n"):
        k = gru.gate_slice(gate, H)
        b_ih, b_hh = sd["bias_ih_l0"].copy(), sd["bias_hh_l0"].copy()
        b_ih[k] += b_hh[k]
        b_hh[k] = 0.0
        change[gate] = np.max(np.abs(_gru_output(ref, {**sd, "bias_ih_l0": b_ih, "bias_hh_l0": b_hh})
                                     - ref["output"]))
    assert change["r"] < 1e-14 and change["z"] < 1e-14
    assert change["n"] > 1e-2
    # PyTorch's own bias gradients: equal for the r and z blocks, different for n
    gi, gh = ref["grad.bias_ih_l0"], ref["grad.bias_hh_l0"]
    for gate in ("r", "z"):
        k = gru.gate_slice(gate, H)
        assert np.max(np.abs(gi[k] - gh[k])) < 1e-14
    k = gru.gate_slice("n", H)
    assert np.max(np.abs(gi[k] - gh[k])) > 0.1


def test_moving_b_hn_is_harmless_exactly_when_the_reset_gate_is_open():
    """The change is (1 - r) * b_hn inside the tanh: with r = 1 it vanishes."""
    ref, sd = _load(GRU_FIXTURES[0])
    H = ref["h0"].shape[1]
    r, n = gru.gate_slice("r", H), gru.gate_slice("n", H)
    for r_bias, small in ((40.0, True), (0.0, False)):
        b_ih = sd["bias_ih_l0"].copy()
        b_ih[r] = r_bias  # sigmoid(40 + O(1)) = 1 to double precision
        b_hh = sd["bias_hh_l0"].copy()
        b_hh[r] = 0.0
        base = {**sd, "bias_ih_l0": b_ih, "bias_hh_l0": b_hh}
        moved_ih, moved_hh = b_ih.copy(), b_hh.copy()
        moved_ih[n] += moved_hh[n]
        moved_hh[n] = 0.0
        diff = np.max(np.abs(_gru_output(ref, base)
                             - _gru_output(ref, {**sd, "bias_ih_l0": moved_ih, "bias_hh_l0": moved_hh})))
        assert (diff < 1e-12) if small else (diff > 1e-2)


def test_the_gate_permutations_shown_in_the_appendix():
    """Tag each of our columns with its index and see where the converters put it; the
    expected orders are spelled out from the layouts' gate letters."""
    ours = "ifgo"
    tag = np.arange(4.0)
    params = {"W_x": tag[None].copy(), "W_h": tag[None].copy(), "b": tag.copy()}
    tf_order = [ours.index({"j": "g"}.get(c, c)) for c in "ijfo"]
    ifog_order = [ours.index(c) for c in "ifog"]
    assert tf_order == [0, 2, 1, 3] and ifog_order == [0, 1, 3, 2]
    kernel, bias = interop.lstm_to_tf(params)
    assert bias.tolist() == tf_order and kernel[0].tolist() == tf_order and kernel[1].tolist() == tf_order
    W = interop.lstm_to_ifog(params)
    assert all(W[row].tolist() == ifog_order for row in range(3))
    assert interop.lstm_to_torch(params)["weight_ih_l0"][:, 0].tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("path", LSTM_FIXTURES, ids=lambda n: n[:-4])
def test_tf_and_ifog_layouts_reproduce_pytorch(path):
    ref, sd = _load(path)
    params = interop.lstm_from_torch(sd)
    D, H = params["W_x"].shape[0], params["W_h"].shape[0]
    kernel, bias = tf_checkpoint(params, 1.0)  # the checkpoint of a cell with forget_bias = 1
    # the f block (TF's third, columns 2H:3H) stores our bias minus 1, every other block ours
    assert np.array_equal(bias[2 * H:3 * H], params["b"][lstm.gate_slice("f", H)] - 1.0)
    W = interop.lstm_to_ifog(params)
    x, h0, c0 = ref["x"], ref["h0"], ref["c0"]
    h_tf = run_steps(lambda x_t, h, c: tf_basic_lstm_step(kernel, bias, x_t, h, c, 1.0), x, h0, c0)
    h_if = run_steps(lambda x_t, h, c: ifog_step(W, x_t, h, c), x, h0, c0)
    assert np.max(np.abs(h_tf - ref["output"])) < 1e-14
    assert np.max(np.abs(h_if - ref["output"])) < 1e-14
    back, _ = lstm.forward(interop.lstm_from_tf(kernel, bias, D), ref["x"], ref["h0"], ref["c0"], forget_bias=1.0)
    assert np.max(np.abs(back - ref["output"])) < 1e-14


@pytest.mark.parametrize("path", GRU_FIXTURES, ids=lambda n: n[:-4])
def test_pytorch_gru_weights_in_the_cho_variant_give_other_outputs(path):
    ref, sd = _load(path)
    h, _ = gru.forward(interop.gru_from_torch(sd), ref["x"], ref["h0"], variant="cho")
    assert np.max(np.abs(h - ref["output"])) > 1e-2
