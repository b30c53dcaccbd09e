"""What a pass keeps and what it allocates, measured (the cost appendix's memory numbers).

* :func:`cache_bytes`: bytes of the arrays a forward cache holds (the parameters and the input
  left out), to compare with the closed forms (T+1)BH, (7T+2)BH and (5T+1)BH floats.
* :func:`peak_bytes`: the peak of what a call allocates, as ``tracemalloc`` traces it.
* :func:`lstm_da_block_bytes`: the bytes of the one block of pre-activation gradients that
  ``lstm.backward`` holds at a time (a fixed size, whatever T).
"""
from __future__ import annotations

import tracemalloc

from .lstm import step_blocks

__all__ = ["cache_bytes", "lstm_da_block_bytes", "peak_bytes"]


def cache_bytes(cache) -> int:
    """Bytes of the arrays a forward cache holds, without the parameters and the input x."""
    return sum(v.nbytes for k, v in cache.arrays().items() if k != "x")


def peak_bytes(fn):
    """(result of fn(), peak bytes allocated while it ran, measured by tracemalloc)."""
    if tracemalloc.is_tracing():
        raise RuntimeError("peak_bytes needs tracemalloc to be off when it starts")
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def lstm_da_block_bytes(T, B, H, itemsize=8) -> int:
    """Bytes of the da_t (steps, B, 4H) of one block of steps, which ``lstm.backward`` holds
    instead of all T of them: a block of :func:`lstm_core.lstm.step_blocks`, about
    ``lstm.BLOCK_BYTES`` (1 MiB; at least one step, at most T)."""
    first = step_blocks(T, B, H, itemsize)[0]
    return (first.stop - first.start) * B * 4 * H * itemsize
