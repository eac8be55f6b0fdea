"""Checks applied where data and settings enter nnfast: one place, clear messages."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np


def check_matrix(X: Any, name: str, dtype: np.dtype, n_features: int | None = None) -> np.ndarray:
    """X as a finite, C-ordered 2-D array of ``dtype`` with at least one row and column.

    Copies only when X is not already in that form.
    """
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
    arr = c_array(arr, dtype)
    if not all_finite(arr):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return arr


def c_array(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """arr as a C-ordered, aligned array of ``dtype``, copied only when it is not one.

    Aligned too: an array can be contiguous yet start at an odd address (np.frombuffer on
    a byte slice, some unpickled or shared-memory buffers), and the core refuses those
    rather than read floats from misaligned addresses."""
    return np.require(arr, dtype=dtype, requirements=["C_CONTIGUOUS", "ALIGNED"])


def all_finite(arr: np.ndarray) -> bool:
    # min and max propagate NaN and show infinities, without a temporary the size of arr
    return bool(np.isfinite(arr.min()) and np.isfinite(arr.max()))


def check_sample_weight(w: Any, n: int, dtype: np.dtype) -> np.ndarray | None:
    """Per-sample weights: None, or n finite non-negative numbers with a positive sum."""
    if w is None:
        return None
    arr = np.asarray(w)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight must hold real numbers, not {arr.dtype} values")
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"sample_weight must have shape ({n},), one weight per sample; got {arr.shape}")
    arr = c_array(arr, dtype)
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError("sample_weight must be finite and non-negative")
    if not arr.sum() > 0:
        raise ValueError("sample_weight must not be all zero")
    return arr


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
