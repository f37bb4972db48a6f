"""How the book trains and measures its models.

* :mod:`~utils.training.loop`: the one training loop (``fit``), callbacks, evaluation, prediction;
* :mod:`~utils.training.recipes`: recipes (optimiser, schedule, loss, budget) and their entry points
  ``train_classifier``, ``train_text_classifier``, ``train_lm``;
* :mod:`~utils.training.optim`: Muon for hidden weight matrices, AdamW for the rest;
* :mod:`~utils.training.metrics`: accuracy, confusion matrix, standard errors, rank statistics;
* :mod:`~utils.training.flops`: timing, the machine's matmul rate, FLOPs per token, MFU;
* :mod:`~utils.training.distributed`: data-parallel training of the GPT under ``torchrun``.

Training imports the layers below it (data, models), never :mod:`utils.trained`, :mod:`utils.pages`
or :mod:`utils.plot`.
"""
