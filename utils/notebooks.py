"""Moved to :mod:`tools.notebooks` (the book's build tools live outside the package notebooks import).

This alias only keeps ``from utils import notebooks`` working in ``chapters/appendix/results.ipynb``
until that page imports ``tools.notebooks`` and is re-run; delete this file then.
"""
import sys

from tools import notebooks as _moved

sys.modules[__name__] = _moved
