"""The machine a benchmark figure was measured on, in words (imported by the scripts beside it).

CPUs differ between these machines (AVX2 only; AVX-512 with AMX-BF16), and the figures with them,
so every benchmark prints the CPU model, the ISA extensions that matter to torch's kernels, the
thread count and the load average next to its numbers.
"""
from __future__ import annotations

import os
import platform
from pathlib import Path

_ISA = ("avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16")


def _cpuinfo() -> tuple[str, set[str]]:
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    return model, flags


def cpu_model() -> str:
    """'Intel(R) Xeon(R) Processor, 2 cores, AVX-512 + AMX-BF16' and the like."""
    model, flags = _cpuinfo()
    isa = [f for f in _ISA if f in flags]
    if not isa:
        isa = ["AVX2" if "avx2" in flags else "no AVX2"]
    return f"{model}, {os.cpu_count()} cores, {' '.join(isa)}"


def load_average() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "?"


def describe(threads: int) -> str:
    import torch
    return f"{cpu_model()}; {threads} thread(s), torch {torch.__version__}, load average {load_average()}"
