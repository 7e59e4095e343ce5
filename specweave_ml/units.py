"""Quantities in the unit a person would use."""

from __future__ import annotations


def duration(days: float) -> str:
    """A duration given in days, written in seconds, minutes, hours or days, whichever reads best."""
    seconds = days * 86400
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} minutes"
    if days < 2:
        return f"{seconds / 3600:.1f} hours"
    return f"{days:.1f} days"
