"""Widget latency: the median time of one explorer callback (recompute + redraw)
for every chapter's explorer, at its default control values and at the largest.

Each chapter is run as a script (its code cells, in order) with
``lstm_core.viz.gradient_explorer`` replaced by a recorder, so the benchmark
times exactly the ``compute`` functions and controls the chapters define. The
recorded explorers are then built in widget mode (matplotlib Agg) and their
``update`` -- recompute plus redraw -- is timed, at the default and at the largest control
values, interleaved with the compute function alone (:func:`lstm_core.timing.interleaved`).
"""
from __future__ import annotations

import contextlib
import io
import os
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.pop("LSTM_CORE_STATIC_WIDGETS", None)

import common  # noqa: E402, F401  (one BLAS thread before numpy loads)
import jupytext  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common import log  # noqa: E402
import lstm_core.viz as viz  # noqa: E402
from lstm_core.timing import interleaved  # noqa: E402

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


def main(repeats=7):
    """Time every explorer; a list of records (chapter, index, title, medians and spreads)."""
    log(f"== explorer callback latency (recompute + redraw, widget mode), median [quartiles] "
        f"of {repeats} rounds ==")
    records = []
    for chapter in sorted(BOOK.glob("*.md")):
        try:
            calls = recorded_explorers(chapter)
        except Exception as exc:  # report and go on with the other chapters
            log(f"{chapter.name}: could not run ({type(exc).__name__}: {exc})")
            records.append({"chapter": chapter.stem, "error": f"{type(exc).__name__}: {exc}"})
            continue
        for k, (compute, controls, kwargs) in enumerate(calls):
            kwargs = {**kwargs, "mode": "widget"}
            widget = viz.gradient_explorer(compute, controls, **kwargs)
            defaults, largest = control_settings(controls)
            jobs = {"default": lambda: widget.update(**defaults),
                    "largest": lambda: widget.update(**largest),
                    "compute alone": lambda: compute(**defaults)}
            t = interleaved(jobs, repeats=repeats, warmup=1)
            # the same calls on the process's CPU clock: what a busy machine adds (waiting for
            # a core) is left out, what the callback itself computes is not
            cpu = interleaved(jobs, repeats=repeats, warmup=0, clock=time.process_time)
            title = kwargs.get("title", "")
            log(f"{chapter.stem:20s} #{k} {title[:40]:40s} callback: default "
                f"{t['default'].median * 1e3:6.1f} ms [{t['default'].q1 * 1e3:.1f}, "
                f"{t['default'].q3 * 1e3:.1f}] (compute alone "
                f"{t['compute alone'].median * 1e3:5.1f} ms), largest "
                f"{t['largest'].median * 1e3:6.1f} ms; CPU time default "
                f"{cpu['default'].median * 1e3:6.1f} ms, largest {cpu['largest'].median * 1e3:6.1f} ms")
            records.append({"chapter": chapter.stem, "index": k, "title": title,
                            "defaults": defaults, "largest": largest, "times": t,
                            "cpu_times": cpu})
            plt.close("all")
    return records


def worst(records, clock="times"):
    """(median seconds, record, setting) of the slowest callback over every explorer and both
    settings, by wall time (clock="times") or CPU time ("cpu_times"); None when none ran."""
    timed = [(r[clock][s].median, r, s) for r in records if clock in r
             for s in ("default", "largest")]
    return max(timed, key=lambda item: item[0]) if timed else None


if __name__ == "__main__":
    main()
