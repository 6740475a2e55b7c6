"""A run's metrics: ``metrics.jsonl`` lines and, with ``--tensorboard``, TensorBoard event files.

Every line carries ``step``, ``time`` (unix seconds) and ``elapsed_s`` (training wall seconds since
the run began, summed over its resumes); train lines add ``epoch``, ``train_bpd``, ``lr``,
``images_per_s``, ``skipped_nonfinite``; evaluation lines ``weights``, ``test_bpd``,
``test_nats_per_image``, ``test_images``. Only rank 0 writes.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..errors import PixelarError
from ..parallel import DistContext, all_reduce_sum

# metrics.jsonl key -> TensorBoard tag (the test figure is the EMA one when the run keeps an EMA:
# its "weights" field in metrics.jsonl says which)
TAGS = {"train_bpd": "train/bpd", "test_bpd": "test/bpd", "lr": "train/lr", "images_per_s": "train/images_per_s"}

_INSTALL = "pip install tensorboard (or pip install 'pixelar[tensorboard]')"


def require_tensorboard() -> Any:
    """torch.utils.tensorboard's SummaryWriter, or a one-line PixelarError saying what to install."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:     # torch.utils.tensorboard raises it when the tensorboard package is missing
        raise PixelarError(f"--tensorboard needs the tensorboard package; {_INSTALL}") from None
    return SummaryWriter


class MetricsLog:
    """Appends metric rows to ``out/metrics.jsonl`` (and TensorBoard scalars to ``out/tensorboard/``)."""

    def __init__(self, out: Path, enabled: bool = True, tensorboard: bool = False) -> None:
        self.path = out / "metrics.jsonl"
        self.out = out
        self.enabled = enabled
        self.tensorboard = tensorboard and enabled
        self.writer: Any = None
        if self.tensorboard:
            require_tensorboard()       # fail before training, not at the first log line

    def trim(self, step: int) -> None:
        """Drop lines written after ``step`` (by a run that crashed later; a fresh run: step 0)."""
        if not self.enabled or not self.path.exists():
            return
        keep = [line for line in self.path.read_text().splitlines()
                if line.strip() and _step_of(line) is not None and _step_of(line) <= step]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in keep))
        tmp.replace(self.path)

    def open(self, step: int) -> None:
        """Start writing at ``step``: TensorBoard hides the events after it that an earlier
        (crashed, or replaced) run wrote, as ``trim`` drops their lines."""
        if self.tensorboard and self.writer is None:
            self.writer = require_tensorboard()(str(self.out / "tensorboard"), purge_step=step + 1)

    def append(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
        if self.writer is not None:
            for key, tag in TAGS.items():
                if key in row:
                    self.writer.add_scalar(tag, row[key], global_step=row["step"], walltime=row["time"])
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class TrainWindow:
    """Nats and images of the optimizer steps since the last train line, and its wall time."""

    def __init__(self) -> None:
        self.nats, self.images, self.steps = 0.0, 0, 0
        self.start = time.monotonic()

    def add(self, nats: float, images: int) -> None:
        self.nats += nats
        self.images += images
        self.steps += 1

    def report(self, ctx: DistContext, device: str = "cpu") -> tuple[float, int, float]:
        """(nats, images, images/s) of the window over every process: nats and images are summed
        (all-reduced), so bits/dim is that of all the images trained on, not rank 0's; images/s is
        the summed images over the processes' mean wall time (they step together under DDP)."""
        seconds = time.monotonic() - self.start
        nats, images, seconds = all_reduce_sum([self.nats, float(self.images), seconds], ctx, device)
        return nats, int(images), images / max(seconds / ctx.world_size, 1e-9)


def _step_of(line: str) -> int | None:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None
