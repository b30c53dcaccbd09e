"""LSTM and GRU forward+backward at (T=100, B=32, D=64, H=128): lstm_core time,
PyTorch CPU time when torch is installed, and the matmuls' share of the run.

The matmul share is the time the very same matrix products take when run
alone (same shapes, same dtype, same per-step loop for the recurrent ones)
divided by the time of the whole forward+backward. A share near 1 means the
Python and elementwise overhead around the products is small.
"""
from __future__ import annotations

import numpy as np

from common import fmt_ms, machine_line, median_time
from lstm_core import gru, lstm

SIZE = dict(T=100, B=32, D=64, H=128)
GATES = {"lstm": 4, "gru": 3}
MODULES = {"lstm": lstm, "gru": gru}


def make_problem(model, dtype, T, B, D, H, seed=0):
    rng = np.random.default_rng(seed)
    m = MODULES[model]
    params = m.init_params(D, H, rng=rng, dtype=dtype)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    dh = rng.standard_normal((T, B, H)).astype(dtype)
    return params, x, dh


def matmul_flops(model, T, B, D, H):
    """FLOPs of the matrix products in forward + backward (2 per multiply-add).

    Forward: x W_x and h W_h at every step, 2 T B G (D + H) with G = gates * H.
    Backward: dx, dW_x, dh_{t-1} and dW_h, twice the forward count.
    Elementwise gate arithmetic is not counted.
    """
    G = GATES[model] * H
    return 3 * 2 * T * B * G * (D + H)


def lstm_core_fwd_bwd(model, params, x, dh):
    m = MODULES[model]
    _, cache = m.forward(params, x)
    return m.backward(dh, cache)


def matmuls_alone(model, dtype, T, B, D, H):
    """The products forward+backward perform, with the same shapes, nothing else."""
    G = GATES[model] * H
    rng = np.random.default_rng(1)
    X = rng.standard_normal((T * B, D)).astype(dtype)
    W_x = rng.standard_normal((D, G)).astype(dtype)
    W_h = rng.standard_normal((H, G)).astype(dtype)
    h = rng.standard_normal((B, H)).astype(dtype)
    hs = rng.standard_normal((T * B, H)).astype(dtype)
    da = rng.standard_normal((B, G)).astype(dtype)
    das = rng.standard_normal((T * B, G)).astype(dtype)

    def run():
        X @ W_x                      # input projection, all steps at once
        for _ in range(T):
            h @ W_h                  # forward recurrent product, per step
        for _ in range(T):
            da @ W_h.T               # backward recurrent product, per step
        X.T @ das                    # dW_x over all steps
        hs.T @ das                   # dW_h over all steps
        das @ W_x.T                  # dx for all steps
    return run


def torch_fwd_bwd(model, params, x, dh, dtype):
    import torch

    from lstm_core import interop

    tdtype = {np.float64: torch.float64, np.float32: torch.float32}[dtype]
    T, B, D = x.shape
    H = params["W_h"].shape[0]
    mod = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[model](D, H).to(tdtype)
    sd = (interop.lstm_to_torch if model == "lstm" else interop.gru_to_torch)(params)
    mod.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()})
    xt = torch.from_numpy(x).requires_grad_(True)
    dht = torch.from_numpy(dh)

    def run():
        mod.zero_grad()
        y, _ = mod(xt)
        y.backward(dht)
    return run, torch.get_num_threads()


def main():
    print("== 1. forward+backward at", SIZE, "==")
    print("machine:", machine_line())
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
        print("PyTorch: not installed -- PyTorch comparison skipped (pip install torch to include it)")
    for model in ("lstm", "gru"):
        for dtype in (np.float64, np.float32):
            params, x, dh = make_problem(model, dtype, **SIZE)
            g = lstm_core_fwd_bwd(model, params, x, dh)
            assert g.params["W_h"].dtype == dtype, "float32 must stay float32"
            t_ours = median_time(lambda: lstm_core_fwd_bwd(model, params, x, dh))
            t_mm = median_time(matmuls_alone(model, dtype, **SIZE))
            flops = matmul_flops(model, **SIZE)
            line = (f"{model} {np.dtype(dtype).name}: lstm_core {fmt_ms(t_ours)}  "
                    f"matmuls alone {fmt_ms(t_mm)}  matmul share {t_mm / t_ours:5.2f}  "
                    f"achieved {flops / t_ours / 1e9:6.2f} GFLOP/s of {flops / t_mm / 1e9:6.2f} (GEMM)")
            if have_torch:
                run, threads = torch_fwd_bwd(model, params, x, dh, dtype)
                t_torch = median_time(run)
                line += f"  torch {fmt_ms(t_torch)} ({threads} thr)  ratio ours/torch {t_ours / t_torch:5.2f}"
            print(line)


def scaling():
    print("== 2. scaling (lstm, float64, B=32, D=64) ==")
    Ts = [25, 50, 100, 200, 400]
    times = []
    for T in Ts:
        params, x, dh = make_problem("lstm", np.float64, T, 32, 64, 128)
        times.append(median_time(lambda: lstm_core_fwd_bwd("lstm", params, x, dh), repeats=5))
    slope_T = np.polyfit(np.log(Ts), np.log(times), 1)[0]
    print("T:", Ts, "ms:", [round(t * 1e3, 2) for t in times], f"fitted exponent in T: {slope_T:.2f} (1 expected)")
    Hs = [128, 256, 512, 1024]
    times = []
    for H in Hs:
        params, x, dh = make_problem("lstm", np.float64, 20, 32, 64, H)
        times.append(median_time(lambda: lstm_core_fwd_bwd("lstm", params, x, dh), repeats=5))
    slope_H = np.polyfit(np.log(Hs[1:]), np.log(times[1:]), 1)[0]
    print("H:", Hs, "ms:", [round(t * 1e3, 2) for t in times],
          f"fitted exponent in H (H >= 256): {slope_H:.2f} (2 expected for large H)")


def load_lstm_core_at(rev):
    """lstm_core as committed at git revision ``rev``, imported as a separate package."""
    import importlib
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    tmp = Path(tempfile.mkdtemp(prefix="lstm_core_at_"))
    tar = subprocess.run(["git", "-C", str(repo), "archive", rev, "lstm_core"],
                         capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=tar, check=True)
    name = "lstm_core_at_" + "".join(ch if ch.isalnum() else "_" for ch in rev)
    (tmp / "lstm_core").rename(tmp / name)
    sys.path.insert(0, str(tmp))
    return importlib.import_module(name)


def against(rev, repeats=21):
    """forward+backward of the working tree's lstm_core vs the one at ``rev``, at SIZE, every
    model and dtype: the two alternate call by call (the order flips every round), so a load
    change on the machine hits both alike. Medians, quartiles, and the largest difference."""
    import statistics
    import time

    import lstm_core as here
    base = load_lstm_core_at(rev)
    print(f"== interleaved: working tree vs {rev} at", SIZE, "==")
    print("machine:", machine_line())
    T, B, D, H = (SIZE[k] for k in "TBDH")
    for model in ("lstm", "gru", "rnn"):
        for dtype in (np.float64, np.float32):
            rng = np.random.default_rng(0)
            mods = {rev: getattr(base, model), "tree": getattr(here, model)}
            params = mods["tree"].init_params(D, H, rng=rng, dtype=dtype)
            x = rng.standard_normal((T, B, D)).astype(dtype)
            dh = rng.standard_normal((T, B, H)).astype(dtype)

            def run(m):
                return m.backward(dh, m.forward(params, x)[1])

            g_base, g_tree = run(mods[rev]), run(mods["tree"])
            diff = max(float(np.max(np.abs(g_base.params[k] - g_tree.params[k]))) for k in g_tree.params)
            times = {k: [] for k in mods}
            for r in range(repeats):
                for name in (list(mods) if r % 2 else list(mods)[::-1]):
                    t0 = time.perf_counter()
                    run(mods[name])
                    times[name].append(time.perf_counter() - t0)
            med = {k: statistics.median(v) for k, v in times.items()}
            quart = {k: np.percentile(v, [25, 75]) * 1e3 for k, v in times.items()}
            print(f"{model} {np.dtype(dtype).name}: " + "  ".join(
                f"{k} {fmt_ms(med[k])} [{quart[k][0]:.1f}, {quart[k][1]:.1f}]" for k in mods)
                + f"  tree/{rev} {med['tree'] / med[rev]:.3f}  max |grad diff| {diff:.1e}")


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--against":
        against(sys.argv[2])    # e.g. python bench/bench_bptt.py --against main
    else:
        main()
        scaling()
