"""SIGTERM/SIGINT during training: finish the step, write a checkpoint, return (exit status 0).

The handlers stay installed from the first step to the end of the run, the final evaluation
included. During that evaluation the checkpoint is already written, so a signal there abandons
the evaluation (``EvaluationInterrupted``) instead of killing the process.
"""
from __future__ import annotations

import signal
from typing import Any


class EvaluationInterrupted(Exception):
    """Raised inside the final evaluation by SIGTERM/SIGINT (the checkpoint is already written)."""


class StopSignals:
    """Records the first SIGTERM/SIGINT in ``signum``; ``interruptible`` makes one raise at once."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.interruptible = False
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        self.signum = self.signum or signum
        if self.interruptible:
            self.interruptible = False
            raise EvaluationInterrupted(signal.Signals(signum).name)

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous[sig] = signal.signal(sig, self._handler)
            except ValueError:   # not the main thread: leave signals alone
                pass

    def restore(self) -> None:
        for sig, old in self._previous.items():
            signal.signal(sig, old)
        self._previous = {}
