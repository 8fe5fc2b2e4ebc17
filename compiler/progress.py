"""Progress of a long command on stderr: a bar redrawn in place when stderr is a terminal, a
plain line every so often otherwise (logs, CI), nothing with `--quiet`. Each shows the units
done out of the total, how many failed, the rate (units/s) and the time left (s, at that rate)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Call with the number of units done (and failed) so far; `close()` ends the bar's line."""

    WIDTH = 30

    def __init__(self, total: int, unit: str, quiet: bool = False,
                 stream: TextIO | None = None) -> None:
        self.total, self.unit, self.quiet = total, unit, quiet
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.every = max(1, total // 10)  # plain lines: about ten per run
        self.last_line = 0
        self.t0 = time.perf_counter()

    def __call__(self, done: int, failed: int = 0) -> None:
        if self.quiet:
            return
        rate = done / max(time.perf_counter() - self.t0, 1e-9)
        left = f"{(self.total - done) / rate:.3g} s left" if rate > 0 else "time left unknown"
        status = (f"{done}/{self.total} {self.unit}, {failed} failed, {rate:.3g}/s, {left}")
        if self.tty:
            filled = self.WIDTH * done // self.total
            bar = "#" * filled + "." * (self.WIDTH - filled)
            self.stream.write(f"\r[{bar}] {status}")
            self.stream.flush()
        elif done - self.last_line >= self.every or done == self.total:
            self.last_line = done
            print(f"denseamc: {status}", file=self.stream)

    def close(self) -> None:
        if self.tty and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()
