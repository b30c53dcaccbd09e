"""Shared by the benchmarks: one BLAS thread, PyTorch when it is there, what ran where, and
what else the machine was doing meanwhile.

Import this module before numpy: it asks every BLAS for one thread through the environment
(the variables are read when a library loads), and :func:`one_thread` holds them there at run
time (threadpoolctl) and sets PyTorch's intra-op threads to 1. Comparisons go through
:func:`lstm_core.timing.interleaved`, the harness the cost appendix uses too, with
:func:`rusage_probe` as its probe: the page faults, system CPU time and involuntary context
switches of every timed call (:func:`fmt_noise` prints them briefly). :func:`system_snapshot`
and :func:`system_change` give the load average at the start and end of a run and the CPU
time the hypervisor stole meanwhile (the steal column of ``/proc/stat``).
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import platform  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from lstm_core.timing import Summary, interleaved  # noqa: E402

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


def prepare(with_torch=True):
    """The start of bench_bptt (both modes) and run_all: PyTorch imported (when
    ``with_torch`` and installed), one thread for it and for the BLAS (:func:`one_thread`),
    and the machine described; prints a note for whatever is missing and the machine lines.
    (torch or None, machine_info dict)."""
    torch = None
    if with_torch:
        torch, note = import_torch()
        if note:
            log(note)
    thread_note = one_thread(torch)
    if thread_note:
        log(thread_note)
    info = machine_info(torch)
    for line in machine_lines(info):
        log(line)
    return torch, info


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


def rusage_probe() -> dict:
    """This process's counters that explain a slow call, for ``interleaved(probe=...)``:
    page faults that were served from memory (minor) and from disk (major), CPU seconds spent
    in the kernel on its behalf, and the times the kernel took the CPU away from it."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return {"minor_faults": use.ru_minflt, "major_faults": use.ru_majflt,
            "system_s": use.ru_stime, "involuntary_switches": use.ru_nivcsw}


# the columns of /proc/stat's "cpu" line (proc(5)); guest time is already counted in user
CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def cpu_times(stat_text: str) -> dict:
    """{field: seconds} of all CPUs together, from the "cpu" line of /proc/stat's text."""
    for line in stat_text.splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu":
            ticks = [int(v) for v in parts[1:1 + len(CPU_FIELDS)]]
            ticks += [0] * (len(CPU_FIELDS) - len(ticks))   # old kernels: no steal column
            hz = os.sysconf("SC_CLK_TCK")
            return {name: t / hz for name, t in zip(CPU_FIELDS, ticks)}
    raise ValueError("no 'cpu' line in the /proc/stat text")


def system_snapshot() -> dict:
    """The wall clock, the load average and /proc/stat's CPU times (None where unreadable)."""
    try:
        with open("/proc/stat") as f:
            cpu = cpu_times(f.read())
    except (OSError, ValueError):
        cpu = None
    return {"wall_s": time.perf_counter(), "cpu": cpu,
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def system_change(start: dict, end: dict) -> dict:
    """What the machine did between two :func:`system_snapshot`s: the load average at each,
    and the CPU time stolen by the hypervisor (seconds summed over all CPUs, and as a share
    of all CPU time that passed)."""
    out = {"wall_s": end["wall_s"] - start["wall_s"],
           "load_average_start": start["load_average"], "load_average_end": end["load_average"],
           "steal_s": None, "steal_share": None}
    if start["cpu"] is not None and end["cpu"] is not None:
        passed = {k: end["cpu"][k] - start["cpu"][k] for k in CPU_FIELDS}
        total = sum(passed.values())
        out["steal_s"] = passed["steal"]
        out["steal_share"] = passed["steal"] / total if total > 0 else 0.0
    return out


def interleaved_with_noise(fns, **kwargs):
    """:func:`lstm_core.timing.interleaved` with :func:`rusage_probe` as its probe, and what the
    machine did meanwhile: ({key: Summary}, :func:`system_change` over the call)."""
    start = system_snapshot()
    times = interleaved(fns, probe=rusage_probe, **kwargs)
    return times, system_change(start, system_snapshot())


def fmt_system_change(change: dict) -> str:
    """The load average at start and end and the CPU steal, as one line."""
    def load(v):
        return "unknown" if v is None else ", ".join(f"{x:.2f}" for x in v)
    steal = ("CPU steal unknown (no /proc/stat)" if change["steal_s"] is None else
             f"CPU steal {change['steal_s']:.2f} s ({change['steal_share']:.1%} of all CPU "
             f"time)")
    return (f"over {change['wall_s']:.0f} s: load average {load(change['load_average_start'])} "
            f"at the start, {load(change['load_average_end'])} at the end; {steal}")


# how fmt_noise names and scales each counter of rusage_probe; NOISE_LEGEND says it in words
NOISE_FORMAT = {"minor_faults": ("flt", 1, "{:.0f}"), "major_faults": ("maj", 1, "{:.0f}"),
                "system_s": ("sys", 1e3, "{:.1f}"), "involuntary_switches": ("ivcs", 1, "{:.0f}")}
NOISE_LEGEND = ("median/max per round of: flt minor page faults, maj major page faults, sys "
                "system CPU ms, ivcs involuntary context switches")


def fmt_noise(s: Summary) -> str:
    """'name median/max ...' of each counter of a Summary (per round), e.g.
    'flt 0/5812 maj 0/0 sys 0.0/24.7 ivcs 1/3' (NOISE_LEGEND); '' without counters."""
    parts = []
    for name, values in s.counters.items():
        label, scale, fmt = NOISE_FORMAT.get(name, (name, 1, "{:.3g}"))
        v = np.asarray(values) * scale
        parts.append(f"{label} {fmt.format(np.median(v))}/{fmt.format(v.max())}")
    return " ".join(parts)


def fmt_summary_ms(s, digits=2) -> str:
    """'median [q1, q3] ms' of a lstm_core.timing.Summary of seconds."""
    return (f"{s.median * 1e3:{digits + 5}.{digits}f} ms [{s.q1 * 1e3:.{digits}f}, "
            f"{s.q3 * 1e3:.{digits}f}]")


def fmt_ratio(s) -> str:
    """'median [q1, q3]' of a Summary of ratios."""
    return f"{s.median:5.2f} [{s.q1:.2f}, {s.q3:.2f}]"


def log(*args):
    """Progress lines, flushed (make bench runs for minutes)."""
    print(*args, flush=True)
