"""The article's own Keras programs, run by Keras 3 on the book's PyTorch, and their weights copied into
the book's ports (``cnn.ArticleCNN``, ``text_classifier.SentenceClassifier``), so that "port = Keras"
is a check.

Keras 3 runs on several backends; the book uses PyTorch (``KERAS_BACKEND=torch``), so the article's code
needs no TensorFlow. :func:`load_keras` sets the backend before Keras is first imported: the reader sets
nothing. Layouts that differ (Keras → PyTorch):

* ``Conv2D`` kernel (K_h, K_w, C_in, C_out) → ``nn.Conv2d`` weight (C_out, C_in, K_h, K_w); images
  (N, H, W, C) → (N, C, H, W).
* ``Flatten`` after the last convolution reads (H, W, C) in Keras and (C, H, W) in PyTorch: the first
  dense kernel's rows are reordered, not only transposed.
* ``Dense`` kernel (D_in, D_out) → ``nn.Linear`` weight (D_out, D_in).
* ``LSTM``: kernel (D_in, 4D), recurrent kernel (D, 4D), one bias (4D,), gates in the order
  i, f, c, o, which is PyTorch's order i, f, g, o; PyTorch's second bias ``bias_hh`` is set to 0.
"""
from __future__ import annotations

import importlib
import os
import sys

import numpy as np
import torch
from torch import nn

BACKEND = "torch"


def load_keras():
    """Import Keras 3 on the PyTorch backend and return the module.

    Sets ``KERAS_BACKEND=torch`` before the first import; if Keras was already imported with another
    backend, raises ``RuntimeError`` (the backend is fixed at import time)."""
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = BACKEND
    keras = importlib.import_module("keras")
    if keras.backend.backend() != BACKEND:
        raise RuntimeError(f"keras was imported with the {keras.backend.backend()!r} backend before "
                           f"utils.models.keras_port.load_keras(); the book needs {BACKEND!r}: restart the kernel")
    return keras


def _weights(layer) -> list[torch.Tensor]:
    return [torch.as_tensor(np.asarray(w.numpy() if hasattr(w, "numpy") else w)) for w in layer.get_weights()]


def _layers_with_weights(keras_model) -> list:
    return [layer for layer in keras_model.layers if layer.get_weights()]


def flatten_order(height: int, width: int, channels: int) -> torch.Tensor:
    """Index map (H·W·C,): entry j is the position in Keras' (H, W, C) flatten of PyTorch's j-th
    feature in its (C, H, W) flatten. ``keras_features[:, flatten_order(...)]`` = PyTorch's order."""
    for name, value in (("height", height), ("width", width), ("channels", channels)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    return torch.arange(height * width * channels).reshape(height, width, channels).permute(2, 0, 1).reshape(-1)


def conv_kernel_to_torch(kernel: torch.Tensor) -> torch.Tensor:
    """Keras ``Conv2D`` kernel (K_h, K_w, C_in, C_out) → PyTorch weight (C_out, C_in, K_h, K_w)."""
    if kernel.ndim != 4:
        raise ValueError(f"a Conv2D kernel has 4 dimensions (K_h, K_w, C_in, C_out), got {tuple(kernel.shape)}")
    return kernel.permute(3, 2, 0, 1).contiguous()


def cnn_to_torch(keras_model, model: nn.Module) -> nn.Module:
    """Copy the article's Keras CNN (Conv2D, MaxPooling2D, Conv2D, MaxPooling2D, Flatten, Dense, Dense)
    into ``cnn.ArticleCNN`` ``model`` in place, and return it."""
    layers = _layers_with_weights(keras_model)
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    dense = [m for m in model.classifier if isinstance(m, nn.Linear)]
    kinds = [type(layer).__name__ for layer in layers]
    if kinds != ["Conv2D", "Conv2D", "Dense", "Dense"] or len(convs) != 2 or len(dense) != 2:
        raise ValueError(f"expected the article's CNN (2 Conv2D and 2 Dense layers with weights), got {kinds}")
    c, s = model.config.conv_channels[-1], model.config.feature_size
    with torch.no_grad():
        for layer, conv in zip(layers[:2], convs):
            kernel, bias = _weights(layer)
            conv.weight.copy_(conv_kernel_to_torch(kernel))
            conv.bias.copy_(bias)
        (k1, b1), (k2, b2) = (_weights(layer) for layer in layers[2:])
        dense[0].weight.copy_(k1[flatten_order(s, s, c)].T)      # rows (H, W, C) → (C, H, W), then transpose
        dense[0].bias.copy_(b1)
        dense[1].weight.copy_(k2.T)
        dense[1].bias.copy_(b2)
    return model


def lstm_layer_to_torch(lstm: nn.LSTM, layer_index: int, kernel: torch.Tensor, recurrent: torch.Tensor,
                        bias: torch.Tensor) -> None:
    """Copy one Keras ``LSTM`` layer (kernel (D_in, 4D), recurrent kernel (D, 4D), bias (4D,), gates
    i, f, c, o) into layer ``layer_index`` of a unidirectional ``nn.LSTM`` (gates i, f, g, o)."""
    k = layer_index
    w_ih, w_hh = getattr(lstm, f"weight_ih_l{k}"), getattr(lstm, f"weight_hh_l{k}")
    if tuple(kernel.T.shape) != tuple(w_ih.shape) or tuple(recurrent.T.shape) != tuple(w_hh.shape):
        raise ValueError(f"Keras kernels {tuple(kernel.shape)}, {tuple(recurrent.shape)} do not fit layer {k} "
                         f"of {lstm} (weights {tuple(w_ih.shape)}, {tuple(w_hh.shape)})")
    with torch.no_grad():
        w_ih.copy_(kernel.T)
        w_hh.copy_(recurrent.T)
        getattr(lstm, f"bias_ih_l{k}").copy_(bias)               # Keras' single bias ...
        getattr(lstm, f"bias_hh_l{k}").zero_()                   # ... PyTorch adds a second one: 0


def sentence_classifier_to_torch(keras_model, model: nn.Module) -> nn.Module:
    """Copy the article's Keras RNN (Embedding, LSTM, ..., LSTM, Dense) into a unidirectional
    ``text_classifier.SentenceClassifier`` ``model`` in place, and return it."""
    layers = _layers_with_weights(keras_model)
    n = model.config.num_layers
    if model.config.bidirectional or len(layers) != n + 2:
        raise ValueError(f"expected Embedding, {n} LSTM and a Dense layer for a unidirectional "
                         f"{n}-layer model, got {[type(layer).__name__ for layer in layers]}")
    with torch.no_grad():
        (table,) = _weights(layers[0])
        model.embedding.weight.copy_(table)                      # row 0 is never read: packing, mask_zero
        for k, layer in enumerate(layers[1:-1]):
            lstm_layer_to_torch(model.lstm, k, *_weights(layer))
        kernel, bias = _weights(layers[-1])
        model.classifier.weight.copy_(kernel.T)
        model.classifier.bias.copy_(bias)
    return model


def channels_last(images: torch.Tensor) -> np.ndarray:
    """Images (N, C, H, W) → a float32 array (N, H, W, C), Keras' layout."""
    if images.ndim != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {tuple(images.shape)}")
    return images.permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32)


def one_hot(y: torch.Tensor, num_classes: int) -> np.ndarray:
    """Class ids (N,) → one-hot float32 (N, M), the labels ``categorical_crossentropy`` expects."""
    return torch.nn.functional.one_hot(y.long(), num_classes).float().numpy()


def predict(keras_model, x, batch_size: int = 1000) -> torch.Tensor:
    """The Keras model's outputs for ``x`` (inference mode, no progress bar) as a float32 tensor."""
    return torch.as_tensor(np.asarray(keras_model.predict(x, batch_size=batch_size, verbose=0)))


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A ``warnings.showwarning`` that prints ``Category: message`` without the file path, so that a
    notebook's stored output names no directory of the machine that ran it; on stdout, since the
    book's hygiene check rejects stored stderr."""
    print(f"{category.__name__}: {message}", file=file if file is not None else sys.stdout)
