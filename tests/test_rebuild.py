"""The one-command rebuild (tools/rebuild.py) on tiny fake notebooks in a temporary folder.

Each fake page starts a real kernel (about a second), so the whole file runs a handful of them: order
of providers and readers, a failure that names the page and the cell and leaves every stored output
as it was, resume under the same run id, the run record's fields, which cached weights a warm run read,
and a kernel that dies when the rebuild is killed.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from tools import rebuild
from utils import pages
from utils.data import weights

MATMUL_N = 64                      # the record's matmul rate, measured small: the tests time nothing


def write_notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


PROVIDER = ("from myst_nb import glue\nimport secrets\n", "glue('token', secrets.randbelow(10**9))")
# reads the provider's stored value, as utils.pages.value does; quoting its file name declares the read
READER = ("from pathlib import Path\nfrom myst_nb import glue\nfrom utils.pages import glued_values\n"
          "glue('copy', int(glued_values(Path('provider.ipynb'))['token']))",)
# trains the weights 'tiny' unless they are cached (utils.data.weights logs which)
WEIGHTS = ("import torch\nfrom utils.data import weights\nmodel = torch.nn.Linear(2, 1)\n"
           "def train():\n    with torch.no_grad():\n        model.weight.add_(1.0)\n"
           "weights.load_or_train('tiny', model, train)",)


@pytest.fixture
def book(tmp_path, monkeypatch):
    """A folder of fake pages; utils.pages declares provider.ipynb as the provider of 'token'."""
    monkeypatch.setenv("BOOK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(weights.WEIGHTS_DIR_ENV, raising=False)
    monkeypatch.setattr(pages, "CHAPTERS", tmp_path)
    monkeypatch.setattr(pages, "PROVIDES", {"provider.ipynb": frozenset({"token"})})
    monkeypatch.setattr(rebuild, "ROOT", tmp_path)
    return tmp_path


def machine():
    return rebuild.machine_info(MATMUL_N)


@pytest.mark.slow
def test_providers_run_first_records_name_the_machine_and_a_failure_keeps_every_stored_output(book, capsys):
    reader = write_notebook(book / "reader.ipynb", *READER)
    provider = write_notebook(book / "provider.ipynb", *PROVIDER)
    fails = write_notebook(book / "fails.ipynb", "x = 1", "raise ValueError('broken on purpose')", "y = 2")
    weights_page = write_notebook(book / "weights.ipynb", *WEIGHTS)
    reads = write_notebook(book / "reads.ipynb", *WEIGHTS)           # reads what weights.ipynb trains
    order = pages.execution_order([reader, weights_page, fails, provider, reads])
    assert order == [provider, reader, weights_page, fails, reads]  # the provider moved, stable otherwise
    fails_before = fails.read_bytes()
    state_path = book / "state.json"
    state = rebuild.new_run(order, keep_cache=False, machine=machine(), whole_book=True)
    assert not Path(state["weights_dir"]).exists() or not any(Path(state["weights_dir"]).iterdir())

    assert rebuild.run(state, state_path=state_path) == 1
    err = capsys.readouterr().err
    assert "fails.ipynb failed in cell 2 of 3 (code cell 2)" in err
    assert "ValueError: broken on purpose" in err and "make rebuild RESUME=1" in err
    assert fails.read_bytes() == fails_before                       # not overwritten by a half run
    assert rebuild.run_info(reads) == {}                             # after the failure: not run
    assert (book / "_build" / "rebuild" / "failed" / "fails.ipynb").is_file()
    token = pages.glued_values(provider)["token"]
    assert pages.glued_values(reader)["copy"] == token               # read this run's value
    record = rebuild.run_info(reader)
    for key in ("seconds", "date", "run", "rebuild", "cpu", "cpu_flags", "cpus", "matmul_gflops",
                "torch", "python", "weights_cache", "cached_weights", "trained_weights"):
        assert key in record, key
    assert record["run"] == state["id"] and record["rebuild"] is True
    assert record["cpus"] == os.cpu_count() and record["matmul_gflops"] > 0
    assert record["weights_cache"].startswith("empty")
    assert rebuild.run_info(weights_page)["trained_weights"] == ["tiny"]
    assert rebuild.run_info(weights_page)["cached_weights"] == []    # the cache started empty
    saved = json.loads(state_path.read_text())
    assert saved["failed"] == str(fails) and set(saved["done"]) == {str(provider), str(reader), str(weights_page)}

    # resume: the failed page is fixed; the pages done are not run again, the rest join the same run
    write_notebook(fails, "x = 1", "y = 2")
    provider_before = provider.read_bytes()
    resumed = json.loads(state_path.read_text())
    assert rebuild.run(resumed, state_path=state_path) == 0
    out = capsys.readouterr().out
    assert "[page 4 of 5]" in out and "[page 1 of 5]" not in out
    h, m, sec = map(int, re.search(r"elapsed (\d+):(\d\d):(\d\d)", out).groups())
    assert abs(3600 * h + 60 * m + sec - sum(saved["done"].values())) <= 1    # counts the pages done before
    assert provider.read_bytes() == provider_before
    assert rebuild.run_info(fails)["run"] == rebuild.run_info(reads)["run"] == state["id"]
    assert rebuild.run_info(reads)["cached_weights"] == ["tiny"]     # trained earlier in this rebuild
    assert "read cached weights: tiny (trained by weights.ipynb in this run)" in out
    assert (Path(state["weights_dir"]) / "tiny.safetensors").is_file()


@pytest.mark.slow
def test_a_warm_run_reports_the_weights_it_read(book, capsys):
    page = write_notebook(book / "weights.ipynb", *WEIGHTS)
    first = rebuild.new_run([page], keep_cache=True, machine=machine())
    assert rebuild.run(first) == 0
    assert rebuild.run_info(page)["trained_weights"] == ["tiny"]
    second = rebuild.new_run([page], keep_cache=True, machine=first["machine"])
    assert second["previous"] == {str(page): rebuild.run_info(page)["seconds"]}
    assert rebuild.run(second) == 0
    record = rebuild.run_info(page)
    assert record["cached_weights"] == ["tiny"] and record["trained_weights"] == []
    assert record["weights_cache"] == "kept" and record["run"] == second["id"] != first["id"]
    assert "read cached weights: tiny" in capsys.readouterr().out
    assert (book / "cache" / "weights" / "tiny.safetensors").is_file()   # the usual cache


@pytest.mark.slow
def test_a_cold_run_of_chosen_pages_starts_empty_and_deletes_its_weights(book):
    write_notebook(book / "weights.ipynb", *WEIGHTS)
    (book / "cache" / "weights").mkdir(parents=True)
    state = rebuild.new_run([book / "weights.ipynb"], keep_cache=False, machine=machine())
    assert rebuild.run(state) == 0
    assert rebuild.run_info(book / "weights.ipynb")["trained_weights"] == ["tiny"]
    assert not Path(state["weights_dir"]).exists()
    assert not (book / "cache" / "weights" / "tiny.safetensors").exists()   # usual cache untouched


def test_the_results_page_runs_after_every_page_it_reports_on():
    results, first = rebuild.ROOT / rebuild.LAST[0], rebuild.ROOT / rebuild.notebooks()[0]
    assert rebuild.rebuild_order([results, first]) == [first, results]


def test_the_estimate_scales_previous_records_by_this_runs_speed():
    order = ["a", "b", "c", "d"]
    previous = {"a": 100.0, "b": 200.0, "c": 300.0}
    assert rebuild.estimate_left(order, {}, previous) == "0:10:00 + 1 page(s) never run before"
    assert rebuild.estimate_left(order, {"a": 50.0}, previous) == "0:04:10 + 1 page(s) never run before"
    assert rebuild.estimate_left(order, {"a": 1, "b": 1, "c": 1, "d": 1}, previous) == "0:00:00"
    assert rebuild.estimate_left(["d"], {}, {}) == "unknown (no previous run record)"


def test_weights_dir_follows_the_rebuild_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("BOOK_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv(weights.WEIGHTS_DIR_ENV, raising=False)
    assert weights.weights_dir() == tmp_path / "weights"
    monkeypatch.setenv(weights.WEIGHTS_DIR_ENV, str(tmp_path / "run" / "w"))
    assert weights.weights_path("m").parent == tmp_path / "run" / "w"
    monkeypatch.setenv(weights.WEIGHTS_DIR_ENV, "relative/w")     # from the project root, not the cwd
    assert weights.weights_dir() == Path(weights.PROJECT_ROOT) / "relative" / "w"


def test_the_command_line_refuses_what_it_cannot_do(tmp_path, capsys):
    with pytest.raises(SystemExit):
        rebuild.main(["--help"])
    assert "--keep-cache" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        rebuild.main(["README.md"])
    assert "not a notebook file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        rebuild.main(["--resume", "--state", str(tmp_path / "none.json")])
    assert "no run to resume" in capsys.readouterr().err


def test_resume_refuses_another_machine_and_a_finished_run(tmp_path, capsys):
    here = rebuild.machine_info(MATMUL_N)
    state = {"id": "r1", "date": "2026-12-07 10:00 UTC", "pages": ["a.ipynb"], "done": {"a.ipynb": 1.0},
             "machine": here}
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    assert rebuild.main(["--resume", "--state", str(path), "--matmul-size", str(MATMUL_N)]) == 0
    assert "run r1 finished every page; nothing to resume" in capsys.readouterr().out
    path.write_text(json.dumps({**state, "done": {}, "machine": {**here, "cpu": "Another CPU"}}))
    with pytest.raises(SystemExit):
        rebuild.main(["--resume", "--state", str(path), "--matmul-size", str(MATMUL_N)])
    assert "run r1 ran on Another CPU" in capsys.readouterr().err


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")    # a zombie is dead


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("how", [signal.SIGKILL])   # SIGTERM: nbclient shuts the kernel down itself
def test_killing_the_rebuild_kills_its_kernel(tmp_path, how):
    pid_file = tmp_path / "kernel.pid"
    # the kernel writes its pid, then computes in one long C call that never lets its Python run
    # (so ipykernel's own watch of its parent cannot act): only the kernel dying with its parent stops it
    page = write_notebook(tmp_path / "busy.ipynb",
                          f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))",
                          "import re\nre.match(r'(a+)+$', 'a' * 40 + 'b')")   # catastrophic backtracking
    env = {**os.environ, "BOOK_CACHE_DIR": str(tmp_path / "cache")}
    runner = subprocess.Popen([sys.executable, "-m", "tools.rebuild", "--keep-cache", "--matmul-size",
                               str(MATMUL_N), str(page)], cwd=rebuild.ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert runner.poll() is None and time.monotonic() < deadline, "the kernel did not start"
            time.sleep(0.1)
        kernel = int(pid_file.read_text())
        time.sleep(0.5)                                   # the kernel is now inside re.match
        assert _alive(kernel)
        runner.send_signal(how)
        runner.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _alive(kernel) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(kernel), f"the kernel {kernel} outlived its rebuild ({how.name})"
    finally:
        if runner.poll() is None:
            runner.kill()
        if pid_file.exists() and pid_file.read_text() and _alive(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_make_runs_the_rebuild_with_its_switches(tmp_path):
    import shutil

    if shutil.which("make") is None:
        pytest.skip("no make on this machine")
    stamp = str(rebuild.ROOT / ".venv" / ".installed")

    def commands(*args):
        done = subprocess.run(["make", "-n", "-o", stamp, "-f", str(rebuild.ROOT / "Makefile"), *args],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60,
                              env={k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL")})
        assert done.returncode == 0, done.stderr
        return [line.split("-m tools.rebuild")[1].split() for line in done.stdout.splitlines()
                if "-m tools.rebuild" in line]

    assert commands("rebuild") == [[]]
    assert commands("rebuild", "RESUME=1") == [["--resume"]]
    assert commands("rebuild", "KEEP_CACHE=1") == [["--keep-cache"]]
    assert commands("execute", "NB=chapters/x.ipynb") == [["--keep-cache", "chapters/x.ipynb"]]
