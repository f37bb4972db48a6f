"""Small helpers that models, recipes and the training loop share.

* :func:`count_parameters`, :func:`eval_mode`: counting parameters, evaluating in eval mode.
* :func:`keras_init_`: Keras' default initialisation, chosen by module type.
* :func:`seeded_loader`: the one DataLoader whose shuffling is seeded, so that runs repeat.

The validation of user input (``check_int`` and friends) is :mod:`utils.checks`, which imports
nothing from the package, so that the recurrent cells of :mod:`utils.rnn` (imported here for
:func:`keras_init_`) can use it too.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import torch
from torch import nn

from .checks import check_int
from .rnn import LSTMCell as ScratchLSTMCell
from .rnn import set_forget_gate_bias_


# --------------------------------------------------------------------------- modules
def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameter entries of ``model``: the trainable ones (``requires_grad``) by default,
    all of them with ``trainable_only=False``. Buffers (batch-norm statistics) are never counted."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``with eval_mode(model):`` runs the block with ``model.eval()`` (dropout off, batch norm on its
    running statistics) and restores the previous mode afterwards, even if the block raises."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@torch.no_grad()
def keras_init_(module: nn.Module) -> None:
    """Keras' default initialisation of one module; use ``model.apply(keras_init_)``.

    * ``Conv1d/2d/3d`` and ``Linear`` (Keras' ``Conv*D``, ``Dense``): Glorot-uniform weight, U(−a, a)
      with a = √(6 / (fan_in + fan_out)) (for a convolution fan_in = C_in·K_h·K_w), zero bias.
    * ``Embedding``: U(−0.05, 0.05); the padding row, if any, stays 0.
    * ``LSTM`` / ``LSTMCell`` (``torch.nn``'s or :mod:`utils.rnn`'s): input kernels Glorot-uniform,
      recurrent kernels orthogonal, biases 0 except the forget gate's 1 (``unit_forget_bias``).

    Other modules keep PyTorch's initialisation (batch norm's is the same as Keras').
    """
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.uniform_(module.weight, -0.05, 0.05)
        if module.padding_idx is not None:
            module.weight[module.padding_idx].zero_()
    elif isinstance(module, (nn.LSTM, nn.LSTMCell, ScratchLSTMCell)):
        d = module.hidden_size
        for name, p in module.named_parameters(recurse=False):
            if name.startswith("weight_ih"):
                nn.init.xavier_uniform_(p)       # (4D, D_in): fan_in D_in, fan_out 4D, as Keras' (D_in, 4D)
            elif name.startswith("weight_hh"):
                for gate in p.split(d):          # Keras: orthogonal on (D, 4D); here per gate (D, D)
                    nn.init.orthogonal_(gate)
            else:
                nn.init.zeros_(p)
        if any(name.startswith("bias") for name, _ in module.named_parameters(recurse=False)):
            set_forget_gate_bias_(module, 1.0)
    # an rnn.LSTM is a list of rnn.LSTMCell children, which apply() visits one by one


# --------------------------------------------------------------------------- data loading
def seeded_loader(dataset: torch.utils.data.Dataset, batch_size: int = 128, *, shuffle: bool = False,
                  seed: int = 0, collate_fn: Callable | None = None) -> torch.utils.data.DataLoader:
    """A DataLoader whose shuffling draws from its own generator seeded with ``seed``: the same
    seed gives the same batch order in every run, whatever else used the global random state."""
    check_int("batch_size", batch_size)
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle,
                                       generator=generator, collate_fn=collate_fn)
