"""Typed errors of the core, so callers (the QGIS glue, scripts) can answer each one clearly."""


class FusionError(Exception):
    """Base class of every error the core raises on purpose."""


class InvalidInputError(FusionError, ValueError):
    """An input array, scale, kernel or response is unusable; the message says what and how to fix it."""


class Cancelled(FusionError):
    """The caller's ``cancel()`` returned True; the work stopped and nothing was produced."""


class DeviceUnavailableError(FusionError):
    """The requested compute device (e.g. ``"cuda"``) is not available on this machine."""
