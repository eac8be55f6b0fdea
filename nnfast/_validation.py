"""Checks applied where data and settings enter nnfast: one place, clear messages."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np


def check_matrix(X: Any, name: str, dtype: np.dtype, n_features: int | None = None) -> np.ndarray:
    """X as a finite, C-ordered 2-D array of ``dtype`` with at least one row and column.

    Copies only when X is not already in that form: a C-ordered array of ``dtype`` is
    used as it is; another dtype, Fortran order, a list or a pandas frame costs one
    conversion.
    """
    return check_matrix_extent(X, name, dtype, n_features)[0]


def check_matrix_extent(X: Any, name: str, dtype: np.dtype, n_features: int | None = None) -> tuple[np.ndarray, float]:
    """:func:`check_matrix`, and the largest ``|x|`` in X (from the same pass that checks it is finite)."""
    if X is None:
        raise TypeError(f"{name} is None; expected a 2-D array of numbers")
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise TypeError(f"{name} is a sparse matrix; nnfast needs a dense array (call .toarray())")
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} cannot be read as an array: {exc}") from None
    if arr.dtype == object or arr.dtype.kind in "USVMmc":
        raise TypeError(f"{name} must hold real numbers, not {arr.dtype} values")
    if arr.ndim != 2:
        hint = " (use X.reshape(-1, 1) for one feature or X.reshape(1, -1) for one sample)" if arr.ndim == 1 else ""
        raise ValueError(f"{name} must be 2-D (samples, features); got {arr.ndim}-D with shape {arr.shape}{hint}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has no samples")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no features")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"{name} has {arr.shape[1]} features but the model expects {n_features}")
    source = arr
    with np.errstate(over="ignore", invalid="ignore"):  # values beyond the dtype's range: explained below
        arr = c_array(arr, dtype)
    # min and max propagate NaN and show infinities, without a temporary the size of arr
    low, high = arr.min(), arr.max()
    if not (np.isfinite(low) and np.isfinite(high)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        if source.dtype.kind == "f" and source is not arr:
            bad_before = int(np.count_nonzero(~np.isfinite(source)))
            if bad_before < bad:
                info = np.finfo(dtype)
                raise ValueError(f"{name} has {bad - bad_before} value(s) beyond the range of {np.dtype(dtype).name} "
                                 f"(|x| > {info.max:.3g}); scale {name}"
                                 + (" or use dtype float64" if np.dtype(dtype) == np.float32 else ""))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return arr, float(max(-low, high))


def c_array(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """arr as a C-ordered, aligned array of ``dtype``, copied only when it is not one.

    Aligned too: an array can be contiguous yet start at an odd address (np.frombuffer on
    a byte slice, some unpickled or shared-memory buffers), and the core refuses those
    rather than read floats from misaligned addresses."""
    return np.require(arr, dtype=dtype, requirements=["C_CONTIGUOUS", "ALIGNED"])


def all_finite(arr: np.ndarray) -> bool:
    """Whether arr holds no NaN and no infinity (min and max: no temporary the size of arr)."""
    return arr.size == 0 or bool(np.isfinite(arr.min()) and np.isfinite(arr.max()))


def check_sample_weight(w: Any, n: int, dtype: np.dtype) -> np.ndarray | None:
    """Per-sample weights: None, or n finite non-negative numbers with a positive, finite sum."""
    if w is None:
        return None
    arr = np.asarray(w)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight must hold real numbers, not {arr.dtype} values")
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"sample_weight must have shape ({n},), one weight per sample; got {arr.shape}")
    with np.errstate(over="ignore"):
        converted = c_array(arr, dtype)
    if not np.isfinite(converted).all() or (converted < 0).any():
        if np.isfinite(arr).all() and (arr >= 0).all():
            raise ValueError(f"sample_weight has values beyond the range of {np.dtype(dtype).name}; scale the weights")
        raise ValueError("sample_weight must be finite and non-negative")
    with np.errstate(over="ignore"):
        total = converted.sum(dtype=np.float64)
    if not total > 0:
        raise ValueError("sample_weight must not be all zero")
    if not np.isfinite(total):
        raise ValueError("sample_weight is too large: its sum overflows float64; scale the weights")
    return converted


def check_real_array(value: Any, name: str) -> np.ndarray:
    """value as a float64 array; a TypeError naming ``name`` for None, strings, objects or complex numbers."""
    if value is None:
        raise TypeError(f"{name} is None; expected an array of numbers")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} cannot be read as an array: {exc}") from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, not {arr.dtype} values")
    return arr.astype(np.float64, copy=False)


def check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_int(value: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if low is not None and value < low or high is not None and value > high:
        raise ValueError(f"{name} must be {_range_text(low, high)}, got {value}")
    return value


def check_float(value: Any, name: str, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    ok = np.isfinite(value)
    if low is not None:
        ok = ok and (value > low if low_open else value >= low)
    if high is not None:
        ok = ok and (value < high if high_open else value <= high)
    if not ok:
        raise ValueError(f"{name} must be {_range_text(low, high, low_open, high_open)}, got {value}")
    return value


def check_for_dtype(value: float, name: str, dtype: Any, below_one: bool = False) -> float:
    """A setting the core uses in ``dtype``: refused when it becomes 0, subnormal or infinite
    there (or, with ``below_one``, rounds up to 1), rather than silently meaning something else."""
    dt = np.dtype(dtype)
    info = np.finfo(dt)
    hint = "use float64 or " if dt == np.float32 else ""
    with np.errstate(over="ignore", under="ignore"):
        cast = dt.type(value)
    if np.isinf(cast):
        raise ValueError(f"{name}={value!r} is infinite in {dt.name}; {hint}{name} <= {info.max:.3g}")
    if value != 0 and abs(cast) < info.tiny:
        what = f"0 in {dt.name}" if cast == 0 else f"subnormal in {dt.name} (too few digits)"
        raise ValueError(f"{name}={value!r} is {what}; {hint}{name} >= {info.tiny:.3g}")
    if below_one and value < 1 and cast == 1:
        below = float(np.nextafter(dt.type(1), dt.type(0)))
        raise ValueError(f"{name}={value!r} rounds to 1 in {dt.name}; {hint}{name} <= {below!r}")
    return value


def check_name(value: Any, name: str, valid) -> str:
    """value must be one of the names in ``valid``; the error lists them."""
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(sorted(valid))}")
    return value


def _range_text(low, high, low_open=False, high_open=False) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return "finite"
