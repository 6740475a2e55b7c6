"""torchrun-based data parallelism in one small module.

Under ``torchrun`` (RANK / WORLD_SIZE / LOCAL_RANK in the environment) the
trainer wraps the model in DistributedDataParallel (NCCL on GPUs, gloo on CPU).
``train.batch_size`` is per process: the global batch is world_size × batch_size,
taken from the same epoch permutation that a single process would use, rank r
reading the r-th slice of each global batch — so N processes match one process
with the global batch, step for step. Only rank 0 logs and writes checkpoints.
Evaluation all-reduces *sums* of nats and image counts, never means.
"""
from __future__ import annotations

import dataclasses
import os

import torch
import torch.distributed as dist


@dataclasses.dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(device: str = "cpu") -> DistContext:
    """Join the process group torchrun set up; a plain single process gets DistContext()."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return DistContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def shutdown(ctx: DistContext) -> None:
    """Leave the process group together: every rank waits for the others, then frees its gloo/NCCL
    threads. Without this a rank that finished first (rank 0 still writing its checkpoint) exits with
    live gloo threads, and the C++ runtime aborts it ("terminate called without an active exception")."""
    if ctx.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def device_for(ctx: DistContext, device: str) -> str:
    """cuda -> this process's GPU (cuda:LOCAL_RANK); other devices unchanged."""
    if device == "cuda" and ctx.enabled:
        torch.cuda.set_device(ctx.local_rank)
        return f"cuda:{ctx.local_rank}"
    return device


def all_reduce_sum(values: list[float], ctx: DistContext, device: str = "cpu") -> list[float]:
    """Element-wise sum over all processes (float64); identity for a single process."""
    if not ctx.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()
