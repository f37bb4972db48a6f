"""The package's own surface: every exported name resolves, importing a model module stays light, and
the folders are layers: no module imports from a layer above its own, and no import cycle exists."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import utils

UTILS = Path(utils.__file__).resolve().parent

# The layers of utils, lowest first. A module may import from its own group and from lower layers;
# two groups of one layer (data and layers, or two foundation modules) do not import each other.
LAYERS = [
    ("foundation", ["utils.runtime", "utils.checks", "utils.benchmarks"]),
    ("data and layers", ["utils.data", "utils.layers"]),
    ("models", ["utils.models"]),
    ("training", ["utils.training"]),
    ("book-wide", ["utils.trained", "utils.pages", "utils.plot", "utils.report"]),
]
RANK = {group: rank for rank, (_, groups) in enumerate(LAYERS) for group in groups}


def module_name(path: Path) -> str:
    parts = path.relative_to(UTILS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(UTILS.rglob("*.py"))}


def group_of(module: str) -> str | None:
    """The entry of LAYERS that holds ``module`` (``utils.models.gpt`` → ``utils.models``)."""
    for group in RANK:
        if module == group or module.startswith(group + "."):
            return group
    return None


def imported_modules(module: str) -> set[str]:
    """Every module of utils that ``module`` imports, at the top or inside a function (a deferred
    import is still a dependency), with the packages a dotted import loads on the way."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source
                       for alias in node.names]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            for i in range(2, len(parts) + 1):               # utils.data.text loads utils.data first
                if ".".join(parts[:i]) in MODULES:
                    found.add(".".join(parts[:i]))
    found.discard(module)
    return found


GRAPH = {module: imported_modules(module) for module in MODULES if module != "utils"}


def test_every_exported_name_resolves():
    assert set(utils.__all__) == set(utils._EXPORTS)
    for name in utils.__all__:
        assert getattr(utils, name) is not None, name


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_every_module_sits_in_a_layer(module):
    assert group_of(module) is not None, (f"{module} is in no layer of tests/test_package.py's LAYERS: "
                                          f"place it there (and in README's map of utils)")


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_module_imports_from_a_layer_above_its_own(module):
    mine = group_of(module)
    for target in sorted(GRAPH[module]):
        theirs = group_of(target)
        assert RANK[theirs] <= RANK[mine], (f"{module} ({LAYERS[RANK[mine]][0]}) imports {target}, "
                                            f"which is in a higher layer ({LAYERS[RANK[theirs]][0]})")
        assert RANK[theirs] < RANK[mine] or theirs == mine, (
            f"{module} ({mine}) imports {target} ({theirs}): two groups of one layer stay independent")


def test_no_import_cycles():
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == "open":
                cycle = path[path.index(target):] + [module, target] if target in path else [module, target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, path + [module])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [])


def test_the_layering_check_sees_relative_and_deferred_imports():
    assert "utils.layers.transformer" in GRAPH["utils.models.gpt"]       # from ..layers.transformer import
    assert "utils.models.lm" in GRAPH["utils.models.gpt"]                # from . import lm
    assert "utils.models" in GRAPH["utils.models.lm"]                    # from . import eval_mode
    assert "utils.data.files" in GRAPH["utils.models.bert"]              # inside load_pretrained
    assert "utils.data.datasets" in GRAPH["utils.training.distributed"]  # inside train and main


def test_importing_a_model_module_loads_neither_matplotlib_nor_data_nor_training():
    code = ("import sys, utils.models.gpt, utils.layers.transformer; "
            "print(sorted(m for m in sys.modules if m == 'matplotlib' or m.startswith("
            "('utils.data', 'utils.training', 'utils.plot', 'utils.trained'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=UTILS.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_an_unknown_name_is_an_attribute_error():
    try:
        utils.no_such_thing
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
