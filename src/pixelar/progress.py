"""Progress output that fits where it goes: one factory for every long loop in pixelar.

On a terminal (the stream is a TTY) or in a Jupyter notebook, :func:`progress` gives a
``tqdm.auto`` bar (a widget in notebooks). Anywhere else (a log file, CI, a pipe) it gives a
:class:`LineProgress`, which never writes ``\\r``: one plain line every ``every_n`` steps or
``every_seconds`` seconds, whichever comes first, and a last line when the loop ends, so a
redirected log reads line by line. Disabled, it gives a bar that writes nothing.

Both kinds are used the same way: iterate over it, or call ``update(n)``, ``set_postfix(**fields)``
and ``close()``.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

EVERY_SECONDS = 30.0     # non-TTY: the default seconds between two lines


def progress(iterable: Iterable[Any] | None = None, *, total: int | None = None, initial: int = 0,
             desc: str = "", unit: str = "it", enabled: bool = True, leave: bool = True,
             every_n: int | None = None, every_seconds: float = EVERY_SECONDS,
             elapsed_offset: float = 0.0, stream: TextIO | None = None) -> Any:
    """A progress bar over ``iterable`` (or updated by hand when it is None).

    ``every_n``/``every_seconds``: the cadence of plain lines when ``stream`` (default stderr) is not
    a TTY: a line at every multiple of ``every_n`` and whenever ``every_seconds`` have passed. ``elapsed_offset``: seconds added to the elapsed time shown in those lines (a resumed run
    shows its cumulative training time). ``leave=False`` loops (evaluation, sampling) print a last
    line only if they printed one before, so that short loops stay silent in a log.
    """
    stream = stream if stream is not None else sys.stderr
    if total is None and iterable is not None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    if not enabled:
        return LineProgress(iterable, total=total, initial=initial, desc=desc, unit=unit, stream=None)
    if _in_notebook() or _isatty(stream):
        from tqdm.auto import tqdm
        return tqdm(iterable, total=total, initial=initial, desc=desc, unit=unit, leave=leave, file=stream,
                    dynamic_ncols=True)
    return LineProgress(iterable, total=total, initial=initial, desc=desc, unit=unit, stream=stream,
                        leave=leave, every_n=every_n, every_seconds=every_seconds,
                        elapsed_offset=elapsed_offset)


class LineProgress:
    """Plain progress lines, ``desc n/total unit (p%) | key value | ... | elapsed 1m23s``, no ``\\r``.

    ``stream=None`` writes nothing (a disabled bar with the same methods).
    """

    def __init__(self, iterable: Iterable[Any] | None = None, *, total: int | None, initial: int = 0,
                 desc: str = "", unit: str = "it", stream: TextIO | None, leave: bool = True,
                 every_n: int | None = None, every_seconds: float = EVERY_SECONDS,
                 elapsed_offset: float = 0.0) -> None:
        if every_seconds <= 0:
            raise ValueError(f"every_seconds must be > 0, got {every_seconds}")
        self.iterable, self.total, self.n = iterable, total, initial
        self.desc, self.unit, self.stream, self.leave = desc, unit, stream, leave
        self.every_n, self.every_seconds = every_n, every_seconds
        self.elapsed_offset = elapsed_offset
        self.postfix: dict[str, Any] = {}
        self.start = self.last_time = time.monotonic()
        self.last_n = initial
        self.lines = 0
        self.closed = False

    def __iter__(self) -> Iterator[Any]:
        assert self.iterable is not None, "LineProgress without an iterable: call update()"
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __len__(self) -> int:
        return self.total or 0

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.stream is None:
            return
        now = time.monotonic()
        # at every multiple of every_n (the trainer's log steps, whose figures the line shows), and
        # when every_seconds have passed since the last line
        crossed = self.every_n is not None and self.n // self.every_n > self.last_n // self.every_n
        if crossed or now - self.last_time >= self.every_seconds:
            self._write(now)

    def set_postfix(self, **fields: Any) -> None:
        """Fields shown in the next line (the latest values; a line is written only by update())."""
        self.postfix = dict(fields)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.stream is not None and (self.lines or self.leave) and self.n != self.last_n:
            self._write(time.monotonic())

    def line(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        count = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        head = f"{self.desc} {count} {self.unit}".strip()
        if self.total:
            head += f" ({100 * self.n / self.total:.0f}%)"
        parts = [head, *(f"{k} {v}" for k, v in self.postfix.items()),
                 f"elapsed {format_seconds(self.elapsed_offset + now - self.start)}"]
        return " | ".join(parts)

    def _write(self, now: float) -> None:
        assert self.stream is not None
        self.stream.write(self.line(now) + "\n")
        self.stream.flush()
        self.last_time, self.last_n = now, self.n
        self.lines += 1


def format_seconds(seconds: float) -> str:
    """12.3 -> '12s', 83 -> '1m23s', 7384 -> '2h03m04s'."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):    # no isatty, or a closed file
        return False


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (whose stderr is no TTY, yet shows tqdm.auto's widgets): the test
    tqdm.autonotebook makes, without importing IPython when it is not already loaded."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except AttributeError:
        return False
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})
