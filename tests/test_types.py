"""nnfast's types (issue 13): the stub of the compiled core, the estimators' parameters, and
one ``mypy --strict`` run.

What "public" means here: the modules a user imports or reaches through ``import nnfast``:
``nnfast`` itself and the names it exposes (nnfast.data, diagnosis, losses, optimizers,
schedules, callbacks, hyperparams, io, layers, model, training), ``nnfast.sklearn``,
``nnfast.tune`` (with its submodules), ``nnfast.cli``, ``nnfast.export`` and the stub
``nnfast/_core.pyi``. mypy follows their imports into the private ``_`` modules, so the run
covers the whole package (``mypy nnfast``) under the configuration in pyproject.toml
([tool.mypy]), and every module must pass --strict (no module is exempt). The same run checks a user's file against the
public types: ``nf.load`` gives a ``Sequential`` and ``NNClassifier(epoch=3)`` is an error.
"""

import ast
import dataclasses
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nnfast as nf
from nnfast import _core

ROOT = Path(__file__).resolve().parents[1]
STUB = ROOT / "nnfast" / "_core.pyi"

USER_FILE = '''\
import nnfast as nf
from nnfast.sklearn import NNClassifier, NNRegressor

model = nf.load("model.nnf")
reveal_type(model)
reveal_type(NNRegressor(hidden=(8,), epochs=3).epochs)
good = NNClassifier(epochs=3, lr=1e-3)
typo = NNClassifier(epoch=3)
model.fit([[1.0]], [0.0], epoch=3)
'''


def stub_names():
    """{name: set of member names (None for a function or variable)} declared in the stub."""
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    names = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            members = set()
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    members.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.add(item.target.id)
            names[node.name] = members
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = None
    return {name: members for name, members in names.items() if not name.startswith("_") or name == "__version__"}


def test_the_stub_declares_what_the_core_binds_and_nothing_else():
    declared = stub_names()
    bound = {name for name in vars(_core) if not name.startswith("_")} | {"__version__"}
    assert set(declared) == bound
    for name, members in declared.items():
        value = getattr(_core, name)
        if members is None:
            assert not isinstance(value, type), name
            continue
        assert isinstance(value, type), name
        # what the binding defines on the class, less pybind11's own machinery
        own = {member for member in vars(value) if not member.startswith("_")}
        if issubclass(value, Exception):
            assert members == set(), name
            continue
        assert own <= members, (name, own - members)
        dunders = {member for member in members if member.startswith("__")}
        assert {member for member in members - dunders} == own, (name, members - dunders - own)
        for dunder in dunders:
            assert hasattr(value, dunder), (name, dunder)


def test_the_package_ships_the_stub_and_py_typed():
    # installed (CI installs the wheel, not the checkout) ...
    installed = Path(nf.__file__).resolve().parent
    assert (installed / "_core.pyi").is_file() and (installed / "py.typed").is_file()
    # ... because the package data says so (setuptools puts package data in the sdist too)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^nnfast = \[.*"py\.typed".*"\*\.pyi".*\]$', pyproject, flags=re.M)


def test_the_estimators_parameters_are_the_hyperparameters_fields_with_their_defaults():
    from nnfast.sklearn import NNClassifier, NNRegressor

    expected = [(f.name, f.default) for f in dataclasses.fields(nf.Hyperparameters)]
    expected += [("random_state", None), ("warm_start", False)]
    for estimator in (NNClassifier, NNRegressor):
        parameters = list(inspect.signature(estimator.__init__).parameters.values())[1:]
        assert [(p.name, p.default) for p in parameters] == expected
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters)
        assert all(p.annotation is not inspect.Parameter.empty for p in parameters)


@pytest.fixture(scope="module")
def mypy_run(tmp_path_factory):
    """One ``mypy --strict`` run over the package and a user's file: (exit code, output)."""
    pytest.importorskip("mypy", reason="mypy is not installed (it is in the test extra: pip install '.[test]')")
    where = tmp_path_factory.mktemp("mypy")
    user = where / "user_code.py"
    user.write_text(USER_FILE, encoding="utf-8")
    # from the checkout, whose pyproject.toml holds the configuration; nnfast/_core.pyi types
    # the core there even where the checkout has no built extension (CI's installed package)
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--config-file", str(ROOT / "pyproject.toml"),
                           "--cache-dir", str(where / "cache"), "--hide-error-context",
                           "nnfast", str(user)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "MYPYPATH": ""})
    return proc.returncode, proc.stdout + proc.stderr, user


def test_mypy_strict_passes_on_the_public_modules(mypy_run):
    _, output, user = mypy_run
    package_errors = [line for line in output.splitlines() if line.startswith("nnfast") and ": error:" in line]
    assert package_errors == [], "\n".join(package_errors)
    # mypy ran over the package (not a usage error): its only errors are in the user's file
    checked = re.search(r"^Found (\d+) errors? in 1 file \(checked (\d+) source files\)$", output, flags=re.M)
    assert checked and int(checked.group(2)) >= 50, output


def test_mypy_sees_the_public_types_and_reports_a_misspelt_estimator_parameter_or_fit_argument(mypy_run):
    code, output, user = mypy_run
    mine = [line.split(str(user.name), 1)[1] for line in output.splitlines() if user.name in line]
    notes = [line for line in mine if ": note: Revealed type" in line]
    assert len(notes) == 2, output
    assert '"nnfast.model.Sequential"' in notes[0] and re.search(r'"(builtins\.)?int"$', notes[1])
    errors = [line for line in mine if ": error:" in line]
    assert len(errors) == 2 and re.match(r':8:\d*:? ?error: Unexpected keyword argument "epoch"', errors[0]), output
    # fit keeps its signature through the guard that refuses a second change at once
    assert re.match(r':9:\d*:? ?error: Unexpected keyword argument "epoch" for "fit"', errors[1]), output
    assert code == 1
