"""A brief as a person would write it: ``conf/problem/<name>.yaml`` from an ``Inference``, every inferred
value commented with its evidence (text, so the comments survive; ``brief.validate`` checks it before it lands)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable, Optional

from specweave_ml.data.infer import Inference
from specweave_ml.errors import ConfigError
from specweave_ml.metrics import BINARY, DEFAULT_PRIMARY, IMBALANCED_PRIMARY

BRIEF_NAME = re.compile(r"^[a-z0-9]+([_-][a-z0-9]+)*$")  # usable as problem=<name> and in an increment id
_INCREMENT_LINE = re.compile(r"^increment:\s*['\"]?(\d{4})-", re.MULTILINE)
_NUMBERED = re.compile(r"^(\d{4})-")
_PLAIN = re.compile(r"^[A-Za-z_/.]([\w./ -]*[\w./-])?$")  # no ': ', ' #' or edge spaces: nothing YAML reads twice
_RESERVED = {"null", "true", "false", "yes", "no", "on", "off", "y", "n", "~"}
SMALL_ROWS = 10_000  # the selection rules' small-data bound: a smaller set gets a smaller time budget


def name_from(stem: str) -> str:
    """A file's stem as a brief name: ``Credit Card-2024`` -> ``credit_card_2024`` (``brief`` if nothing is left)."""
    return re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_") or "brief"


def brief_name(given: Optional[str], data: str) -> str:
    """``name=`` as given (checked), else the data file's stem made into a name."""
    if given is None:
        return name_from(Path(data).stem)
    if not BRIEF_NAME.match(given):
        raise ConfigError("name", f"'{given}' is not a brief name", f"use lower-case letters, digits, - and _, e.g. name={name_from(given)}")
    return given


def next_increment(brief_dirs: Iterable[Path], increments_dir: Path) -> int:
    """One past the highest NNNN used by a brief's ``increment:`` or a folder under increments/."""
    used = [0]
    for folder in brief_dirs:
        for path in Path(folder).glob("*.yaml"):
            used += [int(n) for n in _INCREMENT_LINE.findall(path.read_text(encoding="utf-8"))]
    if Path(increments_dir).is_dir():
        used += [int(m.group(1)) for p in Path(increments_dir).iterdir() if (m := _NUMBERED.match(p.name))]
    return max(used) + 1


def increment_id(number: int, name: str) -> str:
    return f"{number:04d}-{name.replace('_', '-')}"


def scalar(value) -> str:
    """A YAML scalar that reads back as the same string (quoted only where it must be)."""
    if value is None:
        return "null"
    text = str(value)
    return text if _PLAIN.match(text) and text.lower() not in _RESERVED else json.dumps(text)


def _line(key: str, value: str, why: Optional[str] = None, indent: int = 0) -> str:
    text = f"{' ' * indent}{key}: {value}"
    return f"{text:<40} # {why}" if why else text


def brief_text(inf: Inference, source: str, increment: str) -> str:
    """The brief, in the shape of the shipped ones (``conf/problem/fraud.yaml``)."""
    file = Path(source).name
    small = inf.n_rows < SMALL_ROWS
    task = inf.task.value
    if task == BINARY and inf.imbalanced:
        primary = f"the resolver picks {IMBALANCED_PRIMARY}: {inf.imbalance.evidence}"
    else:
        primary = f"the resolver picks {DEFAULT_PRIMARY[task]}, the default for {task}"
        primary += f"; {inf.imbalance.evidence}" if inf.imbalance.value is not None else ""
    data = [
        _line("source", scalar(source), None, 2),
        _line("target", scalar(inf.target), None, 2),
        _line("time_column", scalar(inf.time_column.value), inf.time_column.evidence, 2),
        _line("id_columns", "[" + ", ".join(scalar(c) for c in inf.id_columns.value) + "]", inf.id_columns.evidence, 2),
    ]
    if inf.user_column.value is not None:
        data += [_line("user_column", scalar(inf.user_column.value), inf.user_column.evidence, 2),
                 _line("item_column", scalar(inf.item_column.value), inf.item_column.evidence, 2)]
    if inf.rating_column.value is not None:
        data.append(_line("rating_column", scalar(inf.rating_column.value), inf.rating_column.evidence, 2))
    lines = [
        f"# Written by `python -m specweave_ml stage=init` from {file} ({inf.n_rows:,} rows, {inf.n_columns} columns).",
        "# Each inferred value says why; edit any of them, and the title, description and constraints.",
        _line("increment", increment, "the next free number under conf/problem/ and increments/"),
        _line("title", scalar(f"Predict {inf.target} from {file}")),
        "description: >-",
        f"  Predict '{inf.target}' from the other columns of {file}. Say here who uses the predictions and why.",
        _line("task", inf.task.value, inf.task.evidence),
        _line("modality", inf.modality.value, inf.modality.evidence),
        "data:",
        *data,
        "constraints:",
        _line("latency_p95_ms", "100", "not in the data: set your serving target", 2),
        _line("interpretability", "preferred", "every model explained with SHAP; required: readable models only", 2),
        _line("budget_minutes", "2" if small else "10",
              f"{inf.n_rows:,} rows: " + ("a small set trains in seconds" if small else "room for boosted trees"), 2),
        "metrics:",
        _line("primary", "null", primary, 2),
    ]
    if task == BINARY and inf.imbalanced:
        lines.append(f"{'  # cost_ratio: 10':<40} # a missed positive costs 10 false alarms (else: best F1)")
    return "\n".join(lines) + "\n"
