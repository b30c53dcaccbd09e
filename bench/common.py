"""Shared by the benchmarks: one BLAS thread, PyTorch when it is there, what ran where.

Import this module before numpy: it asks every BLAS for one thread through the environment
(the variables are read when a library loads), and :func:`one_thread` holds them there at run
time (threadpoolctl) and sets PyTorch's intra-op threads to 1. Timings go through
:func:`lstm_core.timing.interleaved`, the harness the cost appendix uses too.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import platform  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

_LIMITS = []   # keeps the threadpoolctl limiter alive for the whole run


def import_torch():
    """(torch, None) when PyTorch imports, else (None, one line saying why)."""
    try:
        import torch
    except ImportError as exc:
        return None, (f"PyTorch: not installed ({exc}); the comparisons against it are "
                      f"skipped (`make bench` installs it with the `bench` extra)")
    return torch, None


def one_thread(torch=None):
    """One thread for numpy's BLAS and PyTorch (call after importing torch); a note or None."""
    if torch is not None:
        torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return "threadpoolctl: not installed; one thread through OPENBLAS/OMP/MKL_NUM_THREADS only"
    _LIMITS.append(threadpool_limits(limits=1))
    return None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_info(torch=None) -> dict:
    """The machine, the BLAS libraries loaded (threadpoolctl) and PyTorch's build, as a dict."""
    info = {
        "cpu": _cpu_model(), "machine": platform.machine(), "cores": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(), "numpy": np.__version__,
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                               "MKL_NUM_THREADS", "OPENBLAS_CORETYPE")},
        "threadpools": None, "torch": None,
    }
    try:
        from threadpoolctl import threadpool_info
        info["threadpools"] = [
            {k: p.get(k) for k in ("user_api", "internal_api", "prefix", "version",
                                   "architecture", "threading_layer", "num_threads")}
            for p in threadpool_info()]
    except ImportError:
        pass
    if torch is not None:
        info["torch"] = {
            "version": torch.__version__, "num_threads": torch.get_num_threads(),
            "mkldnn (oneDNN) available": torch.backends.mkldnn.is_available(),
            "mkldnn enabled": bool(torch.backends.mkldnn.enabled),
            "mkl available": torch.backends.mkl.is_available(),
            "openmp available": torch.backends.openmp.is_available(),
            "cpu capability": torch.backends.cpu.get_cpu_capability(),
        }
    return info


def machine_lines(info: dict) -> list[str]:
    """The machine info as a few printable lines."""
    lines = [f"machine: {info['cpu']} ({info['machine']}, {info['cores']} cores), "
             f"load average {', '.join(f'{v:.2f}' for v in info['load_average'] or [])}; "
             f"Python {info['python']}, numpy {info['numpy']}"]
    if info["threadpools"] is None:
        lines.append("BLAS: unknown (threadpoolctl not installed)")
    else:
        for p in info["threadpools"]:
            what = p["internal_api"] + (f" {p['version']}" if p["version"] else "")
            arch = f", kernel {p['architecture']}" if p.get("architecture") else ""
            lines.append(f"threadpool: {p['user_api']} = {what} ({p['prefix']}{arch}, "
                         f"{p['num_threads']} thread{'s' if p['num_threads'] != 1 else ''})")
    t = info["torch"]
    if t is not None:
        lines.append(f"torch {t['version']}: {t['num_threads']} thread, oneDNN "
                     f"{'on' if t['mkldnn enabled'] and t['mkldnn (oneDNN) available'] else 'off'}"
                     f", MKL {'yes' if t['mkl available'] else 'no'}, "
                     f"CPU capability {t['cpu capability']}")
    return lines


def fmt_summary_ms(s) -> str:
    """'median [q1, q3] ms' of a lstm_core.timing.Summary of seconds."""
    return f"{s.median * 1e3:7.2f} ms [{s.q1 * 1e3:.2f}, {s.q3 * 1e3:.2f}]"


def fmt_ratio(s) -> str:
    """'median [q1, q3]' of a Summary of ratios."""
    return f"{s.median:5.2f} [{s.q1:.2f}, {s.q3:.2f}]"


def log(*args):
    """Progress lines, flushed (make bench runs for minutes)."""
    print(*args, flush=True)
    sys.stdout.flush()
