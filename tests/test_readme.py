"""Every Python block of the README runs, in order, as a reader would run them."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"^```python\n(.*?)^```$", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_the_readme_has_python_blocks():
    assert len(python_blocks()) >= 3


def test_every_python_block_of_the_readme_runs(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("optuna")
    # one session, as a reader pasting the blocks one after another; in a scratch directory,
    # since the blocks write files (a model, a study)
    script = "\n\n".join(python_blocks())
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "digits.nnf").exists() and (tmp_path / "study.db").exists()
