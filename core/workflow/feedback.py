"""What a workflow tells its caller while it runs, and how the caller stops it.

The QGIS algorithms wrap ``QgsProcessingFeedback`` in a :class:`Feedback`, the command line
prints to the terminal; the workflow itself only ever talks to this interface.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from typing import Iterator

from ..progress import Reporter

#: the package's folder: warnings raised from inside it are the plugin's own (shown as warnings)
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Feedback:
    """Progress, messages and cancellation of a run. This base class is silent and never cancels."""

    def progress(self, fraction: float, message: str = "") -> None:
        """``fraction`` of the whole run is done (0..1); ``message`` says what runs now."""

    def is_canceled(self) -> bool:
        return False

    def info(self, message: str) -> None:
        """Something the user may want to know (sizes, the device, where a response came from)."""

    def warning(self, message: str) -> None:
        """Something the user should know (cropped inputs, nodata, a fallback)."""

    def debug(self, message: str) -> None:
        """Details for bug reports (warnings of the libraries underneath)."""

    def reporter(self, lo: float = 0.0, hi: float = 1.0) -> Reporter:
        """The core's progress/cancel pair for the part ``[lo, hi]`` of the run."""
        return Reporter(self.progress, self.is_canceled, lo, hi)


@contextlib.contextmanager
def forward_warnings(feedback: Feedback) -> Iterator[None]:
    """Python warnings raised inside the block go to ``feedback``: the plugin's own as warnings
    (e.g. a model file that could not be loaded, a GPU fallback), the libraries' as debug lines."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            seen = set()
            for w in caught:
                text = str(w.message)
                if text in seen:
                    continue
                seen.add(text)
                own = os.path.abspath(str(w.filename)).startswith(PACKAGE_DIR) and issubclass(w.category, UserWarning)
                if own:
                    feedback.warning(text)
                else:
                    feedback.debug(f"{w.category.__name__}: {text}")
