"""Everything the models read, and the cache of what they learned.

* :mod:`~utils.data.files`: data files found locally, in the cache or downloaded, always verified
  by SHA-256;
* :mod:`~utils.data.datasets`: the book's data sets with fixed splits (Fashion-MNIST, MR, Tiny
  Shakespeare, MiniLM's files) and the seeded loaders that batch them;
* :mod:`~utils.data.text`: tokenisation (vocabularies, WordPiece), padding and batches of sentences;
* :mod:`~utils.data.windows`: windows of a token stream, the batches of a language model;
* :mod:`~utils.data.weights`: trained weights cached outside the repository, verified on load.

Data imports only the foundation (:mod:`utils.runtime`, :mod:`utils.checks`), never layers, models
or training. The everyday loaders are also top-level names: ``utils.load_mr()``.
"""
