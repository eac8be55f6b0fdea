"""Layers of the house: the record is plain data, training sits above the model, imports flow one way."""

import ast
from pathlib import Path

import nnfast as nf

PACKAGE = Path(nf.__file__).parent
LAYERS = ("hyperparams", "model", "io", "training")


def imported(module: str, top_level_only: bool) -> set:
    """The nnfast modules ``module`` imports (relative imports), at its top level or anywhere."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def test_the_record_imports_nothing_that_trains():
    assert not imported("hyperparams", top_level_only=True) & {"model", "io", "training", "callbacks", "tune",
                                                               "sklearn", "cli"}
    # its one lookup of nnfast.training is the compatibility name nnfast.hyperparams.train, resolved when used
    assert imported("hyperparams", top_level_only=False) - imported("hyperparams", True) == {"training"}


def test_the_model_does_not_know_the_record_or_training():
    assert not imported("model", top_level_only=False) & {"hyperparams", "training", "tune", "sklearn", "cli"}


def test_top_level_imports_flow_one_way():
    edges = {m: imported(m, top_level_only=True) & set(LAYERS) for m in LAYERS}
    assert edges == {"hyperparams": set(), "model": set(), "io": {"hyperparams", "model"},
                     "training": {"hyperparams", "model"}}


def test_train_lives_in_training_under_every_old_name():
    from nnfast import hyperparams, training

    assert nf.train is training.train is hyperparams.train
    assert hyperparams.build_model is training.build_model
    for module in ("_trial.py", "tune/study.py", "tune/lr.py", "sklearn.py"):
        assert "from ..training import" in (PACKAGE / module).read_text() or \
               "from .training import" in (PACKAGE / module).read_text(), module
