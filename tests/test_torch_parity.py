"""lstm_core against PyTorch's nn.LSTM / nn.GRU in float64.

The fixture tests read the fixtures shipped in lstm_core/fixtures (written by
make_torch_fixtures.py) and need no torch; the live tests recompute the same references and
run only where torch is importable. Single-layer modules are paired with torch's numbers
through lstm_core.torch_parity.compare, the function the frameworks appendix shows; stacked
and bidirectional ones through lstm_core.stack.
"""
import numpy as np
import pytest

from lstm_core import fixtures, interop, stack, torch_parity
from torch_reference import FIXTURE_CASES, fixture_name

SINGLE_CASES = [c for c in FIXTURE_CASES if len(c) == 6]
STACK_CASES = [c for c in FIXTURE_CASES if len(c) > 6]
TOL = 1e-10


def _max_rel(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def test_every_fixture_case_is_shipped_with_the_package():
    assert sorted(fixture_name(*case) for case in FIXTURE_CASES) == fixtures.names("torch_*.npz")
    for name in fixtures.names("torch_*.npz"):
        assert str(fixtures.load(name)["torch_version"]).strip()


def test_a_missing_fixture_is_named_in_the_error():
    with pytest.raises(FileNotFoundError, match="torch_lstm_T5_B3_D4_H6_s0.npz"):
        fixtures.path("no_such_file.npz")


@pytest.mark.parametrize("case", SINGLE_CASES, ids=lambda c: fixture_name(*c)[:-4])
def test_matches_committed_torch_fixture(case):
    ref = torch_parity.load(fixture_name(*case))
    pairs, _ = torch_parity.compare(ref)
    expected = {"output", "h_n", "grad_x", "grad_h0", "grad.weight_ih_l0", "grad.weight_hh_l0",
                "grad.bias_ih_l0", "grad.bias_hh_l0"} | ({"c_n", "grad_c0"} if case[0] == "lstm" else set())
    assert set(pairs) == expected
    diffs = torch_parity.max_relative_difference(pairs)
    assert max(diffs.values()) < TOL, diffs
    # the fixture really exercises the gradients: none of them is all zero
    assert all(np.max(np.abs(ref[k])) > 1e-3 for k in ref if k.startswith("grad"))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_matches_live_torch(kind):
    pytest.importorskip("torch", reason="PyTorch is not installed (it is optional; the fixture test covers parity)")
    from torch_reference import reference

    ref = reference(kind, T=7, B=2, D=5, H=3, seed=99)
    pairs, _ = torch_parity.compare(ref, kind=kind)
    diffs = torch_parity.max_relative_difference(pairs)
    assert max(diffs.values()) < TOL, diffs


def compare_stack_with_reference(kind, ref):
    """{quantity: relative difference} for a multi-layer and/or bidirectional module
    (lstm_core.torch_parity.compare_stack, which chapter 6 shows); every torch weight is
    paired with one of ours, name by name."""
    assert isinstance(interop.lstm_from_torch(torch_parity.state_dict(ref)) if kind == "lstm"
                      else interop.gru_from_torch(torch_parity.state_dict(ref)), stack.StackParams)
    pairs, _ = torch_parity.compare_stack(ref, kind)
    weights = {q[5:] for q in pairs if q.startswith("grad.")}
    assert weights == set(torch_parity.state_dict(ref))
    return torch_parity.max_relative_difference(pairs)


@pytest.mark.parametrize("case", STACK_CASES, ids=lambda c: fixture_name(*c)[:-4])
def test_stack_matches_committed_torch_fixture(case):
    ref = fixtures.load(fixture_name(*case))
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
        diffs = torch_parity.max_relative_difference(torch_parity.compare(ref, kind=kind)[0])
    else:
        diffs = compare_stack_with_reference(kind, ref)
    assert max(diffs.values()) < TOL, diffs
