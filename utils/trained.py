"""The models the book trains once and reuses on later pages, each defined once: model, recipe, data
and the name it is cached under.

A page that needs a trained model calls its function here instead of configuring it again, so that
every page gets the same weights: the configuration is the weights cache's key
(:func:`utils.data.weights.load_or_train`), and a copy configured differently on another page would
silently train a second model.

* :func:`improved_cnn`: the stronger CNN of section 4.1.1 (``cnn_improved`` trains it; the FAQ and
  the outlook chapter reuse it), cached as ``improved_cnn``.
* :func:`bert_mr`: MiniLM fine-tuned on MR (section 4.3, ``bert_finetune``; the FAQ's evaluation page
  reuses it), cached as ``bert_mr``, with :func:`minilm_inputs` (its tokenised data) and
  :func:`bert_mr_recipe` (its recipe).
* The GPT of section 4.3.2 (``gpt`` trains it; the outlook chapter and ``make bench`` measure its
  speed): ``GPT_CONFIG`` (nanoGPT's CPU shape) and ``GPT_RECIPE``, the final recipe, built from
  nanoGPT's (:data:`utils.training.recipes.NANOGPT_RECIPE`); :func:`lm_budget` sizes a language-model
  recipe for quick mode, :func:`gpt_tokens_per_second` measures its training throughput, and the
  trained model is cached as ``GPT_CACHE_NAME``.

What quick mode (``BOOK_QUICK=1``, set by ``make test``) changes in these models is listed in one place,
the ``QUICK_*`` constants below: smaller data and shorter training, so that every page that reuses a
model runs in seconds. The full mode, what the stored outputs show, uses the whole splits and the
recipes' own budgets. A quick run's weights are cached apart from a full run's.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

import torch
from torch import nn

from .checks import check_int
from .data.datasets import Dataset, minilm_files
from .data.text import WordPiece, encode_batch
from .data.weights import config_json, load_or_train, read_weights_and_metadata, weights_path
from .models.bert import BertClassifier, BertConfig, load_pretrained
from .models.cnn import ImprovedCNN, ImprovedCNNConfig
from .models.gpt import GPT, GPTConfig
from .runtime import budget, seed_everything
from .training.flops import best_seconds
from .training.loop import History
from .training.recipes import (IMPROVED_RECIPE, NANOGPT_RECIPE, LMRecipe, TextClassifierRecipe,
                               train_classifier, train_text_classifier)


# --------------------------------------------------------------------------- what quick mode changes
QUICK_CNN_TRAIN_IMAGES = 3_000     # improved_cnn: the first images of the training split (full: all 55,000)
QUICK_CNN_VAL_IMAGES = 1_000       # ... and of the validation split (full: all 5,000)
QUICK_CNN_EPOCHS = 2               # ... trained for (full: IMPROVED_RECIPE.epochs)
# minilm_inputs: the first sentences of each split (full: all of them)
QUICK_MINILM_SENTENCES = {"train": 512, "val": 256, "test": 256}
QUICK_BERT_MR_EPOCHS = 1           # bert_mr_recipe (full: BERT_MR_EPOCHS)
QUICK_LM_STEP_DIVISOR = 50         # lm_budget: a fiftieth of the recipe's steps ...
QUICK_LM_MIN_STEPS = 8             # ... but at least 8 ...
QUICK_LM_MAX_WARMUP = 4            # ... with at most 4 warm-up steps (full: the recipe's own)


def improved_cnn(data: Dataset) -> ImprovedCNN:
    """The book's stronger CNN (section 4.1.1), loaded from the weights cache as ``improved_cnn``.

    The training configuration is the one ``cnn_improved.ipynb`` caches its final model with:
    ``ImprovedCNNConfig()`` and ``IMPROVED_RECIPE`` on the whole training split of ``data`` with seed 0
    (quick mode: the ``QUICK_CNN_*`` images and epochs). When the cache holds no intact file with that
    configuration, the model is trained now (one line says why) and cached, so a later chapter never
    trains it twice.
    Returns the model in evaluation mode.
    """
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a utils.Dataset (utils.load_fashion_mnist()), got {type(data).__name__}")
    config = ImprovedCNNConfig()
    train = data.train.head(budget(full=None, quick=QUICK_CNN_TRAIN_IMAGES))
    val = data.val.head(budget(full=None, quick=QUICK_CNN_VAL_IMAGES))
    epochs = budget(full=IMPROVED_RECIPE.epochs, quick=QUICK_CNN_EPOCHS)
    recipe = dataclasses.replace(IMPROVED_RECIPE, epochs=epochs)
    seed_everything(0)
    model = ImprovedCNN(config)
    training = config_json(model=config, recipe=recipe, train_images=len(train), seed=0)
    load_or_train("improved_cnn", model, lambda: train_classifier(model, train, val, recipe), config=training)
    return model.eval()


# --------------------------------------------------------------------------- the fine-tuned MiniLM (4.3)
BERT_MR_EPOCHS = 3
BERT_MR_WARMUP_SHARE = 0.06    # of the optimizer steps: RoBERTa's fine-tuning warm-up
BERT_MR_POOLING = "mean"       # MiniLM's own sentence vector
BERT_MR_HEAD_DROPOUT = 0.1


def minilm_inputs(data: Dataset) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """MR's splits as the fine-tuned MiniLM reads them: ``{"train", "val", "test"}`` →
    ``(ids (N, T_max), lengths (N,), labels (N,))``, MiniLM's WordPiece with ``[CLS]`` and ``[SEP]``,
    nothing cut (512 positions), each split padded to its longest sentence. Full mode takes every
    sentence of ``data`` (``utils.load_mr()``), quick mode the first ``QUICK_MINILM_SENTENCES``
    (512 / 256 / 256)."""
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a utils.Dataset (utils.load_mr()), got {type(data).__name__}")
    wordpiece = WordPiece(minilm_files()["tokenizer.json"], add_special_tokens=True)
    inputs = {}
    for name, size in QUICK_MINILM_SENTENCES.items():
        split = getattr(data, name)
        n = budget(full=len(split), quick=size)
        inputs[name] = (*encode_batch(split.x[:n], wordpiece, max_len=512, width="longest"), split.y[:n])
    return inputs


def bert_mr_recipe(train_sentences: int) -> TextClassifierRecipe:
    """The fine-tuning recipe of section 4.3 for ``train_sentences`` training sentences: AdamW at a
    peak of 10⁻⁴ with weight decay 0.01, batches of 32 of similar length, ``BERT_MR_EPOCHS`` = 3 epochs
    (quick mode ``QUICK_BERT_MR_EPOCHS`` = 1), linear warm-up over ``BERT_MR_WARMUP_SHARE`` of the steps,
    then linear decay to 0."""
    check_int("train_sentences", train_sentences)
    epochs = budget(full=BERT_MR_EPOCHS, quick=QUICK_BERT_MR_EPOCHS)
    steps = epochs * math.ceil(train_sentences / 32)
    return TextClassifierRecipe(epochs=epochs, batch_size=32, lr=1e-4, weight_decay=0.01,
                                schedule="warmup_linear", padding="bucket",
                                warmup=max(1, round(BERT_MR_WARMUP_SHARE * steps)))


@dataclass
class FineTuned:
    """A fine-tuned model (in evaluation mode), how it was trained, and whether it came from the cache."""

    model: nn.Module
    history: History
    loaded: bool


def bert_mr(data: Dataset) -> FineTuned:
    """The book's fine-tuned MiniLM (section 4.3), loaded from the weights cache as ``bert_mr``.

    MiniLM's pretrained encoder with a fresh linear head on the mean-pooled sentence vector (head
    dropout 0.1, head initialised from seed 0), fine-tuned on :func:`minilm_inputs` ``(data)["train"]``
    with :func:`bert_mr_recipe` and batch order seed 0, validated each epoch on the validation split.
    The cache key is this whole configuration, so every page that calls this function gets the same
    weights; when the cache holds no intact file with it, the model is trained now (one line says
    why) and cached with its training history, which a later call returns unchanged.
    """
    inputs = minilm_inputs(data)
    train_sentences = len(inputs["train"][2])
    recipe = bert_mr_recipe(train_sentences)
    config = config_json(model=BertConfig(), recipe=recipe, pooling=BERT_MR_POOLING,
                         head_dropout=BERT_MR_HEAD_DROPOUT, seed=0, train_sentences=train_sentences)
    for attempt in range(2):
        seed_everything(0)
        model = BertClassifier(load_pretrained(minilm_files()["model.safetensors"]), num_classes=2,
                               pooling=BERT_MR_POOLING, dropout=BERT_MR_HEAD_DROPOUT)
        run: dict[str, History] = {}

        def train() -> None:
            run["history"] = train_text_classifier(model, inputs["train"], inputs["val"], recipe, seed=0)

        def describe() -> dict[str, str]:
            return {"history": json.dumps(dataclasses.asdict(run["history"]))}

        loaded = load_or_train("bert_mr", model, train, config=config, metadata_fn=describe)
        if not loaded:
            break
        stored = read_weights_and_metadata("bert_mr")[1].get("history")
        if stored is not None:
            run["history"] = History(**json.loads(stored))
            break
        print("the cached 'bert_mr' has no training history: it is removed and trained again")
        weights_path("bert_mr").unlink()
    return FineTuned(model.eval(), run["history"], loaded)


# --------------------------------------------------------------------------- the GPT (4.3.2)
GPT_CONFIG = GPTConfig()       # nanoGPT's CPU shape: 4 layers, 4 heads, width 128, context 64; V = 65
# The GPT chapter's final recipe: nanoGPT's with a six times larger rate, batches of 24, half the warm-up,
# a floor of 2 % and Muon for the hidden matrices, for 720 steps evaluated four times. The chapter builds
# its table from NANOGPT_RECIPE one change at a time and ends on this recipe.
GPT_RECIPE = dataclasses.replace(NANOGPT_RECIPE, steps=720, batch_size=24, lr=6e-3, warmup=50,
                                 min_lr_ratio=0.02, muon_lr=2e-2, eval_every=180)
GPT_CACHE_NAME = "gpt_shakespeare"


def lm_budget(recipe: LMRecipe, evaluations: int = 4) -> LMRecipe:
    """``recipe`` as this run trains it, evaluated ``evaluations`` times (every ⌈steps / evaluations⌉
    steps): in full mode its own steps and warm-up, in quick mode a fiftieth of the steps (at least 8)
    and at most 4 warm-up steps (``QUICK_LM_STEP_DIVISOR``, ``QUICK_LM_MIN_STEPS``,
    ``QUICK_LM_MAX_WARMUP``)."""
    if not isinstance(recipe, LMRecipe):
        raise TypeError(f"recipe must be an LMRecipe, got {type(recipe).__name__}")
    check_int("evaluations", evaluations)
    steps = budget(full=recipe.steps, quick=max(QUICK_LM_MIN_STEPS, recipe.steps // QUICK_LM_STEP_DIVISOR))
    warmup = budget(full=recipe.warmup, quick=min(QUICK_LM_MAX_WARMUP, recipe.warmup))
    return dataclasses.replace(recipe, steps=steps, warmup=warmup, eval_every=math.ceil(steps / evaluations))


def gpt_tokens_per_second(recipe: LMRecipe = GPT_RECIPE, *, steps: int = 20, warmup: int = 3,
                          config: GPTConfig = GPT_CONFIG) -> float:
    """Training throughput of a fresh GPT of ``config`` (seed 0) with ``recipe``'s optimizer, batch size,
    context and clipping, in tokens per second: ``batch_size · seq_len`` over the median time of ``steps``
    training steps (forward, loss, backward, clipping, update) on one batch of random ids, after
    ``warmup`` untimed ones. The learning rates do not change the time of a step, and the schedule's
    cost is negligible, so neither is applied."""
    if not isinstance(recipe, LMRecipe):
        raise TypeError(f"recipe must be an LMRecipe, got {type(recipe).__name__}")
    if recipe.seq_len > config.block_size:
        raise ValueError(f"recipe.seq_len={recipe.seq_len} exceeds the model's block_size={config.block_size}")
    torch.manual_seed(0)
    model = GPT(config).train()
    optimizer = recipe.optimizer(model)
    ids = torch.randint(0, config.vocab_size, (recipe.batch_size, recipe.seq_len + 1))
    x, y = ids[:, :-1], ids[:, 1:]                                  # (N, T) inputs and next ids

    def step() -> None:
        loss = recipe.loss(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if recipe.clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), recipe.clip_grad_norm)
        optimizer.step()

    seconds = best_seconds(step, repeats=steps, warmup=warmup, statistic="median")
    return recipe.batch_size * recipe.seq_len / seconds
