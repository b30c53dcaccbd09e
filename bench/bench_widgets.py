"""Widget latency: the median time of one explorer callback (recompute + redraw)
for every chapter's explorer, at its default control values and at the largest.

Each chapter is run as a script (its code cells, in order) with
``lstm_core.viz.gradient_explorer`` replaced by a recorder, so the benchmark
times exactly the ``compute`` functions and controls the chapters define. The
recorded explorers are then built in widget mode (matplotlib Agg) and their
``update`` -- recompute plus redraw -- is timed.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.pop("LSTM_CORE_STATIC_WIDGETS", None)

import jupytext  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common import median_time  # noqa: E402
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


def main():
    print("== 3. explorer callback latency (recompute + redraw, widget mode, median of 7) ==")
    for chapter in sorted(BOOK.glob("*.md")):
        try:
            calls = recorded_explorers(chapter)
        except Exception as exc:  # report and go on with the other chapters
            print(f"{chapter.name}: could not run ({type(exc).__name__}: {exc})")
            continue
        for k, (compute, controls, kwargs) in enumerate(calls):
            kwargs = {**kwargs, "mode": "widget"}
            widget = viz.gradient_explorer(compute, controls, **kwargs)
            defaults, largest = control_settings(controls)
            t_def = median_time(lambda: widget.update(**defaults))
            t_max = median_time(lambda: widget.update(**largest))
            c_def = median_time(lambda: compute(**defaults))
            title = kwargs.get("title", "")[:40]
            print(f"{chapter.stem:20s} #{k} {title:40s} callback: default {t_def * 1e3:6.1f} ms "
                  f"(compute alone {c_def * 1e3:5.1f} ms), largest {t_max * 1e3:6.1f} ms")
            plt.close("all")


if __name__ == "__main__":
    sys.exit(main())
