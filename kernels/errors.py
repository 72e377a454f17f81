"""The root of spikesub's exception hierarchy.

It lives in the kernels, the lowest floor, so that every layer (kernels, models, the package)
raises exceptions that one ``except SpikesubError`` catches. ``spikesub.models.errors``
re-exports it with the exceptions of the higher floors.
"""

from __future__ import annotations


class SpikesubError(Exception):
    """Base class of the toolkit's own exceptions."""
