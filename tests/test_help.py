"""`--help` explains this product: what it does, every stage, the shipped briefs, examples; `--hydra-help` is Hydra's."""

import re
from pathlib import Path

import pytest

from specweave_ml.stages import STAGES

CONF = Path(__file__).resolve().parent.parent / "conf"
pytestmark = pytest.mark.slow  # each test starts the command line


def test_help_lists_every_stage_the_briefs_and_examples(cli):
    result = cli("--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("specweave-ml: a short YAML brief in") and "powered by Hydra" not in text
    stages = text.split("== Stages (stage=...) ==")[1].split("\n== ")[0]
    listed = set(re.findall(r"^  (\w+) {2,}", stages, re.MULTILINE))
    assert listed >= set(STAGES), f"stages missing from --help: {sorted(set(STAGES) - listed)}"
    briefs = sorted(p.stem for p in (CONF / "problem").glob("*.yaml"))
    assert f"problem: {', '.join(briefs)}" in text
    examples = [line for line in text.splitlines() if line.strip().startswith("python -m specweave_ml")]
    assert len(examples) >= 3


def test_hydra_help_keeps_hydras_own(cli):
    result = cli("--hydra-help")
    assert result.returncode == 0, result.stderr
    assert "Hydra (" in result.stdout and "--multirun" in result.stdout
