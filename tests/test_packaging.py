"""The package metadata says what holds: license, supported Pythons, dependency bounds.

The bounds themselves are exercised by tools/check_min_deps.sh (it installs the lowest
versions allowed and runs tools/smoke_test.py); these tests keep the metadata from
drifting back below what that script found.
"""

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")
from packaging.requirements import Requirement  # noqa: E402  (pytest depends on packaging)
from packaging.version import Version  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pyproject():
    path = ROOT / "pyproject.toml"
    if not path.exists():
        pytest.skip("not run from a source tree")
    return tomllib.loads(path.read_text(encoding="utf-8"))


def requirement(reqs, name):
    (req,) = [Requirement(r) for r in reqs if Requirement(r).name == name]
    return req


def test_the_license_is_an_spdx_expression_with_its_file(pyproject):
    assert pyproject["project"]["license"] == "BSD-3-Clause"
    assert pyproject["project"]["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("BSD 3-Clause License") and "the nnfast developers" in text
    # PEP 639: no license classifier next to the expression
    assert not any(c.startswith("License ::") for c in pyproject["project"]["classifiers"])
    build = {Requirement(r).name: Requirement(r) for r in pyproject["build-system"]["requires"]}
    assert build["setuptools"].specifier.contains("77") and not build["setuptools"].specifier.contains("76.9")


def test_every_supported_python_has_its_classifier(pyproject):
    lowest = re.fullmatch(r">=3\.(\d+)", pyproject["project"]["requires-python"]).group(1)
    classifiers = set(pyproject["project"]["classifiers"])
    for minor in range(int(lowest), 14):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers


def test_the_blas_bound_has_get_library_fullname_and_admits_manylinux2014(pyproject):
    for reqs in (pyproject["project"]["dependencies"], pyproject["build-system"]["requires"]):
        spec = requirement(reqs, "scipy-openblas32").specifier
        # 0.3.27.0.x and 0.3.27.44.x have get_library() without fullname: import nnfast failed
        assert not spec.contains(Version("0.3.27.0.1")) and not spec.contains(Version("0.3.27.44.6"))
        assert spec.contains(Version("0.3.27.63.0"))
        # the 0.3.31 line is the newest with manylinux2014 (glibc 2.17) wheels
        assert spec.contains(Version("0.3.31.188.0")) and spec.contains(Version("0.3.34.481.3"))


def test_the_tune_extra_needs_optuna_4(pyproject):
    # nnfast.tune imports optuna.storages.journal, a public module since optuna 4.0
    spec = requirement(pyproject["project"]["optional-dependencies"]["tune"], "optuna").specifier
    assert not spec.contains(Version("3.6.1")) and spec.contains(Version("4.0.0"))


def test_the_sdist_manifest_carries_what_the_tests_need():
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8").split("\n")
    for line in ("graft csrc", "graft tests", "graft examples"):
        assert line in manifest
