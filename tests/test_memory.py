"""What training copies, measured with tracemalloc (which sees NumPy's allocations): nothing
for a C-ordered array of the model's dtype, one converted copy otherwise, and for a
validation split only the held-out rows."""

import tracemalloc

import numpy as np
import pandas as pd
import pytest

import nnfast as nf

N, D = 40000, 512  # 82 MB of float32: copies of X dwarf everything else fit allocates


@pytest.fixture(scope="module")
def data():
    r = np.random.default_rng(0)
    return r.standard_normal((N, D), dtype=np.float32), r.integers(0, 10, N)


def extra_peak(call) -> int:
    """Bytes allocated at the peak of call() beyond what was allocated before it."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        call()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def fit_once(X, y, **kwargs):
    model = nf.Sequential([nf.Dense(8), nf.Dense(10, "softmax")], inputs=D, seed=0)
    return lambda: model.fit(X, y, epochs=1, batch_size=1024, verbose=False, **kwargs)


def test_a_validation_split_copies_the_held_out_rows_only(data):
    X, y = data
    peak = extra_peak(fit_once(X, y, validation_split=0.2))
    # the held-out fifth, the 4096 rows the starting cost is measured on, the one-hot targets
    assert peak < 0.4 * X.nbytes, f"fit(validation_split=0.2) allocated {peak / X.nbytes:.2f} copies of X"


def test_an_array_in_the_models_form_is_used_as_it_is(data):
    X, y = data
    assert extra_peak(fit_once(X, y)) < 0.1 * X.nbytes
    assert extra_peak(fit_once(pd.DataFrame(X, copy=False), y)) < 0.1 * X.nbytes  # a frame that wraps it


@pytest.mark.parametrize("form", ["float64", "fortran", "pandas", "strided"])
def test_other_forms_cost_one_conversion(data, form):
    X, y = data
    X_in = {"float64": lambda: X.astype(np.float64), "fortran": lambda: np.asfortranarray(X),
            "pandas": lambda: pd.DataFrame(X).copy(),  # pandas keeps a column-major block, like read_csv's
            "strided": lambda: np.repeat(X, 2, axis=1)[:, ::2]}[form]()
    peak = extra_peak(fit_once(X_in, y))
    assert 0.9 * X.nbytes < peak < 1.2 * X.nbytes, f"{form}: {peak / X.nbytes:.2f} copies of X"


@pytest.mark.parametrize("form", ["get_dummies", "nullable", "objects"])
def test_frames_of_mixed_columns_and_object_arrays_cost_one_conversion(form):
    """Booleans next to floats, nullable columns and object arrays are written once, straight
    into the C-ordered array of the model's dtype (no intermediate frame-sized copy)."""
    n, d = 40000, 64
    X = np.random.default_rng(0).standard_normal((n, d))
    X_in = {"get_dummies": lambda: pd.DataFrame(X[:, :d - 8]).join(
                pd.DataFrame(X[:, d - 8:] > 0, columns=[f"flag{j}" for j in range(8)])),
            "nullable": lambda: pd.DataFrame({j: pd.array(X[:, j], dtype="Float64") for j in range(d)}),
            "objects": lambda: X.astype(object)}[form]()
    converted = n * d * 4
    peak = extra_peak(lambda: nf.Sequential([nf.Dense(1)], inputs=d).forward(X_in))
    # the converted X, and the outputs (n floats)
    assert 0.9 * converted < peak < 1.15 * converted, f"{form}: {peak / converted:.2f} copies of X"
