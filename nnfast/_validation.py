"""Checks applied where data and settings enter nnfast: one place, clear messages."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ._convert import nonfinite_error, real_array, target_array

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

#: checks the shape of an array before it is converted (ValueError when it does not fit)
ShapeCheck = Callable[[tuple[int, ...]], None]


def check_matrix(X: Any, name: str, dtype: DTypeLike, n_features: int | None = None) -> np.ndarray:
    """X as a finite, C-ordered 2-D array of ``dtype`` with at least one row and column.

    Copies only when X is not already in that form: a C-ordered array of ``dtype`` is
    used as it is; another dtype, Fortran order, a list, a pandas frame (booleans as
    0/1, nullable numbers without NA), or an object array of numbers costs one
    conversion. The rules of :mod:`nnfast._convert` apply: categorical, string and
    date columns are a TypeError naming them; missing values, infinities and values
    beyond ``dtype``'s range a ValueError naming the columns and how many rows.
    """
    return check_matrix_extent(X, name, dtype, n_features)[0]


def check_matrix_extent(X: Any, name: str, dtype: DTypeLike, n_features: int | None = None) -> tuple[np.ndarray, float]:
    """:func:`check_matrix`, and the largest ``|x|`` in X (from the same pass that checks it is finite)."""
    if X is None:
        raise TypeError(f"{name} is None; expected a 2-D array of numbers")
    return check_real_extent(X, name, dtype, shape_check=matrix_shape(name, n_features))


def column_names(X: Any) -> np.ndarray | None:
    """The column names of a pandas DataFrame X when every one is a string (scikit-learn's
    rule for ``feature_names_in_``) and no two are the same, as an object array; None
    for anything else."""
    if not type(X).__module__.startswith("pandas") or not hasattr(X, "columns") or getattr(X, "ndim", 0) != 2:
        return None
    names = list(X.columns)
    if not names or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        return None
    return np.array(names, dtype=object)


def check_column_names(fitted: np.ndarray | None, X: Any, name: str) -> None:
    """ValueError when X is a DataFrame whose column names are not ``fitted`` (the names the
    model was fitted with) in the same order: columns taken by position would silently feed
    one feature's values to another's weights. Arrays, and models fitted without names,
    are not checked (there is nothing to compare)."""
    names = column_names(X)
    problem = column_mismatch(fitted, names)
    if problem is not None:
        reorder = names is not None and fitted is not None and set(names.tolist()) == set(fitted.tolist())
        raise ValueError(f"{name}'s columns {problem}" + (
            f"; select them in the fitted order: {name}[model.feature_names_in_]" if reorder else ""))


def column_mismatch(fitted: np.ndarray | None, names: np.ndarray | None) -> str | None:
    """How column ``names`` differ from the ``fitted`` ones, in words, or None when they
    are the same (or either is unknown)."""
    if fitted is None or names is None or (len(names) == len(fitted) and bool((names == fitted).all())):
        return None
    given, known = set(names.tolist()), set(fitted.tolist())

    def listed(values: list[object]) -> str:
        return ", ".join(repr(v) for v in values[:5]) + (f" and {len(values) - 5} more" if len(values) > 5 else "")

    missing = [n for n in fitted.tolist() if n not in given]
    unexpected = [n for n in names.tolist() if n not in known]
    if missing or unexpected:
        parts = ([f"lack {listed(missing)}"] if missing else []) + (
            [f"add {listed(unexpected)}, not seen in fit"] if unexpected else [])
        return "are not those the model was fitted with: they " + " and ".join(parts)
    if len(names) != len(fitted):
        return f"repeat names; the model was fitted with {len(fitted)} distinct columns"
    first = next(i for i, (a, b) in enumerate(zip(names, fitted)) if a != b)
    return (f"are the model's in another order (column {first} is {names[first]!r}, the model's column {first} is "
            f"{fitted[first]!r})")


def matrix_shape(name: str, n_features: int | None) -> ShapeCheck:
    """A shape check for :func:`check_real`: 2-D, at least one row and column, ``n_features`` wide."""
    def check(shape: tuple[int, ...]) -> None:
        if len(shape) != 2:
            hint = (" (Reshape your data: X.reshape(-1, 1) for one feature or X.reshape(1, -1) for one sample)"
                    if len(shape) == 1 else "")
            raise ValueError(f"{name} must be 2-D (samples, features); got {len(shape)}-D with shape {shape}{hint}")
        if shape[0] == 0:
            raise ValueError(f"{name} has no samples")
        if shape[1] == 0:
            # the second half in scikit-learn's words, which its estimator checks look for
            raise ValueError(f"{name} has no features: 0 feature(s) (shape={shape}) while a minimum of 1 is required.")
        if n_features is not None and shape[1] != n_features:
            raise ValueError(f"{name} has {shape[1]} features but the model expects {n_features}")
    return check


def check_real(value: Any, name: str, dtype: DTypeLike | None = None, *, context: str = "",
               shape_check: ShapeCheck | None = None) -> np.ndarray:
    """value as an array of finite real numbers: C-ordered ``dtype`` (as it came when None).

    The one way numbers enter nnfast (see :mod:`nnfast._convert`): frames, Series,
    nullable and object arrays of numbers are converted once; ``shape_check(shape)``
    runs before that.

    Raises
    ------
    TypeError
        For None and values that are not real numbers (categories, strings, dates, ...),
        naming the columns.
    ValueError
        For missing values, infinities, and finite values beyond ``dtype``'s range
        ("outside float32's range: use dtype='float64' or rescale"), naming the columns
        (or, for 1-D values, the first position) and how many rows.
    """
    return check_real_extent(value, name, dtype, context=context, shape_check=shape_check)[0]


def check_real_extent(value: Any, name: str, dtype: DTypeLike | None = None, *, context: str = "",
                      shape_check: ShapeCheck | None = None
                      ) -> tuple[np.ndarray, float]:
    """:func:`check_real`, and the largest ``|x|`` (0 for an empty array)."""
    arr = real_array(value, name, dtype, context=context, shape_check=shape_check)
    if dtype is None:
        out = arr
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # values beyond the dtype's range: explained below
            out = c_array(arr, dtype)
    if out.size == 0:
        return out, 0.0
    if out.dtype.kind != "f":  # booleans and integers (kept as they came): finite; -low could overflow
        return out, max(-float(out.min()), float(out.max()))
    # min and max propagate NaN and show infinities, without a temporary the size of out
    low, high = out.min(), out.max()
    if not (np.isfinite(low) and np.isfinite(high)):
        raise nonfinite_error(name, out, value)
    return out, float(max(-low, high))


def c_array(arr: np.ndarray, dtype: DTypeLike) -> np.ndarray:
    """arr as a C-ordered, aligned array of ``dtype``, copied only when it is not one.

    Aligned too: an array can be contiguous yet start at an odd address (np.frombuffer on
    a byte slice, some unpickled or shared-memory buffers), and the core refuses those
    rather than read floats from misaligned addresses."""
    return np.require(arr, dtype=dtype, requirements=["C_CONTIGUOUS", "ALIGNED"])


def all_finite(arr: np.ndarray) -> bool:
    """Whether arr holds no NaN and no infinity (min and max: no temporary the size of arr)."""
    return arr.size == 0 or bool(np.isfinite(arr.min()) and np.isfinite(arr.max()))


def check_sample_weight(w: Any, n: int, dtype: DTypeLike, name: str = "sample_weight") -> np.ndarray | None:
    """Per-sample weights: None, or n finite non-negative numbers with a positive, finite sum.

    Converted as :func:`check_real` converts (a pandas Series, nullable or object
    numbers), into a C-ordered array of ``dtype``; errors name the weights ``name``.
    """
    if w is None:
        return None

    def one_per_sample(shape: tuple[int, ...]) -> None:
        if len(shape) != 1 or shape[0] != n:
            raise ValueError(f"{name} must have shape ({n},), one weight per sample; got {shape}")

    arr = check_real(w, name, dtype, shape_check=one_per_sample)
    negative = arr < 0
    if negative.any():
        first = int(np.argmax(negative))
        raise ValueError(f"{name} must be non-negative; {int(np.count_nonzero(negative))} of {n} weights are "
                         f"negative (the first at position {first}: {arr[first]:g})")
    tiny = np.finfo(arr.dtype).tiny
    small = (arr > 0) & (arr < tiny)
    if small.any():  # a batch of them weighs so little that 1 / its weight overflows: a NaN step
        first = int(np.argmax(small))
        raise ValueError(f"{name} has {int(np.count_nonzero(small))} positive weights below {tiny:.3g}, the smallest "
                         f"normal {arr.dtype.name} (the first at position {first}: {arr[first]:g}); scale the "
                         f"weights up or set them to 0")
    with np.errstate(over="ignore"):
        total = arr.sum(dtype=np.float64)
    if not total > 0:
        raise ValueError(f"{name} must not be all zero")
    if not np.isfinite(total):
        raise ValueError(f"{name} is too large: its sum overflows float64; scale the weights")
    return arr


def check_split_weights(w: np.ndarray | None, parts: Mapping[str, np.ndarray], fraction: float) -> None:
    """After ``validation_split``: the weights of each part (name -> row indices) must not all be
    zero, or that part's cost is 0/0."""
    if w is None:
        return
    for part, rows in parts.items():
        if not w[rows].sum(dtype=np.float64) > 0:
            raise ValueError(f"sample_weight is zero on all {len(rows)} {part} rows that validation_split={fraction:g} "
                             f"leaves (the split is seeded by the model's seed); give those rows weight, or pass "
                             f"validation=(X_val, y_val) instead")


def check_labels(y: Any, name: str = "y") -> np.ndarray:
    """Class labels as a NumPy array (see :func:`nnfast._convert.target_array`): a pandas
    Series (a categorical gives its categories' values) or any array; object arrays of
    numbers become numbers.

    Raises
    ------
    ValueError
        For missing labels (None, NaN, NA, NaT) and infinite ones, saying how many and
        where the first is.
    TypeError
        For numbers mixed with strings and complex labels.
    """
    arr = target_array(y, name)
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must hold real numbers or strings as class labels, not complex values")
    if arr.dtype.kind == "f" and arr.size and not all_finite(arr):
        raise nonfinite_error(name, arr, y)
    return arr


def check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_int(value: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    number = int(value)
    if low is not None and number < low or high is not None and number > high:
        raise ValueError(f"{name} must be {_range_text(low, high)}, got {number}")
    return number


def check_float(value: Any, name: str, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    number = float(value)
    ok = bool(np.isfinite(number))
    if low is not None:
        ok = ok and (number > low if low_open else number >= low)
    if high is not None:
        ok = ok and (number < high if high_open else number <= high)
    if not ok:
        raise ValueError(f"{name} must be {_range_text(low, high, low_open, high_open)}, got {number}")
    return number


def check_for_dtype(value: float, name: str, dtype: type[np.floating[Any]], below_one: bool = False) -> float:
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


def check_name(value: Any, name: str, valid: Collection[str]) -> str:
    """value must be one of the names in ``valid``; the error lists them."""
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(sorted(valid))}")
    return value


def _range_text(low: float | None, high: float | None, low_open: bool = False, high_open: bool = False) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return "finite"
