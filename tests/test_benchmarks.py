"""utils.benchmarks: published reference numbers are data with a source that the bibliography has."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from utils import benchmarks

from error_facts import raises_naming

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_every_source_key_is_in_the_bibliography():
    bib = (REPO_ROOT / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"^@\w+\{([^,\s]+),", bib, re.MULTILINE))
    assert benchmarks.FASHION_MNIST_SOURCE in keys


def test_rows_are_accuracies():
    for entry in benchmarks.FASHION_MNIST_BENCHMARK:
        assert 0 < entry.test_accuracy < 1, entry
        assert entry.classifier and entry.submitter, entry


def test_lookup_returns_every_matching_row_lowest_first():
    assert benchmarks.fashion_mnist_accuracies("2 Conv+pooling") == [0.876, 0.916]
    assert benchmarks.fashion_mnist_accuracies("2 Conv+pooling+BN") == [0.934]
    with raises_naming(ValueError, "'2 conv'", "'2 Conv+pooling'"):     # the name asked for, the names stored
        benchmarks.fashion_mnist_accuracies("2 conv")
