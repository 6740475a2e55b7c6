"""The trainer's input pipeline: its own seeded order, decoded in process or by DataLoader workers.

The order of the training images is the trainer's alone: epoch e is a permutation drawn from a
generator seeded with (train.seed, e), and a global batch is the next ``global_batch`` indices of
it, rank r reading the r-th slice. Workers (``--workers N``) only decode: they are handed these
index lists one batch after the other, so the batches, and the weights they train, are the same
with any number of workers, and a resumed run (which restarts the stream at its epoch and batch)
sees the same batches as one long run.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader

from ..data.base import batch_to, collate, set_epoch
from ..errors import PixelarError


def epoch_order(num_images: int, seed: int, epoch: int) -> torch.Tensor:
    """The permutation of the training images for ``epoch`` (int64 (num_images,)); no global RNG."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(num_images, generator=g)


@dataclasses.dataclass(frozen=True)
class BatchPlan:
    """Which images make each batch of this process: ``global_batch`` images per step, ``per_rank``
    of them (batch_size × accumulate) for rank ``rank``."""
    num_images: int
    seed: int
    global_batch: int
    per_rank: int
    rank: int = 0

    @property
    def batches_per_epoch(self) -> int:
        return self.num_images // self.global_batch

    def indices(self, order: torch.Tensor, batch: int, whole: bool = False) -> list[int]:
        """This process's image indices in batch ``batch`` of an epoch (``whole``: the global batch)."""
        start = batch * self.global_batch
        if whole:
            return order[start:start + self.global_batch].tolist()
        return order[start + self.rank * self.per_rank:start + (self.rank + 1) * self.per_rank].tolist()

    def stream(self, epoch: int, batch: int) -> Iterator[tuple[int, list[int]]]:
        """(epoch, indices) of every batch from batch ``batch`` of ``epoch`` on, without end."""
        while True:
            order = epoch_order(self.num_images, self.seed, epoch)
            for k in range(batch, self.batches_per_epoch):
                yield epoch, self.indices(order, k)
            epoch, batch = epoch + 1, 0


def batches(dataset: Any, plan: BatchPlan, epoch: int, batch: int, device: str, workers: int = 0
            ) -> Iterator[dict[str, Any]]:
    """This process's training batches (``pixelar.data.collate``, on ``device``) from (epoch, batch)
    on, without end. ``workers`` = 0 decodes in this process; N > 0 in N DataLoader worker processes
    (pinned memory when the device is a GPU), a few batches ahead."""
    if workers == 0:
        for e, idx in plan.stream(epoch, batch):
            set_epoch(dataset, e)
            yield batch_to(collate([dataset[i] for i in idx]), device)
        return
    loader = DataLoader(_EpochItems(dataset), batch_sampler=_Stream(plan, epoch, batch), num_workers=workers,
                        collate_fn=_as_is, pin_memory=torch.device(device).type == "cuda",
                        # DataLoader draws its workers' base seed from this generator; without one it
                        # would draw from the global RNG, and training would no longer match workers=0.
                        generator=torch.Generator().manual_seed(plan.seed))
    it = iter(loader)
    try:
        for item in it:
            if isinstance(item, _Failed):     # a DataError in a worker: the same one-line error here
                raise item.error_type(item.message)
            yield batch_to(item, device)
    finally:
        del it       # stops the workers (and drops the batches they decoded ahead)


class _Stream:
    """DataLoader batch sampler: lists of (epoch, index) pairs from :meth:`BatchPlan.stream`."""

    def __init__(self, plan: BatchPlan, epoch: int, batch: int) -> None:
        self.plan, self.epoch, self.batch = plan, epoch, batch

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for e, idx in self.plan.stream(self.epoch, self.batch):
            yield [(e, i) for i in idx]


@dataclasses.dataclass(frozen=True)
class _Failed:
    error_type: type[PixelarError]
    message: str


class _EpochItems(torch.utils.data.Dataset):
    """The data set as the workers see it: keys are (epoch, index), so that each worker's copy draws
    the random crops of the right epoch (``set_epoch``) before decoding."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset
        self.epoch: int | None = None

    def __getitems__(self, keys: list[tuple[int, int]]) -> dict[str, Any] | _Failed:
        """One whole batch, collated in the worker (or the error that stopped it, to re-raise)."""
        try:
            items = []
            for epoch, i in keys:
                if epoch != self.epoch:
                    set_epoch(self.dataset, epoch)
                    self.epoch = epoch
                items.append(self.dataset[i])
            return collate(items)
        except PixelarError as e:
            return _Failed(type(e), str(e))

    def __len__(self) -> int:
        return len(self.dataset)


def _as_is(batch: Any) -> Any:
    """DataLoader's collate_fn: ``__getitems__`` already made the batch (module level: picklable)."""
    return batch
