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
"""
from __future__ import annotations

import html
import inspect
import traceback
import warnings
from dataclasses import dataclass

import numpy as np

from . import errata, gru, lstm, rnn
from .gradcheck import check_gradients

MODELS = {"rnn": rnn, "lstm": lstm, "gru": gru}
BLOCKS = {"rnn": ("",), "lstm": lstm.GATES, "gru": gru.GATES}
KNOWN_BUGS = {
    **errata.BUGS,
    "update_gate_swapped": "GRU: z and 1 - z swapped (h_t = z n_t + (1 - z) h_{t-1} "
                           "differentiated)",
    "reset_wrong_side": "GRU: the reset gate on the wrong side of the recurrent matmul",
    "h_prev_off_by_one": "dL/dW_h pairs the step's delta with h_t instead of h_{t-1}",
    "h0_ignored": "dL/dW_h uses zeros instead of h_0 at the first step",
}

TOL = 1e-6            # relative error above which an array counts as wrong
REFERENCE_TOL = 1e-7  # the package's backward against central differences
SEED = 19
T, B, D, H = 5, 2, 4, 3  # all different: a transposed or mis-sliced array changes shape


# --------------------------------------------------------------------------- problems

@dataclass(frozen=True)
class _Problem:
    """One forward pass to run and one upstream gradient to send back through it."""

    label: str
    params: dict
    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray | None
    dh: np.ndarray
    dc_last: np.ndarray | None
    options: dict

    def forward(self, model):
        """A fresh forward pass on copies, so that ``fn`` cannot spoil later problems."""
        args = [self.h0.copy()] + ([self.c0.copy()] if self.c0 is not None else [])
        params = {k: v.copy() for k, v in self.params.items()}
        return MODELS[model].forward(params, self.x.copy(), *args, **self.options)

    def suffix(self, model, t):
        """The same problem restarted at step t from the states the forward pass reached there."""
        if t == 0:
            return self
        h, cache = self.forward(model)
        c0 = None if self.c0 is None else _cell_states(cache)[t - 1].copy()
        return _Problem(f"{self.label}, steps {t}..{len(self.x) - 1}", self.params,
                        self.x[t:], h[t - 1].copy(), c0, self.dh[t:], self.dc_last, self.options)


def _cell_states(cache):
    """(T, B, H) the LSTM cell states c_1 .. c_T of a forward cache."""
    return cache.c


def _battery(model, options, with_dc_last):
    """The main problems (the verdict) and the probes used only for the diagnosis."""
    rng = np.random.default_rng(SEED)
    m = MODELS[model]
    options = dict(options)
    init = {}
    if "peephole" in options:   # an option of init_params: which peephole vectors exist
        if model != "lstm":
            raise ValueError(f"peephole is an option of the LSTM only, got model={model!r}")
        init["peephole"] = options.pop("peephole")
    params = m.init_params(D, H, rng=rng, **init)
    x = rng.standard_normal((T, B, D))
    h0 = 0.5 * rng.standard_normal((B, H))
    c0 = 0.5 * rng.standard_normal((B, H)) if model == "lstm" else None
    dh_every = rng.standard_normal((T, B, H))
    dh_last = np.zeros((T, B, H))
    dh_last[-1] = rng.standard_normal((B, H))
    dc_last = rng.standard_normal((B, H))
    every = _Problem("loss at every step", params, x, h0, c0, dh_every, None, options)
    main = [
        every,
        _Problem("loss at the last step only", params, x, h0, c0, dh_last, None, options),
        _Problem("one step (T = 1)", params, x[:1], h0, c0, dh_every[:1], None, options),
    ]
    if model == "lstm" and "forget_bias" not in options \
            and options.get("cell", "standard") == "standard":
        main.append(_Problem("forget_bias = 1", params, x, h0, c0, dh_every, None,
                             {**options, "forget_bias": 1.0}))
    if with_dc_last:
        main.append(_Problem("a loss on the final cell state (dc_last)", params, x, h0, c0,
                             dh_every, dc_last, options))
    # one step, one sequence: the reference's bias gradient is then the step's delta itself
    rank_one = _Problem("one step, B = 1", params, x[:1, :1], h0[:1],
                        None if c0 is None else c0[:1], dh_every[:1, :1], None, options)
    probes = {"rank_one": rank_one}
    if model == "gru":
        open_params = {k: v.copy() for k, v in params.items()}
        open_params["b_x"][gru.gate_slice("r", H)] = 60.0   # sigma(60 + ...) == 1.0 exactly
        probes["reset_open"] = _Problem("reset gate held open (r = 1)", open_params, x, h0, c0,
                                        dh_every, None, options)
    return main, probes


# --------------------------------------------------------------------------- running fn

class _Failure(Exception):
    """``fn`` did something the grader cannot grade; the message says what."""


def _array_names(model, params):
    """The parameter names (the keys of ``params``), then dx, dh0 (and dc0)."""
    return tuple(params) + (("dx", "dh0", "dc0") if model == "lstm" else ("dx", "dh0"))


def _spec(model, D_, H_, keys):
    """The model's param_spec for the parameters in ``keys`` (the LSTM's peepholes included)."""
    if model == "lstm":
        return lstm.param_spec(D_, H_, tuple(k for k in lstm.PEEPHOLES if k in keys))
    return MODELS[model].param_spec(D_, H_)


def _expected_shapes(model, problem):
    """{array name: (shape, letters)} for the gradients of ``problem``."""
    Tp, Bp, Dp = problem.x.shape
    Hp = problem.h0.shape[1]
    shapes = dict(_spec(model, Dp, Hp, problem.params))
    shapes.update({"dx": ((Tp, Bp, Dp), "T, B, D"), "dh0": ((Bp, Hp), "B, H")})
    if model == "lstm":
        shapes["dc0"] = ((Bp, Hp), "B, H")
    return shapes


def _unpack(out, model, param_keys):
    """{array name: value or None (not returned)} from a Gradients-like object or a dict."""
    if isinstance(out, dict) and "params" not in out and set(out) == set(param_keys):
        params, rest = out, {}                      # only the parameter gradients
    elif isinstance(out, dict) and "params" in out:
        params, rest = out["params"], out
    elif hasattr(out, "params") and not isinstance(out, dict):
        params = out.params
        rest = {k: getattr(out, k, None) for k in ("dx", "dh0", "dc0")}
    else:
        raise _Failure(
            f"returned {type(out).__name__}; expected a Gradients object (what "
            f"{model}.backward returns) or a dict with 'params', 'dx', 'dh0'"
            f"{', dc0' if model == 'lstm' else ''}")
    if not isinstance(params, dict):
        raise _Failure(f"returned params of type {type(params).__name__}; expected a dict "
                       f"with keys {list(param_keys)}")
    if set(params) != set(param_keys):
        raise _Failure(f"returned params with keys {sorted(params)}; expected the keys of the "
                       f"params dict, {list(param_keys)}")
    got = dict(params)
    for k in _array_names(model, param_keys)[len(param_keys):]:
        got[k] = rest.get(k)
    return got


def _check_arrays(got, model, problem):
    for name, (shape, letters) in _expected_shapes(model, problem).items():
        v = got[name]
        if v is None:
            continue
        if not isinstance(v, np.ndarray):
            raise _Failure(f"returned {name} as {type(v).__name__}; expected a numpy array")
        if v.shape != shape:
            raise _Failure(f"returned {name} with shape {v.shape}; expected ({letters}) = {shape}")
        if v.dtype != np.float64:
            raise _Failure(f"returned {name} with dtype {v.dtype}; the problem is float64 "
                           f"(a gradient has the dtype of its parameters)")
        bad = int(v.size - np.count_nonzero(np.isfinite(v)))
        if bad:
            raise _Failure(f"returned {name} with {bad} NaN or infinite value(s)")


def _where(exc):
    """'line N of function' of the innermost frame of a traceback, for the message."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    f = frames[-1]
    return f" at line {f.lineno} of {f.name}"


class _Runner:
    """Calls ``fn`` on problems, turning every misbehaviour into a _Failure."""

    def __init__(self, fn, model, with_dc_last):
        self.fn, self.model, self.with_dc_last = fn, model, with_dc_last

    def __call__(self, problem):
        _, cache = problem.forward(self.model)
        args = [problem.dh.copy(), cache]
        if self.with_dc_last:
            args.append(None if problem.dc_last is None else problem.dc_last.copy())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                out = self.fn(*args)
            except Exception as exc:  # the reader's code: report it, do not raise
                raise _Failure(f"raised {type(exc).__name__}: {exc}{_where(exc)} "
                               f"(problem: {problem.label})") from None
        if caught:
            w = caught[0]
            raise _Failure(f"emitted {w.category.__name__}: {w.message} (problem: {problem.label})")
        got = _unpack(out, self.model, tuple(problem.params))
        _check_arrays(got, self.model, problem)
        return got


def _reference(model, problem):
    _, cache = problem.forward(model)
    extra = [problem.dc_last] if model == "lstm" else []
    g = MODELS[model].backward(problem.dh, cache, *extra)
    out = dict(g.params, dx=g.dx, dh0=g.dh0)
    if model == "lstm":
        out["dc0"] = g.dc0
    return out


_REFERENCE_CHECKED: dict = {}


def _confirm_reference(model, problem):
    """Max relative error of the package's backward against central differences (cached)."""
    key = (model, tuple(problem.params), tuple(sorted(problem.options.items())))
    if key not in _REFERENCE_CHECKED:
        params = {k: v.copy() for k, v in problem.params.items()}
        x, h0 = problem.x.copy(), problem.h0.copy()
        states = [h0] + ([problem.c0.copy()] if problem.c0 is not None else [])
        m = MODELS[model]

        def loss():
            return float(np.sum(problem.dh * m.forward(params, x, *states, **problem.options)[0]))

        ref = _reference(model, problem)
        arrays = {**params, "dx": x, "dh0": h0}
        if model == "lstm":
            arrays["dc0"] = states[1]
        errors = check_gradients(loss, arrays, {k: ref[k] for k in arrays}, floor=1e-6)
        _REFERENCE_CHECKED[key] = max(errors.values())
    return _REFERENCE_CHECKED[key]


# --------------------------------------------------------------------------- comparing

def _rel(a, r, floor=0.0):
    scale = max(np.max(np.abs(r), initial=0.0), np.max(np.abs(a), initial=0.0), floor, 1e-300)
    return float(np.max(np.abs(a - r), initial=0.0) / scale)


def _blocks(model, name):
    """{block: slice of the last axis} for a parameter gradient; {"": ...} for the others."""
    if name not in ("W_x", "W_h", "b", "b_x", "b_h") or model == "rnn":
        return {"": slice(None)}
    return {g: MODELS[model].gate_slice(g, H) for g in BLOCKS[model]}


def _block_errors(model, name, a, r):
    floor = 1e-8 * max(np.max(np.abs(r), initial=0.0), 1e-300)
    return {blk: _rel(a[..., sl], r[..., sl], floor) for blk, sl in _blocks(model, name).items()}


def _factor(a, r):
    """k with a = k r to rounding, if there is one (None otherwise)."""
    rr = float(np.sum(r * r))
    if rr == 0.0:
        return None
    k = float(np.sum(a * r)) / rr
    return k if _rel(a, k * r) < TOL else None


def _fit(y, base, columns):
    """Least-squares c with y = base + sum_j c_j columns[j]; (c, relative residual)."""
    A = np.stack([c.ravel() for c in columns], axis=1)
    rhs = (y - base).ravel()
    coef = np.linalg.lstsq(A, rhs, rcond=None)[0]
    resid = np.linalg.norm(A @ coef - rhs) / max(np.linalg.norm(y), np.linalg.norm(rhs), 1e-300)
    return coef, float(resid)


# --------------------------------------------------------------------------- the report

@dataclass(frozen=True)
class ArrayVerdict:
    """What the grader found for one gradient array.

    ok          True (right on every problem), False (wrong on some), None (not returned)
    error       largest relative error over the problems
    blocks      the wrong gate blocks, when only some are wrong (empty: all, or no blocks)
    factor      k when the wrong part is k times the right one on every problem, else None
    steps       the steps t (0 .. T-1) whose per-step contribution is wrong
    first_step  the first of them the backward pass reaches (it runs from T-1 down to 0)
    """

    name: str
    ok: bool | None
    error: float = 0.0
    blocks: tuple = ()
    factor: float | None = None
    steps: tuple = ()

    @property
    def first_step(self):
        return max(self.steps) if self.steps else None


@dataclass(frozen=True)
class Finding:
    """One diagnosis: ``bug`` is a key of :data:`KNOWN_BUGS` or None for a plain description."""

    bug: str | None
    text: str


@dataclass(frozen=True)
class Report:
    """The grader's verdict; ``str(report)`` is a paragraph, notebooks show a table."""

    fn_name: str
    model: str
    options: dict
    arrays: dict            # name -> ArrayVerdict (empty when fn could not be graded)
    findings: tuple         # Finding
    failure: str | None     # what fn did that could not be graded, or None
    battery: str            # the problems, in words

    @property
    def ok(self) -> bool:
        return self.failure is None and not self.wrong and any(
            v.ok for v in self.arrays.values())

    @property
    def wrong(self) -> set:
        return {k for k, v in self.arrays.items() if v.ok is False}

    @property
    def unchecked(self) -> set:
        return {k for k, v in self.arrays.items() if v.ok is None}

    @property
    def bugs(self) -> tuple:
        """The known bugs whose pattern matched (keys of :data:`KNOWN_BUGS`)."""
        return tuple(f.bug for f in self.findings if f.bug is not None)

    def _call(self):
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"check_backward({self.fn_name}, model={self.model!r}{opts})"

    def __str__(self):
        if self.failure is not None:
            return f"{self._call()}: could not grade: {self.fn_name} {self.failure}."
        right = [k for k, v in self.arrays.items() if v.ok]
        if self.ok:
            text = f"{self._call()}: all right. {_join(right)} agree with the reference"
            if self.unchecked:
                text += f" ({_join(sorted(self.unchecked, key=list(self.arrays).index))} " \
                        f"not returned, so not checked)"
            return text + f" on {self.battery}."
        groups = {}   # arrays with the same blocks, factor and steps are described together
        for v in self.arrays.values():
            if v.ok is False:
                groups.setdefault((v.blocks, v.factor, v.steps), []).append(v.name)
        parts = [_describe(names, *key) for key, names in groups.items()]
        text = f"{self._call()}: WRONG. " + "; ".join(parts) + "."
        if any(v.steps for v in self.arrays.values()):
            text += f" (Steps are 0-{T - 1}; the backward pass meets step {T - 1} first.)"
        if right:
            text += f" Right: {_join(right)}."
        if self.unchecked:
            text += f" Not returned: {_join(sorted(self.unchecked, key=list(self.arrays).index))}."
        for f in self.findings:
            text += f" {f.text}"
        return text

    def _rows(self):
        """(array, verdict, wrong blocks, first wrong step) per array; only two columns if ok."""
        for v in self.arrays.values():
            if v.ok is None:
                row = (v.name, "not returned", "", "")
            elif v.ok:
                row = (v.name, "ok", "", "")
            else:
                blocks = "-" if list(_blocks(self.model, v.name)) == [""] else \
                    ", ".join(v.blocks) or "all"
                factor = f" (x{v.factor:.3g})" if v.factor is not None else ""
                first = "" if v.first_step is None else str(v.first_step)
                row = (v.name, "wrong" + factor, blocks, first)
            yield row[:2] if self.ok else row

    def _headers(self):
        return ("array", "verdict") if self.ok else \
            ("array", "verdict", "wrong blocks", "first wrong step")

    def _title(self):
        return "All right" if self.ok else "Could not grade" if self.failure else "Wrong"

    def _steps_note(self):
        if any(v.steps for v in self.arrays.values()):
            return f" Steps are numbered 0-{T - 1}; the backward pass reaches step {T - 1} first."
        return ""

    def _repr_markdown_(self):
        head = f"**{self._title()}**: `{self._call()}`\n\n"
        if self.failure is not None:
            return head + f"{self.fn_name} {self.failure}.\n"
        cols = self._headers()
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| `" + row[0] + "` | " + " | ".join(row[1:]) + " |" for row in self._rows()]
        notes = "".join(f"\n\n{f.text}" for f in self.findings)
        return head + "\n".join(lines) + notes + \
            f"\n\nProblems: {self.battery}.{self._steps_note()}\n"

    def _repr_html_(self):
        e = html.escape
        color = "#1a7f37" if self.ok else "#cf222e"
        out = [f'<div class="lstm-core-grader"><p><strong style="color:{color}">'
               f"{self._title()}</strong>: <code>{e(self._call())}</code></p>"]
        if self.failure is not None:
            out.append(f"<p>{e(self.fn_name)} {e(self.failure)}.</p></div>")
            return "".join(out)
        out.append('<table class="table"><thead><tr>'
                   + "".join(f"<th>{c}</th>" for c in self._headers()) + "</tr></thead><tbody>")
        for row in self._rows():
            v = row[1]
            c = "#1a7f37" if v == "ok" else "#cf222e" if v.startswith("wrong") else "inherit"
            out.append(f"<tr><td><code>{e(row[0])}</code></td><td style=\"color:{c}\">{e(v)}</td>"
                       + "".join(f"<td>{e(x)}</td>" for x in row[2:]) + "</tr>")
        out.append("</tbody></table>")
        out += [f"<p>{e(f.text)}</p>" for f in self.findings]
        out.append(f"<p><small>Problems: {e(self.battery)}.{e(self._steps_note())}</small></p>"
                   "</div>")
        return "".join(out)


def _join(names):
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _steps_text(steps):
    steps = sorted(steps)
    if steps == list(range(steps[0], steps[-1] + 1)) and len(steps) > 2:
        return f"steps {steps[0]}-{steps[-1]}"
    return ("step " if len(steps) == 1 else "steps ") + ", ".join(map(str, steps))


def _describe(names, blocks, factor, steps):
    text = f"{_join(names)} {'is' if len(names) == 1 else 'are'} wrong"
    if steps:
        text += f" at {_steps_text(steps)}"
    where = []
    if blocks:
        where.append(f"only in block{'s' if len(blocks) > 1 else ''} {', '.join(blocks)}")
    if factor is not None:
        where.append(_factor_words(factor))
    if where and steps:
        text += f"; at step {max(steps)}, the first the backward pass reaches, " + ", ".join(where)
    elif where:
        text += " " + ", ".join(where)
    return text


def _factor_words(k):
    if abs(k) < 1e-12:
        return "zero"
    if abs(k + 1) < 1e-9:
        return "negated (sign flipped)"
    return f"{k:.3g} times the right value"


# --------------------------------------------------------------------------- grading

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

    Returns a :class:`Report`; whatever ``fn`` does (raise, return the wrong
    type, shapes, dtype, NaN) is reported in it, never raised.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {model!r}")
    if not callable(fn):
        raise TypeError(f"fn must be a function like {model}.backward(dh, cache), "
                        f"got {type(fn).__name__}")
    with_dc_last = model == "lstm" and _takes_three(fn)
    main, probes = _battery(model, options, with_dc_last)
    main[0].forward(model)  # bad options are the caller's error: let forward's message through
    name = getattr(fn, "__name__", type(fn).__name__)
    ref_err = _confirm_reference(model, main[0])
    if not ref_err < REFERENCE_TOL:
        raise RuntimeError(f"lstm_core.{model}.backward disagrees with central differences "
                           f"(relative error {ref_err:.1e}): the reference itself is broken")
    battery = _battery_words(model, main, ref_err)
    run = _Runner(fn, model, with_dc_last)
    try:
        got = [run(p) for p in main]
    except _Failure as f:
        return Report(name, model, options, {}, (), str(f), battery)
    refs = [_reference(model, p) for p in main]
    names = _array_names(model, main[0].params)
    arrays = {}
    for k in names:
        if got[0][k] is None:
            arrays[k] = ArrayVerdict(k, None)
            continue
        error = max(max(_block_errors(model, k, g[k], r[k]).values()) for g, r in zip(got, refs))
        arrays[k] = ArrayVerdict(k, error <= TOL, error)
    try:
        arrays = _localise(run, model, main, got, refs, arrays)
        findings = tuple(_diagnose(run, model, main, probes, got, refs, arrays))
    except _Failure as f:
        return Report(name, model, options, arrays, (), str(f), battery)
    return Report(name, model, options, arrays, findings, None, battery)


def _takes_three(fn):
    try:
        inspect.signature(fn).bind(None, None, None)
    except (TypeError, ValueError):
        return False
    return True


def _battery_words(model, main, ref_err):
    extras = [p.label for p in main[3:]]
    text = (f"T = {T} (loss at every step, and at the last step only) and T = 1, B = {B}, "
            f"D = {D}, H = {H}, random non-zero h0{', c0' if model == 'lstm' else ''}, "
            f"float64, seed {SEED}")
    peepholes = [k for k in main[0].params if k in lstm.PEEPHOLES]
    if peepholes:
        text += f", peepholes {', '.join(peepholes)}"
    if extras:
        text += "; also " + " and ".join(extras)
    return text + (f"; reference lstm_core.{model}.backward, which agrees with central "
                   f"differences to {ref_err:.0e}")


def _localise(run, model, main, got, refs, arrays):
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
        sr = [r] + [_reference(model, p.suffix(model, t)) for t in range(1, T)]
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
            sl = _blocks(model, k)
            bad = [blk for blk in sl if any(
                _rel(cg[first][..., sl[blk]], cr[first][..., sl[blk]],
                     1e-8 * np.max(np.abs(cr[first]))) > TOL for cg, cr in contrib[k])]
            blocks = tuple(bad) if len(bad) < len(sl) else ()
            ks = [_factor(np.concatenate([cg[first][..., sl[b]].ravel() for b in bad]),
                          np.concatenate([cr[first][..., sl[b]].ravel() for b in bad]))
                  for cg, cr in contrib[k]]
            if None not in ks and np.allclose(ks, ks[0], rtol=1e-6, atol=1e-12):
                factor = ks[0]
        out[k] = ArrayVerdict(k, False, arrays[k].error, blocks, factor, tuple(sorted(steps[k])))
    return out


def _diagnose(run, model, main, probes, got, refs, arrays):
    wrong = {k for k, v in arrays.items() if v.ok is False}
    if not wrong:
        return
    one_got, one_ref = got[2], refs[2]
    one_wrong = {k for k in wrong if one_got[k] is not None
                 and max(_block_errors(model, k, one_got[k], one_ref[k]).values()) > TOL}
    param_names = tuple(main[0].params)
    bias_names = [k for k in param_names if k.startswith("b")]

    # (a) a bias block that is another block's gradient
    if len(wrong) == 1 and (k := next(iter(wrong))) in bias_names and len(arrays[k].blocks) == 1:
        blk = arrays[k].blocks[0]
        sl = MODELS[model].gate_slice
        for other in BLOCKS[model]:
            if other != blk and all(_rel(g[k][sl(blk, H)], r[k][sl(other, H)]) < TOL
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
            last = _reference(model, p.suffix(model, T - 1))[k]
            ok_all &= _rel(g[k], last) < TOL
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
    how = f" ({_factor_words(factor)} in each)" if same_factor else ""
    yield Finding(None, f"Diagnosis: at the last step {_join(v.name for v in wrong)} "
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
        return _reference(model, _Problem("step T-2", q.params, q.x[:1], q.h0, q.c0,
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
    coef, resid = _fit(y, base, cols)
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
    return g1[key] if g1.get(key) is not None else _reference(model, q1)[key]


def _gru_findings(run, model, probes, one_got, one_ref, arrays):
    sl = gru.gate_slice
    weights = ("W_x", "W_h", "b_x", "b_h")
    z, n = sl("z", H), sl("n", H)
    negated = all(_rel(one_got[k][..., z], -one_ref[k][..., z]) < TOL for k in weights)
    if negated:
        n_wrong = any(_rel(one_got[k][..., n], one_ref[k][..., n]) > TOL for k in weights)
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
    z_right = all(_rel(one_got[k][..., z], one_ref[k][..., z]) < TOL for k in weights)
    n_input_right = all(_rel(one_got[k][..., n], one_ref[k][..., n]) < TOL for k in ("W_x", "b_x"))
    if z_right and n_input_right:
        p = probes["reset_open"]
        g, r = run(p), _reference(model, p)
        if all(_rel(g[k], r[k]) < TOL for k in g if g[k] is not None):
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
    g, r = run(p), _reference(model, p)
    h1, _ = p.forward(model)
    delta = r["b_h"] if model == "gru" else r["b"]
    blocks = ["r", "z"] if model == "gru" and p.options.get("variant") == "cho" else None
    cols = slice(None) if blocks is None else slice(0, 2 * H)
    for state, bug, words in ((h1[0, 0], "h_prev_off_by_one", "h_t (the state the step "
                               "produces) instead of h_(t-1)"),
                              (np.zeros(H), "h0_ignored",
                               "zeros instead of h_0 at the first step")):
        if _rel(g["W_h"][:, cols], np.outer(state, delta)[:, cols]) < TOL:
            yield Finding(bug, f"Diagnosis: only W_h is wrong, and its gradient is the step's "
                               f"delta paired with {words}.")
            return
    yield Finding(None, "Diagnosis: only W_h is wrong, at every step: the deltas are right "
                        "(b, W_x and dx agree), so check the state each delta is paired with.")
