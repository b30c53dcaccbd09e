"""`make bench`: every benchmark in one run; the goals of issue 18 with a verdict each.

    python bench/run_all.py [--quick] [--build] [--out DIR]

Prints, in order: the machine and the BLAS/PyTorch kernels in use; forward + backward of
lstm_core, PyTorch and the GEMM floor at (T, B, D, H) = (100, 32, 64, 128), every model and
dtype, interleaved (bench_bptt.py), each row followed by what explains a noisy one (page faults,
system CPU time and involuntary context switches per round, CPU steal); LSTM time against T and
H (the plot); peak memory of LSTM forward + backward at T = 1000 (bench_memory.py); the latency
of every chapter's explorer (bench_widgets.py); the goals table; and the load average at the
start and end of the run with the CPU time the hypervisor stole over it. Writes
DIR/results.json (everything measured, with medians, spreads and every round's samples and
counters) and DIR/scaling.svg (DIR defaults to _build/bench).

--quick   fewer rounds and sizes, float64 only in the sweeps: a smoke test, not numbers to quote
--build   also time the book build (bench_build.py: a clean build, a cached rebuild and a
          rebuild after a package change; about two clean builds' time, since the cached
          rebuild executes nothing: 10+ minutes here)
"""
from __future__ import annotations

import common  # noqa: F401  (first: one BLAS thread before numpy loads)

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import bench_bptt  # noqa: E402
import bench_memory  # noqa: E402
import bench_widgets  # noqa: E402
from common import fmt_system_change, log, prepare, system_change, system_snapshot  # noqa: E402
from lstm_core.timing import Summary  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# (name, where to find the measured value, limit): the goals of issue 18, every one "<="
RATIO_GOALS = [
    ("LSTM float64 time / torch", ("lstm", "float64", "lstm_core/torch"), 0.75),
    ("GRU float64 time / torch", ("gru", "float64", "lstm_core/torch"), 0.75),
    ("LSTM float32 time / torch", ("lstm", "float32", "lstm_core/torch"), 1.3),
    ("GRU float32 time / torch", ("gru", "float32", "lstm_core/torch"), 0.8),
    ("LSTM float64 time / GEMM floor", ("lstm", "float64", "lstm_core/gemm"), 1.3),
    ("LSTM float32 time / GEMM floor", ("lstm", "float32", "lstm_core/gemm"), 1.3),
    ("GRU float64 time / GEMM floor", ("gru", "float64", "lstm_core/gemm"), 1.3),
    ("GRU float32 time / GEMM floor", ("gru", "float32", "lstm_core/gemm"), 1.3),
]
MEMORY_GOAL = 11          # (T, B, H) arrays, LSTM forward + backward at T = 1000, tracemalloc
CALLBACK_GOAL_MS = 50     # median of the slowest explorer callback


def verdict(median, limit, q1=None, q3=None):
    """'met' or 'MISSED' by the median; says so when the quartiles lie on both sides."""
    word = "met" if median <= limit else "MISSED"
    if q1 is not None and q1 <= limit < q3:
        word += " (IQR straddles the goal)"
    return word


def goals_table(records, memory, widgets):
    """[{goal, measured, spread, limit, unit, verdict}] for every goal, and reference rows."""
    by_key = {(r["model"], r["dtype"]): r for r in records}
    rows = []
    for name, (model, dtype, which), limit in RATIO_GOALS:
        s = by_key[(model, dtype)]["ratios"].get(which)
        if s is None:
            rows.append({"goal": name, "limit": limit, "unit": "x", "measured": None,
                         "spread": None, "verdict": "not measured (no PyTorch)"})
        else:
            rows.append({"goal": name, "limit": limit, "unit": "x", "measured": s.median,
                         "spread": [s.q1, s.q3], "verdict": verdict(s.median, limit, s.q1, s.q3)})
    for key, goal in (("lstm_core_tracemalloc",
                       "LSTM peak memory, T=1000 B=32 H=128 (tracemalloc)"),
                      ("lstm_core_tracemalloc_gradients_only",
                       "  same, keep_steps=False (gradients + dx, as torch)")):
        arrays = memory[key] / memory["tbh_array_bytes"]
        rows.append({"goal": goal, "limit": MEMORY_GOAL, "unit": "TBH arrays", "measured": arrays,
                     "spread": None, "mib": memory[key] / 2**20,
                     "verdict": verdict(arrays, MEMORY_GOAL)})
    for clock, what in (("times", "wall"), ("cpu_times", "CPU")):
        goal = f"slowest explorer callback, median {what} time"
        found = bench_widgets.worst(widgets, clock)
        if found is None:
            rows.append({"goal": goal, "limit": CALLBACK_GOAL_MS, "unit": "ms", "measured": None,
                         "spread": None, "verdict": "not measured"})
            continue
        med, rec, setting = found
        s = rec[clock][setting]
        rows.append({"goal": goal, "limit": CALLBACK_GOAL_MS, "unit": "ms",
                     "measured": med * 1e3, "spread": [s.q1 * 1e3, s.q3 * 1e3],
                     "which": f"{rec['chapter']} #{rec['index']}, {setting}",
                     "verdict": verdict(med * 1e3, CALLBACK_GOAL_MS, s.q1 * 1e3, s.q3 * 1e3)})
    return rows


def shown(value, limit, digits):
    """``value`` with ``digits`` decimals, or with more while it would print as the goal itself:
    1.303 against a goal of 1.3 prints as 1.303, not as a 1.30 beside the verdict MISSED."""
    while digits < 6 and value != limit and round(value, digits) == limit:
        digits += 1
    return f"{value:.{digits}f}"


def print_goals(rows, records, memory=None):
    log("== goals (issue 18): lstm_core at one thread; ratios are medians of round-by-round "
        "ratios [quartiles] ==")
    log(f"{'goal':52s} {'measured':>9s} {'[quartiles]':>16s} {'goal':>9s}  verdict")
    for r in rows:
        digits = 1 if r["unit"] == "ms" else 2
        m = "—" if r["measured"] is None else shown(r["measured"], r["limit"], digits)
        sp = "" if r["spread"] is None else (f"[{r['spread'][0]:.{digits}f}, "
                                              f"{r['spread'][1]:.{digits}f}]")
        unit = "" if r["unit"] == "x" else f" {r['unit']}"
        log(f"{r['goal']:52s} {m:>9s} {sp:>16s} {'<= ' + str(r['limit']):>9s}  {r['verdict']}")
        notes = [unit.strip()] if unit else []
        if "mib" in r:
            notes.append(f"{r['mib']:.1f} MiB")
        if "which" in r:
            notes.append(r["which"])
        if notes:
            log(f"{'':54s}({'; '.join(notes)})")
    log("for reference (no goal):")
    if memory is not None:
        parts = [f"{impl} {memory[f'{impl}_rss'] / 2**20:.1f} MiB = "
                 f"{memory[f'{impl}_rss'] / memory['tbh_array_bytes']:.2f} arrays"
                 for impl in ("lstm_core", "torch") if memory.get(f"{impl}_rss") is not None]
        log("  peak RSS above start, same pass, fresh process: "
            + ("; ".join(parts) if parts else "not measured")
            + ("" if memory.get("torch_rss") is not None else "; torch not measured"))
    for rec in records:
        q = rec["ratios"]
        parts = [f"{k} {v.median:.2f} [{v.q1:.2f}, {v.q3:.2f}]" for k, v in q.items()
                 if not any(g[1] == (rec["model"], rec["dtype"], k) for g in RATIO_GOALS)]
        if parts:
            log(f"  {rec['model']} {rec['dtype']}: " + ";  ".join(parts))


def plain(obj):
    """Summaries, numpy scalars and tuple keys made JSON-ready."""
    if isinstance(obj, Summary):
        return obj.as_dict()
    if isinstance(obj, dict):
        return {(" ".join(map(str, k)) if isinstance(k, tuple) else str(k)): plain(v)
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


STYLE = {"lstm_core": dict(color="tab:orange", label="lstm_core"),
         "torch": dict(color="tab:blue", label="PyTorch"),
         "gemm": dict(color="0.25", label="GEMM floor (the matmuls alone)")}


def plot(sweeps, info, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), layout="constrained", sharey=False)
    for ax, axis in zip(axes, ("T", "H")):
        sw = sweeps[axis]
        xs = np.array(sw["values"])
        for name, series in sw["series"].items():
            impl, dtype = series["impl"], series["dtype"]
            med = np.array([s.median for s in series["times"]]) * 1e3
            lo = med - np.array([s.q1 for s in series["times"]]) * 1e3
            hi = np.array([s.q3 for s in series["times"]]) * 1e3 - med
            ax.errorbar(xs, med, yerr=[lo, hi], marker="o" if dtype == "float64" else "s",
                        ls="-" if dtype == "float64" else "--", lw=1.8, ms=5, capsize=2,
                        color=STYLE[impl]["color"],
                        label=f"{STYLE[impl]['label']}, {dtype}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(xs, [str(v) for v in xs])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("sequence length T (steps)" if axis == "T" else "hidden size H (units)")
        ax.set_ylabel("forward + backward time (ms, log scale)")
        fixed = ", ".join(f"{k} = {v}" for k, v in sw["fixed"].items())
        ax.set_title(f"LSTM, {fixed}", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"make bench: one thread, interleaved, median and quartiles "
                 f"({info['cpu']})", fontsize=10)
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description="make bench: every benchmark, goals, results")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and sizes")
    parser.add_argument("--build", action="store_true", help="also time the book build")
    parser.add_argument("--out", default=str(ROOT / "_build" / "bench"),
                        help="where results.json and scaling.svg go")
    args = parser.parse_args(argv)
    start = system_snapshot()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    torch, info = prepare()
    if args.quick:
        log("--quick: few rounds and sizes; a smoke test, not figures to quote")

    records = bench_bptt.at_goal_size(torch, repeats=7 if args.quick else 21)
    sweeps = bench_bptt.sweep(
        torch, repeats=3 if args.quick else 7,
        dtypes=(np.float64,) if args.quick else bench_bptt.DTYPES,
        Ts=[25, 100, 400] if args.quick else None, Hs=[64, 256, 1024] if args.quick else None)
    memory = bench_memory.main(torch)

    widgets = bench_widgets.main(repeats=3 if args.quick else 5)

    build = None
    if args.build:
        import bench_build
        build = bench_build.main()
    else:
        log("== book build: not timed (`make bench BENCH_ARGS=--build` or "
            "`python bench/bench_build.py`: three builds, 10+ minutes) ==")

    rows = goals_table(records, memory, widgets)
    print_goals(rows, records, memory)
    run = system_change(start, system_snapshot())
    log("run: " + fmt_system_change(run))
    results = {"quick": args.quick, "machine": info, "run": run,
               "goal_size": bench_bptt.GOAL_SIZE, "forward_backward": records, "sweeps": sweeps,
               "memory": memory, "explorers": widgets, "book_build": build, "goals": rows,
               "seconds": run["wall_s"]}
    (out / "results.json").write_text(json.dumps(plain(results), indent=1, default=str) + "\n")
    plot(sweeps, info, out / "scaling.svg")
    log(f"results: {out / 'results.json'}; plot: {out / 'scaling.svg'}; "
        f"make bench took {time.perf_counter() - start['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
