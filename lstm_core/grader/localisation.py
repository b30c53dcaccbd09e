"""Where a wrong gradient goes wrong: its time steps, and its gate blocks and factor there."""
from __future__ import annotations

import numpy as np

from .battery import TOL, T
from .compare import gate_blocks, rel, scale_factor
from .references import reference
from .report import ArrayVerdict


def localise(run, model, main, got, refs, arrays):
    """Fill in the wrong steps of every wrong array, and its wrong blocks and factor there.

    Blocks and factor are read at the first wrong step the backward pass reaches
    (the latest one): an error made in one block spreads to every block of the
    earlier steps through the carried gradients.
    """
    out = dict(arrays)
    names = [k for k, v in arrays.items() if v.ok is False]
    steps = {k: set() for k in names}
    contrib = {k: [] for k in names}   # per T-step problem: (fn's, reference's) (T, ...) arrays
    for p, g, r in zip(main[:2], got[:2], refs[:2]):   # the two T-step problems
        sg = [g] + [run(p.suffix(model, t)) for t in range(1, T)]
        sr = [r] + [reference(model, p.suffix(model, t)) for t in range(1, T)]
        for k in names:
            if k == "dx":       # dx is already per step
                cg, cr = g[k], r[k]
            elif k in ("dh0", "dc0"):   # what fn carries out of step t: its dh0, dc0 from t on
                cg, cr = np.stack([s[k] for s in sg]), np.stack([s[k] for s in sr])
            else:
                cg, cr = (np.stack([s[t][k] - (s[t + 1][k] if t < T - 1 else 0) for t in range(T)])
                          for s in (sg, sr))
            contrib[k].append((cg, cr))
            scale = max(np.max(np.abs(cr)), np.max(np.abs(cg)), 1e-300)
            steps[k] |= {t for t in range(T) if np.max(np.abs(cg[t] - cr[t])) / scale > TOL}
    for k in names:
        blocks, factor = (), None
        if steps[k]:
            first = max(steps[k])
            sl = gate_blocks(model, k)
            bad = [blk for blk in sl if any(
                rel(cg[first][..., sl[blk]], cr[first][..., sl[blk]],
                    1e-8 * np.max(np.abs(cr[first]))) > TOL for cg, cr in contrib[k])]
            blocks = tuple(bad) if len(bad) < len(sl) else ()
            ks = [scale_factor(np.concatenate([cg[first][..., sl[b]].ravel() for b in bad]),
                          np.concatenate([cr[first][..., sl[b]].ravel() for b in bad]))
                  for cg, cr in contrib[k]]
            if None not in ks and np.allclose(ks, ks[0], rtol=1e-6, atol=1e-12):
                factor = ks[0]
        out[k] = ArrayVerdict(k, False, arrays[k].error, blocks, factor, tuple(sorted(steps[k])))
    return out
