"""The building blocks the chapters derive, in their final, tested versions: each checked against
``torch.nn`` with copied weights (outputs and every gradient).

* :mod:`~utils.layers.conv`: convolution and pooling through im2col (chapter 3, CNN);
* :mod:`~utils.layers.rnn`: RNN, LSTM and GRU cells and layers (chapter 3, RNN);
* :mod:`~utils.layers.transformer`: attention, masks, the KV cache, LayerNorm, Transformer blocks
  (chapter 3, Transformer);
* :mod:`~utils.layers.init`: Keras' default initialisation, for the ports of the article's programs.

Layers import only the foundation (:mod:`utils.checks`), never data, models or training.
"""
