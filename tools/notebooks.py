"""The book's notebooks: which ones the table of contents names, their hygiene, their run records.

Running them in full mode (``make rebuild``, ``make execute``) is :mod:`tools.rebuild`'s job.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_BYTES = 3_000_000
MAX_LINE = 88  # characters per notebook code line: longer lines scroll sideways in the HTML
# A Markdown table's delimiter row: |---|---:|
_TABLE_RULE = re.compile(r"^\s*\|(?:\s*:?-{3,}:?\s*\|)+\s*$", re.MULTILINE)
_MACHINE_PATH = re.compile(r"(/root/|/tmp/|/home/[^/\s]+/|/Users/[^/\s]+/|site-packages/|[A-Z]:\\\\Users\\\\)")


def toc_files(root: Path = ROOT) -> list[Path]:
    """Every page the table of contents names, as a path relative to ``root`` (suffix resolved)."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    pages = []
    for name in names:
        matches = [root / f"{name}{suffix}" for suffix in (".ipynb", ".md") if (root / f"{name}{suffix}").is_file()]
        if not matches:
            raise FileNotFoundError(f"_toc.yml names {name!r}, but neither {name}.ipynb nor {name}.md exists")
        pages.append(matches[0].relative_to(root))
    return pages


def notebooks(root: Path = ROOT) -> list[Path]:
    return [p for p in toc_files(root) if p.suffix == ".ipynb"]


def hygiene_problems(path: Path) -> list[str]:
    """What is wrong with a notebook's stored outputs: empty list when it is one clean full run."""
    problems = []
    if path.stat().st_size > MAX_BYTES:
        problems.append(f"{path.stat().st_size / 1e6:.1f} MB is over the {MAX_BYTES / 1e6:.0f} MB limit")
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    counts = [c.get("execution_count") for c in code]
    if counts != list(range(1, len(code) + 1)):
        problems.append(f"execution counts {counts} are not 1..{len(code)} (not one clean top-to-bottom run)")
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        for number, line in enumerate("".join(cell["source"]).splitlines(), 1):
            if len(line) > MAX_LINE:
                problems.append(f"cell {index} (0-based), line {number}: {len(line)} characters, "
                                f"over {MAX_LINE}: {line[:60]!r}...")
    for i, cell in enumerate(code, 1):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                problems.append(f"code cell {i} stores an error ({out.get('ename')})")
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                problems.append(f"code cell {i} stores stderr output (a warning?): {''.join(out['text'])[:120]!r}")
            if out.get("output_type") == "stream" and has_table("".join(out.get("text", ""))):
                problems.append(f"code cell {i} prints a Markdown table, which the book shows as raw "
                                "`| a | b |` text: display it with IPython.display.Markdown or glue it")
            text = json.dumps(out.get("text", "")) + json.dumps(out.get("data", {}).get("text/plain", ""))
            if "mode: quick" in text:
                problems.append(f"code cell {i} stores a quick-mode run's output; run `make execute` (full mode)")
            if _MACHINE_PATH.search(text):
                problems.append(f"code cell {i} stores a machine path: {_MACHINE_PATH.search(text).group(0)!r}")
    for key, value in glued(path).items():
        if value.startswith(("np.", "tensor(", "array(")):
            problems.append(f"glued value {key!r} is {value[:40]!r}: glue a Python float/int, which MyST-NB can format")
    return problems


def has_table(markdown: str) -> bool:
    """Whether a Markdown text holds a table (a `|---|` delimiter row)."""
    return _TABLE_RULE.search(markdown) is not None


def markdown_tables(path: Path) -> list[tuple[int, str, str | None]]:
    """Markdown tables a notebook's code stores as outputs: (cell index, MIME type, glue name or None).

    ``text/markdown`` outputs are rendered with the book's ``nb_render_markdown_format``; glued ones
    (``application/papermill.record/text/markdown``) by the ``{glue:md}`` directive or role that
    pastes them, with its own ``:format:``.
    """
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    found = []
    for index, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            for mime, data in out.get("data", {}).items():
                if mime.endswith("text/markdown") and has_table("".join(data)):
                    glue = out.get("metadata", {}).get("scrapbook", {}).get("name")
                    found.append((index, mime, glue))
    return found


def glued(path: Path) -> dict[str, str]:
    """The values a notebook glued (``myst_nb.glue``) in its stored outputs, as their text form."""
    from utils.pages import glued_values

    return glued_values(path)


_GLUE_ROLE = re.compile(r"\{glue(?::(text|md))?\}`([^`]+)`")
_GLUE_DIRECTIVE = re.compile(r"^[`~:]{3,}\{glue(?::\w*)?\}[ \t]+(\S+)", re.M)


def _visible_text(cell: dict) -> str:
    """What JupyterLab shows of a code cell's outputs: streams and text/* data (glued values are stored
    under application/papermill.record/*, which Lab does not display)."""
    parts = []
    for out in cell.get("outputs", []):
        if "scrapbook" in out.get("metadata", {}):
            continue
        parts.append("".join(out.get("text", "")))
        parts += ["".join(v) for k, v in out.get("data", {}).items() if k.startswith("text/")]
    return "\n".join(parts)


def lab_hidden_glue(path: Path) -> list[str]:
    """Glued values that a JupyterLab reader of the notebook would not see anywhere.

    JupyterLab (with jupyterlab-myst) renders MyST but not MyST-NB's glue: a ``{glue:text}`` or
    ``{glue:md}`` role shows its key, a ``{glue:}`` or ``{glue:figure}`` directive an unknown-directive
    box. So every value the prose quotes must also appear in a visible output of the notebook — as the
    book formats it (``{glue:text}`key:.3f``` → ``format(value, ".3f")``), or as a printed number that
    rounds to it — and a table must be displayed by its code cell, not pasted by a directive.
    Returns one line per problem.
    """
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    values = glued(path)
    shown = "\n".join(_visible_text(c) for c in nb["cells"] if c["cell_type"] == "code")
    printed = [(m.group(1), bool(m.group(2))) for m in _PRINTED.finditer(shown)]
    problems = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        for key in _GLUE_DIRECTIVE.findall(text):
            problems.append(f"cell {index}: {key!r} is pasted by a glue directive, which JupyterLab shows as "
                            f"an unknown directive: display it in its code cell instead")
        for kind, content in _GLUE_ROLE.findall(text):
            # `key:spec`, or the document-qualified `page.ipynb::key:spec` (tools.i18n.qualify_glue)
            doc, qualified, local = content.rpartition("::")
            if qualified and (Path(path).parent / doc).resolve() != Path(path).resolve():
                continue                                # pasted from another page
            key, _, spec = local.partition(":")
            if key not in values:
                continue                                # not glued here
            if kind == "md" or values[key].startswith("<IPython"):
                wanted = (_glued_markdown(nb, key) or "").strip()
                seen = not wanted or wanted in shown
            else:
                try:
                    value = as_number(values[key])
                except ValueError:
                    wanted = values[key].strip().strip("'\"")
                    seen = wanted in shown
                else:
                    wanted = _format(value, spec)
                    seen = wanted in shown or any(_shows(text, percent, value, spec) for text, percent in printed)
            if not seen:
                problems.append(f"cell {index}: {key!r} ({wanted!r}) is quoted by a glue role but no output "
                                f"shows it: print it where it is computed")
    return problems


_PRINTED = re.compile(r"(?<![\w.])([-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s?(%)?")


def _shows(text: str, percent: bool, value: float, spec: str) -> bool:
    """Whether the printed number ``text`` shows ``value`` as the prose does (``format(value, spec)``):
    it formats to the same text, or, for a fixed-point spec, it is ``value`` rounded to at least the
    prose's decimals (1.6435 printed shows 1.64352 quoted as 1.644, although 1.6435 formats as 1.643)."""
    number = float(text.replace(",", ""))
    wanted = _format(value, spec)
    if _format(number, spec) == wanted or (percent and _format(number / 100, spec) == wanted):
        return True
    fixed = re.fullmatch(r"[+ ]?,?\.(\d+)f", spec)
    if fixed is None or "e" in text.lower():
        return False
    decimals = len(text.partition(".")[2])
    return decimals >= int(fixed.group(1)) and abs(number - value) <= 0.5001 * 10.0 ** -decimals


def _format(value: float, spec: str) -> str:
    """``format`` as MyST-NB's {glue:text} applies it; integral values for integer specs."""
    if spec.endswith(("d", "n")) or (not spec and value == int(value)):
        value = int(value) if value == int(value) else value
    try:
        return format(value, spec)
    except (ValueError, TypeError):
        return format(value)


def _glued_markdown(nb: dict, key: str) -> str | None:
    for cell in nb["cells"]:
        for out in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            if out.get("metadata", {}).get("scrapbook", {}).get("name") == key:
                data = out.get("data", {})
                text = data.get("application/papermill.record/text/markdown", data.get("text/markdown"))
                return None if text is None else "".join(text)
    return None


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def as_number(text: str) -> float:
    """The number in a glued value's text form: ``0.93``, ``np.float64(0.93)``, ``tensor(0.93)``."""
    inner = text.split("(", 1)[1].rsplit(")", 1)[0] if "(" in text else text
    match = _NUMBER.fullmatch(inner.strip())
    if match is None:
        raise ValueError(f"not a single number: {text!r}")
    return float(match.group(0))


def run_info(path: Path) -> dict:
    """The run record of a notebook's stored full run (written by :mod:`tools.rebuild`; empty if none)."""
    return json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {}).get("book_run", {})
