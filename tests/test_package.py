"""The package's own surface: every exported name resolves, and importing a model module stays light."""
from __future__ import annotations

import subprocess
import sys

import utils


def test_every_exported_name_resolves():
    assert set(utils.__all__) == set(utils._EXPORTS)
    for name in utils.__all__:
        assert getattr(utils, name) is not None, name


def test_importing_a_model_module_loads_neither_matplotlib_nor_the_data_loaders():
    code = ("import sys, utils.gpt, utils.transformer; "
            "print(sorted(m for m in ('matplotlib', 'utils.data', 'utils.plot') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=utils.files.PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_an_unknown_name_is_an_attribute_error():
    try:
        utils.no_such_thing
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
