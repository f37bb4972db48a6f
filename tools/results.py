"""The appendix page "results at a glance": every headline number of the book beside its anchor.

An anchor is the published number a result should be compared with (``utils.benchmarks``: the value,
where the source prints it, its bibliography key). :data:`ROWS` lists the book's headline numbers by
glue name; :func:`build` reads their values from the chapter notebooks' *stored* outputs (so the table
can only show what a full run produced), formats each with its unit and standard error, compares it
with its anchor (difference or ratio), and lists the rows whose glue name no notebook stores yet.
:func:`runs_table` adds each notebook's run record. ``chapters/appendix/results.ipynb`` calls both:
it is the one page that imports ``tools``, because it reports on the others.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from utils import benchmarks
from utils.benchmarks import Published
from utils.pages import glued_values, parse_number

__all__ = ["Unit", "UNITS", "Row", "ROWS", "Report", "build", "runs_table", "section"]


@dataclass(frozen=True)
class Unit:
    """How a kind of number is printed, and a difference (book - anchor) of two."""

    fmt: str                   # the value, e.g. "{:.4f}"
    diff_fmt: str              # the difference, after multiplying it by `scale`
    scale: float = 1.0
    suffix: str = ""           # after the difference, e.g. " points"
    anchor_fmt: str = "{:g}"   # a published value, as precise as its source prints it


UNITS = {
    "accuracy": Unit("{:.4f}", "{:+.1f}", 100.0, " points", "{:.3f}"),  # share, 0-1
    "percent": Unit("{:.1f} %", "{:+.1f}", 1.0, " points", "{:g} %"),
    "nats": Unit("{:.3f}", "{:+.3f}"),                                  # nats per character
    "seconds": Unit("{:.0f}", "{:+.0f}"),
    "exponent": Unit("{:.2f}", "{:+.2f}"),
    "ratio": Unit("{:.2f}", "{:+.2f}", anchor_fmt="{:.1f}"),
    "times": Unit("{:.3g}x", "{:+.3g}"),
    "count": Unit("{:,.0f}", "{:+,.0f}"),
    "months": Unit("{:.1f}", "{:+.1f}"),
    "number": Unit("{:.3f}", "{:+.3f}"),
    "tiny": Unit("{:.1e}", "{:+.1e}"),
}


@dataclass(frozen=True)
class Row:
    """One headline number of the book and the published number it is compared with."""

    glue: str                  # glue name in a chapter notebook's stored outputs
    label: str                 # what the number is
    unit: str                  # a key of UNITS
    anchor: Published | tuple[Published, Published] | None = None   # a value or a (low, high) range
    compare: str = "difference"  # "difference": book - anchor; "ratio": book / anchor
    se: str | None = None      # glue name of the book value's standard error, if glued
    se_scale: float = 1.0      # turns that standard error into `unit` (0.01: points)

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError(f"{self.glue}: unit={self.unit!r}; allowed: {sorted(UNITS)}")
        if self.compare not in ("difference", "ratio"):
            raise ValueError(f"{self.glue}: compare={self.compare!r}; allowed: 'difference', 'ratio'")
        if self.compare == "ratio" and isinstance(self.anchor, tuple):
            raise ValueError(f"{self.glue}: a ratio needs one anchor, not a range")
        if isinstance(self.anchor, tuple) and (len(self.anchor) != 2 or self.anchor[0].source
                                               != self.anchor[1].source):
            raise ValueError(f"{self.glue}: a range is two anchors from one source, got sources "
                             f"{[getattr(a, 'source', a) for a in self.anchor]}")

    @property
    def cite(self) -> str | None:
        first = self.anchor[0] if isinstance(self.anchor, tuple) else self.anchor
        return None if first is None else first.source


def _range(values: list[float], where: str, source: str) -> tuple[Published, Published]:
    return Published(min(values), where, source), Published(max(values), where, source)


_FMNIST = benchmarks.FASHION_MNIST_SOURCE
_TWO_CONV = _range(benchmarks.fashion_mnist_accuracies("2 Conv+pooling"), "all rows 2 Conv+pooling", _FMNIST)
(_TWO_CONV_BN,) = benchmarks.fashion_mnist_accuracies("2 Conv+pooling+BN")
(_HOG_SVM,) = benchmarks.fashion_mnist_accuracies("HOG+SVM")
TWO_CONV_BN = Published(_TWO_CONV_BN, "2 Conv+pooling+BN", _FMNIST)
HOG_SVM = Published(_HOG_SVM, "HOG+SVM", _FMNIST)
KIM_RAND, KIM_STATIC, KIM_NON_STATIC = benchmarks.KIM_MR_RAND, benchmarks.KIM_MR_STATIC, benchmarks.KIM_MR_NON_STATIC
NANOGPT_LOSS, NANOGPT_SECONDS = benchmarks.NANOGPT_CPU_LOSS, benchmarks.NANOGPT_CPU_SECONDS
PALM_MFU = benchmarks.PALM_MFU_PERCENT

ROWS: list[Row] = [
    # 1 Background
    Row("ch1_doubling_months", "doubling time of landmark model sizes, 2012-2020 (months)", "months"),
    Row("ch1_pixels_acc", "Fashion-MNIST test accuracy, logistic regression on pixels", "accuracy",
        se="ch1_acc_se"),
    Row("ch1_handmade_acc", "Fashion-MNIST test accuracy, logistic regression on HOG features",
        "accuracy", HOG_SVM, se="ch1_acc_se"),
    Row("ch1_hog_mlp_acc", "Fashion-MNIST test accuracy, MLP on HOG features", "accuracy", HOG_SVM,
        se="ch1_acc_se"),
    Row("ch1_learned_acc", "Fashion-MNIST test accuracy, small CNN (learned features)", "accuracy",
        benchmarks.FASHION_MNIST_SMALL_CNN, se="ch1_acc_se"),
    Row("ch1_learned_seconds", "small CNN training time (s)", "seconds"),
    # 2 Core concepts
    Row("ch2_param_configs_checked", "parameter-count formulas checked against PyTorch (configurations)",
        "count"),
    Row("ch2_depth", "depth of the initialisation experiment (layers)", "count"),
    Row("ch2_loss_checks", "from-scratch loss checks (value and gradient)", "count"),
    Row("ch2_gd_eta_max", "stability bound 2/Λ of the quadratic example", "number"),
    Row("ch2_ti_best_epoch", "epoch with the lowest validation loss before overfitting", "count"),
    Row("ch2_ti_test_acc", "test accuracy of the early-stopped MLP (1,000 training images)", "accuracy"),
    Row("ch2_bp_programs", "random programs whose gradients match torch.autograd", "count"),
    Row("ch2_bp_test_acc", "two-moons test accuracy of the MLP trained by the book's autograd engine",
        "accuracy"),
    # 3 Algorithms
    Row("cnn_conv_loop_ratio", "naive-loop convolution time relative to F.conv2d", "times"),
    Row("cnn_conv_im2col_ratio", "im2col convolution time relative to F.conv2d", "times"),
    Row("rnn_adding_longest", "longest adding-problem sequence length trained", "count"),
    Row("rnn_adding_lstm_ratio_longest", "LSTM validation MSE / baseline MSE at that length", "number"),
    Row("rnn_adding_rnn_ratio_longest", "vanilla RNN validation MSE / baseline MSE at that length",
        "number"),
    Row("attention_jacobian_ratio_1024", "softmax Jacobian, scaled / unscaled scores at d_k = 1024",
        "times"),
    Row("attention_time_exponent_naive", "fitted exponent of attention time in T, storing the T×T scores",
        "exponent", Published(2.0, "Table 1: self-attention O(T² D)", "vaswani2017attention")),
    Row("attention_time_exponent_sdpa", "fitted exponent of attention time in T, "
        "F.scaled_dot_product_attention", "exponent",
        Published(2.0, "Table 1: self-attention O(T² D)", "vaswani2017attention")),
    Row("attention_memory_exponent_naive", "fitted exponent of attention peak memory in T, storing the "
        "scores", "exponent", Published(2.0, "standard attention, O(T²) memory", "dao2022flashattention")),
    Row("attention_memory_exponent_sdpa", "fitted exponent of attention peak memory in T, "
        "F.scaled_dot_product_attention", "exponent",
        Published(1.0, "FlashAttention, O(T) extra memory", "dao2022flashattention")),
    # 4.1 CNN examples
    Row("cnn_seed_params", "parameters of the article's CNN", "count"),
    Row("cnn_seed_test_acc", "Fashion-MNIST test accuracy, article's recipe", "accuracy", _TWO_CONV,
        se="cnn_seed_test_se"),
    Row("cnn_seed_train_seconds", "training time, 10 epochs (s)", "seconds"),
    Row("cnn_improved_test_acc", "Fashion-MNIST test accuracy, improved CNN", "accuracy", TWO_CONV_BN,
        se="cnn_improved_test_se"),
    Row("cnn_improved_train_seconds", "training time of the improved CNN (s)", "seconds"),
    # 4.2 RNN examples
    Row("rnn_mr_seed_test_acc", "MR test accuracy, the article's LSTM and recipe", "accuracy", KIM_RAND,
        se="rnn_mr_seed_test_se", se_scale=0.01),
    Row("rnn_mr_test_acc", "MR test accuracy, final recurrent model (frozen MiniLM embeddings)",
        "accuracy", KIM_STATIC, se="rnn_mr_test_se", se_scale=0.01),
    Row("rnn_mr_params", "trainable parameters of the final recurrent model", "count"),
    Row("rnn_mr_train_seconds", "training time of the final recurrent model (s)", "seconds"),
    Row("rnn_mr_tfidf_test_acc", "MR test accuracy, TF-IDF + logistic regression", "accuracy",
        benchmarks.NBSVM_BI_MR),
    Row("charlstm_val_loss", "Tiny Shakespeare validation loss of the character LSTM (nats/char)",
        "nats", Published(NANOGPT_LOSS.value, "CPU recipe, a GPT", NANOGPT_LOSS.source)),
    Row("charlstm_params", "parameters of the character LSTM", "count"),
    Row("charlstm_train_seconds", "training time of the character LSTM (s)", "seconds"),
    # 4.3 Transformer examples
    Row("bert_params", "parameters of the BERT encoder (MiniLM's shape)", "count"),
    Row("bert_max_abs_diff", "largest difference from Hugging Face's BertModel (hidden states)", "tiny"),
    Row("probe_mr_test_acc", "MR test accuracy, frozen MiniLM + linear probe", "accuracy", KIM_STATIC),
    Row("bert_mr_test_acc", "MR test accuracy, fine-tuned MiniLM", "accuracy", KIM_NON_STATIC,
        se="bert_mr_test_se", se_scale=0.01),
    Row("bert_mr_train_seconds", "fine-tuning time, 3 epochs (s)", "seconds"),
    Row("bert_bucket_speedup", "epoch time, padding to the longest sentence / batching by length",
        "times"),
    Row("bert_choice_base_val_acc", "MR validation accuracy after one epoch of the recipe on half the training sentences", "accuracy"),
    Row("gpt_recipe_val_loss", "Tiny Shakespeare validation loss, nanoGPT's CPU recipe (nats/char)",
        "nats", NANOGPT_LOSS),
    Row("gpt_recipe_train_seconds", "time of the recipe's run (s)", "seconds", NANOGPT_SECONDS,
        compare="ratio"),
    Row("gpt_val_loss", "validation loss of the book's GPT in no more time than the recipe (nats/char)",
        "nats", NANOGPT_LOSS),
    Row("gpt_train_seconds", "time of the book's GPT run (s)", "seconds", NANOGPT_SECONDS,
        compare="ratio"),
    Row("gpt_lstm_val_loss", "validation loss of an LSTM with the GPT's parameters, in about the AdamW "
        "GPT's time (nats/char)", "nats",
        Published(NANOGPT_LOSS.value, "CPU recipe, a GPT", NANOGPT_LOSS.source)),
    Row("gpt_tokens_per_second", "GPT training throughput (tokens/s)", "count"),
    Row("gpt_mfu", "GPT model FLOP utilisation (% of measured float32 peak)", "percent", PALM_MFU),
    Row("gpt_kv_speedup", "generation speed-up from the KV cache, a text filling the context", "times"),
    # 5 Outlook
    Row("scaling_alpha", "fitted exponent α_N of loss against parameters", "number",
        benchmarks.KAPLAN_ALPHA_N),
    Row("flops_ratio_6nd", "measured FLOPs per token / 6N", "ratio", benchmarks.KAPLAN_6N),
    Row("mfu_gpt", "model FLOP utilisation of the GPT (% of measured peak)", "percent", PALM_MFU),
    Row("ddp_max_grad_diff", "largest gradient difference, two-process DDP vs one process", "tiny"),
    Row("label_noise_acc_60", "article's CNN, test accuracy, 60 % of training labels flipped", "accuracy"),
    Row("fgsm_acc_01", "stronger CNN, test accuracy under FGSM at ε = 0.1", "accuracy"),
    # 6 FAQ
    Row("faq_arch_fashion_cnn_acc", "Fashion-MNIST test accuracy, CNN (same budget)", "accuracy"),
    Row("faq_arch_fashion_lstm_acc", "Fashion-MNIST test accuracy, LSTM over rows (same budget)",
        "accuracy"),
    Row("faq_arch_fashion_transformer_acc", "Fashion-MNIST test accuracy, Transformer over rows (same "
        "budget)", "accuracy"),
    Row("faq_arch_mr_cnn_acc", "MR test accuracy, CNN from scratch", "accuracy", KIM_RAND),
    Row("faq_arch_mr_lstm_acc", "MR test accuracy, LSTM from scratch", "accuracy"),
    Row("faq_arch_mr_transformer_acc", "MR test accuracy, Transformer from scratch", "accuracy"),
    Row("faq_eval_macro_f1", "macro F1 of the stronger CNN, test set", "accuracy"),
    Row("faq_eval_auc", "ROC-AUC of the fine-tuned MiniLM on MR", "accuracy"),
]

HEADING = re.compile(r"^\((?P<label>[\w-]+)\)=\s*\n#\s+(?P<title>.+)$", re.MULTILINE)
SHORT = {  # short section names; a chapter not listed here shows its title
    "ch1-history": "History", "ch3-cnn": "CNN", "ch3-rnn": "RNN",
    "ch4-char-lstm": "Character LSTM", "ch4-bert-encoder": "A pretrained BERT encoder",
    "ch4-bert-finetune": "Fine-tuning", "ch4-bert-recipe": "Fine-tuning choices",
    "ch4-gpt": "GPT",
}


def _notebook(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def section(root: Path, path: Path) -> str:
    """A link to a notebook's page with its current number: ``{numref}`%s GPT <ch4-gpt>```."""
    first = next(c for c in _notebook(root / path)["cells"] if c["cell_type"] == "markdown")
    match = HEADING.search("".join(first["source"]))
    if match is None:
        raise ValueError(f"{path} does not open with a `(label)=` line and a `# title`")
    label = match["label"]
    name = SHORT.get(label, re.sub(r"\s*\([^)]*\)\s*$", "", match["title"]))
    return f"{{numref}}`%s {name} <{label}>`"


def anchor_cell(row: Row) -> str:
    if row.anchor is None:
        return "—"
    anchors = row.anchor if isinstance(row.anchor, tuple) else (row.anchor,)
    text = "–".join(UNITS[row.unit].anchor_fmt.format(a.value) for a in anchors)
    return f"{text} ({anchors[0].where}) {{cite:p}}`{row.cite}`"


def signed(unit: Unit, difference: float) -> str:
    """A difference with a typographic minus sign: "−1.5 points"."""
    return unit.diff_fmt.format(difference * unit.scale).replace("-", "−") + unit.suffix


def comparison(row: Row, value: float) -> str:
    unit = UNITS[row.unit]
    if row.anchor is None:
        return "—"
    if row.compare == "ratio":
        return f"×{value / row.anchor.value:.2f}"
    if isinstance(row.anchor, tuple):
        low, high = (a.value for a in row.anchor)
        if low <= value <= high:
            return "inside the range"
        gap = value - (low if value < low else high)
        return signed(unit, gap) + (" (below the lowest)" if value < low else " (above the highest)")
    return signed(unit, value - row.anchor.value)


@dataclass(frozen=True)
class Report:
    table: str                 # the Markdown table of results
    shown: list[Row]           # rows in the table, in the book's order
    skipped: list[str]         # glue names of rows no notebook stores yet
    sources: dict[str, Path]   # glue name -> the notebook that stores it


def build(root: Path, pages: list[Path], rows: list[Row] = ROWS,
          bib_keys: set[str] | None = None) -> Report:
    """The table of ``rows`` whose glue names the notebooks ``pages`` (paths relative to ``root``, in
    the book's order) store. Every anchor's key must be in ``bib_keys`` (default: references.bib's)."""
    names = [row.glue for row in rows]
    if len(set(names)) != len(names):
        raise ValueError(f"a glue name appears twice: {sorted({n for n in names if names.count(n) > 1})}")
    if bib_keys is None:
        bib = (root / "references.bib").read_text(encoding="utf-8")
        bib_keys = set(re.findall(r"^@\w+\{([^,\s]+),", bib, re.MULTILINE))
    missing = sorted({r.cite for r in rows if r.cite and r.cite not in bib_keys})
    if missing:
        raise ValueError(f"anchors cite keys that references.bib lacks: {missing}")
    stored: dict[str, Path] = {}
    values: dict[Path, dict[str, str]] = {}
    for path in pages:
        values[path] = glued_values(root / path)
        for name in values[path]:
            stored.setdefault(name, path)

    def number(name: str) -> float:
        return parse_number(values[stored[name]][name])

    shown = sorted((r for r in rows if r.glue in stored), key=lambda r: pages.index(stored[r.glue]))
    lines = ["| section | result | book | anchor | book vs anchor | glue name |",
             "|---|---|---|---|---|---|"]
    for row in shown:
        value, unit = number(row.glue), UNITS[row.unit]
        book = unit.fmt.format(value)
        if row.se:
            if row.se not in stored:
                raise ValueError(f"{row.glue}: its standard error {row.se!r} is glued by no page")
            book += " ± " + unit.fmt.format(number(row.se) * row.se_scale)
        cells = [section(root, stored[row.glue]), row.label, book, anchor_cell(row),
                 comparison(row, value), f"`{row.glue}`"]
        lines.append("| " + " | ".join(cells) + " |")
    return Report("\n".join(lines), shown, [r.glue for r in rows if r.glue not in stored], stored)


def runs_table(root: Path, report: Report, pages: list[Path]) -> str:
    """Each notebook with a row in the report: its full run's seconds, CPU and torch (run records)."""
    lines = ["| notebook | full run (s) | CPUs | machine | torch |", "|---|---|---|---|---|"]
    used = [p for p in pages if p in set(report.sources[r.glue] for r in report.shown)]
    total = 0.0
    for path in used:
        info = _notebook(root / path).get("metadata", {}).get("book_run")
        if not info:
            raise ValueError(f"{path} has no record of a full run: run `make execute NB={path}`")
        total += info["seconds"]
        seconds = f"{info['seconds']:.0f}"
        if info.get("cached_weights"):                 # loaded, not trained, in this run
            seconds += f" (read cached weights: {', '.join(info['cached_weights'])})"
        cells = [f"`{Path(path).name}` ({section(root, path)})", seconds, str(info["cpus"]),
                 info["machine"], info["torch"]]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(f"| **all of the above** | **{total:.0f}** | | | |")
    return "\n".join(lines)
