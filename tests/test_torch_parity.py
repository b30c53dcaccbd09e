"""lstm_core against PyTorch's nn.LSTM / nn.GRU in float64.

The first test reads the shipped fixtures (lstm_core/fixtures, written by
make_torch_fixtures.py) and needs no torch. The second recomputes the same references live
and runs only where torch is importable. Both pair our numbers with torch's through
lstm_core.torch_parity.compare, the function the frameworks appendix shows.
"""
import numpy as np
import pytest

from lstm_core import fixtures, torch_parity
from torch_reference import FIXTURE_CASES, fixture_name

TOL = 1e-10


def test_every_fixture_case_is_shipped_with_the_package():
    assert sorted(fixture_name(*case) for case in FIXTURE_CASES) == fixtures.names("torch_*.npz")
    for name in fixtures.names("torch_*.npz"):
        assert str(fixtures.load(name)["torch_version"]).strip()


def test_a_missing_fixture_is_named_in_the_error():
    with pytest.raises(FileNotFoundError, match="torch_lstm_T5_B3_D4_H6_s0.npz"):
        fixtures.path("no_such_file.npz")


@pytest.mark.parametrize("case", FIXTURE_CASES, ids=lambda c: fixture_name(*c)[:-4])
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
