"""Interleaved wall-clock timing: the one harness the benchmarks and the cost appendix use.

On a shared machine the load changes while a benchmark runs. Timing one implementation for a
while and then the other lets such a change favour whichever ran in the quieter moment, so
:func:`interleaved` makes the candidates take turns instead: every round calls each of them
once, in an order that rotates by one place from round to round (with n candidates, each takes
each position once in every n rounds), and a slow spell hits all of them alike. Each candidate's
times are summarised by the median and the quartiles (:class:`Summary`), and two candidates
are compared round by round with :func:`ratio`.

Nothing here knows what is timed: the callables take no arguments and their results are
discarded. The clock is a parameter so that the tests can drive the harness with a fake one.
So is an optional probe, read before and after every timed sample, whose counters (page
faults, system CPU time, ... in the benchmarks) say what else happened in a slow round.
"""
from __future__ import annotations

import gc
import numbers
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Summary", "interleaved", "ratio", "round_orders"]


@dataclass(frozen=True)
class Summary:
    """Median and spread of one candidate's samples (seconds, or a ratio for :func:`ratio`).

    ``samples`` keeps every value in round order; ``q1``/``q3`` are the 25th and 75th
    percentiles (linear interpolation, as ``numpy.percentile``), ``lo``/``hi`` the extremes.
    ``counters`` maps each name a probe returned (:func:`interleaved`) to its change during
    each sample, in the same order as ``samples``; empty without a probe.
    """

    samples: tuple
    median: float
    q1: float
    q3: float
    lo: float
    hi: float
    counters: dict = field(default_factory=dict, hash=False)

    @classmethod
    def of(cls, samples, counters=None) -> "Summary":
        """The summary of ``samples``; ``counters``: one {name: number} per sample, or None."""
        values = np.asarray(samples, dtype=float)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"samples must be a non-empty 1-d sequence, got shape {values.shape}")
        by_name = {}
        if counters:
            if len(counters) != values.size:
                raise ValueError(f"counters must hold one mapping per sample: {values.size} "
                                 f"samples, {len(counters)} counters")
            names = list(counters[0])
            if any(list(c) != names for c in counters):
                raise ValueError(f"every sample's counters must have the names {names}")
            by_name = {name: tuple(float(c[name]) for c in counters) for name in names}
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        return cls(samples=tuple(float(v) for v in values), median=float(median), q1=float(q1),
                   q3=float(q3), lo=float(values.min()), hi=float(values.max()),
                   counters=by_name)

    @property
    def iqr(self) -> float:
        """Interquartile range q3 - q1."""
        return self.q3 - self.q1

    def as_dict(self) -> dict:
        """Plain numbers (for JSON): median, q1, q3, lo, hi, n, the samples and the counters
        (when there are any), each a list in round order."""
        out = {"median": self.median, "q1": self.q1, "q3": self.q3, "lo": self.lo,
               "hi": self.hi, "n": len(self.samples), "samples": list(self.samples)}
        if self.counters:
            out["counters"] = {name: list(v) for name, v in self.counters.items()}
        return out


def _count(name: str, value, least: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    return int(value)


def _check_inputs(fns, clock, probe):
    if not isinstance(fns, Mapping):
        raise TypeError(f"fns must be a mapping of names to callables, got {type(fns).__name__}")
    if not fns:
        raise ValueError("fns must hold at least one callable, got an empty mapping")
    for key, fn in fns.items():
        if not callable(fn):
            raise TypeError(f"fns[{key!r}] must be callable, got {type(fn).__name__}")
    if not callable(clock):
        raise TypeError(f"clock must be callable, got {type(clock).__name__}")
    if probe is not None and not callable(probe):
        raise TypeError(f"probe must be callable or None, got {type(probe).__name__}")


def _change(before, after, number):
    """{name: (after - before) / number} of two readings of a probe."""
    for reading in (before, after):
        if not isinstance(reading, Mapping) or not all(
                isinstance(v, numbers.Real) for v in reading.values()):
            raise TypeError(f"probe must return a mapping of names to numbers, got {reading!r}")
    if list(after) != list(before):
        raise ValueError(f"probe returned the names {list(after)}, before {list(before)}")
    return {name: (after[name] - before[name]) / number for name in before}


def round_orders(keys, rounds: int) -> list[list]:
    """The call order of every round: round r starts at ``keys[r % n]`` and wraps around."""
    keys = list(keys)
    n = len(keys)
    return [keys[r % n:] + keys[:r % n] for r in range(rounds)]


def interleaved(fns: Mapping[Hashable, Callable[[], object]], *,
                repeats: int = 7, warmup: int = 1, number: int = 1,
                clock: Callable[[], float] = time.perf_counter,
                probe: Callable[[], Mapping] | None = None) -> dict:
    """Time the callables of ``fns`` in turns; {key: Summary} in seconds.

    fns      names -> callables taking no arguments (at least one)
    repeats  timed rounds (>= 1); a round calls each callable ``number``
             times in a row and records the elapsed time / ``number``
    warmup   untimed rounds first (>= 0), so that first-call costs
             (imports, allocator growth, caches) are not timed
    number   calls per sample (>= 1), for very short callables
    clock    time source in seconds; tests pass a fake one
    probe    None, or a callable returning counters {name: number},
             read just before and after every timed sample, outside
             the clock; each Summary's ``counters`` then holds their
             changes / ``number``

    The order rotates by one place every round (:func:`round_orders`):
    no callable always runs first or after the same neighbour. Sample r
    of every candidate comes from round r, so :func:`ratio` can pair them.
    The garbage collector is off during the rounds, as in :mod:`timeit`.
    """
    _check_inputs(fns, clock, probe)
    repeats = _count("repeats", repeats, 1)
    warmup = _count("warmup", warmup, 0)
    number = _count("number", number, 1)
    samples = {key: [] for key in fns}
    counters = {key: [] for key in fns}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r, order in enumerate(round_orders(fns, warmup + repeats)):
            timed = r >= warmup
            for key in order:
                fn = fns[key]
                before = probe() if timed and probe is not None else None
                t0 = clock()
                for _ in range(number):
                    fn()
                elapsed = clock() - t0
                if timed:
                    samples[key].append(elapsed / number)
                if timed and probe is not None:
                    counters[key].append(_change(before, probe(), number))
    finally:
        if gc_was_enabled:
            gc.enable()
    return {key: Summary.of(samples[key], counters[key]) for key in fns}


def ratio(numerator: Summary, denominator: Summary) -> Summary:
    """Round-by-round ratios ``numerator.samples[r] / denominator.samples[r]``, summarised.

    Both must come from one :func:`interleaved` call (the same rounds), so each ratio compares
    two calls made moments apart. Its median can differ from the ratio of the two medians.
    """
    for name, s in (("numerator", numerator), ("denominator", denominator)):
        if not isinstance(s, Summary):
            raise TypeError(f"{name} must be a Summary from interleaved(), got {type(s).__name__}")
    a, b = np.asarray(numerator.samples), np.asarray(denominator.samples)
    if a.shape != b.shape:
        raise ValueError(f"numerator and denominator must have the same number of rounds, "
                         f"got {a.size} and {b.size}")
    if np.any(b <= 0):
        raise ValueError("denominator samples must be positive")
    return Summary.of(a / b)
