"""bench/common.py and bench/bench_widgets.py: the bookkeeping that explains a noisy benchmark
(page faults and system time per call, CPU steal over a run) and the per-move timer of the
explorer benchmark. Fake clocks, fake /proc/stat text and fake widgets drive it; the one real
measurement is of page faults that a test causes on purpose."""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from lstm_core.timing import Summary

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _import_bench(name):
    """A bench module, imported with bench/ on the path; the environment variables it sets
    for the benchmarks (one BLAS thread, no static widgets) are undone afterwards."""
    with mock.patch.dict(os.environ), mock.patch.object(sys, "path", [str(BENCH), *sys.path]):
        return importlib.import_module(name)


@pytest.fixture(scope="module")
def common():
    return _import_bench("common")


@pytest.fixture(scope="module")
def bench_widgets():
    return _import_bench("bench_widgets")


STAT = """cpu  {user} 0 {system} {idle} 0 0 0 {steal} 7 0
cpu0 1 2 3 4 5 6 7 8 9 10
intr 12345
"""


def test_cpu_times_reads_the_all_cpus_line_in_seconds(common):
    hz = os.sysconf("SC_CLK_TCK")
    t = common.cpu_times(STAT.format(user=hz * 3, system=hz, idle=hz * 10, steal=hz // 2))
    assert t["user"] == 3 and t["system"] == 1 and t["idle"] == 10
    assert t["steal"] == (hz // 2) / hz
    assert t["nice"] == t["iowait"] == 0
    # a kernel without the steal column
    assert common.cpu_times("cpu  10 0 10 10 0 0 0\n")["steal"] == 0
    with pytest.raises(ValueError, match="no 'cpu' line"):
        common.cpu_times("cpu0 1 2 3\n")


def test_system_change_is_the_steal_share_of_all_cpu_time_that_passed(common):
    start = {"wall_s": 100.0, "load_average": [1.0, 2.0, 3.0],
             "cpu": dict(zip(common.CPU_FIELDS, [10.0, 0, 5.0, 50.0, 0, 0, 0, 1.0]))}
    # 30 s of CPU time passed on all CPUs together: 12 user, 9 system, 6 idle, 3 stolen
    end = {"wall_s": 115.0, "load_average": [4.0, 2.5, 3.0],
           "cpu": dict(zip(common.CPU_FIELDS, [22.0, 0, 14.0, 56.0, 0, 0, 0, 4.0]))}
    change = common.system_change(start, end)
    assert change["wall_s"] == 15.0
    assert change["steal_s"] == pytest.approx(3.0)
    assert change["steal_share"] == pytest.approx(0.1)
    assert change["load_average_start"] == [1.0, 2.0, 3.0]
    assert change["load_average_end"] == [4.0, 2.5, 3.0]
    line = common.fmt_system_change(change)
    assert "1.00, 2.00, 3.00 at the start" in line and "4.00, 2.50, 3.00 at the end" in line
    assert "CPU steal 3.00 s (10.0% of all CPU time)" in line
    unknown = common.system_change({**start, "cpu": None}, end)
    assert unknown["steal_s"] is None
    assert "CPU steal unknown" in common.fmt_system_change(unknown)


def test_system_snapshot_reads_this_machine(common):
    snap = common.system_snapshot()
    if not os.path.exists("/proc/stat"):
        pytest.skip("no /proc/stat")
    assert set(snap["cpu"]) == set(common.CPU_FIELDS)
    assert snap["cpu"]["idle"] > 0 and len(snap["load_average"]) == 3


def test_rusage_probe_counts_the_page_faults_of_fresh_memory(common):
    """Writing to 64 MiB of freshly mapped memory faults it in: at least one minor fault per
    2 MiB huge page (transparent huge pages), 16384 with 4 KiB pages; none of them major."""
    size = 64 * 2**20

    def touch():
        np.ones(size // 8)              # mapped fresh and written: every page faults in

    # through the bench's own call: interleaved with rusage_probe, and the machine meanwhile
    out, system = common.interleaved_with_noise({"touch": touch, "idle": lambda: None},
                                                repeats=3, warmup=0)
    assert system["wall_s"] > 0 and {"steal_s", "load_average_end"} <= set(system)
    minor = out["touch"].counters["minor_faults"]
    assert min(minor) >= size / 2**21 // 2
    assert max(out["idle"].counters["minor_faults"]) < min(minor)
    assert set(out["touch"].counters) == {"minor_faults", "major_faults", "system_s",
                                          "involuntary_switches"}


def test_fmt_noise_gives_median_and_max_per_round(common):
    s = Summary.of([1.0, 1.0, 1.0], [
        {"minor_faults": 0, "major_faults": 0, "system_s": 0.0247, "involuntary_switches": 1},
        {"minor_faults": 5812, "major_faults": 2, "system_s": 0.0, "involuntary_switches": 3},
        {"minor_faults": 4, "major_faults": 0, "system_s": 0.001, "involuntary_switches": 0}])
    assert common.fmt_noise(s) == "flt 4/5812 maj 0/2 sys 1.0/24.7 ivcs 1/3"
    assert common.fmt_noise(Summary.of([1.0])) == ""


class FakeWidget:
    """An explorer stand-in: ``update`` changes the setting and takes ``cost`` seconds on a
    fake clock (the clock's own reading, on the CPU clock as much)."""

    def __init__(self, clock, cost):
        self.clock, self.cost = clock, cost
        self.current = {"k": 1, "lr": 0.1}

    def update(self, **changes):
        self.current.update(changes)
        self.clock.now += self.cost


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_move_timer_files_first_visits_and_compute_alone(bench_widgets):
    wall, cpu = Clock(), Clock()
    widget = FakeWidget(wall, 0.010)
    computed = []

    def compute(k, lr):
        computed.append((k, lr))
        wall.now += 0.003
        cpu.now += 0.002

    timer = bench_widgets.MoveTimer(widget, compute, clocks=(wall, cpu))
    plan = [{"k": 2}, {"k": 1}, {"lr": 0.5}, {"k": 2}, {"k": 2, "lr": 0.1}, {"lr": 0.5}]
    firsts = [timer.move(m) for m in plan]
    # the start (k=1, lr=0.1) counts as seen; (2, 0.5) is new, (2, 0.1) seen on move 1
    assert firsts == [True, False, True, True, False, False]
    assert computed == [(2, 0.1), (1, 0.1), (1, 0.5), (2, 0.5), (2, 0.1), (2, 0.5)]
    assert timer.wall["moves"] == [pytest.approx(0.010)] * 6
    assert len(timer.wall["first visits"]) == 3
    assert timer.wall["compute alone"] == [pytest.approx(0.003)] * 6
    assert timer.cpu["compute alone, first visits"] == [pytest.approx(0.002)] * 3
    assert timer.cpu["moves"] == [0.0] * 6        # the fake update takes no CPU clock time


def test_time_moves_makes_every_move_of_the_plan(bench_widgets):
    widget = FakeWidget(Clock(), 0.0)
    t, c = bench_widgets.time_moves(widget, [{"k": 3}, {"k": 1}, {"k": 3}, {"lr": 0.2}])
    assert widget.current == {"k": 3, "lr": 0.2}
    assert set(t) == set(c) == {"moves", "first visits"}      # no compute: no compute alone
    assert len(t["moves"].samples) == 4 and len(c["first visits"].samples) == 2


def test_the_goals_table_never_prints_a_missed_median_as_the_goal_itself(capsys):
    """A median of 1.303 against a goal of 1.3 once printed as '1.30 ... MISSED'."""
    run_all = _import_bench("run_all")
    assert run_all.shown(1.303161, 1.3, 2) == "1.303"
    assert run_all.shown(1.2996, 1.3, 2) == "1.2996"
    assert run_all.shown(1.38, 1.3, 2) == "1.38"
    assert run_all.shown(1.3, 1.3, 2) == "1.30"
    assert run_all.shown(49.96, 50, 1) == "49.96"
    rows = [{"goal": "LSTM float32 time / torch", "limit": 1.3, "unit": "x",
             "measured": 1.303161, "spread": [1.27, 1.34],
             "verdict": run_all.verdict(1.303161, 1.3, 1.27, 1.34)}]
    run_all.print_goals(rows, [])
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("LSTM"))
    assert " 1.303 " in line and line.endswith("MISSED (IQR straddles the goal)")
