"""Peak memory of LSTM forward + backward at T = 1000, B = 32, D = 64, H = 128, float64.

Two instruments:

* tracemalloc (``lstm_core.memory.peak_bytes``, as in the cost appendix): the peak of what
  numpy allocates during ``lstm.backward(dh, lstm.forward(params, x)[1])``, the arrays made
  beforehand (params, x, dh) not counted. This is the figure of the goal, measured twice: with
  the default call, which also returns the per-step totals dh_steps and dc_steps (2 TBH arrays
  more; its da_steps, 4 TBH, is computed only when read, and the pass holds the da of one block
  of steps), and with ``keep_steps=False``, which returns what PyTorch returns (the parameter
  gradients and dx). A third figure, for information: the default call followed by reading
  da_steps.
* the peak resident set size of a fresh process (Linux ``VmHWM``, reset with
  ``/proc/self/clear_refs`` just before the pass) above its resident size before the pass, for
  lstm_core and for PyTorch (``nn.LSTM`` forward + ``backward(dh)``, input gradient required)
  alike. PyTorch's CPU allocations are invisible to tracemalloc, so this is the one figure
  measured the same way for both. glibc's malloc is told to map every block of 64 KiB or more
  on its own (``MALLOC_MMAP_THRESHOLD_``), so that freed arrays go back to the system and the
  peak is not hidden by reuse. Both first run the pass once at T = 20 to load their code.

Sizes are reported in MiB and in "(T, B, H) arrays": T B H floats of the dtype.
"""
from __future__ import annotations

import common  # noqa: F401  (first: one BLAS thread before numpy loads)

import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from common import log  # noqa: E402

SIZE = dict(T=1000, B=32, D=64, H=128)
MiB = 2 ** 20

# run in a fresh interpreter: python -c RSS_PROBE <impl> T B D H
RSS_PROBE = r"""
import json, sys
impl, T, B, D, H = sys.argv[1], *map(int, sys.argv[2:6])
import numpy as np

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)

def problem(T):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, D))
    dh = rng.standard_normal((T, B, H))
    return x, dh

if impl == "lstm_core":
    from lstm_core import lstm
    params = lstm.init_params(D, H, rng=np.random.default_rng(1))
    def run(x, dh):
        lstm.backward(dh, lstm.forward(params, x)[1])
else:
    import torch
    torch.set_num_threads(1)
    mod = torch.nn.LSTM(D, H).double()
    def run(x, dh):
        xt = torch.from_numpy(x).requires_grad_(True)
        y, _ = mod(xt)
        y.backward(torch.from_numpy(dh))
        mod.zero_grad(set_to_none=True)
run(*problem(20))                       # load the code paths once
x, dh = problem(T)
before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")                        # VmHWM := VmRSS
run(x, dh)
print(json.dumps({"peak_above_start": status("VmHWM") - before}))
"""


def tracemalloc_peak(T, B, D, H, dtype=np.float64, keep_steps=True, read_da_steps=False):
    from lstm_core import lstm
    from lstm_core.memory import peak_bytes

    rng = np.random.default_rng(0)
    params = lstm.init_params(D, H, rng=rng, dtype=dtype)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    dh = rng.standard_normal((T, B, H)).astype(dtype)
    def run():
        g = lstm.backward(dh, lstm.forward(params, x)[1], keep_steps=keep_steps)
        return g.da_steps if read_da_steps else g

    return peak_bytes(run)[1]


def rss_peak(impl, T, B, D, H):
    """Peak RSS above the start of the pass, in bytes, in a fresh process; None if it failed."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(64 * 1024),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, "-c", RSS_PROBE, impl, str(T), str(B), str(D), str(H)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return None, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"
    return json.loads(proc.stdout.strip().splitlines()[-1])["peak_above_start"], None


def main(torch=None, size=SIZE):
    T, B, D, H = (size[k] for k in "TBDH")
    array = T * B * H * 8
    log(f"== peak memory, LSTM forward + backward, float64, (T, B, D, H) = ({T}, {B}, {D}, {H});"
        f" one (T, B, H) array = {array / MiB:.2f} MiB ==")
    out = {"size": dict(size), "tbh_array_bytes": array}
    peak = tracemalloc_peak(T, B, D, H)
    out["lstm_core_tracemalloc"] = peak
    log(f"lstm_core, tracemalloc:        {peak / MiB:8.1f} MiB = {peak / array:5.2f} arrays")
    # what PyTorch returns too: parameter gradients and dx, without the per-step arrays
    lean = tracemalloc_peak(T, B, D, H, keep_steps=False)
    out["lstm_core_tracemalloc_gradients_only"] = lean
    log(f"lstm_core, tracemalloc, keep_steps=False (gradients and dx only, as torch returns): "
        f"{lean / MiB:.1f} MiB = {lean / array:.2f} arrays")
    read = tracemalloc_peak(T, B, D, H, read_da_steps=True)
    out["lstm_core_tracemalloc_da_steps_read"] = read
    log(f"lstm_core, tracemalloc, default and then da_steps read (not a goal): "
        f"{read / MiB:.1f} MiB = {read / array:.2f} arrays")
    impls = ["lstm_core"] + (["torch"] if torch is not None else [])
    for impl in impls:
        rss, err = rss_peak(impl, T, B, D, H)
        out[f"{impl}_rss"] = rss
        if rss is None:
            log(f"{impl}, peak RSS: not measured ({err})")
        else:
            log(f"{impl + ', peak RSS above start:':30s} {rss / MiB:8.1f} MiB = "
                f"{rss / array:5.2f} arrays")
    if torch is None:
        out["torch_rss"] = None
        log("torch, peak RSS: not measured (PyTorch not installed)")
    return out


if __name__ == "__main__":
    from common import import_torch
    torch, note = import_torch()
    if note:
        log(note)
    main(torch)
