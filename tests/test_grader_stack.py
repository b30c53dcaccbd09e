"""check_backward(fn, model="stack", ...): a reader's backward pass of a stacked, bidirectional
network. The right one passes; each slip below (the classic ones of wiring directions and
layers together) is caught, localised to the layer and direction the backward pass first gets
wrong, and named.

The reader's backward pass is written here from chapter 6's equations (eq-deep-delta,
eq-deep-bidir-delta, eq-deep-bidir-dx) around the cell modules' own ``backward``, the way the
chapter's exercise asks; the grader sees only the function, and its references are
``stack.backward`` confirmed by central differences and by PyTorch's recorded gradients.
"""
from __future__ import annotations

import numpy as np
import pytest

from lstm_core import gru, lstm, rnn, stack
from lstm_core.grader import STACK_BUGS, StackReport, check_backward

CELLS = {"rnn": rnn, "lstm": lstm, "gru": gru}


def reader_stack(slip=None):
    """A hand-written stack.backward with one optional slip."""
    def backward(dy, cache, dh_n=None, dc_n=None):
        p = cache.params
        cell, is_lstm = CELLS[p.cell], p.cell == "lstm"
        L, K, H = p.num_layers, len(p.directions), p.hidden_size
        B = dy.shape[1]
        layers = [None] * L
        dh0 = np.zeros((L * K, B, H))
        dc0 = np.zeros((L * K, B, H)) if is_lstm else None
        upstream = dy                                  # dL/dy of the layer being processed
        for k in reversed(range(L)):
            layers[k], below = {}, 0.0
            for j, d in enumerate(p.directions):
                row = k * K + j
                half = (K - 1 - j) if slip == "swap_halves" else j
                mine = upstream[..., half * H:(half + 1) * H]
                if d == "reverse" and slip != "dy_not_flipped":
                    mine = mine[::-1]                  # into the reverse cell's own time order
                mine = mine.copy()
                if dh_n is not None:
                    mine[-1] += dh_n[row]              # h_n is the last step of the cell's run
                extra = {"dc_last": None if dc_n is None else dc_n[row]} if is_lstm else {}
                g = cell.backward(mine, cache.layer_caches[k][d], **extra)
                layers[k][d] = g.params
                out_row = j * L + k if slip == "state_rows" else row
                dh0[out_row] = g.dh0
                if is_lstm:
                    dc0[out_row] = g.dc0
                dx = g.dx[::-1] if d == "reverse" and slip != "dx_not_flipped" else g.dx
                if d == "reverse" and (slip == "drop_reverse_dx" or
                                       slip == "drop_reverse_dx_between_layers" and k > 0):
                    continue
                below = dx if slip == "overwrite" else below + dx
            if slip != "same_dy_everywhere":
                upstream = below                       # each layer's dx feeds the one below
            if slip == "no_hand_off":
                upstream = below = np.zeros_like(below)
        return {"params": layers, "dx": below, "dh0": dh0, "dc0": dc0}
    backward.__name__ = f"stack_backward_{slip}"
    return backward


def layer_names(report, layer):
    return {k for k in report.arrays if k.startswith(f"l{layer}.")}


# ----------------------------------------------------------------- right passes pass

@pytest.mark.parametrize("cell, options", [
    ("lstm", {}), ("gru", {}), ("rnn", {}), ("lstm", {"peephole": True}),
    ("lstm", {"forget_bias": 1.0}), ("gru", {"variant": "cho"}),
])
def test_package_stack_backward_passes(cell, options):
    r = check_backward(stack.backward, "stack", cell=cell, **options)
    assert isinstance(r, StackReport) and r.ok, str(r)
    assert r.unchecked == set() and r.first_wrong is None
    # per layer and direction: the cell's params and dh0 (and dc0), 2 x 2 of them, and dx
    per_unit = {"lstm": 5, "gru": 5, "rnn": 4}[cell] + (3 if options.get("peephole") else 0)
    assert len(r.arrays) == 4 * per_unit + 1


def test_the_pytorch_fixture_is_one_of_the_problems_when_it_fits():
    r = check_backward(stack.backward, "stack", cell="gru")
    assert "PyTorch's nn.GRU fixture" in r.battery and "with PyTorch's gradients" in r.battery
    one_way = check_backward(stack.backward, "stack", cell="gru", bidirectional=False)
    assert "PyTorch" not in one_way.battery and one_way.ok


@pytest.mark.parametrize("cell, num_layers, bidirectional", [
    ("lstm", 2, True), ("gru", 3, True), ("rnn", 2, False), ("lstm", 1, True),
])
def test_hand_written_stack_backward_without_slip_passes(cell, num_layers, bidirectional):
    r = check_backward(reader_stack(), "stack", cell=cell, num_layers=num_layers,
                       bidirectional=bidirectional)
    assert r.ok, str(r)


# ----------------------------------------------------------------- slips: caught, localised, named

@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_forgetting_the_reverse_direction_in_the_layer_below(cell):
    r = check_backward(reader_stack("drop_reverse_dx"), "stack", cell=cell)
    assert r.bugs == ("reverse_dx_dropped",), str(r)
    assert r.wrong == layer_names(r, 0) | {"dx"}     # the top layer is right, all below wrong
    assert r.first_wrong == "layer 0, forward"
    assert "1 x the forward direction's dx + 0 x the reverse one's flipped back" in str(r)


def test_overwriting_instead_of_summing_both_directions():
    r = check_backward(reader_stack("overwrite"), "stack", cell="lstm")
    assert r.bugs == ("directions_not_summed",), str(r)
    assert r.wrong == layer_names(r, 0) | {"dx"} and r.first_wrong == "layer 0, forward"


def test_reverse_dx_handed_down_unflipped():
    r = check_backward(reader_stack("dx_not_flipped"), "stack", cell="gru")
    assert r.bugs == ("reverse_dx_not_flipped",), str(r)


def test_three_layers_the_hand_off_is_read_below_the_top():
    r = check_backward(reader_stack("drop_reverse_dx"), "stack", cell="rnn", num_layers=3)
    assert r.bugs == ("reverse_dx_dropped",), str(r)
    assert r.wrong == layer_names(r, 1) | layer_names(r, 0) | {"dx"}
    assert "only dx is wrong" in str(r)


def test_reverse_cell_fed_dy_in_the_wrong_time_order():
    r = check_backward(reader_stack("dy_not_flipped"), "stack", cell="lstm")
    assert r.bugs == ("reverse_dy_not_flipped",), str(r)
    assert not any(k.startswith("l1.forward.") for k in r.wrong)   # the forward cell is right
    assert r.first_wrong == "layer 1, reverse"


def test_directions_swapped():
    r = check_backward(reader_stack("swap_halves"), "stack", cell="gru")
    assert r.bugs == ("directions_swapped",), str(r)
    assert r.first_wrong == "layer 1, forward"


def test_state_gradient_rows_in_the_wrong_order():
    r = check_backward(reader_stack("state_rows"), "stack", cell="lstm")
    # rows l K + k of (layer, direction) (0, f), (1, r) coincide with j L + k; the others swap
    assert r.wrong == {"l1.forward.dh0", "l1.forward.dc0", "l0.reverse.dh0", "l0.reverse.dc0"}
    assert r.bugs == ("state_rows_order",), str(r)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_a_stack_that_hands_nothing_down(bidirectional):
    r = check_backward(reader_stack("no_hand_off"), "stack", cell="rnn",
                       bidirectional=bidirectional)
    assert r.wrong == layer_names(r, 0) | {"dx"} and r.bugs == (), str(r)
    assert ("fitted factor 0" if not bidirectional else "it is 0 x the forward") in str(r)


def test_a_slip_between_layers_only_is_read_from_the_layer_below_the_top():
    r = check_backward(reader_stack("drop_reverse_dx_between_layers"), "stack", cell="gru")
    assert r.bugs == ("reverse_dx_dropped",), str(r)
    assert "what layer 1 hands down to layer 0 is wrong" in str(r)


def test_every_layer_fed_the_top_layer_s_dy():
    r = check_backward(reader_stack("same_dy_everywhere"), "stack", cell="lstm")
    assert r.wrong == layer_names(r, 0) | {"dx"} and r.first_wrong == "layer 0, forward"
    assert "the bottom layer alone is right, but what layer 1 hands down to layer 0" in str(r)
    assert "not a combination" in str(r) and r.bugs == ()


def test_stack_bug_names_are_documented_and_every_one_is_exercised():
    assert set(STACK_BUGS) == {"reverse_dx_dropped", "directions_not_summed",
                               "reverse_dx_not_flipped", "reverse_dy_not_flipped",
                               "directions_swapped", "state_rows_order"}


# ----------------------------------------------------------------- what the reader sees

def test_a_backward_without_dh_n_is_graded_on_the_output_losses_only():
    r = check_backward(lambda dy, cache: stack.backward(dy, cache), "stack", cell="lstm")
    assert r.ok and "final states" not in r.battery and "PyTorch" not in r.battery


@pytest.mark.parametrize("fn, words", [
    (lambda dy, cache: None, "returned NoneType"),
    (lambda dy, cache: {"params": [{}], "dx": None}, "not 2 layers of"),
    (lambda dy, cache: {"params": stack.backward(dy, cache).params,
                        "dx": stack.backward(dy, cache).dx[:, :1]}, "dx with shape (5, 1, 4)"),
    (lambda dy, cache: 1 / 0, "raised ZeroDivisionError"),
])
def test_misbehaving_stack_functions_are_reported_not_raised(fn, words):
    r = check_backward(fn, "stack", cell="gru")
    assert not r.ok and words in r.failure, r.failure
    assert "Could not grade" in r._repr_html_()


def test_stack_report_renders_a_row_per_layer_and_direction():
    r = check_backward(reader_stack("drop_reverse_dx"), "stack", cell="lstm")
    md = r._repr_markdown_()
    assert "| layer 1, forward | ok |  |" in md
    assert "| layer 0, reverse | wrong | W_x, W_h, b, dh0, dc0 |" in md
    assert "| input | wrong | dx |" in md
    text = str(r)
    assert "\n" not in text and len(text) < 1200
    with pytest.raises(ValueError, match="cell must be one of"):
        check_backward(stack.backward, "stack", cell="transformer")
