"""Property-based fuzzing (hypothesis): messy data and bad briefs end in success or in one clean error.

**What is generated.** ``messy_data``: 12 to 60 rows written to a CSV (commas, sometimes semicolons or tabs);
one to five feature columns of mixed kinds (numbers, whole numbers, words, unicode words, booleans, dates,
constant and near-constant columns, magnitudes like 1e300 and 1e-300, numbers with one stray word, empty
columns) with cells overwritten by NaN, ``inf``/``-inf``, empty strings and stray words; names that look
alike (``a``, ``a ``, ``A``, ``a.1``, unicode, repeated ones); a target that is binary, imbalanced (one to four
positives), multiclass, words, a regression (extreme values too), constant, or holds NaN or ``inf``; and a
task that fits it or not. ``bad_briefs``: a brief file (``conf/problem/fuzzed.yaml`` under the run's root)
with one to three of its keys set to a wrong type, an unknown enum value, a negative or huge number, text,
a list or null, or deleted, or an unknown key added; plus command-line overrides of the other groups.

**The property.** Each example runs the real pipeline in this process (``conf/`` composed by
``tests/_compose.compose_at`` with ``model=linear``, ``tracking=off``, ``selection.cv_folds=3``; each stage
through ``specweave_ml.stages.run_stage``). Every run ends either in success or in one ``SpecweaveError``
whose message names a config key (``problem.…``, ``selection.…``, …) or a column (``column '…'``); a Hydra or
OmegaConf compose error counts only when ``config_errors.describe_compose_error`` turns it into a line that
names the key. Any other exception fails the test with the (shrunk) example, the stage and the traceback.
A stage that fails leaves the project root exactly as it was (every file and folder, byte for byte).

**How many examples.** By default each property runs ``FAST`` examples through prepare and train,
derandomized (the same examples on every run, so CI is stable), in well under 30 s. The ``slow`` variants run
prepare, train and evaluate on ``SPECWEAVE_FUZZ_EXAMPLES`` examples each (default 50; 100 took 170 s of the
suite's 30 minutes), also derandomized::

    .venv/bin/python -m pytest tests/test_fuzz.py -m "not slow"          # 25 + 25 examples
    .venv/bin/python -m pytest tests/test_fuzz.py -m slow                # 50 + 50, evaluate too
    SPECWEAVE_FUZZ_EXAMPLES=1000 .venv/bin/python -m pytest tests/test_fuzz.py -m slow
"""

from __future__ import annotations

import copy
import functools
import hashlib
import os
import re
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hydra.errors import HydraException
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from _compose import CONF, compose_at
from specweave_ml.config_errors import describe_compose_error
from specweave_ml.errors import SpecweaveError
from specweave_ml.schema import Config
from specweave_ml.stages import STAGES, run_stage

FAST = 25
MANY = int(os.environ.get("SPECWEAVE_FUZZ_EXAMPLES", "50"))
QUICK = ("prepare", "train")
WHOLE = ("prepare", "train", "evaluate")
RUN = ["model=linear", "tracking=off", "selection.cv_folds=3", "progress=false"]

FAST_SETTINGS = settings(max_examples=FAST, deadline=None, derandomize=True, database=None, print_blob=True,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
MANY_SETTINGS = settings(FAST_SETTINGS, max_examples=MANY)

TOP_KEYS = tuple(Config.__dataclass_fields__)  # problem, selection, ..., stage, seed, input, output, data, target, name
COLUMN = re.compile(r"column '")


# --- the property ---------------------------------------------------------------------------------------------

def snapshot(root: Path) -> dict[str, str]:
    """Every file (with the sha256 of its bytes) and every folder under ``root``."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
            for p in sorted(root.rglob("*"))}


def names_a_key_or_column(message: str, extra_keys=()) -> bool:
    """The message starts with a config key (``problem.data.target: ...``), one the example set, or names a column."""
    if COLUMN.search(message):
        return True
    head = message.split(": ", 1)[0]
    keys = (*TOP_KEYS, *extra_keys)
    return any(head == k or head.startswith((f"{k}.", f"{k}[")) for k in keys)


class Unclean(AssertionError):
    """Anything but success or one clean message: a bug for the test to report."""


def unclean(what: str, err: BaseException) -> Unclean:
    trace = "".join(traceback.format_exception(type(err), err, err.__traceback__)[-12:])
    return Unclean(f"{what}: {type(err).__name__}: {err}\n{trace}")


def run_stages(root: Path, cfg, stages, extra_keys=()) -> str:
    """Run ``stages`` in order; 'ok', or the clean message the first failing one ended in."""
    for stage in stages:
        cfg.stage = stage
        before = snapshot(root)
        try:
            run_stage(cfg)
        except SpecweaveError as err:
            message = err.message
        except (HydraException, OmegaConfBaseException) as err:
            message = describe_compose_error(err)
        except Exception as err:  # noqa: BLE001  the property: nothing else escapes
            raise unclean(f"stage={stage} raised", err) from err
        else:
            continue
        if not names_a_key_or_column(message, extra_keys):
            raise Unclean(f"stage={stage} ended in a message that names no key or column: {message!r}")
        if "\n" in message:
            raise Unclean(f"stage={stage} ended in a message of several lines: {message!r}")
        after = snapshot(root)
        if after != before:
            changed = sorted(set(after.items()) ^ set(before.items()))
            raise Unclean(f"stage={stage} failed ({message}) and changed the project: {changed[:10]}")
        return message
    return "ok"


# --- messy data ------------------------------------------------------------------------------------------------

FEATURE_KINDS = ("normal", "integer", "words", "unicode_words", "boolean", "dates", "constant", "near_constant",
                 "huge", "tiny", "stray_word", "mixed", "empty", "all_inf")
TARGET_KINDS = ("binary", "imbalanced", "binary_words", "multiclass", "regression", "huge_regression", "constant",
                "with_nan", "with_inf")
DRAWN_TARGETS = TARGET_KINDS + ("binary", "binary", "imbalanced", "multiclass", "regression")  # more that can train
TASK_OF = {"binary": "binary_classification", "imbalanced": "binary_classification",
           "binary_words": "binary_classification", "multiclass": "multiclass_classification",
           "regression": "regression", "huge_regression": "regression", "constant": "binary_classification",
           "with_nan": "binary_classification", "with_inf": "regression"}
TASKS = ("binary_classification", "multiclass_classification", "regression")
LOOKALIKE_NAMES = ("a", "a ", "A", " a", "a.1", "a_1", "x", "y", "target", "Unnamed: 0", "1", "é", "名前",
                   "col with space", "🙂", "a;b", "x,y", "TARGET", "Ab", "ab")
TARGET_NAMES = ("y", "target", "Y", "y ", "label", "ÿ", "class", "a")
SPECIAL_CELLS = (np.nan, np.inf, -np.inf, "", " ", "twelve", "NaN", "inf", "-Infinity", 1e300, -1e300, "1,5", "#N/A")
WORDS = np.array(["red", "green", "blue", "grey"])
UNICODE_WORDS = np.array(["Zürich", "Łódź", "東京", "São Paulo", "🙂"])
SEPARATORS = (",", ",", ",", ";", "\t")
NAME_ALPHABET = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="$\"'\\")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    cells: tuple = ()  # (row, value): cells overwritten after the column is drawn


@dataclass(frozen=True)
class Messy:
    """A CSV as a careless export could hand it over; its ``repr`` is the reproducer."""

    rows: int
    features: tuple
    target: str
    target_kind: str
    task: str
    separator: str = ","
    seed: int = 0

    def feature_values(self, col: Column, rng) -> list:
        n = self.rows
        values = {
            "normal": lambda: rng.normal(size=n),
            "integer": lambda: rng.integers(-5, 50, size=n),
            "words": lambda: WORDS[rng.integers(0, len(WORDS), size=n)],
            "unicode_words": lambda: UNICODE_WORDS[rng.integers(0, len(UNICODE_WORDS), size=n)],
            "boolean": lambda: rng.random(n) < 0.5,
            "dates": lambda: pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d").to_numpy(),
            "constant": lambda: np.full(n, 7.0),
            "near_constant": lambda: np.r_[np.full(n - 1, 3.0), 4.0],
            "huge": lambda: rng.choice([1e300, -1e300, 1e299], size=n),
            "tiny": lambda: rng.normal(size=n) * 1e-300,
            "stray_word": lambda: np.append(rng.normal(size=n - 1).round(3).astype(object), "twelve"),
            "mixed": lambda: np.where(rng.random(n) < 0.5, rng.normal(size=n).round(2).astype(str),
                                      WORDS[rng.integers(0, 4, n)]),
            "empty": lambda: np.full(n, np.nan),
            "all_inf": lambda: rng.choice([np.inf, -np.inf], size=n),
        }[col.kind]()
        values = list(values)
        for row, value in col.cells:
            values[row % n] = value
        return values

    def target_values(self, rng) -> list:
        n = self.rows
        if self.target_kind == "binary":
            y = np.r_[np.zeros(n // 2, int), np.ones(n - n // 2, int)]
        elif self.target_kind == "imbalanced":
            y = np.r_[np.zeros(n - 1 - self.seed % 4, int), np.ones(1 + self.seed % 4, int)]  # 1 to 4 positives
        elif self.target_kind == "binary_words":
            y = np.where(np.arange(n) % 3 == 0, "yes", "no")
        elif self.target_kind == "multiclass":
            y = np.arange(n) % 3
        elif self.target_kind == "regression":
            y = rng.normal(100, 10, size=n)
        elif self.target_kind == "huge_regression":
            y = rng.normal(size=n) * 1e300
        elif self.target_kind == "constant":
            y = np.ones(n, int)
        elif self.target_kind == "with_nan":
            y = (np.arange(n) % 2).astype(float)
            y[1] = np.nan
        else:  # with_inf
            y = rng.normal(size=n)
            y[2] = np.inf
        return list(rng.permutation(y))

    def frame(self) -> pd.DataFrame:
        rng = np.random.default_rng(self.seed)
        columns = [pd.Series(self.feature_values(c, rng), name=c.name) for c in self.features]
        columns.append(pd.Series(self.target_values(rng), name=self.target))
        return pd.concat(columns, axis=1)  # repeated names stay repeated, as in a careless export

    def write(self, path: Path) -> Path:
        self.frame().to_csv(path, index=False, sep=self.separator)
        return path


names = st.one_of(st.sampled_from(LOOKALIKE_NAMES), st.text(NAME_ALPHABET, min_size=1, max_size=6))
cells = st.lists(st.tuples(st.integers(0, 59), st.sampled_from(SPECIAL_CELLS)), max_size=4).map(tuple)
columns = st.builds(Column, name=names, kind=st.sampled_from(FEATURE_KINDS), cells=cells)


@st.composite
def messy_data(draw) -> Messy:
    target_kind = draw(st.sampled_from(DRAWN_TARGETS))
    fitting = TASK_OF[target_kind]
    target = draw(st.one_of(st.sampled_from(TARGET_NAMES), names))
    features = draw(st.lists(columns, min_size=1, max_size=5, unique_by=lambda c: c.name).filter(
        lambda cols: target not in {c.name for c in cols}))
    if draw(st.integers(0, 7)) == 0:  # now and then a header that repeats a name
        features.append(Column(draw(st.sampled_from([target, features[0].name])), draw(st.sampled_from(FEATURE_KINDS))))
    return Messy(
        rows=draw(st.sampled_from((40, 24, 60, 30, 18, 14, 12))),  # tiny, and now and then tinier
        features=tuple(features),
        target=target,
        target_kind=target_kind,
        task=draw(st.one_of(st.just(fitting), st.just(fitting), st.sampled_from(TASKS))),  # mostly the fitting task
        separator=draw(st.sampled_from(SEPARATORS)),
        seed=draw(st.integers(0, 2**16)),
    )


@functools.cache
def data_config():
    """The real config for a CSV brief, composed once; each example sets its own source, target and task on a copy."""
    return compose_at(None, ["problem=breast_cancer", "problem.increment=0042-fuzzed-data", "problem.metrics.primary=null",
                             "problem.metrics.others=[]", *RUN])


def run_messy(messy: Messy, stages) -> str:
    with tempfile.TemporaryDirectory(prefix="fuzz-data-") as tmp:
        source = messy.write(Path(tmp) / "messy.csv")
        root = Path(tmp) / "project"
        root.mkdir()
        cfg = copy.deepcopy(data_config())
        cfg.paths.root = str(root)
        cfg.problem.data.source = str(source)
        cfg.problem.data.target = messy.target  # as a brief's YAML would set it, whatever the name
        cfg.problem.task = messy.task
        return run_stages(root, cfg, stages)


# Always run: the issue's cases (inf in a feature, a repeated header, one stray word, semicolons, 12 rows), then
# what fuzzing found (a category column empty in one fold's training rows; True/False as the only category; a
# True/False column with a gap; magnitudes whose square overflows, in a feature and in the target).
ISSUE_CASES = [
    Messy(40, (Column("x", "normal", ((3, np.inf), (9, -np.inf))), Column("z", "normal")), "y", "binary",
          "binary_classification"),
    Messy(40, (Column("name", "normal"), Column("name", "integer")), "y", "binary", "binary_classification"),
    Messy(40, (Column("x", "stray_word"), Column("z", "normal")), "y", "binary", "binary_classification"),
    Messy(40, (Column("a", "normal"), Column("b", "words")), "y", "binary", "binary_classification", separator=";"),
    Messy(12, (Column("a", "normal"),), "y", "binary", "binary_classification"),
    Messy(40, (Column("a", "normal"), Column("a ", "normal"), Column("A", "near_constant")), "y", "imbalanced",
          "binary_classification", seed=3),  # names that differ by a space or a capital; 4 positives of 40
    Messy(35, (Column("g", "empty", ((0, "twelve"),)), Column("a_1", "normal")), "Y", "binary", "binary_classification",
          seed=35),
    Messy(40, (Column("flag", "boolean"), Column("n", "integer")), "y", "regression", "regression"),
    Messy(40, (Column("flag", "boolean", ((42, "NaN"),)),), "t", "binary", "binary_classification", seed=4),
    Messy(30, (Column("big", "huge"), Column("small", "tiny")), "y", "regression", "regression"),
    Messy(40, (Column("w", "words"),), "y", "huge_regression", "regression", seed=1),
]


def _with_issue_cases(test):
    for case in ISSUE_CASES:
        test = example(case)(test)
    return test


@_with_issue_cases
@FAST_SETTINGS
@given(messy=messy_data())
def test_messy_data_ends_in_success_or_one_message_naming_a_key_or_column(messy):
    run_messy(messy, QUICK)


@pytest.mark.slow
@_with_issue_cases
@MANY_SETTINGS
@given(messy=messy_data())
def test_messy_data_many_examples_through_evaluate(messy):
    run_messy(messy, WHOLE)


# --- bad briefs ------------------------------------------------------------------------------------------------

BRIEF = yaml.safe_load((CONF / "problem" / "breast_cancer.yaml").read_text())
BRIEF_KEYS = ("increment", "title", "task", "modality", "data.source", "data.format", "data.target", "data.positive_class",
              "data.features", "data.exclude", "data.time_column", "data.group_column", "data.id_columns",
              "data.sample_rows", "data.separator", "data.on_dirty", "constraints.latency_p95_ms",
              "constraints.interpretability", "constraints.budget_minutes", "constraints.max_memory_gb",
              "metrics.primary", "metrics.others", "metrics.cost_ratio")
UNKNOWN_KEYS = ("colour", "data.colour", "data.target_column", "constraints.speed", "metrics.secondary")
REQUIRED_KEYS = ("increment", "task", "data.source", "data.target")
OVERRIDE_KEYS = ("selection.cv_folds", "selection.test_size", "selection.class_weighting", "selection.gates.baseline_margin",
                 "selection.gates.imbalance_ratio", "seed", "tuning.max_trials.coarse", "explain.background_rows",
                 "explain.explain_rows", "serving.port", "serving.drift.bins", "stage")
WRONG_WORDS = ("regresion", "pictures", "maybe", "sqr", "tabluar", "required ", "ROC_AUC", "rmse", "pr_auc", "f1",
               "mean radius", "target", "bundled:nothing", "bundled:wine", "0002-breast-cancer", "../escape", "none",
               "csv", "semicolon", ";", "", " ", "yes", "1e3")

PLAUSIBLE = ("mean radius", "worst area", "target", "bundled:wine", "bundled:diabetes", "roc_auc", "pr_auc", "rmse",
             "accuracy", "f1", "regression", "multiclass_classification", "binary_classification", "required", "none",
             "semicolon", "tab", "error", "warn", "csv", "bundled", "0003-wine-cultivar")

text = st.text(NAME_ALPHABET, min_size=0, max_size=12)
plausible = st.one_of(st.sampled_from(PLAUSIBLE), st.integers(1, 20), st.floats(0.01, 1.0),
                      st.lists(st.sampled_from(PLAUSIBLE[:3]), max_size=2))
wrong = st.one_of(
    st.integers(-10**6, -1), st.just(0), st.floats(-1e6, -1e-9), st.sampled_from([1e300, -1e300, 2**63, 1e-300]),
    st.sampled_from(WRONG_WORDS), text, st.none(), st.booleans(),
    st.lists(st.one_of(st.integers(-3, 3), st.sampled_from(WRONG_WORDS)), max_size=3),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(-3, 3), max_size=2),
)
# Half the values compose, so runs get as far as the data (a nested one_of would be flattened, hence flatmap).
bad_values = st.booleans().flatmap(lambda composes: plausible if composes else wrong)
wrong_scalars = st.one_of(st.integers(-10**6, -1), st.just(0), st.floats(-1e6, -1e-9), st.sampled_from([1e300, 2**63]),
                          st.sampled_from(WRONG_WORDS), text.filter(lambda s: s.strip() == s and s), st.none(),
                          st.booleans(), st.lists(st.integers(-3, 3), max_size=3))
scalar_values = st.booleans().flatmap(lambda composes: plausible if composes else wrong_scalars)


@dataclass(frozen=True)
class BadBrief:
    """A brief file with some keys broken, and command-line overrides of other groups; its ``repr`` is the reproducer."""

    changes: tuple = ()  # (dotted key, value): set in the brief file
    deleted: tuple = ()  # dotted keys removed from the brief file
    overrides: tuple = ()  # (key, value): on the command line

    def text(self) -> str:
        brief = copy.deepcopy(BRIEF)
        for key in self.deleted:
            *parents, last = key.split(".")
            node = brief
            for p in parents:
                node = node.get(p) if isinstance(node, dict) else None
            if isinstance(node, dict):
                node.pop(last, None)
        for key, value in self.changes:
            *parents, last = key.split(".")
            node = brief
            for p in parents:
                if not isinstance(node.get(p), dict):
                    node[p] = {}
                node = node[p]
            node[last] = value
        return yaml.safe_dump(brief, allow_unicode=True, sort_keys=False)

    def command_line(self) -> list[str]:
        return [f"{key}={override_value(value)}" for key, value in self.overrides]

    def keys(self) -> tuple:
        return tuple(f"problem.{k}" for k, _ in self.changes) + tuple(k for k, _ in self.overrides)


def override_value(value) -> str:
    """A value as typed after ``key=`` on the command line (Hydra's override grammar)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ",".join(override_value(v) for v in value) + "]"
    return "'" + str(value) + "'"  # NAME_ALPHABET has no quote, backslash or dollar


@st.composite
def bad_briefs(draw) -> BadBrief:
    changes = draw(st.lists(st.tuples(st.sampled_from(BRIEF_KEYS + UNKNOWN_KEYS), bad_values), max_size=3,
                            unique_by=lambda kv: kv[0]))
    deleted = draw(st.lists(st.sampled_from(REQUIRED_KEYS), max_size=1, unique=True))
    overrides = draw(st.lists(st.tuples(st.sampled_from(OVERRIDE_KEYS), scalar_values), max_size=2,
                              unique_by=lambda kv: kv[0]))
    return BadBrief(tuple(changes), tuple(deleted), tuple(overrides))


def run_brief(brief: BadBrief, stages) -> str:
    with tempfile.TemporaryDirectory(prefix="fuzz-brief-") as tmp:
        root = Path(tmp)
        (root / "conf" / "problem").mkdir(parents=True)
        (root / "conf" / "problem" / "fuzzed.yaml").write_text(brief.text())
        given_keys = {k for k, _ in brief.overrides}
        base = [o for o in RUN if o.split("=")[0] not in given_keys]
        overrides = ["problem=fuzzed", f"hydra.searchpath=[file://{root / 'conf'}]", *base, *brief.command_line()]
        before = snapshot(root)
        try:
            cfg = compose_at(root, overrides)
            OmegaConf.to_object(cfg)  # every interpolation and type, as the run will read them
        except (HydraException, OmegaConfBaseException) as err:
            message = describe_compose_error(err)
            if not names_a_key_or_column(message, brief.keys()):
                raise unclean(f"compose ended in a message that names no key ({message!r})", err) from err
            assert snapshot(root) == before
            return message
        except Exception as err:  # noqa: BLE001
            raise unclean("compose raised", err) from err
        if "stage" in given_keys and cfg.stage not in STAGES:
            stages = (cfg.stage,)  # an unknown stage: the run must say so
        return run_stages(root, cfg, stages, brief.keys())


BRIEF_CASES = [
    BadBrief(changes=(("constraints.budget_minutes", -5),)),
    BadBrief(changes=(("task", "regresion"),)),
    BadBrief(changes=(("data.colour", "red"),)),
    BadBrief(changes=(("data.sample_rows", -10),)),
    BadBrief(changes=(("metrics.others", ["roc_auc", 3]),)),
    BadBrief(deleted=("data.target",)),
    BadBrief(overrides=(("selection.cv_folds", -1),)),
    BadBrief(overrides=(("seed", -1),)),
]


def _with_brief_cases(test):
    for case in BRIEF_CASES:
        test = example(case)(test)
    return test


@_with_brief_cases
@FAST_SETTINGS
@given(brief=bad_briefs())
def test_a_bad_brief_ends_in_success_or_one_message_naming_the_key(brief):
    run_brief(brief, QUICK)


@pytest.mark.slow
@_with_brief_cases
@MANY_SETTINGS
@given(brief=bad_briefs())
def test_bad_briefs_many_examples_through_evaluate(brief):
    run_brief(brief, WHOLE)


# --- the property's own checks ---------------------------------------------------------------------------------

def test_the_property_knows_a_key_or_column_when_it_sees_one():
    assert names_a_key_or_column("problem.data.target: column 'y' is not in the data. Fix: ...")
    assert names_a_key_or_column("selection.rules[0].modality: Invalid value 'x'")
    assert names_a_key_or_column("column 'when': 1 values of the time column are not dates")
    assert names_a_key_or_column("colour: Key 'colour' is not in struct", ["colour"])
    assert not names_a_key_or_column("Input X contains infinity or a value too large for dtype('float64').")
    assert not names_a_key_or_column("problems: something")


def test_a_repeated_header_is_written_as_repeated(tmp_path):
    messy = Messy(12, (Column("a", "normal"), Column("a", "integer")), "y", "binary", "binary_classification")
    assert messy.write(tmp_path / "d.csv").read_text().splitlines()[0] == "a,a,y"
