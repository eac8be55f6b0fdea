"""Every public name has a docstring, and every public function names the errors it raises.

The public names are those of ``nnfast.__all__``, ``nnfast.tune.__all__`` and
``nnfast.sklearn.__all__``, the ``__all__`` of the submodules they export (``nnfast.data``,
``nnfast.losses``, ...), and the public methods and properties of each public class,
inherited ones included as long as nnfast defines them. The reference (docs/) is built from
these docstrings; the Sphinx build itself, with warnings as errors, is a step of .ci/run.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types

import pytest

import nnfast

tune = pytest.importorskip("nnfast.tune")
nnsklearn = pytest.importorskip("nnfast.sklearn")


def _ours(obj) -> bool:
    return (getattr(obj, "__module__", None) or "").split(".")[0] == "nnfast"


def _members(cls):
    """(name, object) of the public methods and properties that nnfast's code defines on
    ``cls`` or its bases (not those of object, Exception, scikit-learn's bases...)."""
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        for owner in cls.__mro__:
            if name in vars(owner):
                raw = vars(owner)[name]
                break
        else:  # pragma: no cover - dir() lists what the MRO holds
            continue
        if not _ours(owner):
            continue
        if isinstance(raw, property):
            yield name, raw
        elif isinstance(raw, (staticmethod, classmethod)):
            yield name, raw.__func__
        elif inspect.isfunction(raw):
            yield name, raw


def public_objects():
    """(qualified name, object) of every public function, class, method and property."""
    modules = [(nnfast, nnfast.__all__), (tune, tune.__all__), (nnsklearn, nnsklearn.__all__)]
    for name in nnfast.__all__:
        value = getattr(nnfast, name)
        if isinstance(value, types.ModuleType):
            modules.append((value, value.__all__))
    seen = set()
    for module, names in modules:
        for name in names:
            value = getattr(module, name)
            if isinstance(value, types.ModuleType):
                yield f"{module.__name__}.{name}", value
                continue
            if not (inspect.isclass(value) or inspect.isfunction(value)) or id(value) in seen:
                continue  # constants and registries: documented with #: comments
            seen.add(id(value))
            yield f"{module.__name__}.{name}", value
            if inspect.isclass(value):
                for member_name, member in _members(value):
                    yield f"{module.__name__}.{name}.{member_name}", member


def _doc(obj) -> str:
    """The object's own docstring; an override without one inherits its base's (inspect.getdoc)."""
    return inspect.getdoc(obj) or ""


def test_the_walk_finds_the_public_api():
    names = {name for name, _ in public_objects()}
    for expected in ("nnfast.train", "nnfast.Hyperparameters.replace", "nnfast.Sequential.fit",
                     "nnfast.History.diagnose", "nnfast.data.train_val_test_split", "nnfast.tune.search",
                     "nnfast.tune.Study.best", "nnfast.sklearn.NNClassifier.partial_fit",
                     "nnfast.sklearn.NNRegressor.predict", "nnfast.schedules.make_schedule"):
        assert expected in names
    assert len(names) > 200


def test_every_public_name_has_a_docstring():
    missing = [name for name, obj in public_objects() if not _doc(obj).strip()]
    assert not missing, f"{len(missing)} public names without a docstring: {', '.join(missing)}"


# Whether each docstring names the errors its code raises. Read from the source: a `raise
# SomeError(...)` in the function's own body (not in a nested function, not a bare re-raise)
# must have SomeError named in the docstring, in a Raises section or in its prose. Errors
# raised by the helpers it calls are not seen (no false alarms, some misses); an error that
# the function itself catches is skipped; the names below are not errors a caller handles.
_NOT_CALLERS_ERRORS = {"NotImplementedError", "AssertionError", "StopIteration", "KeyboardInterrupt", "SystemExit",
                       "AttributeError", "KeyError"}


def _raised_names(func) -> set:
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return set()
    tree = ast.parse(source)
    top = tree.body[0]
    found = set()

    def visit(node, caught):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            if isinstance(child, ast.Try):
                handled = set(caught)
                for handler in child.handlers:
                    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
                    handled |= {k.id for k in kinds if isinstance(k, ast.Name)}
                for part in child.body:
                    visit_one(part, handled)
                for part in child.handlers + child.orelse + child.finalbody:
                    visit_one(part, caught)
                continue
            visit_one(child, caught)

    def visit_one(child, caught):
        if isinstance(child, ast.Raise) and child.exc is not None:
            exc = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
            name = exc.id if isinstance(exc, ast.Name) else exc.attr if isinstance(exc, ast.Attribute) else None
            if name and name[0].isupper() and name not in caught:
                found.add(name)
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            visit(child, caught)

    visit(top, set())
    return found - _NOT_CALLERS_ERRORS


def test_raised_names_reads_the_function_body():
    def example(x):
        """Nothing."""
        if x:
            raise ValueError("x")
        try:
            raise OSError("caught here")
        except OSError:
            raise TypeError("converted") from None

        def nested():
            raise RuntimeError("not ours")

        raise NotImplementedError

    assert _raised_names(example) == {"ValueError", "TypeError"}


def test_every_public_docstring_names_the_errors_its_code_raises():
    silent = []
    for name, obj in public_objects():
        func = obj.fget if isinstance(obj, property) else obj
        if inspect.isclass(func):
            func = func.__init__ if _ours(func.__init__) else None
        if func is None or not inspect.isfunction(func):
            continue
        doc = _doc(obj) + ("\n" + _doc(obj.__init__) if inspect.isclass(obj) else "")
        unnamed = sorted(e for e in _raised_names(func) if e not in doc)
        if unnamed:
            silent.append(f"{name} ({', '.join(unnamed)})")
    assert not silent, f"{len(silent)} public docstrings do not name errors their code raises: {'; '.join(silent)}"


def test_the_version_is_written_once_and_the_changelog_names_it():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    setup, changelog = root / "setup.py", root / "CHANGELOG.md"
    if not (setup.exists() and changelog.exists()):
        pytest.skip("needs the checkout's setup.py and CHANGELOG.md (not in sanitize.sh's copy)")
    written = re.findall(r'^VERSION = "([^"]+)"$', setup.read_text(), flags=re.M)
    assert len(written) == 1
    # the core is compiled with setup.py's VERSION; nnfast.__version__ reads the core
    assert nnfast.__version__ == nnfast._core.__version__ == written[0]
    releases = re.findall(r"^## \[(\d[^\]]*)\] - \d{4}-\d{2}-\d{2}$", changelog.read_text(), flags=re.M)
    assert releases and releases[0] == written[0]
    assert re.search(r"^## \[Unreleased\]$", changelog.read_text(), flags=re.M)
    # no other file writes the version: pyproject reads it from setup.py (dynamic)
    assert 'dynamic = ["version"]' in (root / "pyproject.toml").read_text()


# Shapes and sources. A public function or method taking an array (the parameters named
# below) states its shape in the docstring, in the (n_samples, ...) convention; a public
# optimizer, cost or schedule that implements a formula names the source of the formula
# (an author and year, or the URL of the documentation it follows).
_ARRAY_PARAMETERS = {"X", "y", "sample_weight", "y_true", "y_pred", "X_val", "y_val"}
_SHAPE = r"\((?:n_)?samples\b"
_SOURCE = r"\b(?:19|20)\d\d\b|https?://"
_FORMULAS = {
    "nnfast.SGD", "nnfast.Adagrad", "nnfast.RMSProp", "nnfast.Adam",
    "nnfast.AdamW", "nnfast.optimizers", "nnfast.losses.mse", "nnfast.losses.mae",
    "nnfast.losses.binary_cross_entropy", "nnfast.losses.cross_entropy", "nnfast.schedules.Step",
    "nnfast.schedules.Exponential", "nnfast.schedules.InverseTime", "nnfast.schedules.Cosine",
    "nnfast.schedules.ReduceOnPlateau", "nnfast.Sequential.evaluate", "nnfast.tune.Study.contenders", "nnfast.Dense",
    "nnfast.tune.Bayes", "nnfast.Hyperparameters",
}


def _parameters(obj):
    func = obj.fget if isinstance(obj, property) else obj.__init__ if inspect.isclass(obj) else obj
    try:
        return set(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        return set()


def _full_doc(obj) -> str:
    return _doc(obj) + ("\n" + _doc(obj.__init__) if inspect.isclass(obj) else "")


def test_every_public_function_taking_arrays_states_their_shape():
    import re

    lacking = sorted(name for name, obj in public_objects()
                     if not isinstance(obj, types.ModuleType) and _parameters(obj) & _ARRAY_PARAMETERS
                     and not re.search(_SHAPE, _full_doc(obj)))
    assert not lacking, f"docstrings of functions taking arrays that state no (n_samples, ...) shape: {', '.join(lacking)}"


def test_every_formula_names_its_source():
    import re

    objects = dict(public_objects())
    assert _FORMULAS <= set(objects), sorted(_FORMULAS - set(objects))
    unsourced = sorted(name for name in _FORMULAS if not re.search(_SOURCE, _full_doc(objects[name])))
    assert not unsourced, f"formulas without a source (author and year, or a URL): {', '.join(unsourced)}"


# The Sphinx configuration (docs/conf.py; absent where only the package is copied, as in
# tests/sanitize.sh): every cross-reference is checked, and what it does to autodoc's output.
def _docs_conf(monkeypatch):
    import pathlib
    import sys

    conf = pathlib.Path(__file__).resolve().parents[1] / "docs" / "conf.py"
    if not conf.exists():
        pytest.skip("docs/ is not in this copy")
    monkeypatch.setattr(sys, "path", list(sys.path))  # conf.py may edit sys.path
    namespace = {"__file__": str(conf), "__name__": "conf"}
    exec(compile(conf.read_text(encoding="utf-8"), str(conf), "exec"), namespace)
    return namespace, conf.parents[1]


def test_the_docs_build_checks_every_cross_reference(monkeypatch):
    conf, root = _docs_conf(monkeypatch)
    assert conf["nitpicky"] is True
    assert "intersphinx" not in " ".join(conf["extensions"])  # the build runs offline
    ci = root / ".ci" / "run"
    if ci.exists():
        builds = [line for line in ci.read_text(encoding="utf-8").splitlines() if line.startswith("python -m sphinx")]
        assert builds and all(" -n " in line for line in builds), builds


def test_the_reference_shows_no_private_base(monkeypatch):
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

    conf, _ = _docs_conf(monkeypatch)
    cases = [((nnfast.optimizers._Base,), [object]),
             (nnsklearn.NNClassifier.__bases__, [ClassifierMixin, BaseEstimator]),
             (nnsklearn.NNRegressor.__bases__, [RegressorMixin, BaseEstimator]),
             ((nnfast.Callback,), [nnfast.Callback])]
    for bases, shown in cases:
        bases = list(bases)
        conf["_drop_private_bases"](None, "name", None, {}, bases)
        assert bases == shown


def test_a_dataclass_signature_with_a_factory_default_parses(monkeypatch):
    conf, _ = _docs_conf(monkeypatch)
    signature = str(inspect.signature(tune.TrialRecord))
    assert "<factory>" in signature
    new, _ = conf["_dataclass_factories"](None, "class", "TrialRecord", tune.TrialRecord, {}, signature, None)
    assert "<factory>" not in new and "history: 'Dict[str, Any]' = dict()" in new
    ast.parse(f"def f{new}: pass")  # what Sphinx needs to parse it
