"""Arrows point down: every module imports only from its own layer or the layers below it (see ARCHITECTURE.md)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "specweave_ml"

# Top to bottom. A module belongs to the layer of the longest prefix that names it.
LAYERS = [
    ("entry points", ["__main__", "sweep", "serving.__main__", "vega_template"]),
    ("wiring", ["stages", "steps", "serving.server"]),
    ("the seam", ["context", "families", "settings_check", "transaction"]),
    ("documents", ["docs", "report"]),
    ("serving and tracking", ["serving", "tracking", "packaging"]),
    ("learning", ["training", "evaluation", "explain", "antipatterns", "guards", "gates", "resolver", "torchkit", "forecasting",
                  "recommendations", "text", "vision"]),
    ("data and records", ["data", "models", "state", "results", "brief", "brief_writer", "dvc_index"]),
    ("base", ["", "clock", "models.registry", "schema", "plan", "metrics", "paths", "fileio", "errors", "units", "config_errors"]),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__")


def layer_of(module: str) -> int:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or (prefix and module.startswith(prefix + ".")) or prefix == "" and module == "":
                if len(prefix) > best:
                    best, rank = len(prefix), i
    assert rank is not None, f"specweave_ml.{module} is in no layer: add it to LAYERS and ARCHITECTURE.md"
    return rank


def imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, names) for every import of our own package, at any depth of the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("specweave_ml"):
            base = node.module.removeprefix("specweave_ml").lstrip(".")
            for alias in node.names:
                sub = f"{base}.{alias.name}".lstrip(".")
                is_module = (PACKAGE / Path(*sub.split("."))).with_suffix(".py").exists() or (PACKAGE / Path(*sub.split("."))).is_dir()
                found.append((node.lineno, sub if is_module else base, [] if is_module else [alias.name]))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name.removeprefix("specweave_ml").lstrip("."), []) for a in node.names
                      if a.name.startswith("specweave_ml")]
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) or "specweave_ml" for p in MODULES])
def test_no_module_imports_from_a_layer_above_its_own(path):
    me = module_name(path)
    upward = [f"line {line}: {target} ({LAYERS[layer_of(target)][0]}) from {me} ({LAYERS[layer_of(me)][0]})"
              for line, target, _ in imports(path) if layer_of(target) < layer_of(me)]
    assert upward == []


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) or "specweave_ml" for p in MODULES])
def test_no_module_imports_a_private_name_of_another(path):
    me = module_name(path)
    private = [f"line {line}: {target}.{name}" for line, target, names in imports(path) for name in names
               if name.startswith("_") and target != me]
    assert private == []


def test_every_module_has_a_layer():
    for path in MODULES:
        layer_of(module_name(path))


def test_the_layers_are_what_architecture_md_describes():
    text = (PACKAGE.parent / "ARCHITECTURE.md").read_text()
    for name, _ in LAYERS:
        assert name in text, f"ARCHITECTURE.md does not describe the layer '{name}'"


def test_the_check_sees_an_upward_import_even_inside_a_function(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("def late():\n    from specweave_ml.training.train import train\n    from specweave_ml.steps import _x\n")
    found = imports(planted)
    assert [(line, target) for line, target, _ in found] == [(2, "training.train"), (3, "steps")]
    assert layer_of("training.train") < layer_of("data.checks")  # so data.checks importing it would be flagged
