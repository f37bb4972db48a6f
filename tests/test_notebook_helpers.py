"""A notebook defines no helper that utils already exports: it imports the one definition instead.

``utils`` exports a function when a module lists it in ``__all__`` or, without ``__all__``, defines it
at the top level with a public name. A ``def`` of that name in a notebook's code cell (at any depth) is
a second copy that can drift from the first (issue 21 found a ``paired_se`` with another variance
estimator and six copies of a best-of timing loop). The exception is a derivation the page teaches and
then checks against the utils function: it is listed in ``ALLOWED`` with that reason.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import utils
from tools import notebooks

UTILS = Path(utils.__file__).resolve().parent

# (notebook stem, function name) -> why the page may define it
ALLOWED = {
    ("evaluation", "accuracy"): "eq-ch6-accuracy written from the confusion matrix (trace over total), the "
                                "page's derivation; asserted equal to utils.accuracy and to scikit-learn",
}


def exported_functions(root: Path = UTILS) -> dict[str, str]:
    """Every function utils exports, by name, with the module that defines it."""
    exported: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
        names = None
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                names = set(ast.literal_eval(node.value))
        public = functions & names if names is not None else {f for f in functions if not f.startswith("_")}
        module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        for name in public:
            exported.setdefault(name, module)
    return exported


def code_cells(path: Path) -> list[tuple[int, str]]:
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    return [(i, "".join(c["source"])) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]


def defined_functions(source: str) -> list[str]:
    """The names of every function a cell defines (IPython's % and ! lines left out)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return [node.name for node in ast.walk(ast.parse("\n".join(lines)))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]


def redefinitions(path: Path, exported: dict[str, str]) -> list[str]:
    found = []
    for index, source in code_cells(path):
        for name in defined_functions(source):
            if name in exported and (Path(path).stem, name) not in ALLOWED:
                found.append(f"{Path(path).name}, cell {index}: def {name} (utils has {exported[name]}.{name})")
    return found


EXPORTED = exported_functions()


@pytest.mark.parametrize("path", notebooks.notebooks(), ids=str)
def test_no_notebook_redefines_a_utils_function(path):
    assert redefinitions(notebooks.ROOT / path, EXPORTED) == []


def test_every_allowed_definition_still_exists_and_is_checked_against_utils():
    """An entry of ALLOWED names a def that the page has, and the page calls the utils function too."""
    pages = {Path(p).stem: notebooks.ROOT / p for p in notebooks.notebooks()}
    for (stem, name), reason in ALLOWED.items():
        sources = [source for _, source in code_cells(pages[stem])]
        assert any(name in defined_functions(s) for s in sources), (stem, name)
        assert any(f"utils.{name}(" in s or f".{name}(" in s.replace(f"def {name}(", "") for s in sources), reason


def test_the_check_sees_a_copy_at_any_depth(tmp_path):
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1,
                     "source": ["%matplotlib inline\n", "for _ in range(1):\n",
                                "    def best_seconds(fn):\n", "        return 0.0\n"]},
                    {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 2,
                     "source": ["def my_own_helper():\n", "    def paired_difference(a, b): ...\n"]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "page.ipynb"
    path.write_text(json.dumps(nb))
    found = redefinitions(path, EXPORTED)
    assert [line.split(": ")[1].split(" (")[0] for line in found] == ["def best_seconds", "def paired_difference"]
    assert "utils.training.flops.best_seconds" in found[0]


def test_the_exports_follow_all_or_the_public_names():
    assert EXPORTED["best_seconds"] == "utils.training.flops"
    assert EXPORTED["markdown_table"] == "utils.report"
    assert EXPORTED["paired_difference"] == "utils.training.metrics"
    assert "_labels" not in EXPORTED                                    # private
