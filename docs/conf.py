"""Sphinx configuration of nnfast's documentation.

Build (warnings are errors, every cross-reference checked): ``python -m sphinx -W -n -b html
docs docs/_build/html``; the guide's code runs with ``python -m sphinx -W -n -b doctest docs
docs/_build/doctest``. Both need the
``docs`` extra and an installed nnfast (autodoc imports it).
"""

import glob
import os
import sys

# ``python -m sphinx`` puts the current directory first on sys.path: from the checkout, that
# is the source tree, whose nnfast/ has no compiled core after a non-editable install (CI's
# ``pip install ".[docs]"``). Then the installed package is the one to document.
_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if not any(glob.glob(os.path.join(_root, "nnfast", "_core*" + ext)) for ext in (".so", ".pyd")):  # not _core.pyi
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _root]

import nnfast  # noqa: E402

# the version comes from the package (its one source: VERSION in setup.py, via the core)
project = "nnfast"
author = "the nnfast authors"
copyright = "the nnfast authors"  # noqa: A001 - Sphinx's name
release = nnfast.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",       # the docstrings are numpydoc style
    "sphinx.ext.doctest",        # the guide's code runs: -b doctest
    "sphinx.ext.mathjax",
    "sphinxarg.ext",             # the command line, from nnfast.cli.build_parser
    "matplotlib.sphinxext.plot_directive",  # the guide's figures, from the code the page shows
    "myst_parser",               # CHANGELOG.md, included as it is
]

exclude_patterns = ["_build"]
root_doc = "index"

# Every cross-reference must resolve (``-n`` on the command line says the same). The build runs
# offline (CI has no network then), so there is no intersphinx: references to other projects'
# types cannot resolve and are listed here instead. nnfast's own names are never ignored.
nitpicky = True
nitpick_ignore = [
    # the standard library, beyond the builtins Sphinx resolves by itself
    ("py:class", "os.PathLike"),
    ("py:class", "concurrent.futures._base.Executor"),
    ("py:class", "cf.Executor"),
    # NumPy
    ("py:class", "numpy.ndarray"),
    ("py:class", "numpy.dtype"),
    ("py:class", "numpy.floating"),
    ("py:class", "numpy.float32"),
    ("py:class", "numpy.float64"),
    ("py:class", "numpy.int8"),
    ("py:class", "numpy.random.RandomState"),
    ("py:class", "numpy.random.mtrand.RandomState"),
    # pandas, matplotlib, ONNX
    ("py:class", "DataFrame"),
    ("py:class", "pd.DataFrame"),
    ("py:class", "Axes"),
    ("py:class", "Figure"),
    ("py:class", "SubFigure"),
    ("py:class", "matplotlib.figure.Figure"),
    ("py:class", "onnx.ModelProto"),
    # scikit-learn
    ("py:class", "sklearn.base.ClassifierMixin"),
    ("py:class", "sklearn.base.RegressorMixin"),
    ("py:class", "sklearn.exceptions.DataConversionWarning"),
    ("py:exc", "sklearn.exceptions.NotFittedError"),
    ("py:class", "sklearn.base.BaseEstimator"),
    # Optuna
    ("py:class", "optuna.Study"),
    ("py:class", "optuna.Trial"),
    ("py:class", "optuna.study.study.Study"),
    ("py:class", "optuna.storages._base.BaseStorage"),
    ("py:class", "optuna.samplers._base.BaseSampler"),
    # nnfast's private protocols in signatures: no page to link to; the parameter's
    # description says what it takes
    ("py:class", "nnfast.model._Record"),
    ("py:class", "nnfast.callbacks._Stream"),
]
# The numpydoc type of a parameter ("array-like of shape (n_samples, n_features)", "int,
# default 32", '{"float32", "float64"}') is prose: Sphinx makes each of its words a class
# reference. What no Python name can be is not a reference: a lowercase word (array-like,
# shape, n_samples, optional, sequence, ...), a phrase with spaces, a quoted or set literal,
# a number, and the data names of a shape (X, Y, X_val).
nitpick_ignore_regex = [
    ("py:class", r"[a-z][a-z0-9_-]*"),
    ("py:class", r".*\s.*"),
    ("py:class", r"[\"'{].*|.*[\"'}]"),
    ("py:class", r"[0-9].*"),
    ("py:class", r"X|Y|X_val"),
]

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_class_signature = "mixed"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
napoleon_custom_sections = [("Notes on the record", "notes_style")]

# The guide's doctests run in a scratch directory (removed after each group): they write model
# files, studies, C sources.
doctest_global_setup = """
import os, tempfile
_nnfast_docs_home = os.getcwd()
_nnfast_docs_dir = tempfile.mkdtemp(prefix="nnfast-docs-")
os.chdir(_nnfast_docs_dir)
import numpy as np
import nnfast as nf
np.set_printoptions(precision=4, suppress=True)
"""
doctest_global_cleanup = """
import os, shutil
os.chdir(_nnfast_docs_home)
shutil.rmtree(_nnfast_docs_dir, ignore_errors=True)
"""
doctest_test_doctest_blocks = "default"

# The plot directive runs each figure's code (shown on the page) during the html build.
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 80)]
plot_rcparams = {"figure.figsize": (6.0, 3.6)}
plot_pre_code = "import numpy as np\nimport nnfast as nf\n"

html_theme = "alabaster"
html_static_path = []
html_theme_options = {"description": "A minimal, fast neural-network engine for CPUs", "page_width": "1100px"}

os.environ.setdefault("MPLBACKEND", "Agg")

# a dataclass's "Attributes" section as fields of the class, not a second description of
# each attribute next to autodoc's
napoleon_use_ivar = True


def _public_bases(bases):
    """``bases`` with each private class (``_Base``, ``_NNEstimator``) replaced by its own
    public bases, recursively, in order and without repeats: what a reader can look up."""
    public = []
    for base in bases:
        for cls in (_public_bases(base.__bases__) if base.__name__.startswith("_") else [base]):
            if cls not in public:
                public.append(cls)
    return public


def _drop_private_bases(app, name, obj, options, bases):
    """autodoc-process-bases: "Bases:" names no private class (it has no page to link to);
    a class whose only bases are private shows ``object``."""
    bases[:] = _public_bases(bases) or [object]


def _dataclass_factories(app, what, name, obj, options, signature, return_annotation):
    """autodoc-process-signature: a dataclass field made by ``default_factory`` shows its
    default as ``<factory>``, which is no Python and makes Sphinx give up parsing the whole
    signature (no links, one unparsed line). Show the factory's call instead, ``dict()``."""
    import dataclasses

    if signature is None or "<factory>" not in signature or not dataclasses.is_dataclass(obj):
        return None
    for f in dataclasses.fields(obj):
        if f.init and f.default_factory is not dataclasses.MISSING:
            factory = f.default_factory
            shown = f"{factory.__name__}()" if isinstance(factory, type) else "..."
            signature = signature.replace("<factory>", shown, 1)
    return signature, return_annotation


def setup(app):
    app.connect("autodoc-process-bases", _drop_private_bases)
    app.connect("autodoc-process-signature", _dataclass_factories)
