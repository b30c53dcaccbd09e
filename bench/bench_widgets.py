"""Widget latency: the time of one explorer callback (recompute + redraw) per move of a
control, for every chapter's explorer; medians and spreads over a fixed sequence of moves.

Each chapter is run as a script (its code cells, in order) with
``lstm_core.viz.gradient_explorer`` replaced by a recorder, so the benchmark
times exactly the ``compute`` functions and controls the chapters define. The
recorded explorers are then built in widget mode (matplotlib Agg) and their
``update`` -- recompute plus redraw -- is timed for every move of :func:`moves`, on the wall
clock and on the process's CPU clock, with the compute function alone timed after each move.
Every timed call changes the setting: the redraw keeps what did not change, so timing the
same setting twice would time almost nothing. A live explorer keeps the frames of settings
it has shown, so a move back to one skips compute; "first visits" are the moves to a setting
not shown before, "moves" all of them; "compute alone, first visits" is the compute part of
the first visits; "built in" is the explorer's construction (its first frame computed and drawn).

``python bench/bench_widgets.py --against REV [--rounds N] [CHAPTER ...]`` times the working
tree's explorers against those of lstm_core at git revision REV, interleaved: the chapter is run
once with each package, and each of N rounds builds a fresh explorer of each (timed as
"construction", which one is built first alternating from round to round) and makes every
move in both, which one goes first alternating from move to move.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.pop("LSTM_CORE_STATIC_WIDGETS", None)

import common  # noqa: E402, F401  (one BLAS thread before numpy loads)
import jupytext  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common import fmt_summary_ms, log  # noqa: E402
import lstm_core.viz as viz  # noqa: E402
from lstm_core.timing import Summary, ratio  # noqa: E402

BOOK = Path(__file__).resolve().parent.parent / "book"


def recorded_explorers(chapter: Path, viz=viz):
    """Run a chapter's code cells; return the (compute, controls, kwargs) of each explorer it
    makes. ``viz``: the package's viz module whose gradient_explorer is replaced."""
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


def moves(controls, rounds=3):
    """The settings a reader moves through, one dict of changed controls per move: each
    control swept through all its values (the others at their defaults) and back to its
    default, then default -> largest -> default ``rounds`` times (:func:`control_settings`)."""
    out = []
    for c in viz.controls.normalise_controls(controls):
        out += [{c.name: v} for v in c.values if v != c.default] + [{c.name: c.default}]
    defaults, largest = control_settings(controls)
    if largest != defaults:
        out += [largest, defaults] * rounds
    return out


class MoveTimer:
    """Times one explorer's ``update`` move by move, on the wall and the process's CPU clocks,
    and files each time under "moves" and, when the move reaches a setting this explorer has
    not shown before, also under "first visits". With ``compute``, the compute function alone
    is timed after each move at the setting reached ("compute alone", and "compute alone,
    first visits" for first visits). ``wall``/``cpu``: {key: [seconds, in move order]}."""

    KEYS = ("moves", "first visits")
    COMPUTE_KEYS = ("compute alone", "compute alone, first visits")

    def __init__(self, widget, compute=None, clocks=(time.perf_counter, time.process_time)):
        self.widget, self.compute, self.clocks = widget, compute, clocks
        self.seen = {tuple(widget.current.items())}
        keys = self.KEYS + (self.COMPUTE_KEYS if compute is not None else ())
        self.wall = {key: [] for key in keys}
        self.cpu = {key: [] for key in keys}

    def _timed(self, fn, **kwargs):
        """(wall seconds, CPU seconds) of ``fn(**kwargs)``."""
        wall, cpu = self.clocks
        t0, c0 = wall(), cpu()
        fn(**kwargs)
        return wall() - t0, cpu() - c0

    def _file(self, keys, times):
        for key in keys:
            self.wall[key].append(times[0])
            self.cpu[key].append(times[1])

    def move(self, move):
        """``widget.update(**move)``, timed; True when it reached a setting not shown before."""
        times = self._timed(self.widget.update, **move)
        values = tuple(self.widget.current.items())
        first = values not in self.seen
        self.seen.add(values)
        self._file(self.KEYS[:1 + first], times)
        if self.compute is not None:
            self._file(self.COMPUTE_KEYS[:1 + first], self._timed(self.compute, **dict(values)))
        return first

    def summaries(self):
        """({key: Summary} of wall times, {key: Summary} of CPU times), keys with samples only."""
        return tuple({k: Summary.of(v) for k, v in times.items() if v}
                     for times in (self.wall, self.cpu))


def time_moves(widget, plan, compute=None):
    """Make every move of ``plan`` (:func:`moves`) in ``widget``, timed (:class:`MoveTimer`):
    ({key: Summary} of wall times, {key: Summary} of CPU times)."""
    timer = MoveTimer(widget, compute)
    for move in plan:
        timer.move(move)
    return timer.summaries()


def _ms(summary):
    return fmt_summary_ms(summary, digits=1)


def main(repeats=3, chapters=None):
    """Time every explorer; a list of records (chapter, index, title, medians and spreads).

    ``repeats``: how many times the default -> largest -> default round trip ends the moves;
    ``chapters``: the names of the chapters to time (all when None).
    """
    log("== explorer callback latency (recompute + redraw per move, widget mode), "
        "median [quartiles] ==")
    records = []
    for chapter in sorted(BOOK.glob("*.md")):
        if chapters and chapter.stem not in chapters:
            continue
        try:
            calls = recorded_explorers(chapter)
        except Exception as exc:  # report and go on with the other chapters
            log(f"{chapter.name}: could not run ({type(exc).__name__}: {exc})")
            records.append({"chapter": chapter.stem, "error": f"{type(exc).__name__}: {exc}"})
            continue
        for k, (compute, controls, kwargs) in enumerate(calls):
            t0 = time.perf_counter()
            widget = viz.gradient_explorer(compute, controls, **{**kwargs, "mode": "widget"})
            built = time.perf_counter() - t0
            plan = moves(controls, repeats)
            t, cpu = time_moves(widget, plan, compute)
            if "moves" not in t:
                continue  # a single setting: nothing to move
            title = kwargs.get("title", "")
            first = t.get("first visits", t["moves"])
            log(f"{chapter.stem:20s} #{k} {title[:40]:40s} {len(t['moves'].samples)} moves: "
                f"{_ms(t['moves'])}, first visits {_ms(first)}, worst "
                f"{t['moves'].hi * 1e3:.1f} ms; CPU time {_ms(cpu['moves'])}; compute alone "
                f"{t['compute alone'].median * 1e3:5.1f} ms, on first visits "
                f"{t.get('compute alone, first visits', t['compute alone']).median * 1e3:5.1f} "
                f"ms; built in {built * 1e3:.0f} ms")
            records.append({"chapter": chapter.stem, "index": k, "title": title,
                            "moves": plan, "times": t, "cpu_times": cpu,
                            "construction_s": built})
            plt.close("all")
    return records


def worst(records, clock="times"):
    """(median seconds, record, which) of the slowest callback over every explorer, over all
    its moves and over its first visits, by wall time (clock="times") or CPU time
    ("cpu_times"); None when none ran."""
    timed = [(r[clock][s].median, r, s) for r in records if clock in r
             for s in ("moves", "first visits") if s in r[clock]]
    return max(timed, key=lambda item: item[0]) if timed else None


@contextlib.contextmanager
def imported_as_lstm_core(package, names):
    """While inside, ``import lstm_core[.name]`` gives ``package[.name]`` (for each of
    ``names``, the lstm_core modules a chapter imported), so that a chapter run inside uses
    ``package``; on leaving, the working tree's modules are back."""
    saved = {k: v for k, v in sys.modules.items() if k == "lstm_core" or k.startswith("lstm_core.")}
    for k in saved:
        del sys.modules[k]
    try:
        for name in names:
            target = package.__name__ + name[len("lstm_core"):]
            with contextlib.suppress(ImportError):
                sys.modules[name] = importlib.import_module(target)
        yield
    finally:
        for k in [k for k in sys.modules if k == "lstm_core" or k.startswith("lstm_core.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def against(rev, chapters=None, rounds=5):
    """Every explorer of the working tree against the same explorer with lstm_core at git
    revision ``rev``, interleaved (module docstring); the medians of both and of the ratios
    tree / rev, over all moves and over first visits, wall and CPU time."""
    from bench_bptt import load_lstm_core_at

    base = load_lstm_core_at(rev)
    log(f"== explorer callbacks: working tree against {rev}, {rounds} rounds, interleaved, "
        f"median [quartiles] ==")
    for chapter in sorted(BOOK.glob("*.md")):
        if chapters and chapter.stem not in chapters:
            continue
        tree_calls = recorded_explorers(chapter)
        names = [k for k in sys.modules if k == "lstm_core" or k.startswith("lstm_core.")]
        with imported_as_lstm_core(base, names):
            base_calls = recorded_explorers(chapter, viz=base.viz)
        for k, (tree_call, base_call) in enumerate(zip(tree_calls, base_calls)):
            samples = {side: {clock: {"moves": [], "first visits": [], "construction": []}
                              for clock in ("wall", "cpu")} for side in ("tree", rev)}
            plan = moves(tree_call[1])
            for r in range(rounds):
                timers = {}
                sides = (("tree", (viz, tree_call)), (rev, (base.viz, base_call)))
                for side, (pkg, (compute, controls, kwargs)) in sides[::1 if r % 2 else -1]:
                    t0, c0 = time.perf_counter(), time.process_time()
                    widget = pkg.gradient_explorer(compute, controls,
                                                   **{**kwargs, "mode": "widget"})
                    samples[side]["wall"]["construction"].append(time.perf_counter() - t0)
                    samples[side]["cpu"]["construction"].append(time.process_time() - c0)
                    timers[side] = MoveTimer(widget)
                for i, move in enumerate(plan):
                    for side in (("tree", rev) if i % 2 == 0 else (rev, "tree")):
                        timers[side].move(move)
                for side, timer in timers.items():
                    for clock, times in (("wall", timer.wall), ("cpu", timer.cpu)):
                        for key, values in times.items():
                            samples[side][clock][key] += values
                plt.close("all")
            if not samples["tree"]["wall"]["moves"]:
                continue
            parts = []
            for key in ("first visits", "moves", "construction"):
                for clock in ("wall", "cpu"):
                    tree, old = (Summary.of(samples[side][clock][key]) for side in ("tree", rev))
                    r = ratio(tree, old)
                    parts.append(f"{key} {clock}: {rev} {_ms(old)}, tree {_ms(tree)}, "
                                 f"ratio {r.median:.2f}")
            log(f"{chapter.stem:20s} #{k}:\n    " + "\n    ".join(parts))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REV", help="compare with lstm_core at git REV")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per explorer (--against)")
    parser.add_argument("chapters", nargs="*", help="chapter names (book/NAME.md); all if none")
    args = parser.parse_args()
    if args.against:
        against(args.against, args.chapters, args.rounds)
    else:
        main(chapters=args.chapters)
