"""The shared package of the book: its folders are the book's architecture, lowest layer first.

* ``runtime`` (set-up, seeds, quick/full), ``checks`` (validation, numerical checks), ``benchmarks``
  (published numbers): the foundation, which imports nothing from the package;
* ``layers/`` (convolution, recurrent cells, attention and Transformer blocks, initialisation) and
  ``data/`` (verified files, data sets and loaders, tokenisation, windows, the weights cache);
* ``models/`` (the CNNs, the LSTM sentence classifier, BERT, language models and GPT), built from
  ``layers``;
* ``training/`` (the loop, recipes, optimisers, metrics and standard errors, FLOPs and MFU, data
  parallelism);
* ``trained`` (the models the book trains once and reuses), ``pages`` (values one page quotes from
  another), ``plot``, ``report`` (tables of results): book-wide, on top.

A module imports only from its own layer or the layers below (``tests/test_package.py`` checks it).
Notebooks import it as ``import utils`` and start with ``device = utils.setup()``; the everyday names
below (``utils.fit``, ``utils.load_mr``, ...) are loaded on first use (PEP 562), so that
``import utils.models.gpt`` (a torchrun worker, say) does not load the data loaders or matplotlib.
Everything else is imported from its module: ``from utils.models import gpt``.
"""
from __future__ import annotations

import importlib

# name -> the submodule that defines it
_EXPORTS = {
    "check_against": "checks",
    "check_grad": "checks",
    "numerical_grad": "checks",
    "EVAL_BATCH_SIZE": "data.datasets",
    "FASHION_MNIST_CLASSES": "data.datasets",
    "CharCorpus": "data.datasets",
    "Dataset": "data.datasets",
    "Split": "data.datasets",
    "images_to_float": "data.datasets",
    "load_fashion_mnist": "data.datasets",
    "load_mr": "data.datasets",
    "load_tiny_shakespeare": "data.datasets",
    "make_loader": "data.datasets",
    "minilm_files": "data.datasets",
    "split_indices": "data.datasets",
    "ChecksumError": "data.files",
    "DataError": "data.files",
    "DataFile": "data.files",
    "MissingDataError": "data.files",
    "cache_dir": "data.files",
    "fetch": "data.files",
    "sha256_of": "data.files",
    "accuracy": "training.metrics",
    "confusion_matrix": "training.metrics",
    "count_parameters": "models",
    "eval_mode": "models",
    "keras_init_": "layers.init",
    "heatmap": "plot",
    "plot_confusion_matrix": "plot",
    "plot_history": "plot",
    "markdown_table": "report",
    "show_images": "plot",
    "budget": "runtime",
    "is_quick": "runtime",
    "pick_device": "runtime",
    "seed_everything": "runtime",
    "set_plot_style": "runtime",
    "setup": "runtime",
    "Callback": "training.loop",
    "EarlyStopping": "training.loop",
    "History": "training.loop",
    "TimeBudget": "training.loop",
    "evaluate_classifier": "training.loop",
    "fit": "training.loop",
    "predict": "training.loop",
}

__all__ = [
    "setup", "budget", "is_quick", "seed_everything", "pick_device", "set_plot_style",
    "DataFile", "fetch", "cache_dir", "sha256_of", "DataError", "ChecksumError", "MissingDataError",
    "load_fashion_mnist", "load_mr", "load_tiny_shakespeare", "minilm_files", "split_indices",
    "images_to_float", "make_loader", "EVAL_BATCH_SIZE", "Dataset", "Split", "CharCorpus",
    "FASHION_MNIST_CLASSES",
    "fit", "History", "Callback", "EarlyStopping", "TimeBudget", "predict", "evaluate_classifier",
    "accuracy", "confusion_matrix", "count_parameters", "eval_mode", "keras_init_",
    "plot_history", "show_images", "heatmap", "plot_confusion_matrix", "markdown_table",
    "check_against", "check_grad", "numerical_grad",
]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    else:
        try:                                   # a subpackage or module: utils.models, utils.plot, ...
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
