"""``make rebuild`` and ``make execute``: run the book's notebooks in full mode and store what they show.

Every number in the book comes from the stored outputs of a notebook's last full run, so one command
must be able to reproduce all of them on one machine:

* **Order.** Pages that provide values other pages quote run first (:func:`utils.pages.execution_order`),
  otherwise the table-of-contents order, so that the pages which train a shared model run before the
  pages that read it from the weights cache.
* **A cold cache.** By default the run starts from an empty weights folder (``BOOK_WEIGHTS_DIR``, see
  :mod:`utils.data.weights`), so a page can only read weights that an earlier page of the same run trained;
  ``--keep-cache`` uses the book's usual weights cache instead (a warm run, and ``make execute``).
* **One fresh kernel per page**, started so that it dies with this process even when this process is
  killed with SIGKILL (``PR_SET_PDEATHSIG``): an interrupted rebuild must not leave a kernel training
  in the background for an hour.
* **Atomic writes.** A page's file is replaced only after its last cell ran; a failing page keeps its
  previous stored outputs (the half-run copy goes to ``_build/rebuild/failed/`` for reading), and the
  run stops naming the page and the cell, with the command that resumes it.
* **A run record** in each notebook's metadata (``book_run``, read by ``make bench`` and the results
  page): wall time, CPU model and cores, this machine's float32 matmul rate (measured once per run),
  torch and Python versions, the date, the run id shared by every page of the run, whether the weights
  cache started empty, and which cached weights the page read or trained (``utils.data.weights`` logs them).
* **Resume.** A whole-book run keeps its state in ``_build/rebuild/state.json``; ``--resume`` runs the
  pages it has not finished, under the same run id, cache and matmul rate.
* **Progress**: page k of n, elapsed time, and the time left estimated from the previous run records,
  scaled by how fast this run has been on the pages done so far.

    python -m tools.rebuild [--keep-cache] [--resume] [NOTEBOOK ...]
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from tools.notebooks import ROOT, hygiene_problems, notebooks, run_info
from utils.data.files import atomic_path, cache_dir
from utils.data.weights import USE_LOG_ENV, WEIGHTS_DIR_ENV, weights_dir

STATE = ROOT / "_build" / "rebuild" / "state.json"
# pages that report on every other page's stored outputs (not through utils.pages): always run last
LAST = ("chapters/appendix/results.ipynb",)
RECORD = "book_run"                  # notebook metadata key of the run record
CELL_TIMEOUT_S = 3600


class PageFailed(RuntimeError):
    """A page stopped before its last cell; the message names the page and the cell."""

    def __init__(self, page: str, message: str):
        super().__init__(message)
        self.page = page


# --------------------------------------------------------------------------- the machine
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")   # what decides float32 and bfloat16 speed


def cpu_flags() -> list[str]:
    """Which of the vector and matrix extensions that decide PyTorch's CPU speed this CPU has
    (two "AMD EPYC" machines differed twofold in float32 matmul: AVX-512 against AVX2)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                present = set(line.split(":", 1)[1].split())
                return [f for f in _FLAGS if f in present]
    except OSError:
        pass
    return []


def machine_info(matmul_size: int = 2048) -> dict:
    """What a run record says about the machine, with its float32 matmul rate measured now (GFLOP/s,
    :func:`utils.training.flops.matmul_gflops`): timings from machines of different speeds are not comparable."""
    import torch

    from utils.training.flops import matmul_gflops

    torch.set_num_threads(os.cpu_count() or 1)     # what a kernel uses by default
    return {"cpu": cpu_model(), "cpu_flags": cpu_flags(), "cpus": os.cpu_count(), "machine": platform.machine(),
            "matmul_gflops": round(matmul_gflops(matmul_size), 1),
            "torch": torch.__version__.split("+")[0], "python": platform.python_version()}


def same_machine(a: dict, b: dict) -> bool:
    return all(a.get(k) == b.get(k) for k in ("cpu", "cpus", "machine", "torch"))


# --------------------------------------------------------------------------- one page
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the kernel's process before it starts: the kernel gets SIGKILL when this process dies.

    ipykernel's own watch of its parent needs the kernel's Python to run (it does not while a long
    C call holds the interpreter), and does not reach a kernel started by a launcher in between.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:            # the parent died before the line above took effect
        os._exit(1)


def _cell_name(nb, index: int) -> str:
    cell = nb.cells[index]
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    first = next((line for line in cell.source.splitlines() if line.strip()), "")
    return (f"cell {index + 1} of {len(nb.cells)} (code cell {code.index(index) + 1}): "
            f"{first[:70]!r}")


def execute(path: Path, record: dict, *, failed_dir: Path, timeout: int = CELL_TIMEOUT_S,
            env: dict[str, str] | None = None) -> dict:
    """Run ``path`` top to bottom in a fresh kernel, in full mode, in its own folder; on success store
    the outputs and the run record (``record`` + seconds, date and weights used) in place, atomically,
    and return the record. On failure raise :class:`PageFailed` and leave ``path`` as it was."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path).resolve()
    page = _shown(path)
    nb = nbformat.read(path, as_version=4)
    current = {"index": None}

    def on_cell_start(cell, cell_index):
        current["index"] = cell_index

    with tempfile.TemporaryDirectory() as tmp:
        use_log = Path(tmp) / "weights.jsonl"
        kernel_env = dict(env if env is not None else os.environ)
        kernel_env.pop("BOOK_QUICK", None)              # full mode: what the stored outputs show
        kernel_env[USE_LOG_ENV] = str(use_log)          # utils.data.weights logs every read and every training
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                on_cell_start=on_cell_start)
        start = time.perf_counter()
        try:
            client.execute(cwd=str(path.parent), env=kernel_env, preexec_fn=_die_with_parent)
        except BaseException as exc:
            where = (_cell_name(nb, current["index"]) if current["index"] is not None
                     else "before its first cell (the kernel did not start)")
            if isinstance(exc, CellExecutionError):
                what = f"{exc.ename}: {exc.evalue}"
            else:
                what = f"{type(exc).__name__}: {exc}".rstrip(": ")
            failed_dir.mkdir(parents=True, exist_ok=True)
            kept = failed_dir / path.name
            nbformat.write(nb, kept)
            raise PageFailed(page, f"{page} failed in {where}\n  {what}\n  its stored outputs are unchanged; "
                                   f"the half-run copy is {_shown(kept)}") from exc
        seconds = time.perf_counter() - start
        uses = [json.loads(line) for line in use_log.read_text().splitlines()] if use_log.exists() else []
    record = {"seconds": round(seconds, 1), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              **record,
              "cached_weights": sorted({u["name"] for u in uses if u["loaded"]}),
              "trained_weights": sorted({u["name"] for u in uses if not u["loaded"]})}
    nb.metadata[RECORD] = record
    with atomic_path(path) as tmp_path:
        nbformat.write(nb, tmp_path)
    return record


def _shown(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# --------------------------------------------------------------------------- a run of many pages
def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def estimate_left(pages: list[str], done: dict[str, float], previous: dict[str, float]) -> str:
    """The time the pages not in ``done`` will take: their previous records' seconds, scaled by this
    run's speed relative to the previous records on the pages done so far."""
    left = [p for p in pages if p not in done]
    known = [p for p in left if p in previous]
    if not known:
        return "unknown (no previous run record)" if left else "0:00:00"
    compared = [p for p in done if p in previous and previous[p] > 0]
    speed = sum(done[p] for p in compared) / sum(previous[p] for p in compared) if compared else 1.0
    text = _clock(speed * sum(previous[p] for p in known))
    if len(known) < len(left):
        text += f" + {len(left) - len(known)} page(s) never run before"
    return text


def rebuild_order(paths: list[Path]) -> list[Path]:
    """Providers before readers (:func:`utils.pages.execution_order`), then the :data:`LAST` pages."""
    from utils.pages import execution_order

    order = execution_order([Path(p).resolve() for p in paths])
    last = [p for p in order if _shown(p) in LAST]
    return [p for p in order if p not in last] + last


def new_run(pages: list[Path], *, keep_cache: bool, machine: dict, whole_book: bool = False) -> dict:
    """The state of a new run: its id, its weights folder, the pages in order, their previous times.
    A cold run's weights folder is ``cache_dir()/rebuilds/<id>/weights``: kept after a whole-book run
    (to resume it; the next cold rebuild deletes it), deleted after a run of chosen pages."""
    run_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)
    folder = weights_dir() if keep_cache else cache_dir() / "rebuilds" / run_id / "weights"
    return {"id": run_id, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "weights_dir": str(folder), "keep_cache": keep_cache, "whole_book": whole_book, "machine": machine,
            "pages": [str(Path(p).resolve()) for p in pages],
            "previous": {str(Path(p).resolve()): float(run_info(p)["seconds"])
                         for p in pages if run_info(p).get("seconds")},
            "done": {}, "failed": None}


def run(state: dict, *, state_path: Path | None = None, timeout: int = CELL_TIMEOUT_S,
        resume_command: str = "make rebuild RESUME=1") -> int:
    """Run the pages of ``state`` not yet done, in order; stop at the first failure. Returns the exit
    status (0: every page ran). ``state`` is saved after each page when ``state_path`` is given."""
    if not state["keep_cache"]:
        Path(state["weights_dir"]).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, WEIGHTS_DIR_ENV: state["weights_dir"]}
    base = {"run": state["id"], "rebuild": state["whole_book"], "run_started": state["date"], **state["machine"],
            "weights_cache": "kept" if state["keep_cache"] else "empty at the start of the run"}
    pages, done = state["pages"], state["done"]
    try:
        return _run_pages(state, pages, done, base, env, state_path, timeout, resume_command)
    finally:
        if not state["keep_cache"] and not state["whole_book"]:
            shutil.rmtree(Path(state["weights_dir"]).parent, ignore_errors=True)


def _run_pages(state, pages, done, base, env, state_path, timeout, resume_command) -> int:
    start = time.perf_counter() - sum(done.values())      # a resumed run counts its pages done before
    trained_by = {name: _shown(page) for page in done            # weights trained earlier in this run
                  for name in run_info(Path(page)).get("trained_weights", [])}
    for k, page in enumerate(pages, 1):
        if page in done:
            continue
        print(f"[page {k} of {len(pages)}] {_shown(page)} — elapsed {_clock(time.perf_counter() - start)}, "
              f"estimated time left {estimate_left(pages, done, state['previous'])}", flush=True)
        try:
            record = execute(Path(page), base, failed_dir=ROOT / "_build" / "rebuild" / "failed",
                             timeout=timeout, env=env)
        except PageFailed as exc:
            state["failed"] = page
            _save(state, state_path)
            resume = f"fix the page, then resume with: {resume_command}" if state_path else "fix it and run it again"
            print(f"\nSTOPPED at page {k} of {len(pages)}: {exc}\n  the other pages' stored outputs are "
                  f"unchanged (run {state['id']}); {resume}", file=sys.stderr, flush=True)
            return 1
        done[page] = record["seconds"]
        state["failed"] = None
        _save(state, state_path)
        for name in record["trained_weights"]:
            trained_by[name] = _shown(page)
        reads = ", ".join(f"{n} (trained by {trained_by[n]} in this run)" if n in trained_by else n
                          for n in record["cached_weights"])
        problems = hygiene_problems(Path(page))
        print(f"  {record['seconds']:.1f} s" + (f"; read cached weights: {reads}" if reads else "")
              + (f"; trained: {', '.join(record['trained_weights'])}" if record["trained_weights"] else "")
              + (f"\n  HYGIENE PROBLEMS: {'; '.join(problems)}" if problems else ""), flush=True)
    total = sum(done[p] for p in pages)
    print(f"all {len(pages)} page(s) of run {state['id']}: {total:.1f} s of notebooks "
          f"({_clock(total)}), on {state['machine']['cpu']} ({state['machine']['cpus']} CPUs, "
          f"{state['machine']['matmul_gflops']} GFLOP/s float32 matmul)", flush=True)
    return 0


def _save(state: dict, state_path: Path | None) -> None:
    if state_path is None:
        return
    with atomic_path(state_path) as tmp:
        tmp.write_text(json.dumps(state, indent=1) + "\n")


def _forget_old_rebuilds(keep: str) -> None:
    """Delete the weights folders of earlier cold runs (they only served to resume them)."""
    folder = cache_dir() / "rebuilds"
    for old in sorted(folder.iterdir()) if folder.is_dir() else []:
        if old.name != keep and old.is_dir():
            shutil.rmtree(old)
            print(f"removed the weights of an earlier rebuild: {old}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.rebuild",
        description="Run notebooks in full mode, in order (providers before readers), each in a fresh "
                    "kernel, storing their outputs and run records; by default from an empty weights cache.")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: every notebook of the book, as one resumable rebuild)")
    parser.add_argument("--keep-cache", action="store_true",
                        help="use the book's usual weights cache instead of an empty one (a warm run)")
    parser.add_argument("--resume", action="store_true",
                        help="finish the last whole-book run from its first unfinished page")
    parser.add_argument("--state", type=Path, default=STATE, help=argparse.SUPPRESS)
    parser.add_argument("--matmul-size", type=int, default=2048, help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT_S,
                        help=f"seconds one cell may run (default {CELL_TIMEOUT_S})")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if path.suffix != ".ipynb" or not path.is_file():
            parser.error(f"{path} is not a notebook file (.ipynb)")
    if args.resume and args.notebooks:
        parser.error("--resume finishes the last whole-book run; it takes no notebooks")
    whole_book = not args.notebooks
    state_path = args.state if whole_book else None
    if args.resume:
        if not args.state.is_file():
            parser.error(f"there is no run to resume ({_shown(args.state)} does not exist): run `make rebuild`")
        state = json.loads(args.state.read_text())
        left = [p for p in state["pages"] if p not in state["done"]]
        if not left:
            print(f"run {state['id']} finished every page; nothing to resume (`make rebuild` starts a new one)")
            return 0
        here = machine_info(args.matmul_size)
        if not same_machine(state["machine"], here):
            parser.error(f"run {state['id']} ran on {state['machine']['cpu']} ({state['machine']['cpus']} CPUs, "
                         f"torch {state['machine']['torch']}); this is {here['cpu']} ({here['cpus']} CPUs, torch "
                         f"{here['torch']}): one run's records must come from one machine; start a new run "
                         f"with `make rebuild`")
        print(f"resuming run {state['id']} (started {state['date']}) at {_shown(left[0])}: "
              f"{len(left)} of {len(state['pages'])} pages left", flush=True)
    else:
        pages = rebuild_order(args.notebooks or [ROOT / p for p in notebooks()])
        machine = machine_info(args.matmul_size)
        state = new_run(pages, keep_cache=args.keep_cache, machine=machine, whole_book=whole_book)
        print(f"run {state['id']}: {len(pages)} page(s) on {machine['cpu']} ({machine['cpus']} CPUs, "
              f"float32 matmul {machine['matmul_gflops']} GFLOP/s, torch {machine['torch']}); weights cache: "
              + ("the usual one, " if args.keep_cache else "empty, ") + state["weights_dir"], flush=True)
        if whole_book and not args.keep_cache:
            _forget_old_rebuilds(keep=state["id"])
        _save(state, state_path)
    return run(state, state_path=state_path, timeout=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
