"""The shared package of the book: set-up, data, models, recipes, the training loop, plots and checks.

Notebooks import it as ``import utils`` and start with ``device = utils.setup()``.
"""
from .checks import check_against, check_grad, numerical_grad
from .data import (EVAL_BATCH_SIZE, FASHION_MNIST_CLASSES, CharCorpus, Dataset, Split, images_to_float,
                   load_fashion_mnist, load_mr, load_tiny_shakespeare, make_loader, minilm_files, split_indices)
from .files import ChecksumError, DataError, DataFile, MissingDataError, cache_dir, fetch, sha256_of
from .metrics import accuracy, confusion_matrix
from .nnutils import count_parameters, eval_mode, keras_init_
from .plot import heatmap, plot_confusion_matrix, plot_history, show_images
from .runtime import budget, is_quick, pick_device, seed_everything, set_plot_style, setup
from .train import Callback, EarlyStopping, History, TimeBudget, evaluate_classifier, fit, predict

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
