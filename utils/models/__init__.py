"""The book's models, each built from the layers of :mod:`utils.layers`; none imports training code.

* :mod:`~utils.models.cnn`: the article's CNN and the stronger CNN (§4.1);
* :mod:`~utils.models.text_classifier`: the article's LSTM sentence classifier (§4.2);
* :mod:`~utils.models.bert`: the BERT encoder, MiniLM's pretrained weights, a classifier on top (§4.3);
* :mod:`~utils.models.lm`: what language models share (the loss, sampling) and the character LSTM;
* :mod:`~utils.models.gpt`: a decoder-only Transformer language model;
* :mod:`~utils.models.sequence`: one sequence classifier with three mixers, for the FAQ's comparison;
* :mod:`~utils.models.keras_port`: the article's Keras programs, their weights copied into the ports.

Two helpers that apply to any model live here: :func:`count_parameters` and :func:`eval_mode`.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from torch import nn

__all__ = ["count_parameters", "eval_mode"]


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
