"""lstm_core.timing, the interleaved harness of bench/ and the cost appendix.

Only the bookkeeping is tested, with fake callables and a fake clock: who is called when, which
calls are timed, and what the summaries are. No real time is measured or asserted.
"""
from __future__ import annotations

import gc

import pytest

from lstm_core.timing import Summary, interleaved, ratio, round_orders


class FakeClock:
    """A clock that moves only when a fake callable says how long it took."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def fakes(durations, clock, log):
    """Callables that log their name and advance ``clock`` by their next duration."""
    def make(name):
        it = iter(durations[name])

        def fn():
            log.append(name)
            clock.now += next(it)
        return fn
    return {name: make(name) for name in durations}


def test_the_order_rotates_by_one_place_every_round_warmup_included():
    log = []
    fns = {k: (lambda k=k: log.append(k)) for k in "abc"}
    interleaved(fns, repeats=3, warmup=1)
    assert log == list("abc" "bca" "cab" "abc")


def test_each_candidate_takes_each_position_once_in_n_rounds():
    orders = round_orders(["p", "q", "r", "s"], 8)
    for start in (0, 4):
        for position in range(4):
            assert sorted(o[position] for o in orders[start:start + 4]) == ["p", "q", "r", "s"]


def test_warmup_rounds_are_not_timed_and_samples_are_in_round_order():
    clock, log = FakeClock(), []
    durations = {"a": [100.0, 5.0, 1.0, 4.0, 2.0, 3.0], "b": [200.0, 10.0, 10.0, 30.0, 20.0, 40.0]}
    out = interleaved(fakes(durations, clock, log), repeats=5, warmup=1, clock=clock)
    assert out["a"].samples == (5.0, 1.0, 4.0, 2.0, 3.0)
    assert out["b"].samples == (10.0, 10.0, 30.0, 20.0, 40.0)
    a = out["a"]
    assert (a.median, a.q1, a.q3, a.lo, a.hi, a.iqr) == (3.0, 2.0, 4.0, 1.0, 5.0, 2.0)
    b = out["b"]
    assert (b.median, b.q1, b.q3) == (20.0, 10.0, 30.0)


def test_quartiles_interpolate_linearly_between_samples():
    # 4 samples: the 25th percentile sits 3/4 of the way from the 1st to the 2nd
    s = Summary.of([4.0, 1.0, 3.0, 2.0])
    assert (s.q1, s.median, s.q3) == (1.75, 2.5, 3.25)


def test_number_divides_the_elapsed_time_by_the_calls_per_sample():
    clock, log = FakeClock(), []
    out = interleaved(fakes({"a": [0.5] * 6 + [0.25] * 6}, clock, log), repeats=3, warmup=0,
                      number=4, clock=clock)
    assert len(log) == 12
    assert out["a"].samples == (0.5, 0.375, 0.25)   # calls 1-4, 5-8, 9-12


def test_ratio_pairs_the_samples_of_one_round():
    clock, log = FakeClock(), []
    out = interleaved(fakes({"x": [2.0, 4.0, 6.0], "y": [1.0, 1.0, 3.0]}, clock, log),
                      repeats=3, warmup=0, clock=clock)
    r = ratio(out["x"], out["y"])
    assert r.samples == (2.0, 4.0, 2.0)
    assert r.median == 2.0                     # the ratio of the medians would be 4 / 1
    assert out["x"].median / out["y"].median == 4.0


def test_the_garbage_collector_is_off_while_timing_and_restored_after():
    seen = []
    assert gc.isenabled()
    interleaved({"a": lambda: seen.append(gc.isenabled())}, repeats=2, warmup=0)
    assert seen == [False, False] and gc.isenabled()
    gc.disable()
    try:
        interleaved({"a": lambda: None}, repeats=1)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_failing_callable_propagates_and_restores_the_collector():
    def boom():
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        interleaved({"a": boom})
    assert gc.isenabled()


def test_summary_as_dict_is_plain_numbers():
    d = Summary.of([1.0, 2.0, 3.0]).as_dict()
    assert d == {"median": 2.0, "q1": 1.5, "q3": 2.5, "lo": 1.0, "hi": 3.0, "n": 3,
                 "samples": [1.0, 2.0, 3.0]}
    d = Summary.of([1.0, 2.0], [{"faults": 3, "sys": 0.5}, {"faults": 0, "sys": 0.0}]).as_dict()
    assert d["counters"] == {"faults": [3.0, 0.0], "sys": [0.5, 0.0]}


class FakeProbe:
    """Counters the fake callables bump; every reading is logged with the clock's time."""

    def __init__(self, clock, log, cost=0.0):
        self.clock, self.log, self.cost = clock, log, cost
        self.faults = 0

    def __call__(self):
        self.log.append(("probe", self.clock.now))
        self.clock.now += self.cost          # a slow probe must not show in the times
        return {"faults": self.faults, "reads": len(self.log)}


def test_the_probe_is_read_around_every_timed_sample_and_outside_the_clock():
    clock, log = FakeClock(), []
    probe = FakeProbe(clock, log, cost=1000.0)
    faults = {"a": iter([50, 7, 0, 2]), "b": iter([60, 0, 30, 1])}

    def make(name, duration):
        def fn():
            log.append(name)
            probe.faults += next(faults[name])
            clock.now += duration
        return fn
    out = interleaved({"a": make("a", 1.0), "b": make("b", 2.0)}, repeats=3, warmup=1,
                      clock=clock, probe=probe)
    calls = [e for e in log if isinstance(e, str)]
    assert calls == list("ab" "ba" "ab" "ba")
    # no reading in the warm-up round, then one before and one after each timed call
    kinds = ["probe" if isinstance(e, tuple) else "call" for e in log]
    assert kinds == ["call"] * 2 + ["probe", "call", "probe"] * 6
    assert out["a"].samples == (1.0, 1.0, 1.0) and out["b"].samples == (2.0, 2.0, 2.0)
    # round order, warm-up (50, 60) left out; b ran first in round 1
    assert out["a"].counters["faults"] == (7.0, 0.0, 2.0)
    assert out["b"].counters["faults"] == (0.0, 30.0, 1.0)
    assert out["a"].counters["reads"] == (2.0, 2.0, 2.0)


def test_probe_changes_are_per_call_like_the_times():
    clock, log = FakeClock(), []
    probe = FakeProbe(clock, log)

    def fn():
        probe.faults += 3
        clock.now += 0.5
    out = interleaved({"a": fn}, repeats=2, warmup=0, number=4, clock=clock, probe=probe)
    assert out["a"].samples == (0.5, 0.5)
    assert out["a"].counters["faults"] == (3.0, 3.0)


def test_without_a_probe_there_are_no_counters():
    out = interleaved({"a": lambda: None}, repeats=2)
    assert out["a"].counters == {} and "counters" not in out["a"].as_dict()


@pytest.mark.parametrize("probe,error,match", [
    (3, TypeError, "probe must be callable or None"),
    (lambda: 5, TypeError, "probe must return a mapping of names to numbers"),
    (lambda: {"faults": "many"}, TypeError, "probe must return a mapping"),
    (iter([{"a": 1}, {"b": 2}]).__next__, ValueError, r"probe returned the names \['b'\]"),
])
def test_a_bad_probe_is_named(probe, error, match):
    with pytest.raises(error, match=match):
        interleaved({"a": lambda: None}, repeats=1, warmup=0, probe=probe)
    assert gc.isenabled()


def test_summary_counters_must_match_the_samples():
    with pytest.raises(ValueError, match="one mapping per sample: 2 samples, 1 counters"):
        Summary.of([1.0, 2.0], [{"faults": 1}])
    with pytest.raises(ValueError, match="the names"):
        Summary.of([1.0, 2.0], [{"faults": 1}, {"sys": 1}])


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(fns={}), ValueError, "at least one"),
    (dict(fns=[lambda: None]), TypeError, "mapping"),
    (dict(fns={"a": 3}), TypeError, r"fns\['a'\] must be callable"),
    (dict(fns={"a": print}, repeats=0), ValueError, "repeats must be an integer >= 1"),
    (dict(fns={"a": print}, repeats=2.5), ValueError, "repeats"),
    (dict(fns={"a": print}, repeats=True), ValueError, "repeats"),
    (dict(fns={"a": print}, warmup=-1), ValueError, "warmup must be an integer >= 0"),
    (dict(fns={"a": print}, number=0), ValueError, "number must be an integer >= 1"),
    (dict(fns={"a": print}, clock=1.0), TypeError, "clock must be callable"),
])
def test_bad_input_is_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        interleaved(**kwargs)


def test_ratio_rejects_mismatched_or_foreign_input():
    with pytest.raises(ValueError, match="same number of rounds"):
        ratio(Summary.of([1.0, 2.0]), Summary.of([1.0]))
    with pytest.raises(TypeError, match="numerator must be a Summary"):
        ratio([1.0], Summary.of([1.0]))
    with pytest.raises(ValueError, match="positive"):
        ratio(Summary.of([1.0]), Summary.of([0.0]))
    with pytest.raises(ValueError, match="non-empty"):
        Summary.of([])
