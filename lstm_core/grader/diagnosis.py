"""Pattern recognisers: which known bug (if any) the measured errors look like.

Each recogniser reads the numbers ``fn`` returns, on the battery and on probes built for it,
never which function was passed.
"""
from __future__ import annotations

import numpy as np

from .. import errata, gru
from .battery import BLOCKS, MODELS, TOL, H, T, Problem
from .compare import block_errors, fit, rel
from .references import reference
from .report import Finding, factor_words, join

KNOWN_BUGS = {
    **errata.BUGS,
    "update_gate_swapped": "GRU: z and 1 - z swapped (h_t = z n_t + (1 - z) h_{t-1} "
                           "differentiated)",
    "reset_wrong_side": "GRU: the reset gate on the wrong side of the recurrent matmul",
    "h_prev_off_by_one": "dL/dW_h pairs the step's delta with h_t instead of h_{t-1}",
    "h0_ignored": "dL/dW_h uses zeros instead of h_0 at the first step",
}



def diagnose(run, model, main, probes, got, refs, arrays):
    wrong = {k for k, v in arrays.items() if v.ok is False}
    if not wrong:
        return
    one_got, one_ref = got[2], refs[2]
    one_wrong = {k for k in wrong if one_got[k] is not None
                 and max(block_errors(model, k, one_got[k], one_ref[k]).values()) > TOL}
    param_names = tuple(main[0].params)
    bias_names = [k for k in param_names if k.startswith("b")]

    # (a) a bias block that is another block's gradient
    if len(wrong) == 1 and (k := next(iter(wrong))) in bias_names and len(arrays[k].blocks) == 1:
        blk = arrays[k].blocks[0]
        sl = MODELS[model].gate_slice
        for other in BLOCKS[model]:
            if other != blk and all(rel(g[k][sl(blk, H)], r[k][sl(other, H)]) < TOL
                                    for g, r in zip(got, refs)):
                yield Finding("bias_from_other_gate",
                              f"Diagnosis: the gradient of {k}'s block {blk} equals the right "
                              f"gradient of block {other}: a bias gradient summed from another "
                              f"gate's delta, the errata appendix's 'bias_from_other_gate' "
                              f"({errata.BUGS['bias_from_other_gate']}).")
                return

    # (b) a weight from the last step only: fn's gradient equals the last step's contribution
    last_only = []
    for k in sorted(wrong & set(param_names)):
        if k in one_wrong:
            continue
        ok_all = True
        for p, g in zip(main[:2], got[:2]):
            last = reference(model, p.suffix(model, T - 1))[k]
            ok_all &= rel(g[k], last) < TOL
        if ok_all:
            last_only.append(k)
    for k in last_only:
        bug = "input_weights_last_step" if k == "W_x" else None
        name = "the errata appendix's 'input_weights_last_step' " \
               f"({errata.BUGS['input_weights_last_step']})" if bug else \
            "the slip of the errata appendix's 'input_weights_last_step', here in " + k
        yield Finding(bug, f"Diagnosis: {k} equals the contribution of the last step alone; "
                           f"the per-step terms x_t^T da_t (or h_(t-1)^T da_t) are assigned, "
                           f"not summed over t: {name}.")
    if last_only and wrong <= set(last_only):
        return

    # (c), (c'): the step is right on its own but the carried gradients are scaled or dropped
    if not one_wrong and wrong - set(last_only):
        yield from _carry_findings(run, model, main[0])
        return

    # cell-level findings (the single step is already wrong)
    found = list(_gru_findings(run, model, probes, one_got, one_ref, arrays)) if model == "gru" \
        else []
    found += _recurrent_weight_findings(run, model, probes["rank_one"], one_wrong)
    yield from found or _block_findings(arrays, param_names)


def _block_findings(arrays, param_names):
    """Where the error starts: the same blocks (and factor) in every wrong parameter gradient."""
    wrong = [arrays[k] for k in param_names if arrays[k].ok is False]
    if not wrong or not wrong[0].blocks or any(v.blocks != wrong[0].blocks for v in wrong):
        return
    blocks, factor = wrong[0].blocks, wrong[0].factor
    same_factor = factor is not None and all(
        v.factor is not None and abs(v.factor - factor) <= 1e-6 * max(1, abs(factor))
        for v in wrong)
    b, plural = ", ".join(blocks), len(blocks) > 1
    how = f" ({factor_words(factor)} in each)" if same_factor else ""
    yield Finding(None, f"Diagnosis: at the last step {join(v.name for v in wrong)} "
                        f"{'is' if len(wrong) == 1 else 'are'} wrong "
                        f"only in block{'s' if plural else ''} {b}{how}: the error starts in the "
                        f"delta of gate{'s' if plural else ''} {b}, and the other arrays and the "
                        f"earlier steps inherit it.")


def _carry_findings(run, model, every):
    """Fit fn's output on steps T-2..T-1 as the right step T-2 fed with scaled carries.

    fn is right on one step, so what it returns for the last step alone is the
    right carry (dL/dh_(T-2), and dL/dc_(T-2) for the LSTM). Its output for the
    two steps, restricted to step T-2, is compared with the reference's step T-2
    fed with alpha times the hidden carry and beta times the cell carry; alpha
    and beta come from a least-squares fit, and a small residual says the model
    explains fn's numbers.
    """
    q = every.suffix(model, T - 2)       # two steps
    q1 = every.suffix(model, T - 1)      # the last step alone: fn is right on it
    g2, g1 = run(q), run(q1)
    carry_h = _carried(g1, model, q1, "dh0")
    carry_c = _carried(g1, model, q1, "dc0") if model == "lstm" else None
    states = [k for k in ("dx", "dh0", "dc0") if g2.get(k) is not None]
    keys = states or [k for k in g2 if not k.startswith("d")]

    def step(dh_t, dc_next):
        """The reference on step T-2 alone, given the total dL/dh and the carried dL/dc."""
        return reference(model, Problem("step T-2", q.params, q.x[:1], q.h0, q.c0,
                                        dh_t[None], dc_next, q.options))

    def obs(d, later=None):
        """fn's (or the reference's) numbers that belong to step T-2."""
        return np.concatenate([np.ravel(d[k][:1] if k == "dx" else
                                        d[k] - later[k] if later is not None else d[k])
                               for k in keys])

    zero = np.zeros_like(q.h0) if model == "lstm" else None
    base = obs(step(q.dh[0], zero))
    cols = [obs(step(q.dh[0] + carry_h, zero)) - base]
    if model == "lstm":
        cols.append(obs(step(q.dh[0], carry_c)) - base)
    y = obs(g2, None if states else g1)
    coef, resid = fit(y, base, cols)
    if resid > 1e-6:
        yield Finding(None, "Diagnosis: each step is right on its own (T = 1) but the steps are "
                            "not chained right: look at what you carry from step t+1 to step t.")
        return
    alpha = float(coef[0])
    beta = float(coef[1]) if model == "lstm" else 1.0
    carries = (
        (beta, "cell", "c", "cell_grad_overwritten", "assigned from the path through h_t only"),
        (alpha, "hidden", "h", "no_recurrent_dh", "only what the loss sends to h_t"),
    )
    for k, state, letter, bug, words in carries:
        if abs(k) < 1e-6:
            yield Finding(bug, f"Diagnosis: the {state}-state gradient carried back from step "
                               f"t+1 never reaches step t (fitted factor 0): dL/d{letter}_t is "
                               f"{words}, the errata appendix's '{bug}' ({errata.BUGS[bug]}).")
        elif abs(k - 1) > 1e-6:
            yield Finding(None, f"Diagnosis: the {state}-state gradient carried back from step "
                                f"t+1 arrives multiplied by {k:.3g} (it should arrive "
                                f"unchanged).")
    if abs(alpha - 1) <= 1e-6 and abs(beta - 1) <= 1e-6:
        yield Finding(None, "Diagnosis: each step is right and the carried gradients arrive "
                            "unchanged; the error is in how the steps' terms are summed.")


def _carried(g1, model, q1, key):
    """What the last step carries into step T-2: from fn if it returned it, else the reference."""
    return g1[key] if g1.get(key) is not None else reference(model, q1)[key]


def _gru_findings(run, model, probes, one_got, one_ref, arrays):
    sl = gru.gate_slice
    weights = ("W_x", "W_h", "b_x", "b_h")
    z, n = sl("z", H), sl("n", H)
    negated = all(rel(one_got[k][..., z], -one_ref[k][..., z]) < TOL for k in weights)
    if negated:
        n_wrong = any(rel(one_got[k][..., n], one_ref[k][..., n]) > TOL for k in weights)
        if n_wrong:
            yield Finding("update_gate_swapped",
                          "Diagnosis: the update-gate block z of every weight is exactly the "
                          "negated right value and the candidate block n is wrong too: z and "
                          "1 - z are swapped (this backward differentiates h_t = z n_t + "
                          "(1 - z) h_(t-1); the forward uses h_t = (1 - z) n_t + z h_(t-1)).")
        else:
            yield Finding(None, "Diagnosis: the update-gate block z of every weight has its sign "
                                "flipped (h_(t-1) - n_t written as n_t - h_(t-1)).")
        return
    z_right = all(rel(one_got[k][..., z], one_ref[k][..., z]) < TOL for k in weights)
    n_input_right = all(rel(one_got[k][..., n], one_ref[k][..., n]) < TOL for k in ("W_x", "b_x"))
    if z_right and n_input_right:
        p = probes["reset_open"]
        g, r = run(p), reference(model, p)
        if all(rel(g[k], r[k]) < TOL for k in g if g[k] is not None):
            yield Finding("reset_wrong_side",
                          "Diagnosis: only the reset gate's block and the recurrent candidate "
                          "term are wrong, and everything is right once the reset gate is held "
                          "open (r = 1): the reset gate is applied on the wrong side of the "
                          f"recurrent matmul (variant {p.options.get('variant', 'torch')!r} "
                          "multiplies " + ("h_(t-1) W_hn + b_hn by r_t" if
                                           p.options.get("variant", "torch") == "torch" else
                                           "h_(t-1) by r_t before W_hn") + ").")


def _recurrent_weight_findings(run, model, p, one_wrong):
    """W_h alone wrong: test which state fn pairs with the step's delta (one step, B = 1)."""
    if one_wrong != {"W_h"}:
        return
    g, r = run(p), reference(model, p)
    h1, _ = p.forward(model)
    delta = r["b_h"] if model == "gru" else r["b"]
    blocks = ["r", "z"] if model == "gru" and p.options.get("variant") == "cho" else None
    cols = slice(None) if blocks is None else slice(0, 2 * H)
    for state, bug, words in ((h1[0, 0], "h_prev_off_by_one", "h_t (the state the step "
                               "produces) instead of h_(t-1)"),
                              (np.zeros(H), "h0_ignored",
                               "zeros instead of h_0 at the first step")):
        if rel(g["W_h"][:, cols], np.outer(state, delta)[:, cols]) < TOL:
            yield Finding(bug, f"Diagnosis: only W_h is wrong, and its gradient is the step's "
                               f"delta paired with {words}.")
            return
    yield Finding(None, "Diagnosis: only W_h is wrong, at every step: the deltas are right "
                        "(b, W_x and dx agree), so check the state each delta is paired with.")
