"""Exceptions with messages meant for users: each says what is wrong and what to do."""

from __future__ import annotations

__all__ = ["MaskError", "ModelLoadError", "Sem2NeRFError"]


class Sem2NeRFError(Exception):
    """Base class of the package's user-facing errors."""


class MaskError(Sem2NeRFError, ValueError):
    """A mask could not be read or is not a usable semantic mask."""


class ModelLoadError(Sem2NeRFError, OSError):
    """Model weights or configuration could not be found or do not match."""
