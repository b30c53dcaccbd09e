"""``check_backward``: run the battery, compare with the references, localise and diagnose."""
from __future__ import annotations

from .battery import MODELS, REFERENCE_TOL, TOL, describe, problems
from .diagnosis import diagnose
from .localisation import localise
from .compare import block_errors
from .references import confirm_reference, reference
from .report import ArrayVerdict, Report
from .running import Failure, Runner, array_names, takes_dc_last
from .stack import check_stack_backward


def check_backward(fn, model="lstm", **options):
    """Grade ``fn``, a hand-written ``backward(dh, cache)`` of ``model`` ("rnn", "lstm", "gru").

    ``options`` are the model's forward options (``activation=`` for the RNN;
    ``forget_bias=``, ``output_activation=``, ``cell=`` for the LSTM;
    ``variant=`` for the GRU), and for the LSTM ``peephole=`` as
    :func:`lstm_core.lstm.init_params` takes it (the peephole vectors are then
    graded too); the forward passes use them and ``fn`` is graded
    against the package's backward of that forward pass. ``fn(dh, cache)``
    (or ``fn(dh, cache, dc_last)`` for an LSTM backward that takes it) returns
    what the package's backward returns: a :class:`lstm_core.Gradients`, or a
    dict with ``params``, ``dx``, ``dh0`` (and ``dc0``), or only the params dict.

    ``model="stack"`` grades a hand-written :func:`lstm_core.stack.backward` instead, with
    the options ``cell=``, ``num_layers=``, ``bidirectional=`` and the cell's own (see
    :mod:`lstm_core.grader.stack`); it returns a :class:`StackReport`, per layer and direction.

    Returns a :class:`Report`; whatever ``fn`` does (raise, return the wrong
    type, shapes, dtype, NaN) is reported in it, never raised.
    """
    if model == "stack":
        return check_stack_backward(fn, **options)
    if model not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS) + ['stack']}, got {model!r}")
    if not callable(fn):
        raise TypeError(f"fn must be a function like {model}.backward(dh, cache), "
                        f"got {type(fn).__name__}")
    with_dc_last = model == "lstm" and takes_dc_last(fn)
    main, probes = problems(model, options, with_dc_last)
    main[0].forward(model)  # bad options are the caller's error: let forward's message through
    name = getattr(fn, "__name__", type(fn).__name__)
    ref_err = confirm_reference(model, main[0])
    if not ref_err < REFERENCE_TOL:
        raise RuntimeError(f"lstm_core.{model}.backward disagrees with central differences "
                           f"(relative error {ref_err:.1e}): the reference itself is broken")
    battery = describe(model, main, ref_err)
    run = Runner(fn, model, with_dc_last)
    try:
        got = [run(p) for p in main]
    except Failure as f:
        return Report(name, model, options, {}, (), str(f), battery)
    refs = [reference(model, p) for p in main]
    names = array_names(model, main[0].params)
    arrays = {}
    for k in names:
        if got[0][k] is None:
            arrays[k] = ArrayVerdict(k, None)
            continue
        error = max(max(block_errors(model, k, g[k], r[k]).values()) for g, r in zip(got, refs))
        arrays[k] = ArrayVerdict(k, error <= TOL, error)
    try:
        arrays = localise(run, model, main, got, refs, arrays)
        findings = tuple(diagnose(run, model, main, probes, got, refs, arrays))
    except Failure as f:
        return Report(name, model, options, arrays, (), str(f), battery)
    return Report(name, model, options, arrays, findings, None, battery)
