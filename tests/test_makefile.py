"""The Makefile, as a new user meets it: from any directory, and with a Python that is too old."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")


def make(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # a clean make, not one nested in `make test` (whose flags would add "Entering directory" lines)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    return subprocess.run(["make", "-f", str(ROOT / "Makefile"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env=env)


def test_every_command_runs_in_the_project_root_whatever_the_directory(tmp_path):
    done = make("-n", "-o", str(ROOT / ".venv" / ".installed"), "book", "test", "bench", "pdf", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    commands = [line for line in done.stdout.splitlines()
                if "jupyter-book build" in line or "-m pytest" in line or "-m tools." in line]
    assert len(commands) == 4, done.stdout
    assert all(line.startswith(f"cd {ROOT} && ") for line in commands), commands


def test_a_python_older_than_3_10_gets_one_clear_line(tmp_path):
    fake = tmp_path / "python3.8"
    fake.write_text("#!/bin/sh\n# pretends to be Python 3.8\n"
                    f"[ \"$1\" = \"-c\" ] && exec {sys.executable} -c \"import sys; "
                    "sys.version_info = (3, 8, 18); sys.version = '3.8.18'\n$2\"\nexit 1\n")
    fake.chmod(0o755)
    done = make("-B", f"PYTHON={fake}", "env", cwd=tmp_path)
    assert done.returncode != 0
    assert "the book needs Python 3.10 or newer" in done.stderr and "3.8.18" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / ".venv").exists()
