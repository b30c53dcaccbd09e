"""Grade a hand-written backward pass: which gradient is wrong, where, and which known bug it is.

``check_backward(fn, model="lstm", **options)`` runs ``fn`` (a function with the
signature of the model's ``backward(dh, cache)``) on a battery of small
problems built to expose bugs rather than to pass:

* non-zero initial states h0 (and c0), inputs and weights of normal scale;
* T = 5 with a loss at every step, T = 5 with a loss at the last step only,
  and a single step T = 1 (which isolates the cell from the recurrence);
* H = 3 (odd) and D, H, B all different, so a transposed or mis-sliced array
  has the wrong shape; the LSTM also with ``forget_bias=1`` and, if ``fn``
  takes a third argument, a non-zero ``dc_last``;
* float64, seeded.

The reference is the package's own ``backward`` for the same forward pass,
itself confirmed on the main problem by central differences
(:mod:`lstm_core.gradcheck`) before anything is compared with it.

Where a gradient is wrong the grader measures where:

gate blocks   each parameter gradient's last axis holds the blocks i, f, g, o
              (LSTM) or r, z, n (GRU); each block is compared on its own.
time steps    the per-step contribution of step t is measured through the
              public API alone: the forward pass restarted at step t from the
              states h_{t-1}, c_{t-1} it reached there reproduces h_t .. h_T
              exactly, so ``fn`` on that suffix returns the sum of the
              contributions of steps t .. T-1, and the difference of two
              neighbouring suffixes is the contribution of step t. The same
              suffixes give the gradient that ``fn`` carries into each step
              (its dh0 and dc0 there).

The diagnosis is read off these measurements (never from which function was
passed): a bias block equal to another block's gradient, a weight gradient
equal to its last step's contribution, the carried state gradients scaled by a
factor (0 = dropped) found by a least-squares fit of ``fn``'s own output, a
block scaled by a constant, the GRU's update-gate block negated (z and 1 - z
swapped), errors that vanish when the GRU's reset gate is held open (the reset
gate on the wrong side of the matmul), and a recurrent weight gradient paired
with the wrong hidden state. Names of the LSTM bugs are those of
:data:`lstm_core.errata.BUGS`; :data:`KNOWN_BUGS` lists them all.

Modules, by responsibility: :mod:`.battery` (the problems), :mod:`.running` (calling ``fn``
safely), :mod:`.references` (the package's backward, checked by central differences),
:mod:`.compare`, :mod:`.localisation` (steps, blocks, factor), :mod:`.diagnosis` (the pattern
recognisers), :mod:`.report` (the verdict and its rendering) and :mod:`.check`
(``check_backward``); :mod:`.stack` and :mod:`.stack_diagnosis` grade a stacked or
bidirectional network's backward pass (``model="stack"``).
"""
from __future__ import annotations

from .battery import BLOCKS, MODELS, REFERENCE_TOL, SEED, TOL
from .check import check_backward
from .diagnosis import KNOWN_BUGS
from .report import ArrayVerdict, Finding, Report, StackReport
from .stack_diagnosis import STACK_BUGS

__all__ = ["ArrayVerdict", "BLOCKS", "Finding", "KNOWN_BUGS", "MODELS", "REFERENCE_TOL", "Report",
           "SEED", "STACK_BUGS", "StackReport", "TOL", "check_backward"]
