"""lstm_core against PyTorch's nn.LSTM / nn.GRU in float64.

The first test reads committed fixtures (written by make_torch_fixtures.py)
and needs no torch. The second recomputes the same references live and runs
only where torch is importable.
"""
from pathlib import Path

import numpy as np
import pytest

from lstm_core import gru, interop, lstm, stack
from torch_reference import FIXTURE_CASES, fixture_name

SINGLE_CASES = [c for c in FIXTURE_CASES if len(c) == 6]
STACK_CASES = [c for c in FIXTURE_CASES if len(c) > 6]

FIXTURES = Path(__file__).with_name("fixtures")
TOL = 1e-10


def _max_rel(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def compare_with_reference(kind, ref):
    """Convert the torch weights, run lstm_core, return {quantity: relative difference}."""
    sd = {k[3:]: ref[k] for k in ref if k.startswith("sd.")}
    x, h0 = ref["x"], ref["h0"]
    T = x.shape[0]
    diffs = {}
    if kind == "lstm":
        params = interop.lstm_from_torch(sd)
        h, cache = lstm.forward(params, x, h0, ref["c0"])
        diffs["c_n"] = _max_rel(cache.c[-1], ref["c_n"])
    else:
        params = interop.gru_from_torch(sd)
        h, cache = gru.forward(params, x, h0, variant="torch")
    diffs["output"] = _max_rel(h, ref["output"])
    diffs["h_n"] = _max_rel(h[-1], ref["h_n"])
    # dL/dh_t from outside the recurrence: w_out everywhere, plus w_h on the final state
    dh = ref["w_out"].copy()
    dh[T - 1] += ref["w_h"]
    if kind == "lstm":
        g = lstm.backward(dh, cache, dc_last=ref["w_c"])
        diffs["grad_c0"] = _max_rel(g.dc0, ref["grad_c0"])
        # torch's two biases receive the same gradient, the sum over steps of the gate deltas
        diffs["grad.bias_ih_l0"] = _max_rel(g.params["b"], ref["grad.bias_ih_l0"])
        diffs["grad.bias_hh_l0"] = _max_rel(g.params["b"], ref["grad.bias_hh_l0"])
    else:
        g = gru.backward(dh, cache)
        diffs["grad.bias_ih_l0"] = _max_rel(g.params["b_x"], ref["grad.bias_ih_l0"])
        diffs["grad.bias_hh_l0"] = _max_rel(g.params["b_h"], ref["grad.bias_hh_l0"])
    diffs["grad_x"] = _max_rel(g.dx, ref["grad_x"])
    diffs["grad_h0"] = _max_rel(g.dh0, ref["grad_h0"])
    diffs["grad.weight_ih_l0"] = _max_rel(g.params["W_x"].T, ref["grad.weight_ih_l0"])
    diffs["grad.weight_hh_l0"] = _max_rel(g.params["W_h"].T, ref["grad.weight_hh_l0"])
    return diffs


@pytest.mark.parametrize("case", SINGLE_CASES, ids=lambda c: fixture_name(*c)[:-4])
def test_matches_committed_torch_fixture(case):
    with np.load(FIXTURES / fixture_name(*case)) as f:
        ref = dict(f)
    diffs = compare_with_reference(case[0], ref)
    assert max(diffs.values()) < TOL, diffs
    # the fixture really exercises the gradients: none of them is all zero
    assert all(np.max(np.abs(ref[k])) > 1e-3 for k in ref if k.startswith("grad"))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_matches_live_torch(kind):
    pytest.importorskip("torch", reason="PyTorch is not installed (it is optional; the fixture test covers parity)")
    from torch_reference import reference

    ref = reference(kind, T=7, B=2, D=5, H=3, seed=99)
    diffs = compare_with_reference(kind, ref)
    assert max(diffs.values()) < TOL, diffs


def compare_stack_with_reference(kind, ref):
    """The same for a multi-layer and/or bidirectional module, run by lstm_core.stack; its
    gradients go back through interop.*_to_torch and are compared name by name."""
    sd = {k[3:]: ref[k] for k in ref if k.startswith("sd.")}
    params = {"lstm": interop.lstm_from_torch, "gru": interop.gru_from_torch}[kind](sd)
    assert isinstance(params, stack.StackParams)
    c0 = ref["c0"] if kind == "lstm" else None
    y, cache = stack.forward(params, ref["x"], ref["h0"], c0)
    g = stack.backward(ref["w_out"], cache, dh_n=ref["w_h"],
                       dc_n=ref["w_c"] if kind == "lstm" else None)
    diffs = {"output": _max_rel(y, ref["output"]), "h_n": _max_rel(cache.h_n, ref["h_n"]),
             "grad_x": _max_rel(g.dx, ref["grad_x"]), "grad_h0": _max_rel(g.dh0, ref["grad_h0"])}
    if kind == "lstm":
        diffs["c_n"] = _max_rel(cache.c_n, ref["c_n"])
        diffs["grad_c0"] = _max_rel(g.dc0, ref["grad_c0"])
    torch_grads = {"lstm": interop.lstm_to_torch, "gru": interop.gru_to_torch}[kind](g)
    assert set(torch_grads) == set(sd)
    for name, ours in torch_grads.items():
        diffs[f"grad.{name}"] = _max_rel(ours, ref[f"grad.{name}"])
    return diffs


def _fixture(case):
    """A committed fixture (lstm_core/fixtures)."""
    from importlib import resources

    with resources.as_file(resources.files("lstm_core") / "fixtures" / fixture_name(*case)) as p:
        with np.load(p) as f:
            return dict(f)


@pytest.mark.parametrize("case", STACK_CASES, ids=lambda c: fixture_name(*c)[:-4])
def test_stack_matches_committed_torch_fixture(case):
    ref = _fixture(case)
    diffs = compare_stack_with_reference(case[0], ref)
    assert max(diffs.values()) < TOL, diffs
    # every layer and direction of the fixture carries gradient
    assert all(np.max(np.abs(ref[k])) > 1e-3 for k in ref if k.startswith("grad"))
    assert sum(k.startswith("grad.") for k in ref) == 2 * 2 * 4


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_stack_matches_live_torch(kind, num_layers, bidirectional):
    pytest.importorskip("torch", reason="PyTorch is not installed (it is optional; the fixture test covers parity)")
    from torch_reference import reference

    ref = reference(kind, T=7, B=2, D=5, H=3, seed=100 + num_layers, num_layers=num_layers,
                    bidirectional=bidirectional)
    if num_layers == 1 and not bidirectional:
        diffs = compare_with_reference(kind, ref)
    else:
        diffs = compare_stack_with_reference(kind, ref)
    assert max(diffs.values()) < TOL, diffs
