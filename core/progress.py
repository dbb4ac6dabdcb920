"""Progress reporting and cancellation, in one place for the whole core.

Long work takes two optional callbacks: ``progress(fraction, message)`` (fraction in [0, 1]) and
``cancel()`` (True when the user asked to stop). :func:`check_cancelled` is the single cancel
check every stage calls between steps; :class:`Reporter` maps a stage's own [0, 1] onto its share
of the whole run, so nested stages report one monotone progress.
"""
from __future__ import annotations

from typing import Callable, Optional

from .errors import Cancelled

Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]


def check_cancelled(cancel: Optional[Cancel]) -> None:
    """Raise :class:`Cancelled` when ``cancel()`` returns True (a None callback never cancels)."""
    if cancel is not None and cancel():
        raise Cancelled("cancelled by the user")


class Reporter:
    """Progress and cancellation of one run; :meth:`sub` gives a stage its share of the range."""

    def __init__(self, progress: Optional[Progress] = None, cancel: Optional[Cancel] = None,
                 lo: float = 0.0, hi: float = 1.0):
        self._progress, self._cancel, self.lo, self.hi = progress, cancel, lo, hi

    def __call__(self, fraction: float, message: str = "") -> None:
        """Check for cancellation, then report ``fraction`` of this reporter's range."""
        self.check()
        if self._progress:
            f = self.lo + (self.hi - self.lo) * min(max(float(fraction), 0.0), 1.0)
            self._progress(f, message)

    def cancelled(self) -> bool:
        return bool(self._cancel and self._cancel())

    def check(self) -> None:
        check_cancelled(self._cancel)

    def sub(self, lo: float, hi: float) -> "Reporter":
        """A reporter for a stage that covers ``[lo, hi]`` of this one's range."""
        span = self.hi - self.lo
        return Reporter(self._progress, self._cancel, self.lo + span * lo, self.lo + span * hi)
