"""An exclusive lock on a run directory, held for a training run's lifetime (``out/.lock``).

Two trainings writing one run directory would interleave their checkpoints, rotation and
``metrics.jsonl``. The lock is an ``fcntl.flock`` on ``out/.lock``, which holds the holder's PID;
the kernel drops it when the process dies, however it dies, so a stale lock never wedges a run.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import PixelarError

LOCK_NAME = ".lock"


class RunLock:
    """``with RunLock(out):`` holds the run directory ``out`` (created if missing) exclusively.

    A second holder, in this process or another, gets a one-line PixelarError naming the PID of
    the first. ``acquire``/``release`` may also be called directly; both are idempotent.
    """

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None
        self._created_dir = False

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> RunLock:
        import fcntl
        if self._fd is not None:
            return self
        try:
            self._created_dir = not self.path.parent.exists()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise PixelarError(f"cannot create the lock file {self.path} ({e.strerror or e}); "
                               "choose a writable --out") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise PixelarError(f"{self.path.parent} is in use by another training run (PID {holder}); "
                               "wait for it to end or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        import fcntl
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            if self._created_dir and [p.name for p in self.path.parent.iterdir()] == [LOCK_NAME]:
                # a run that failed before writing anything leaves no directory behind
                self.path.unlink()
                self.path.parent.rmdir()
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            pass
        finally:
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()
