"""Published reference numbers the book compares its own results with, each with its source.

A number typed into prose by hand loses its source and drifts when it is typed a second time. Here
each one is data, next to the bibliography key of the place where it actually appears; notebooks
glue it (``myst_nb.glue``) and cite the key.

Fashion-MNIST: the benchmark table in the data set's repository README (``zalando2017benchmark`` in
``references.bib``), not the arXiv paper. Its rows are submitted by users and, as the table says,
not verified by the data set's authors; the training budget behind a row is not stated.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchmarkEntry:
    """One row of a published benchmark table, as printed there."""

    classifier: str
    preprocessing: str
    test_accuracy: float
    submitter: str


FASHION_MNIST_SOURCE = "zalando2017benchmark"
FASHION_MNIST_URL = "https://github.com/zalandoresearch/fashion-mnist#benchmark"

# The rows the book refers to, copied from the table (columns Classifier, Preprocessing, Fashion test
# accuracy, Submitter).
FASHION_MNIST_BENCHMARK: tuple[BenchmarkEntry, ...] = (
    BenchmarkEntry("2 Conv+pooling", "None", 0.876, "Kashif Rasul"),
    BenchmarkEntry("2 Conv+pooling", "None", 0.916, "Tensorflow's doc"),
    BenchmarkEntry("2 Conv+pooling+ELU activation (PyTorch)", "None", 0.903, "@AbhirajHinge"),
    BenchmarkEntry("2 Conv+pooling+BN", "None", 0.934, "@khanguyen1207"),
    BenchmarkEntry("HOG+SVM", "HOG", 0.926, "@subalde"),
)


def fashion_mnist_accuracies(classifier: str) -> list[float]:
    """Test accuracies of every row whose classifier is exactly ``classifier``, lowest first.

    Raises ``ValueError`` naming the known classifiers when there is no such row.
    """
    found = sorted(e.test_accuracy for e in FASHION_MNIST_BENCHMARK if e.classifier == classifier)
    if not found:
        known = sorted({e.classifier for e in FASHION_MNIST_BENCHMARK})
        raise ValueError(f"classifier {classifier!r} is not among the stored rows: {known}")
    return found


@dataclass(frozen=True)
class Published:
    """One number as a source prints it: the value, where it is (table, sentence) and the key of the
    source in ``references.bib``."""

    value: float
    where: str
    source: str


# nanoGPT's README, "I only have a macbook" section: the CPU recipe "gets us a loss of only 1.88" and
# "runs in about ~3 minutes" (on a CPU the README does not name).
NANOGPT_CPU_LOSS = Published(1.88, "README, CPU recipe: validation loss", "karpathy2022nanogpt")
NANOGPT_CPU_SECONDS = Published(180.0, "README, CPU recipe: about 3 minutes", "karpathy2022nanogpt")
# Kim (2014), Table 2, the MR column: test accuracy of the CNN variants (10-fold cross-validation).
KIM_MR_RAND = Published(0.761, "Table 2, CNN-rand, MR", "kim2014convolutional")
KIM_MR_STATIC = Published(0.810, "Table 2, CNN-static, MR", "kim2014convolutional")
KIM_MR_NON_STATIC = Published(0.815, "Table 2, CNN-non-static, MR", "kim2014convolutional")
# Wang and Manning (2012), Table 2: NBSVM-bi on RT-s (= MR), 10-fold cross-validation.
NBSVM_BI_MR = Published(0.794, "NBSVM-bi on RT-s", "wang2012baselines")
# Fashion-MNIST's benchmark table: the row "2 Conv <100K parameters" (@hardmaru).
FASHION_MNIST_SMALL_CNN = Published(0.925, "2 Conv <100K parameters", FASHION_MNIST_SOURCE)
# Chowdhery et al. (2023), Table 3: PaLM 540B's model FLOPs utilisation on TPU v4 (46.2 %; its
# hardware FLOPs utilisation, 57.8 %, counts rematerialisation too).
PALM_MFU_PERCENT = Published(46.2, "PaLM 540B, share of the TPUs' peak", "chowdhery2023palm")
PALM_HFU_PERCENT = Published(57.8, "PaLM 540B, hardware FLOPs utilisation", "chowdhery2023palm")
# The same table lists GPT-3 (175B) at 21.3 % model FLOPs utilisation.
GPT3_MFU_PERCENT_IN_PALM = Published(21.3, "Table 3, GPT-3 175B", "chowdhery2023palm")
# Kaplan et al. (2020): Eq. (1.1), L(N) = (N_c / N)^α_N with α_N = 0.076; Sec. 2.1, C ≈ 6N per token.
KAPLAN_ALPHA_N = Published(0.076, "Eq. (1.1), α_N", "kaplan2020scaling")
KAPLAN_6N = Published(1.0, "Sec. 2.1, C ≈ 6N per token", "kaplan2020scaling")
