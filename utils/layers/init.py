"""Initialisation: Keras' default initialisation of PyTorch layers, chosen by module type.

* :func:`keras_init_`: Glorot-uniform kernels, zero biases, U(−0.05, 0.05) embeddings, orthogonal
  recurrent kernels and a forget-gate bias of 1, as Keras' ``Dense``, ``Conv*D``, ``Embedding`` and
  ``LSTM`` start; ``model.apply(keras_init_)`` gives a PyTorch port of a Keras model the same start.

The forget gate's bias of an LSTM is set through :func:`utils.layers.rnn.set_forget_gate_bias_`,
which knows the gate order (i, f, g, o) of ``torch.nn`` and of :mod:`utils.layers.rnn`.
"""
from __future__ import annotations

import torch
from torch import nn

from .rnn import LSTMCell as ScratchLSTMCell
from .rnn import set_forget_gate_bias_


@torch.no_grad()
def keras_init_(module: nn.Module) -> None:
    """Keras' default initialisation of one module; use ``model.apply(keras_init_)``.

    * ``Conv1d/2d/3d`` and ``Linear`` (Keras' ``Conv*D``, ``Dense``): Glorot-uniform weight, U(−a, a)
      with a = √(6 / (fan_in + fan_out)) (for a convolution fan_in = C_in·K_h·K_w), zero bias.
    * ``Embedding``: U(−0.05, 0.05); the padding row, if any, stays 0.
    * ``LSTM`` / ``LSTMCell`` (``torch.nn``'s or :mod:`utils.layers.rnn`'s): input kernels Glorot-uniform,
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
