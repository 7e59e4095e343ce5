"""Quantities in the unit a person would use: seconds, minutes, hours or days; bytes, KiB, MiB or GiB."""

from __future__ import annotations


def _number(x: float) -> str:
    """One decimal at most, none when it is 0: ``2``, ``1.5``."""
    return f"{x:.1f}".removesuffix(".0")


def seconds(value: float) -> str:
    """A duration in seconds, written in the unit that reads best (``90`` -> ``90 seconds``, ``5400`` -> ``1.5 hours``)."""
    if value < 120:
        return f"{f'{value:.2g}' if value < 10 else f'{value:.0f}'} seconds"
    if value < 2 * 3600:
        return f"{_number(value / 60)} minutes"
    if value < 2 * 86400:
        return f"{_number(value / 3600)} hours"
    return f"{_number(value / 86400)} days"


def duration(days: float) -> str:
    """A duration given in days, written as ``seconds`` writes it."""
    return seconds(days * 86400)


def size(n_bytes: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= scale:
            return f"{_number(n_bytes / scale)} {unit}"
    return f"{n_bytes:.0f} bytes"
