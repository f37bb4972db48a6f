"""``make bench``: how fast the book is for its readers, in one table (also written as JSON).

Rows: the time to render the book (execution off), the quick-mode test suite (the last ``make test``),
each notebook's full run (the run records that ``make rebuild`` stores in the notebooks: the rows come
from one run on one machine, named above the table, see :func:`chosen_run`), the speed of
the book's from-scratch layers against PyTorch's, training throughput of the CNN and the GPT, this
machine's float32 matrix-product rate and the GPT's model FLOP utilisation (MFU). Each row has its
target, where the project sets one, and says whether it is met.

Run it alone: a second process using the cores changes every timing several-fold.

    python -m tools.bench [--no-render] [--json PATH]
    python -m tools.bench --records-only     # the notebook times alone (nothing measured): the README's table
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tools import notebooks
from utils.layers import conv, rnn, transformer
from utils import trained
from utils.models import gpt
from utils.models.cnn import ImprovedCNN, ImprovedCNNConfig
from utils.report import markdown_table
from utils.training.flops import best_seconds, matmul_gflops, mfu, model_flops_per_token

ROOT = notebooks.ROOT
TEST_RECORD = ROOT / "_build" / "test_time.json"   # written by `make test`
DEFAULT_JSON = ROOT / "_build" / "bench.json"

# Targets, in seconds unless the unit says otherwise (issue: "the book as readers meet it").
RENDER_TARGET_S = 60
TESTS_TARGET_S = 300               # the quick-mode suite, `make test` (issue 22)
NOTEBOOK_TARGET_S = 600            # a full run of one notebook, and of all of them, on a machine of
BOOK_TARGET_S = 3600               # the fast class (AVX-512, about 250-320 GFLOP/s float32 matmul) ...
SLOW_NOTEBOOK_TARGET_S = 900       # ... and on a slower one (AVX2 machines of about 120-160 GFLOP/s)
SLOW_BOOK_TARGET_S = 5400
FAST_CLASS_GFLOPS = 200            # the line between the two classes, measured in the same run


def run_targets(matmul_gflops: float | None) -> tuple[int, int]:
    """(per notebook, whole book) targets in seconds for a run on a machine of this matmul rate; an
    unknown rate gets the fast class's (stricter) targets."""
    if matmul_gflops is not None and matmul_gflops < FAST_CLASS_GFLOPS:
        return SLOW_NOTEBOOK_TARGET_S, SLOW_BOOK_TARGET_S
    return NOTEBOOK_TARGET_S, BOOK_TARGET_S


@dataclass
class Row:
    group: str
    name: str
    value: float | None
    unit: str
    target: str = ""
    met: bool | None = None     # None: no target
    note: str = ""


@torch.no_grad()
def speed_ratios() -> dict[str, float]:
    """Time of the book's from-scratch layer / time of PyTorch's, forward, on chapter-sized inputs."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 16, 28, 28, generator=g)
    w, b = torch.randn(32, 16, 3, 3, generator=g), torch.randn(32, generator=g)
    ratios = {"convolution (im2col vs F.conv2d)":
              best_seconds(lambda: conv.conv2d(x, w, b, padding=1))
              / best_seconds(lambda: F.conv2d(x, w, b, padding=1))}
    ours, theirs = rnn.LSTM(64, 128), nn.LSTM(64, 128, batch_first=True)
    seq = torch.randn(64, 50, 64, generator=g)
    ratios["LSTM (Python loop over time vs nn.LSTM)"] = (best_seconds(lambda: ours(seq))
                                                        / best_seconds(lambda: theirs(seq)))
    q, k, v = (torch.randn(32, 4, 64, 32, generator=g) for _ in range(3))
    ratios["attention (written out vs F.scaled_dot_product_attention)"] = (
        best_seconds(lambda: transformer.scaled_dot_product_attention(q, k, v))
        / best_seconds(lambda: F.scaled_dot_product_attention(q, k, v)))
    return ratios


def cnn_images_per_second(batch: int = 128, steps: int = 20) -> float:
    """Training throughput of the book's stronger CNN (4.1.1) on 28 × 28 images: the batch over the
    median time of ``steps`` AdamW training steps after 3."""
    torch.manual_seed(0)
    model = ImprovedCNN(ImprovedCNNConfig()).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = torch.rand(batch, 1, 28, 28), torch.randint(0, 10, (batch,))

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return batch / best_seconds(step, repeats=steps, warmup=3, statistic="median")


def gpt_step(steps: int = 20, muon: bool = True) -> tuple[float, float]:
    """Training tokens per second of the GPT page's final model (``utils.trained.GPT_CONFIG``, batch 24,
    context 64) with its final recipe (``utils.trained.GPT_RECIPE``: Muon for the hidden matrices), or
    with ``muon=False`` the same recipe with AdamW for every parameter, and its FLOPs per token,
    6 n_mm + 12 n_layers T D (eq-ch4-gpt-flops)."""
    recipe = trained.GPT_RECIPE if muon else dataclasses.replace(trained.GPT_RECIPE, muon_lr=None)
    tokens = trained.gpt_tokens_per_second(recipe, steps=steps)
    return tokens, model_flops_per_token(gpt.GPT(trained.GPT_CONFIG), recipe.seq_len)


def render_seconds() -> float:
    """Wall time of a clean HTML build from the stored outputs (execution off), into a temporary
    folder so that the reader's _build stays as it is."""
    builder = Path(sys.executable).with_name("jupyter-book")
    if not builder.exists():
        raise FileNotFoundError(f"{builder} is missing: run `make env` first")
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        done = subprocess.run([str(builder), "build", str(ROOT), "--path-output", out, "-W", "-n",
                               "--keep-going", "-q"], capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"the book build failed (exit {done.returncode}); run `make book` to see why:\n"
                           + done.stderr[-2000:])
    return seconds


def test_row(record_path: Path = TEST_RECORD) -> Row:
    """The last ``make test`` (its wall time, from the record the Makefile writes)."""
    name = "quick-mode test suite (last `make test`)"
    if not record_path.exists():
        return Row("book", name, None, "s", f"≤ {TESTS_TARGET_S}", None, "not measured yet: run `make test` first")
    record = json.loads(record_path.read_text())
    s = float(record["seconds"])
    return Row("book", name, s, "s", f"≤ {TESTS_TARGET_S}", s <= TESTS_TARGET_S,
               f"exit {record['exit']}, {record['date']}")


def chosen_run(records: dict[str, dict]) -> str | None:
    """The run whose records the notebook rows show, so that the table never mixes machines: the
    latest whole-book ``make rebuild``; without one, the ``make execute`` run that covers the most
    pages; None when no record has a run id (records written before ``make rebuild`` existed)."""
    runs: dict[str, list[dict]] = {}
    for info in records.values():
        if info.get("run"):
            runs.setdefault(info["run"], []).append(info)
    if not runs:
        return None
    rebuilds = [r for r, infos in runs.items() if any(i.get("rebuild") for i in infos)]
    if rebuilds:
        return max(rebuilds, key=lambda r: (runs[r][0].get("run_started", ""), len(runs[r])))
    return max(runs, key=lambda r: (len(runs[r]), runs[r][0].get("run_started", "")))


def machine_line(info: dict) -> str:
    """One line naming the run and the machine of a run record (tools.rebuild writes them)."""
    if not info.get("run"):
        return ("records written before `make rebuild`: no run id, CPU model or matmul rate, so they "
                "may come from different machines; run `make rebuild` for one table from one machine")
    flags = f", {'/'.join(info['cpu_flags'])}" if info.get("cpu_flags") else ""
    kind = "`make rebuild`" if info.get("rebuild") else "`make execute`"
    return (f"run {info['run']} ({kind}, started {info.get('run_started', '?')}, weights cache "
            f"{info.get('weights_cache', '?')}) on {info.get('cpu', '?')} ({info.get('cpus', '?')} CPUs{flags}; "
            f"float32 matmul {info.get('matmul_gflops', '?')} GFLOP/s), torch {info.get('torch', '?')}")


def notebook_records(root: Path = ROOT) -> tuple[str | None, dict[str, dict]]:
    """The chosen run (:func:`chosen_run`) and every notebook's record, by path relative to ``root``."""
    records = {str(path): notebooks.run_info(root / path) for path in notebooks.notebooks(root)}
    return chosen_run(records), records


def notebook_rows(root: Path = ROOT) -> list[Row]:
    """One row per notebook of the table of contents from one run (:func:`chosen_run`), and their
    sum; a notebook whose stored run is another one is named in the sum's note, not added to it."""
    run, records = notebook_records(root)
    rows, total, missing, other = [], 0.0, [], []
    rates = {info.get("matmul_gflops") for info in records.values() if info and info.get("run") == run}
    page_target, book_target = run_targets(rates.pop() if run is not None and len(rates) == 1 else None)
    trained_by = {name: Path(path).stem for path, info in records.items()
                  if run is not None and info.get("run") == run for name in info.get("trained_weights", [])}
    for path, info in records.items():
        if not info:
            missing.append(path)
            continue
        if run is not None and info.get("run") != run:
            other.append(path)
            continue
        s = float(info["seconds"])
        total += s
        note = f"{info.get('cpus', '?')} CPUs, torch {info.get('torch', '?')}" if run is None else ""
        if info.get("cached_weights"):      # the run read these instead of training them
            read = [f"{n} (trained by {trained_by[n]} in this run)" if n in trained_by else n
                    for n in info["cached_weights"]]
            note += ("; " if note else "") + f"read cached weights {', '.join(read)}"
            if any(n not in trained_by for n in info["cached_weights"]):
                note += " (a first run trains them)"
        rows.append(Row("notebook, full run", str(Path(path).relative_to("chapters")), s, "s",
                        f"≤ {page_target}", s <= page_target, note))
    notes = [f"no run record: {', '.join(missing)}"] if missing else []
    if other:
        notes.append(f"not from run {run} (left out): {', '.join(other)}")
    rows.append(Row("book", "every notebook, full run (sum)", total, "s", f"≤ {book_target}",
                    total <= book_target and not missing and not other, "; ".join(notes)))
    return rows


def records_table(root: Path = ROOT) -> str:
    """The notebook rows of one run with the line naming its machine: the README's table."""
    run, records = notebook_records(root)
    first = next((info for info in records.values() if run is not None and info.get("run") == run), {})
    return f"Notebook times: {machine_line(first)}.\n\n" + table(notebook_rows(root))


def collect(render: bool = True) -> list[Row]:
    rows: list[Row] = []
    if render:
        s = render_seconds()
        rows.append(Row("book", "render the HTML (execution off)", s, "s", f"≤ {RENDER_TARGET_S}",
                        s <= RENDER_TARGET_S))
    rows.append(test_row())
    rows += notebook_rows()
    for name, ratio in speed_ratios().items():
        rows.append(Row("from scratch / PyTorch", name, ratio, "× time"))
    peak = matmul_gflops()
    rows.append(Row("throughput", "float32 matrix product, 2048 × 2048", peak, "GFLOP/s"))
    rows.append(Row("throughput", "CNN training (4.1.1, batch 128)", cnn_images_per_second(), "images/s"))
    for muon, name in ((False, "AdamW"), (True, "Muon + AdamW, the final recipe")):
        tokens, flops_per_token = gpt_step(muon=muon)
        rows.append(Row("throughput", f"GPT training (4 × 128, context 64, batch 24), {name}", tokens,
                        "tokens/s"))
        rows.append(Row("throughput", f"GPT model FLOP utilisation, {name}",
                        100 * mfu(tokens, flops_per_token, peak), "% of the matmul rate"))
    return rows


def _format(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table (it reads as plain text in a terminal too)."""
    cells = [[r.group, r.name, _format(r.value), r.unit, r.target,
              "" if r.met is None else ("yes" if r.met else "**no**"), r.note] for r in rows]
    return markdown_table(["group", "measure", "value", "unit", "target", "met", "note"], cells,
                          align="llrllll").data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--no-render", action="store_true", help="skip the book build (about a minute)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write the rows ({DEFAULT_JSON})")
    parser.add_argument("--records-only", action="store_true",
                        help="only the notebook times of the last `make rebuild` (read from the run records, "
                             "nothing measured), with the machine they come from")
    args = parser.parse_args(argv)
    if args.records_only:
        print(records_table())
        return 0
    torch.set_num_threads(os.cpu_count() or 1)
    rows = collect(render=not args.no_render)
    run, records = notebook_records()
    print(f"Notebook times: {machine_line(next((i for i in records.values() if i.get('run') == run), {}))}.\n")
    print(table(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "machine": platform.machine(),
            "torch": torch.__version__.split("+")[0], "python": platform.python_version()}
    args.json.write_text(json.dumps({"machine": meta, "rows": [asdict(r) for r in rows]}, indent=1) + "\n")
    print(f"\nwritten: {args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}")
    misses = [r.name for r in rows if r.met is False]
    if misses:
        print(f"targets missed: {len(misses)} (see the README's reproducibility section for the causes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
