"""How the tests check an error: its type and the facts its message must name, not its sentence.

``with raises_naming(ValueError, "hidden_size", 0): ...`` passes when the block raises a
``ValueError`` (or a subclass) whose message contains each fact as a whole token: the text of the
fact not glued to more letters or digits, nor to a number's decimal point (so that ``0`` is not
found inside ``10``, ``0.5`` or ``1.0``, while ``float32`` is found in ``torch.float32``). A message may be reworded freely; one that stops naming the offending
argument or value fails, and the failure shows the message.
"""
from __future__ import annotations

import re
from contextlib import contextmanager

import pytest


def _names(message: str, fact: str) -> bool:
    if not fact:
        return True
    before = r"(?<!\w)(?<!\d\.)" if re.match(r"[\w.]", fact[0]) else ""
    after = r"(?![\w]|\.\d)" if re.match(r"[\w.]", fact[-1]) else ""
    return re.search(before + re.escape(fact) + after, message) is not None


@contextmanager
def raises_naming(expected, *facts):
    """``pytest.raises(expected)`` that also asserts the message names every fact (``str(fact)``)."""
    with pytest.raises(expected) as info:
        yield info
    message = str(info.value)
    missing = [str(f) for f in facts if not _names(message, str(f))]
    assert not missing, f"the {type(info.value).__name__} does not name {missing}: {message!r}"
