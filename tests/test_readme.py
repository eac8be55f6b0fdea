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


def test_every_space_file_form_the_command_line_section_shows_is_read():
    """The README's `nnfast tune` bullet lists the space file's forms as inline JSON; each one
    (with `...` filled in) is an entry `--space` reads."""
    pytest.importorskip("optuna")
    import json

    from nnfast.cli.settings import space_from_data

    section = README.read_text(encoding="utf-8").split("## Command line", 1)[1].split("\n## ", 1)[0]
    bullet = section.split("- `nnfast tune`", 1)[1].split("\n- ", 1)[0]
    forms = [f for f in re.findall(r"`(\{.*?\})`", bullet.replace("\n  ", " ")) if not f.startswith('{"optimizer"')]
    assert len(forms) >= 7, forms
    filled = {"[...]": "[32, 64]", '"depth": ...': '"depth": {"int": [1, 2]}', '"width": ...': '"width": [16, 32]'}
    names = {"choice": "batch_size", "int": "epochs", "intlog": "epochs", "layers": "hidden", "uniform": "dropout",
             "loguniform": "lr"}
    for form in forms:
        for old, new in filled.items():
            form = form.replace(old, new)
        entry = json.loads(form)
        name = names[next(k for k in entry if k not in ("when", "points"))]
        space = space_from_data({name: {**entry, "when": {"optimizer": "sgd"}}})
        assert list(space) == [name]
