"""Appendix "Same numbers as the frameworks" (book/appendix_frameworks.md), checked without the
notebook. Reference numbers are PyTorch's (the committed fixtures) or come from the other
layouts' own equations written here; tests/test_torch_parity.py covers the plain parity."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lstm_core import gru, interop, lstm
from lstm_core.activations import sigmoid

FIXTURES = Path(__file__).with_name("fixtures")
BOOK = Path(__file__).resolve().parents[1] / "book"
LSTM_FIXTURES = sorted(FIXTURES.glob("torch_lstm_*.npz"))
GRU_FIXTURES = sorted(FIXTURES.glob("torch_gru_*.npz"))


def _load(path):
    with np.load(path) as f:
        ref = dict(f)
    return ref, {k[3:]: v for k, v in ref.items() if k.startswith("sd.")}


def test_the_appendix_finds_the_fixtures_from_its_build_directory():
    # the book is executed with book/ as working directory
    found = sorted((BOOK / ".." / "tests" / "fixtures").glob("torch_*.npz"))
    assert [p.name for p in found] == sorted(p.name for p in FIXTURES.glob("torch_*.npz"))
    assert len(found) == 4 and len(LSTM_FIXTURES) == 2 and len(GRU_FIXTURES) == 2
    for p in found:
        ref, _ = _load(p)
        assert str(ref["torch_version"]).strip()


def _gru_output(ref, sd):
    h, _ = gru.forward(interop.gru_from_torch(sd), ref["x"], ref["h0"], variant="torch")
    return h


def _lstm_output(ref, sd, forget_bias=0.0):
    h, _ = lstm.forward(interop.lstm_from_torch(sd), ref["x"], ref["h0"], ref["c0"], forget_bias=forget_bias)
    return h


@pytest.mark.parametrize("path", LSTM_FIXTURES, ids=lambda p: p.stem)
def test_any_split_of_the_lstm_biases_is_the_same_model(path):
    ref, sd = _load(path)
    total = sd["bias_ih_l0"] + sd["bias_hh_l0"]
    u = np.random.default_rng(2024).standard_normal(total.shape)
    for b_ih, b_hh in [(total, 0 * total), (0 * total, total), (total + u, -u)]:
        h = _lstm_output(ref, {**sd, "bias_ih_l0": b_ih, "bias_hh_l0": b_hh})
        assert np.max(np.abs(h - ref["output"])) < 1e-14
    # PyTorch's own gradients of the two biases agree (they only appear as a sum)
    assert np.max(np.abs(ref["grad.bias_ih_l0"] - ref["grad.bias_hh_l0"])) < 1e-14


@pytest.mark.parametrize("path", GRU_FIXTURES, ids=lambda p: p.stem)
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


def _tf_step(kernel, bias, x, h, c, forget_bias):
    i, j, f, o = np.split(np.concatenate([x, h], axis=1) @ kernel + bias, 4, axis=1)
    c = c * sigmoid(f + forget_bias) + sigmoid(i) * np.tanh(j)
    return sigmoid(o) * np.tanh(c), c


def _ifog_step(W, x, h, c):
    i, f, o, g = np.split(np.concatenate([np.ones((x.shape[0], 1)), x, h], axis=1) @ W, 4, axis=1)
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


@pytest.mark.parametrize("path", LSTM_FIXTURES, ids=lambda p: p.stem)
def test_tf_and_ifog_layouts_reproduce_pytorch(path):
    ref, sd = _load(path)
    params = interop.lstm_from_torch(sd)
    D, H = params["W_x"].shape[0], params["W_h"].shape[0]
    kernel, bias = interop.lstm_to_tf(params)
    bias = bias.copy()
    bias[2 * H:3 * H] -= 1.0  # the checkpoint of a cell with forget_bias = 1
    W = interop.lstm_to_ifog(params)
    h_tf, c_tf = ref["h0"], ref["c0"]
    h_if, c_if = ref["h0"], ref["c0"]
    for t in range(ref["x"].shape[0]):
        h_tf, c_tf = _tf_step(kernel, bias, ref["x"][t], h_tf, c_tf, 1.0)
        h_if, c_if = _ifog_step(W, ref["x"][t], h_if, c_if)
        assert np.max(np.abs(h_tf - ref["output"][t])) < 1e-14
        assert np.max(np.abs(h_if - ref["output"][t])) < 1e-14
    back, _ = lstm.forward(interop.lstm_from_tf(kernel, bias, D), ref["x"], ref["h0"], ref["c0"], forget_bias=1.0)
    assert np.max(np.abs(back - ref["output"])) < 1e-14


@pytest.mark.parametrize("path", GRU_FIXTURES, ids=lambda p: p.stem)
def test_pytorch_gru_weights_in_the_cho_variant_give_other_outputs(path):
    ref, sd = _load(path)
    h, _ = gru.forward(interop.gru_from_torch(sd), ref["x"], ref["h0"], variant="cho")
    assert np.max(np.abs(h - ref["output"])) > 1e-2
