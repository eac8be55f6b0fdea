"""Sphinx configuration of nnfast's documentation.

Build (warnings are errors): ``python -m sphinx -W -b html docs docs/_build/html``; the guide's
code runs with ``python -m sphinx -W -b doctest docs docs/_build/doctest``. Both need the
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
