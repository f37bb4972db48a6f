"""The shared package of the book: set-up, data, models, recipes, the training loop, plots and checks.

Notebooks import it as ``import utils`` and start with ``device = utils.setup()``. The names below are
loaded on first use (PEP 562), so that ``import utils.gpt`` (a torchrun worker, say) does not load the
data loaders or matplotlib.
"""
from __future__ import annotations

import importlib

# name -> the submodule that defines it
_EXPORTS = {
    "check_against": "checks",
    "check_grad": "checks",
    "numerical_grad": "checks",
    "EVAL_BATCH_SIZE": "data",
    "FASHION_MNIST_CLASSES": "data",
    "CharCorpus": "data",
    "Dataset": "data",
    "Split": "data",
    "images_to_float": "data",
    "load_fashion_mnist": "data",
    "load_mr": "data",
    "load_tiny_shakespeare": "data",
    "make_loader": "data",
    "minilm_files": "data",
    "split_indices": "data",
    "ChecksumError": "files",
    "DataError": "files",
    "DataFile": "files",
    "MissingDataError": "files",
    "cache_dir": "files",
    "fetch": "files",
    "sha256_of": "files",
    "accuracy": "metrics",
    "confusion_matrix": "metrics",
    "count_parameters": "nnutils",
    "eval_mode": "nnutils",
    "keras_init_": "nnutils",
    "heatmap": "plot",
    "plot_confusion_matrix": "plot",
    "plot_history": "plot",
    "show_images": "plot",
    "budget": "runtime",
    "is_quick": "runtime",
    "pick_device": "runtime",
    "seed_everything": "runtime",
    "set_plot_style": "runtime",
    "setup": "runtime",
    "Callback": "train",
    "EarlyStopping": "train",
    "History": "train",
    "TimeBudget": "train",
    "evaluate_classifier": "train",
    "fit": "train",
    "predict": "train",
}

__all__ = [
    "setup", "budget", "is_quick", "seed_everything", "pick_device", "set_plot_style",
    "DataFile", "fetch", "cache_dir", "sha256_of", "DataError", "ChecksumError", "MissingDataError",
    "load_fashion_mnist", "load_mr", "load_tiny_shakespeare", "minilm_files", "split_indices",
    "images_to_float", "make_loader", "EVAL_BATCH_SIZE", "Dataset", "Split", "CharCorpus",
    "FASHION_MNIST_CLASSES",
    "fit", "History", "Callback", "EarlyStopping", "TimeBudget", "predict", "evaluate_classifier",
    "accuracy", "confusion_matrix", "count_parameters", "eval_mode", "keras_init_",
    "plot_history", "show_images", "heatmap", "plot_confusion_matrix",
    "check_against", "check_grad", "numerical_grad",
]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    else:
        try:                                   # a submodule: utils.data, utils.gpt, ...
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
