"""The solutions' code that `make test` executes: the parser, the collection, and the opt-outs.

The root conftest.py appends one item per solution code block to nbval's items of each notebook; it
runs in the page's kernel after the page's last cell and fails only on an error.
"""
import json
import subprocess
import sys

import pytest

from tools import notebooks
from tools.exercises import notebook_solution_code, solution_code

from error_facts import raises_naming

# Solution code blocks that do not run in the tests, each with its reason in the block's first line
# ("# not executed by the tests: <reason>"). Adding one is a decision: update this list.
EXPECTED_OPT_OUTS: list[tuple[str, str]] = []

MARKDOWN = '''
:::{exercise}
:label: ex-a
Exercise code is not a solution's:
```python
raise AssertionError("never collected")
```
:::

:::{solution} ex-a
:class: dropdown
Two blocks:
```python
x = 1
```
and
```python
assert x == 1
```
:::

:::{exercise}
:label: ex-none
A solution without code.
:::

:::{solution} ex-none
Only prose and `inline_code()`, which is not executed.
:::

:::{exercise}
:label: ex-unsolved
An exercise without a solution.
```python
1 / 0
```
:::

::::{solution} ex-nested
`````markdown
A fence inside a fence is text:
```python
raise AssertionError("inside a markdown block")
```
`````
:::{note}
A nested directive does not end the solution.
:::
~~~python
y = 2
~~~
````{code-block} python
z = 3
````
::::

```python
outside = "no solution here"
```
'''


def test_parser_finds_the_code_of_each_solution_and_nothing_else():
    blocks = solution_code(MARKDOWN)
    assert [(b.label, b.index, b.code) for b in blocks] == [
        ("ex-a", 1, "x = 1"), ("ex-a", 2, "assert x == 1"),
        ("ex-nested", 1, "y = 2"), ("ex-nested", 2, "z = 3")]
    assert [b.name for b in blocks] == ["solution ex-a", "solution ex-a [2]",
                                        "solution ex-nested", "solution ex-nested [2]"]
    assert not any(b.opt_out for b in blocks)


def test_backtick_directive_and_opt_out_marker():
    text = ("```{solution} ex-b\n```python\n# not executed by the tests: trains for 15 minutes\nfit()\n```\n```\n")
    [block] = solution_code(text)
    assert block.label == "ex-b" and block.opt_out == "trains for 15 minutes"
    with raises_naming(ValueError, "ex-c", "# not executed by the tests:"):   # the solution and the marker
        solution_code(":::{solution} ex-c\n```python\n# not executed by the tests:\nfit()\n```\n:::\n")


def _book_blocks():
    return [(str(path), block) for path in notebooks.notebooks()
            for block in notebook_solution_code(notebooks.ROOT / path)]


def test_opt_outs_are_few_and_listed():
    opt_outs = [(path, block.label) for path, block in _book_blocks() if block.opt_out]
    reasons = "\n".join(f"{path} {block.label}: {block.opt_out}" for path, block in _book_blocks()
                        if block.opt_out)
    assert sorted(opt_outs) == sorted(EXPECTED_OPT_OUTS), f"{len(opt_outs)} opt-outs:\n{reasons}"


@pytest.mark.slow
def test_every_solution_block_is_collected_after_the_pages_cells(tmp_path):
    """Collection only (no kernel): the items of a notebook end with its solution blocks."""
    nb = {"cells": [
        {"cell_type": "code", "source": "x = 41", "execution_count": 1, "metadata": {}, "outputs": []},
        {"cell_type": "markdown", "metadata": {}, "source":
            ":::{exercise}\n:label: ex-t\nQ\n:::\n\n:::{solution} ex-t\n```python\nassert x + 1 == 42\n```\n:::"},
        {"cell_type": "code", "source": "x += 0", "execution_count": 2, "metadata": {}, "outputs": []},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "page.ipynb").write_text(json.dumps(nb))
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "conftest",
                             "--rootdir", str(notebooks.ROOT), "-c", str(notebooks.ROOT / "pyproject.toml"),
                             str(tmp_path / "page.ipynb")],
                            capture_output=True, text=True, cwd=notebooks.ROOT)
    ids = [line.split("::")[-1] for line in result.stdout.splitlines() if "::" in line]
    assert ids == ["Cell 0", "Cell 1", "solution ex-t"], result.stdout + result.stderr
