"""A CSV's first lines, read before pandas reads the file: its column names as written, and its separator.

pandas quietly renames a repeated column name (the second ``a`` becomes ``a.1``) and reads a file separated by
another character as one column named like ``a;b;c``; both are caught here. The separator is guessed only when
the brief's (a comma unless ``problem.data.separator`` says otherwise) leaves the header as one column whose name
holds another of ``SEPARATORS``; of those, the one that splits most of the first ``SNIFF_LINES`` rows into as
many fields as the header (more than one) wins.
"""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path
from typing import Optional

from specweave_ml.errors import ConfigError, DataError

SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SNIFF_LINES = 20  # data rows read after the header to confirm a guessed separator


def separator_of(value: Optional[str]) -> str:
    """The character a brief's ``problem.data.separator`` names: itself, or a name (``semicolon``); null is a comma."""
    if value is None:
        return ","
    by_name = {name: char for char, name in SEPARATORS.items()}
    if str(value).lower() in by_name:
        return by_name[str(value).lower()]
    if value == "\\t":
        return "\t"
    if len(str(value)) == 1 and value not in "\"\r\n":
        return str(value)
    raise ConfigError("problem.data.separator", f"must be one character or one of {', '.join(by_name)}, got {value!r}",
                      "set it to e.g. semicolon, tab or pipe, or null for commas")


def name_of(separator: str) -> str:
    """How a message names a separator: ``';' (semicolon)``."""
    return f"{separator!r} ({SEPARATORS[separator]})" if separator in SEPARATORS else repr(separator)


def first_lines(path: Path) -> list[str]:
    """The header line and up to ``SNIFF_LINES`` lines after it (undecodable bytes replaced)."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        return list(itertools.islice(f, SNIFF_LINES + 1))


def _rows(lines: list[str], separator: str) -> list[list[str]]:
    rows = []
    try:
        for row in csv.reader(io.StringIO("".join(lines)), delimiter=separator):
            rows.append(row)
    except csv.Error:  # a field past the csv module's size limit: keep what was read; pandas has the last word
        pass
    return rows


def header(lines: list[str], separator: str) -> list[str]:
    rows = _rows(lines[:1], separator)
    return rows[0] if rows else []


def guess(lines: list[str], separator: str) -> Optional[str]:
    """Another separator the file looks delimited by, when ``separator`` leaves its header one column holding it."""
    names = header(lines, separator)
    if len(names) != 1:
        return None
    found = []
    for char in SEPARATORS:
        if char == separator or char not in names[0]:
            continue
        rows = _rows(lines, char)
        width = len(rows[0]) if rows else 0
        if width > 1:
            found.append((sum(len(r) == width for r in rows[1:]), width, char))
    return max(found)[2] if found else None


def looks_separated(path: Path, found: str, lines: list[str], configured: Optional[str]) -> DataError:
    """The error for a file that looks separated by ``found`` while the brief reads it otherwise."""
    shown = header(lines, separator_of(configured))[0]
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    read_with = "commas" if configured is None else f"problem.data.separator={configured}"
    fix = f"set problem.data.separator={SEPARATORS.get(found, found)}"
    if configured is None:
        fix += " (or problem.data.on_dirty=warn to read it so and record a finding)"
    return DataError("problem.data.separator", f"'{path}' looks separated by {name_of(found)}: read with {read_with}, "
                     f"its header is one column '{shown}'", fix)


def require_unique(names: list[str], path: Path) -> None:
    """A header that names a column twice is refused (pandas would rename the second one silently)."""
    places: dict[str, list[int]] = {}
    for i, name in enumerate(names, start=1):
        if name.strip():  # unnamed columns get distinct names ("Unnamed: 3"): nothing is hidden
            places.setdefault(name, []).append(i)
    repeated = {name: at for name, at in places.items() if len(at) > 1}
    if repeated:
        shown = ", ".join(f"'{n}' (columns {', '.join(map(str, at))})" for n, at in list(repeated.items())[:5])
        raise DataError("problem.data.source", f"the header of '{path}' repeats the column name{'s' if len(repeated) > 1 else ''} "
                        f"{shown}", "give each column its own name in the file (pandas would read the second as "
                        f"'{next(iter(repeated))}.1' without a word)")
