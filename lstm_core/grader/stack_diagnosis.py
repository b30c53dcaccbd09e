"""Pattern recognisers for a stack's backward pass: what is handed down, and how a layer splits
its upstream gradient between its two directions.

Every test reads the numbers ``fn`` returns. When the bottom layer alone is graded right, each
layer's own backward pass is right, so what ``fn`` returns for the layer below the top is the
right backward pass of that layer fed with whatever ``fn`` hands down; a least-squares fit then
says what that was, in terms of the two directions' contributions (each layer's backward pass is
affine in the gradient it receives).
"""
from __future__ import annotations

import numpy as np

from .battery import TOL
from .compare import fit, rel
from .report import Finding

STACK_BUGS = {
    "reverse_dx_dropped": "stack: the reverse direction's dx never reaches the layer below",
    "directions_not_summed": "stack: the layer below receives the last direction's dx, "
                             "which overwrites the first one's instead of adding to it",
    "reverse_dx_not_flipped": "stack: the reverse direction's dx is handed down in its own "
                              "(reversed) time order, not flipped back",
    "reverse_dy_not_flipped": "stack: the reverse cell's BPTT is fed its half of dy in the "
                              "input's time order, not in its own",
    "directions_swapped": "stack: the forward cell gets the reverse half of dy and vice versa",
    "state_rows_order": "stack: the rows of dh0 (dc0) in the order direction, layer instead of "
                        "PyTorch's row l K + k",
}


def _wrong(got, ref):
    return {k for k, v in got.items() if v is not None and k in ref and rel(v, ref[k]) > TOL}


def _half(a, j, K):
    """a with every half but direction j's zeroed (last axis K H)."""
    out = np.zeros_like(a)
    H = a.shape[-1] // K
    out[..., j * H:(j + 1) * H] = a[..., j * H:(j + 1) * H]
    return out


def _rows_only(a, j, K):
    """an (L K, B, H) state gradient with only direction j's rows kept (None stays None)."""
    if a is None:
        return None
    out = np.zeros_like(a)
    out[j::K] = a[j::K]
    return out


def diagnose_stack(run, main, got, refs, arrays, reference):
    wrong = {k for k, v in arrays.items() if v.ok is False}
    if not wrong:
        return
    p = main[0].params
    L, K = p.num_layers, len(p.directions)
    if L > 1 and K > 1 and all(k.endswith((".dh0", ".dc0")) for k in wrong):
        yield from _state_rows(main, got, refs, L, K)
        return
    alone = next((i for i, q in enumerate(main) if "alone" in q.label), 0)
    alone_wrong = _wrong(got[alone], refs[alone])
    if alone_wrong - {"dx"} and K > 1:
        yield from _inside_a_layer(main[alone], got[alone], reference)
    elif alone_wrong == {"dx"}:     # each layer's own gradients right, its dx is not
        yield from _hand_off(main[alone], got[alone], 1, K, reference)
    elif not alone_wrong and L > 1:
        yield from _hand_off(main[0], got[0], L, K, reference)


def _state_rows(main, got, refs, L, K):
    for state in ("dh0", "dc0"):
        for g, r in zip(got, refs):
            names = [f"l{k}.{d}.{state}" for k in range(L) for d in ("forward", "reverse")]
            if any(n not in r or g.get(n) is None for n in names):
                continue
            ours = np.stack([g[n] for n in names])           # fn's rows, read in PyTorch's order
            direction_major = np.stack([r[f"l{k}.{d}.{state}"] for d in ("forward", "reverse")
                                        for k in range(L)])
            if rel(ours, direction_major) < TOL and rel(ours, np.stack([r[n] for n in names])) > TOL:
                yield Finding("state_rows_order",
                              f"Diagnosis: every parameter gradient is right, and {state}'s rows "
                              f"hold the right values in the order (direction, layer); PyTorch's "
                              f"layout, which stack.forward reads, puts layer l, direction k at "
                              f"row l K + k: the slip 'state_rows_order' "
                              f"({STACK_BUGS['state_rows_order']}).")
                return
    yield Finding(None, "Diagnosis: every parameter gradient is right; only the initial-state "
                        "gradients are wrong: check how the rows of dh0 (dc0) are filled.")


def _hand_off(problem, g, L, K, reference):
    """Fit what ``fn`` hands from the top layer down, as a combination of what its directions
    send back: from layer L-2's gradients, or for L = 1 from dx itself."""
    top = problem.layers(L - 1, L, "the top layer alone")
    parts = [reference(top.replace(dy=_half(top.dy, j, K), dh_n=_rows_only(top.dh_n, j, K),
                                   dc_n=_rows_only(top.dc_n, j, K)))["dx"] for j in range(K)]
    if K > 1:
        parts.append(parts[1][::-1])   # the reverse cell's dx in its own time order
    if L == 1:
        keys = ["dx"]

        def response(u):
            return np.ravel(u)
    else:
        below = problem.layers(0, L - 1, "the layers below the top",
                               dy=np.zeros(top.x.shape))
        keys = [k for k in reference(below) if k.startswith(f"l{L - 2}.")
                and g.get(k) is not None]

        def response(u):
            r = reference(below.replace(dy=u))
            return np.concatenate([np.ravel(r[k]) for k in keys])

    base = response(np.zeros_like(top.x))
    cols = [response(u) - base for u in parts]
    y = np.concatenate([np.ravel(g[k]) for k in keys])
    coef, resid = fit(y, base, cols)
    source = (f"the bottom layer alone is right, but what layer {L - 1} hands down to "
              f"layer {L - 2} is wrong" if L > 1 else "on the bottom layer alone only dx is "
              "wrong, so each layer's own gradients are right and what it hands down is not")
    if resid > 1e-6:
        yield Finding(None, f"Diagnosis: {source}; it is not a combination of what the layer's "
                            f"directions send back: check the dx you pass to the layer below.")
        return
    c = np.round(coef, 6) + 0.0
    if K == 1:
        if abs(c[0]) < 1e-6:
            yield Finding(None, f"Diagnosis: {source}: nothing is handed down (fitted factor "
                                f"0); a layer's dx is the direct gradient of the layer below.")
        elif abs(c[0] - 1) > 1e-6:
            yield Finding(None, f"Diagnosis: {source}: it is {c[0]:.3g} times the layer's dx "
                                f"(it should be the dx itself).")
        return
    bug = {(1, 0, 0): "reverse_dx_dropped", (0, 1, 0): "directions_not_summed",
           (1, 0, 1): "reverse_dx_not_flipped"}.get(tuple(float(v) for v in c))
    fitted = (f"{c[0]:.3g} x the forward direction's dx + {c[1]:.3g} x the reverse one's "
              f"flipped back + {c[2]:.3g} x the reverse one's unflipped (right: 1, 1, 0)")
    if bug:
        yield Finding(bug, f"Diagnosis: {source}: it is {fitted}, the slip "
                           f"'{bug}' ({STACK_BUGS[bug]}).")
    elif not np.allclose(c, (1, 1, 0), atol=1e-6):
        yield Finding(None, f"Diagnosis: {source}: it is {fitted}.")


def _inside_a_layer(q, g, reference):
    """One bidirectional layer alone is wrong: test how dy was split between the directions."""
    H2 = q.dy.shape[-1] // 2
    fwd, rev = q.dy[..., :H2], q.dy[..., H2:]
    hypotheses = [
        ("reverse_dy_not_flipped", np.concatenate([fwd, rev[::-1]], axis=-1), ".reverse.",
         "the reverse direction's parameter gradients are exactly those of a reverse cell fed "
         "its half of dy without flipping it into its own time order"),
        ("directions_swapped", np.concatenate([rev, fwd], axis=-1), ".",
         "the parameter gradients of both directions are exactly those of each cell fed the "
         "other direction's half of dy"),
    ]
    for bug, dy, part, words in hypotheses:
        r = reference(q.replace(dy=dy))
        keys = [k for k in r if part in k and not k.endswith((".dh0", ".dc0"))
                and k != "dx" and g.get(k) is not None]
        if keys and all(rel(g[k], r[k]) < TOL for k in keys):
            yield Finding(bug, f"Diagnosis: on the bottom layer alone, {words}: the slip "
                               f"'{bug}' ({STACK_BUGS[bug]}).")
            return
    wrong = sorted({k.split(".")[1] for k in _wrong(g, reference(q)) if k != "dx"})
    yield Finding(None, f"Diagnosis: the bottom layer alone is already wrong "
                        f"({' and '.join(wrong) or 'dx only'}): the error is inside a layer "
                        f"(how dy is split between the directions and run through each cell), "
                        f"not in what one layer hands to the next.")
