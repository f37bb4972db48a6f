"""The code of the exercises' solutions, so that the tests can execute it.

A solution is a MyST ``{solution}`` directive (colon or backtick fence) in a Markdown cell; its code is
every ```` ```python ```` block inside it. ``make test`` runs each block in the page's own kernel after the
page's last cell (see the root ``conftest.py``): only an error fails, the output is not compared.

A block that cannot run in quick mode may opt out with a first line ``# not executed by the tests:
<reason>``; the reason is required, and ``tests/test_exercises.py`` lists the opt-outs of the book.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

OPT_OUT = "# not executed by the tests:"
PYTHON_INFO = {"python", "python3", "py", "ipython", "ipython3"}

_DIRECTIVE = re.compile(r"^\s*(?P<fence>:{3,}|`{3,})\{(?P<name>[\w-]+)\}\s*(?P<arg>.*?)\s*$")
_FENCE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*?)\s*$")


@dataclass(frozen=True)
class SolutionCode:
    label: str          # the exercise the solution answers (the directive's argument)
    index: int          # 1, 2, ... for the blocks of one solution
    code: str
    opt_out: str | None = None   # the reason, when the block opts out of execution

    @property
    def name(self) -> str:
        return f"solution {self.label}" + (f" [{self.index}]" if self.index > 1 else "")


def _closes(line: str, fence: str) -> bool:
    """A line of only the fence's character, at least as long as the opening fence."""
    s = line.strip()
    return len(s) >= len(fence) and set(s) == {fence[0]}


def solution_code(markdown: str) -> list[SolutionCode]:
    """The ```python blocks inside the ``{solution}`` directives of one Markdown text, in order.

    Fences nest as in CommonMark and MyST: a code fence ends at a line of at least as many of its
    characters, so a ```python fence inside a ````markdown block is text, not code; a directive ends
    at a bare fence of its own character at least as long as its opening one (outside code fences),
    so a directive nested in a solution does not end it. A solution without code gives nothing, and
    code outside solutions (in an exercise, say) is not a solution's. An opt-out marker without a
    reason raises ValueError.
    """
    found: list[SolutionCode] = []
    label: str | None = None                     # the open solution's exercise label
    directives: list[str] = []                   # fences of the open directives, the solution first
    code_fence: str | None = None                # the open code fence, if any
    code_lines: list[str] | None = None          # its lines when it is a solution's python block
    for line in markdown.splitlines():
        if code_fence is not None:               # inside a code fence only its end matters
            if _closes(line, code_fence):
                if code_lines is not None:
                    index = sum(block.label == label for block in found) + 1
                    found.append(_block(label, index, "\n".join(code_lines)))
                code_fence, code_lines = None, None
            elif code_lines is not None:
                code_lines.append(line)
            continue
        directive = _DIRECTIVE.match(line)
        if directive and directive["name"] in ("code", "code-block", "code-cell", "sourcecode"):
            directive = None                     # a code directive is a code fence (below)
        if directive:
            if label is None and directive["name"] == "solution":
                label = (directive["arg"].split() or ["?"])[0]
                directives = [directive["fence"]]
            elif label is not None:
                directives.append(directive["fence"])
            continue
        if label is not None and _closes(line, directives[-1]):
            directives.pop()
            if not directives:
                label = None
            continue
        fence = _FENCE.match(line)
        if fence and fence["fence"][0] in "`~":
            info = fence["info"].replace("{", " ").replace("}", " ").split()
            code_fence = fence["fence"]
            is_python = bool(info) and info[-1 if info[0] in ("code", "code-block", "code-cell",
                                                              "sourcecode") else 0] in PYTHON_INFO
            code_lines = [] if label is not None and is_python else None
    return found


def _block(label: str, index: int, code: str) -> SolutionCode:
    code = code.strip("\n")
    first = code.lstrip().splitlines()[0].strip() if code.strip() else ""
    reason = None
    if first.lower().startswith(OPT_OUT):
        reason = first[len(OPT_OUT):].strip()
        if not reason:
            raise ValueError(f"solution {label}: '{OPT_OUT}' needs a reason after the colon")
    return SolutionCode(label, index, code, reason)


def notebook_solution_code(path: Path | str) -> list[SolutionCode]:
    """Every solution code block of a notebook's Markdown cells, in page order."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    found: list[SolutionCode] = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            found.extend(solution_code(source))
    return found
