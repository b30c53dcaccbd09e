"""Forward + backward of lstm_core against PyTorch and against the GEMM floor, interleaved.

Three candidates, timed in turns by :func:`lstm_core.timing.interleaved` (one thread each):

* ``lstm_core``: ``backward(dh, forward(params, x)[1])`` of ``lstm_core.{rnn, lstm, gru}``;
* ``torch``: ``torch.nn.{RNN, LSTM, GRU}`` with the same weights, forward and ``backward(dh)``
  with the input's gradient required (lstm_core returns dx too);
* ``gemm``: the GEMM floor, the matrix products of forward + backward and nothing else
  (``lstm_core.cost.training_products``: the same shapes and dtype, each product one BLAS call
  on C-contiguous operands into a preallocated output).

Ratios are medians of round-by-round ratios (``lstm_core.timing.ratio``), with quartiles.
Every timed call also records its page faults, system CPU time and involuntary context
switches (``common.rusage_probe``), and every comparison the CPU time the hypervisor stole
while it ran, so that a noisy round or run can be told from a slow one: the line under each
row gives median/max per round of each candidate, the records keep every round's counts.

``python bench/bench_bptt.py [--repeats N]`` prints the table above at the goal size of
``make bench``, every model and dtype (N rounds, default 21); ``--against REV`` times the
working tree's lstm_core against the one committed at git revision REV instead, interleaved,
every model and dtype.
"""
from __future__ import annotations

import common  # noqa: F401  (first: one BLAS thread before numpy loads)

import argparse  # noqa: E402

import numpy as np  # noqa: E402

from common import (  # noqa: E402
    NOISE_LEGEND, fmt_noise, fmt_ratio, fmt_summary_ms, fmt_system_change,
    interleaved_with_noise, log, prepare, system_change, system_snapshot)
import lstm_core  # noqa: E402
from lstm_core import cost  # noqa: E402
from lstm_core.timing import ratio  # noqa: E402

GOAL_SIZE = dict(T=100, B=32, D=64, H=128)
MODELS = ("lstm", "gru", "rnn")
DTYPES = (np.float64, np.float32)
# the sweeps of the plot: LSTM, time against T and against H
SWEEP_T = dict(B=32, D=64, H=128, Ts=[25, 50, 100, 200, 400])
SWEEP_H = dict(T=20, B=32, D=64, Hs=[32, 64, 128, 256, 512, 1024])


def make_problem(model, dtype, T, B, D, H, seed=0, package=lstm_core):
    """params, x (T, B, D) and an upstream gradient dh (T, B, H), all of ``dtype``."""
    rng = np.random.default_rng(seed)
    params = getattr(package, model).init_params(D, H, rng=rng, dtype=dtype)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    dh = rng.standard_normal((T, B, H)).astype(dtype)
    return params, x, dh


def lstm_core_job(model, params, x, dh, package=lstm_core):
    m = getattr(package, model)

    def run():
        return m.backward(dh, m.forward(params, x)[1])
    return run


def gemm_floor_job(model, dtype, T, B, D, H):
    """The products of :func:`lstm_core.cost.training_products` alone, on random operands."""
    rng = np.random.default_rng(1)
    work = []
    for p in cost.training_products(model, T, B, D, H):
        a = rng.standard_normal((p.m, p.k)).astype(dtype)
        b = rng.standard_normal((p.k, p.n)).astype(dtype)
        work.append((a, b, np.empty((p.m, p.n), dtype=dtype), p.count))

    def run():
        for a, b, out, count in work:
            for _ in range(count):
                np.matmul(a, b, out=out)
    return run


def torch_state_dict(model, params):
    """torch.nn.{RNN, LSTM, GRU} state_dict (numpy arrays) of lstm_core params."""
    from lstm_core import interop

    if model == "lstm":
        return interop.lstm_to_torch(params)
    if model == "gru":
        return interop.gru_to_torch(params)
    return {"weight_ih_l0": params["W_x"].T.copy(), "weight_hh_l0": params["W_h"].T.copy(),
            "bias_ih_l0": params["b"].copy(), "bias_hh_l0": np.zeros_like(params["b"])}


def torch_job(torch, model, params, x, dh):
    """(run, check): run() is torch's forward + backward; check(grads) compares dW_h."""
    T, B, D = x.shape
    H = dh.shape[-1]
    tdtype = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}[x.dtype]
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[model]
    mod = cls(D, H).to(tdtype)
    mod.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v))
                         for k, v in torch_state_dict(model, params).items()})
    xt = torch.from_numpy(x).requires_grad_(True)
    dht = torch.from_numpy(dh)

    def run():
        mod.zero_grad(set_to_none=True)
        xt.grad = None
        y, _ = mod(xt)
        y.backward(dht)

    def check(grads):
        """max |dW_h(torch) - dW_h(lstm_core)| / max |dW_h(lstm_core)| after a run()."""
        ours = grads.params["W_h"]
        theirs = mod.weight_hh_l0.grad.detach().numpy().T
        return float(np.max(np.abs(theirs - ours)) / np.max(np.abs(ours)))
    return run, check


def compare(model, dtype, size, *, torch=None, repeats=21, warmup=2):
    """lstm_core, torch (if given) and the GEMM floor at one size, interleaved. A record dict."""
    T, B, D, H = (size[k] for k in "TBDH")
    params, x, dh = make_problem(model, dtype, T, B, D, H)
    jobs = {"lstm_core": lstm_core_job(model, params, x, dh),
            "gemm": gemm_floor_job(model, dtype, T, B, D, H)}
    grads = jobs["lstm_core"]()
    for name, g in grads.params.items():
        if g.dtype != dtype:
            raise AssertionError(f"{model} {np.dtype(dtype).name}: grad {name} is {g.dtype}")
    record = {"model": model, "dtype": np.dtype(dtype).name, "size": dict(T=T, B=B, D=D, H=H),
              "matmul_flops": sum(p.flops for p in cost.training_products(model, T, B, D, H))}
    if torch is not None:
        jobs["torch"], check = torch_job(torch, model, params, x, dh)
        jobs["torch"]()
        record["torch_dW_h_rel_diff"] = check(grads)
    times, record["system"] = interleaved_with_noise(jobs, repeats=repeats, warmup=warmup)
    record["times"] = times
    record["ratios"] = {"lstm_core/gemm": ratio(times["lstm_core"], times["gemm"])}
    if "torch" in times:
        record["ratios"]["lstm_core/torch"] = ratio(times["lstm_core"], times["torch"])
        record["ratios"]["torch/gemm"] = ratio(times["torch"], times["gemm"])
    return record


HEADER = (f"{'':13s}{'lstm_core ms':>22s}{'torch ms':>22s}{'GEMM floor ms':>22s}"
          f"{'lstm_core/torch':>20s}{'lstm_core/GEMM':>20s}{'torch/GEMM':>20s}  dW_h vs torch")


def record_line(r):
    """One row under HEADER: medians [quartiles] of times and of round-by-round ratios."""
    t, q = r["times"], r["ratios"]

    def ms(key):
        s = t.get(key)
        return f"{'—':>22s}" if s is None else (
            f"{s.median * 1e3:9.2f} [{s.q1 * 1e3:.2f}, {s.q3 * 1e3:.2f}]".rjust(22))

    def rt(key):
        s = q.get(key)
        return f"{'—':>20s}" if s is None else fmt_ratio(s).rjust(20)

    diff = r.get("torch_dW_h_rel_diff")
    return (f"{r['model']:5s}{r['dtype']:8s}" + ms("lstm_core") + ms("torch") + ms("gemm")
            + rt("lstm_core/torch") + rt("lstm_core/gemm") + rt("torch/gemm")
            + ("" if diff is None else f"  {diff:.0e} rel."))


def noise_line(times, system=None, indent=13):
    """Under a row: each candidate's counters per round, median/max (common.fmt_noise,
    NOISE_LEGEND), and the CPU steal while the comparison ran."""
    parts = [f"{key} {fmt_noise(s)}" for key, s in times.items() if s.counters]
    if system is not None and system["steal_s"] is not None:
        parts.append(f"steal {system['steal_s']:.2f} s")
    return " " * indent + " | ".join(parts)


def at_goal_size(torch=None, *, repeats=21, models=MODELS):
    """Every model and dtype at GOAL_SIZE: a list of records."""
    log(f"== forward + backward at (T, B, D, H) = "
        f"({', '.join(str(v) for v in GOAL_SIZE.values())}), one thread, interleaved, "
        f"median [quartiles] of {repeats} rounds ==")
    log(HEADER)
    log(f"{'':13s}under each row, {NOISE_LEGEND}; CPU steal while the row was timed")
    records = []
    for model in models:
        for dtype in DTYPES:
            r = compare(model, dtype, GOAL_SIZE, torch=torch, repeats=repeats)
            log(record_line(r))
            log(noise_line(r["times"], r["system"]))
            records.append(r)
    return records


def sweep(torch=None, *, repeats=7, dtypes=DTYPES, Ts=None, Hs=None):
    """LSTM time against T and against H for every candidate: each sweep is one interleaved
    run over all its sizes and candidates. {"T": {...}, "H": {...}} with medians and spreads."""
    out = {}
    Ts = Ts or SWEEP_T["Ts"]
    Hs = Hs or SWEEP_H["Hs"]
    plan = {"T": [dict(T=T, B=SWEEP_T["B"], D=SWEEP_T["D"], H=SWEEP_T["H"]) for T in Ts],
            "H": [dict(T=SWEEP_H["T"], B=SWEEP_H["B"], D=SWEEP_H["D"], H=H) for H in Hs]}
    for axis, sizes in plan.items():
        jobs = {}
        for dtype in dtypes:
            for s in sizes:
                params, x, dh = make_problem("lstm", dtype, **s)
                key = (np.dtype(dtype).name, s[axis])
                jobs[("lstm_core",) + key] = lstm_core_job("lstm", params, x, dh)
                jobs[("gemm",) + key] = gemm_floor_job("lstm", dtype, **s)
                if torch is not None:
                    jobs[("torch",) + key] = torch_job(torch, "lstm", params, x, dh)[0]
        times, system = interleaved_with_noise(jobs, repeats=repeats, warmup=1)
        fixed = {k: v for k, v in sizes[0].items() if k != axis}
        out[axis] = {"fixed": fixed, "values": [s[axis] for s in sizes], "series": {},
                     "system": system}
        for (impl, dtype, v), summary in times.items():
            series = out[axis]["series"].setdefault(f"{impl} {dtype}", {"impl": impl,
                                                                         "dtype": dtype,
                                                                         "times": []})
            series["times"].append(summary)
        sizes_text = ", ".join(f"{k} = {v}" for k, v in fixed.items())
        log(f"== LSTM time against {axis} ({sizes_text}), median of {repeats} rounds, ms; "
            f"{fmt_system_change(out[axis]['system'])} ==")
        log(f"{axis:>22s}: " + "".join(f"{v:>9}" for v in out[axis]["values"]))
        for name, series in out[axis]["series"].items():
            med = np.array([s.median for s in series["times"]])
            xs = np.array(out[axis]["values"], dtype=float)
            fit = slice(0, None) if axis == "T" else slice(-3, None)
            series["exponent"] = float(np.polyfit(np.log(xs[fit]), np.log(med[fit]), 1)[0])
            where = "" if axis == "T" else f", H >= {out[axis]['values'][-3]}"
            log(f"{name:>22s}: " + "".join(f"{m * 1e3:9.2f}" for m in med)
                + f"   exponent {series['exponent']:.2f}{where}")
    return out


def load_lstm_core_at(rev):
    """lstm_core as committed at git revision ``rev``, imported as a separate package."""
    import importlib
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    tmp = Path(tempfile.mkdtemp(prefix="lstm_core_at_"))
    tar = subprocess.run(["git", "-C", str(repo), "archive", rev, "lstm_core"],
                         capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=tar, check=True)
    name = "lstm_core_at_" + "".join(ch if ch.isalnum() else "_" for ch in rev)
    (tmp / "lstm_core").rename(tmp / name)
    sys.path.insert(0, str(tmp))
    return importlib.import_module(name)


def against(rev, repeats=21):
    """forward + backward of the working tree's lstm_core against the one at ``rev``, at
    GOAL_SIZE, every model and dtype, interleaved: medians, quartiles, the round-by-round
    ratio tree/REV, the largest difference of the parameter gradients, and the counters of
    every round (page faults, system CPU time, context switches; CPU steal over the run)."""
    base = load_lstm_core_at(rev)
    run_start = system_snapshot()
    log(f"== interleaved: working tree vs {rev} at", GOAL_SIZE, f"median [quartiles] of "
        f"{repeats} rounds ==")
    prepare(with_torch=False)
    log(f"under each row, {NOISE_LEGEND}; CPU steal while the row was timed")
    T, B, D, H = (GOAL_SIZE[k] for k in "TBDH")
    for model in MODELS:
        for dtype in DTYPES:
            params, x, dh = make_problem(model, dtype, T, B, D, H)
            jobs = {rev: lstm_core_job(model, params, x, dh, package=base),
                    "tree": lstm_core_job(model, params, x, dh)}
            g_base, g_tree = jobs[rev](), jobs["tree"]()
            diff = max(float(np.max(np.abs(g_base.params[k] - g_tree.params[k])))
                       for k in g_tree.params)
            times, system = interleaved_with_noise(jobs, repeats=repeats, warmup=2)
            log(f"{model} {np.dtype(dtype).name}: " + "  ".join(
                f"{k} {fmt_summary_ms(v)}" for k, v in times.items())
                + f"  tree/{rev} {fmt_ratio(ratio(times['tree'], times[rev]))}"
                + f"  max |grad diff| {diff:.1e}")
            log(noise_line(times, system, indent=4))
    log(fmt_system_change(system_change(run_start, system_snapshot())))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REV",
                        help="time the working tree's lstm_core against the one at git REV")
    parser.add_argument("--repeats", type=int, default=21, help="timed rounds (default 21)")
    args = parser.parse_args(argv)
    if args.against:
        against(args.against, repeats=args.repeats)
        return
    start = system_snapshot()
    torch, _ = prepare()
    at_goal_size(torch, repeats=args.repeats)
    log(fmt_system_change(system_change(start, system_snapshot())))


if __name__ == "__main__":
    main()
