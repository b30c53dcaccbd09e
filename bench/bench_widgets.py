"""Widget latency: the time of one explorer callback (recompute + redraw) per move of a
control, for every chapter's explorer; median and worst over a fixed sequence of moves.

Each chapter is run as a script (its code cells, in order) with
``lstm_core.viz.gradient_explorer`` replaced by a recorder, so the benchmark
times exactly the ``compute`` functions and controls the chapters define. The
recorded explorers are then built in widget mode (matplotlib Agg) and their
``update`` -- recompute plus redraw -- is timed for every move of :func:`moves`.
Every timed call changes the setting (the redraw keeps what did not change, so timing
the same setting twice would time almost nothing). A live explorer keeps the frames of
settings it has shown, so moves back to one skip compute: "first visits" is the median
over the moves to a setting not shown before.
"""
from __future__ import annotations

import contextlib
import io
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.pop("LSTM_CORE_STATIC_WIDGETS", None)

import jupytext  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import lstm_core.viz as viz  # noqa: E402

BOOK = Path(__file__).resolve().parent.parent / "book"


def recorded_explorers(chapter: Path):
    """Run a chapter's code cells; return the (compute, controls, kwargs) of each explorer it makes."""
    calls = []
    real = viz.gradient_explorer

    def recorder(compute, controls, **kwargs):
        calls.append((compute, controls, kwargs))
        return None

    nb = jupytext.read(chapter)
    namespace = {"__name__": "__main__"}
    cwd = os.getcwd()
    viz.gradient_explorer = recorder
    try:
        os.chdir(chapter.parent)
        with contextlib.redirect_stdout(io.StringIO()):
            for cell in nb.cells:
                if cell.cell_type == "code":
                    source = "\n".join(line for line in cell.source.splitlines()
                                       if not line.lstrip().startswith(("%", "!")))
                    exec(compile(source, f"{chapter.name}", "exec"), namespace)
                    plt.close("all")
    finally:
        viz.gradient_explorer = real
        os.chdir(cwd)
    return calls


def control_settings(controls):
    """(defaults, largest) control values: the largest numeric value of each slider."""
    defaults, largest = {}, {}
    for c in viz.controls.normalise_controls(controls):
        defaults[c.name] = c.default
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in c.values)
        largest[c.name] = max(c.values) if numeric else c.default
    return defaults, largest


def moves(controls):
    """The settings a reader moves through, one dict of changed controls per move: each
    control swept through all its values (the others at their defaults) and back to its
    default, then default -> largest -> default three times (:func:`control_settings`)."""
    out = []
    for c in viz.controls.normalise_controls(controls):
        out += [{c.name: v} for v in c.values if v != c.default] + [{c.name: c.default}]
    defaults, largest = control_settings(controls)
    if largest != defaults:
        out += [largest, defaults] * 3
    return out


def _median_ms(seconds):
    return statistics.median(seconds) * 1e3 if seconds else float("nan")


def explorer_latencies(book=BOOK):
    """One dict per explorer of the book: callback times per move (ms) and compute alone."""
    rows = []
    for chapter in sorted(Path(book).glob("*.md")):
        try:
            calls = recorded_explorers(chapter)
        except Exception as exc:  # report and go on with the other chapters
            rows.append({"chapter": chapter.stem, "error": f"{type(exc).__name__}: {exc}"})
            continue
        for k, (compute, controls, kwargs) in enumerate(calls):
            widget = viz.gradient_explorer(compute, controls, **{**kwargs, "mode": "widget"})
            callback, cpu, alone, first = [], [], [], []
            seen = {tuple(widget.current.items())}
            for move in moves(controls):
                t0, c0 = time.perf_counter(), time.process_time()
                widget.update(**move)
                callback.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
                values = dict(widget.current)
                if tuple(values.items()) not in seen:  # the widget keeps frames it has shown
                    seen.add(tuple(values.items()))
                    first.append(callback[-1])
                t0 = time.perf_counter()
                compute(**values)
                alone.append(time.perf_counter() - t0)
            rows.append({"chapter": chapter.stem, "index": k, "title": kwargs.get("title", ""),
                         "moves": len(callback),
                         "median_ms": _median_ms(callback),
                         "worst_ms": max(callback, default=float("nan")) * 1e3,
                         "first_visit_median_ms": _median_ms(first),
                         # CPU time of this process: what the callback costs without the wait
                         # for a core on a shared machine (wall time counts that wait too)
                         "cpu_median_ms": _median_ms(cpu),
                         "compute_median_ms": _median_ms(alone)})
            plt.close("all")
    return rows


def main():
    print("== 3. explorer callback latency (recompute + redraw per move, widget mode) ==")
    for r in explorer_latencies():
        if "error" in r:
            print(f"{r['chapter']}: could not run ({r['error']})")
            continue
        print(f"{r['chapter']:20s} #{r['index']} {r['title'][:40]:40s} callback: median "
              f"{r['median_ms']:6.1f} ms, worst {r['worst_ms']:6.1f} ms over {r['moves']} moves; "
              f"first visits {r['first_visit_median_ms']:6.1f} ms, CPU {r['cpu_median_ms']:6.1f} ms "
              f"(compute alone: median {r['compute_median_ms']:5.1f} ms)")


if __name__ == "__main__":
    sys.exit(main())
