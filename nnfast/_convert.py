"""How data that is not yet a NumPy array of numbers becomes one, and what is refused.

Every array a user hands nnfast enters through :func:`real_array` (features, values,
weights) or :func:`target_array` (targets, which may be class labels), called by the
checks in :mod:`nnfast._validation`. The rules are the same for every entry point:

- A NumPy array of booleans or real numbers passes through untouched (no copy here).
- pandas frames and Series are read column by column: booleans become 0/1, nullable
  numbers (``Float64``, ``Int64``, ``boolean``, ...) become floats, object columns of
  numbers become floats; all of it written once into one C-ordered array of the wanted
  dtype (small frames, up to 65,536 values, by pandas in one call: a second copy that
  small is cheaper than the column-by-column work). A frame whose columns share one NumPy
  dtype is taken as its array (a view when pandas holds it in one block).
- Object arrays of numbers (Python or NumPy scalars, ``Decimal``) become floats.
- Categorical, string, date/time, complex and other columns are a TypeError naming each
  such column (by name in frames, by index in arrays) and what to do.
- Missing values (None, ``pd.NA``, ``NaT``, NaN) become NaN here and are refused where the
  array is checked to be finite (:func:`nonfinite_error`): by column and number of rows.

pandas is never imported here: a pandas object can only exist once something imported
pandas, so ``sys.modules`` tells whether to look for one.
"""

from __future__ import annotations

import datetime
import decimal
import math
import numbers
import sys
from types import ModuleType
from typing import Any, Callable, List, Optional, Protocol, Sequence, Set, Tuple

import numpy as np

ShapeCheck = Optional[Callable[[Tuple[int, ...]], None]]

MISSING = "missing values (NaN, NA or None)"
#: how many offending columns a message lists before "and N more"
_LISTED = 5
#: frames of numbers up to this many values are converted by pandas in one call (a second,
#: small copy; 20-50x faster for a row than converting column by column, which only pays
#: off in memory for large frames)
_SMALL_FRAME = 1 << 16

_KIND_TEXT = {"category": "is categorical", "text": "holds strings", "datetime": "holds dates or times",
              "complex": "holds complex numbers"}


# pandas has no types (pyproject.toml lets mypy import it as Any): what this module reads of
# pandas' objects, so that what it returns is known to be an array.

class _Column(Protocol):
    """A pandas Series or Index."""

    @property
    def dtype(self) -> Any: ...  # a NumPy dtype or a pandas extension dtype

    @property
    def shape(self) -> Tuple[int, ...]: ...

    def __len__(self) -> int: ...

    def to_numpy(self, dtype: Any = ..., copy: bool = ..., na_value: Any = ...) -> np.ndarray: ...

    def isna(self) -> Any: ...


class _Frame(Protocol):
    """A pandas DataFrame."""

    @property
    def dtypes(self) -> Any: ...  # a Series of dtypes, one per column

    @property
    def columns(self) -> Any: ...  # an Index of the columns' labels

    @property
    def iloc(self) -> Any: ...

    @property
    def shape(self) -> Tuple[int, int]: ...

    @property
    def size(self) -> int: ...

    def __len__(self) -> int: ...

    def to_numpy(self, dtype: Any = ..., copy: bool = ..., na_value: Any = ...) -> np.ndarray: ...

    def isna(self) -> Any: ...


# --- what a value or a column holds ----------------------------------------------------------

def _pandas() -> Optional[ModuleType]:
    """pandas, if something imported it; None otherwise (then no pandas object exists)."""
    return sys.modules.get("pandas")


def pandas_kind(value: Any) -> Optional[str]:
    """"frame", "series" (Series or Index), "array" (a pandas extension array such as
    ``pd.Categorical``) or None for anything else."""
    if type(value) is np.ndarray:
        return None
    pd = _pandas()
    if pd is None:
        return None
    if isinstance(value, pd.DataFrame):
        return "frame"
    if isinstance(value, (pd.Series, pd.Index)):
        return "series"
    if isinstance(value, pd.api.extensions.ExtensionArray):
        return "array"
    return None


def is_categorical(value: Any) -> bool:
    """Whether value is a pandas categorical (Series, Index or Categorical)."""
    pd = _pandas()
    return pd is not None and isinstance(getattr(value, "dtype", None), pd.CategoricalDtype)


def _as_series(value: Any, kind: str) -> _Column:
    """A pandas Series or Index (kind "series") as it is, a pandas array (kind "array") as a Series."""
    if kind == "series":
        series: _Column = value
        return series
    pd = _pandas()
    assert pd is not None  # value is a pandas object, so pandas is imported
    series = pd.Series(value, copy=False)
    return series


def _column_kind(dtype: Any) -> str:
    """"number" (a NumPy bool/int/float dtype), "nullable" (a pandas extension of numbers,
    which may hold NA), "object", or why the column is refused: "category", "text",
    "datetime", "complex", "other"."""
    if isinstance(dtype, np.dtype):
        return {"b": "number", "i": "number", "u": "number", "f": "number", "O": "object", "U": "text",
                "S": "text", "M": "datetime", "m": "datetime", "c": "complex"}.get(dtype.kind, "other")
    pd = _pandas()
    if pd is not None:
        if isinstance(dtype, pd.CategoricalDtype):
            return "category"
        if isinstance(dtype, pd.StringDtype):
            return "text"
        if isinstance(dtype, (pd.DatetimeTZDtype, pd.PeriodDtype)):
            return "datetime"
    kind = getattr(dtype, "kind", "O")
    if kind in "biuf":
        return "nullable"
    return {"M": "datetime", "m": "datetime", "U": "text", "S": "text", "c": "complex"}.get(kind, "other")


def _is_number_type(t: type) -> bool:
    # NumPy registers its integers as numbers.Integral, and timedelta64 is one of them
    return issubclass(t, (numbers.Real, np.bool_, decimal.Decimal)) and not issubclass(t, (np.timedelta64,
                                                                                            np.datetime64))


def _is_missing_type(t: type) -> bool:
    return t is type(None) or (t.__name__ in ("NAType", "NaTType") and t.__module__.startswith("pandas"))


def _is_missing(v: Any) -> bool:
    """None, pd.NA, pd.NaT or a NaN float (NumPy's included)."""
    t = type(v)
    if _is_missing_type(t):
        return True
    if issubclass(t, (float, np.floating, decimal.Decimal)):
        return bool(v != v)
    if issubclass(t, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(v))
    return False


def _object_kind(t: type) -> str:
    if issubclass(t, (str, bytes)):
        return "text"
    if issubclass(t, (datetime.date, datetime.time, datetime.timedelta, np.datetime64, np.timedelta64)):
        return "datetime"
    if issubclass(t, numbers.Complex):
        return "complex"
    return "other"


def _kind_text(kind: str, t: Optional[type] = None, dtype: Any = None) -> str:
    if kind in _KIND_TEXT:
        return _KIND_TEXT[kind]
    return f"holds {t.__name__ if t is not None else dtype} values"


def _hints(kinds: Sequence[str], columns: bool = True) -> str:
    """What to do about values of these kinds: ": ..." (empty when nothing to say); about
    columns of features when ``columns``, else about one array (targets, weights)."""
    hints = []
    if columns and ("category" in kinds or "text" in kinds):
        hints.append("one-hot encode categories (pd.get_dummies(X) or scikit-learn's OneHotEncoder)")
    if "text" in kinds:
        hints.append("numbers written as strings: pd.to_numeric")
    if "datetime" in kinds:
        hints.append("turn dates and times into numbers (e.g. seconds since a reference time)")
    if "complex" in kinds or "other" in kinds:
        hints.append("convert such values to real numbers")
    text = "; ".join(hints)
    if columns:
        return f": {text}, or drop those columns"
    return f": {text}" if text else ""


def short_repr(v: Any, width: int = 40) -> str:
    text = repr(v)
    return text if len(text) <= width else text[:width - 3] + "..."


def column_name(labels: Optional[Sequence[Any]], j: int) -> str:
    """How a message names column ``j``: by its label in a frame, by index otherwise."""
    return f"column {labels[j]!r}" if labels is not None else f"column {j}"


def _listed(parts: List[str]) -> str:
    if len(parts) > _LISTED:
        return ", ".join(parts[:_LISTED]) + f" and {len(parts) - _LISTED} more"
    return ", ".join(parts)


# --- numbers ---------------------------------------------------------------------------------

def real_array(value: Any, name: str, dtype: Any = None, *, context: str = "", shape_check: ShapeCheck = None
               ) -> np.ndarray:
    """value as a NumPy array of booleans or real numbers (dtype kind b, i, u or f).

    A NumPy array of such numbers is returned as it is (the caller converts it to its
    dtype); frames, Series, masked arrays and object arrays are converted straight into
    ``dtype`` (float64 when None), so they cost one copy. Missing values become NaN.
    ``shape_check(shape)`` runs once what the values are is known (a categorical column
    is a TypeError even when the width is wrong too: one-hot encoding changes the width),
    before any conversion; ``context`` ends the subject of TypeErrors ("y must hold real
    numbers{context}, ...").

    Raises
    ------
    TypeError
        For None, sparse matrices, and values or columns that are not real numbers
        (categories, strings, dates, complex numbers, other objects), naming each.
    ValueError
        For what cannot be read as an array (ragged lists).
    """
    if type(value) is np.ndarray and value.dtype.kind in "biuf":  # the common case, first
        if shape_check is not None:
            shape_check(value.shape)
        return value
    if isinstance(value, (list, tuple)):  # the next common case: no frame, matrix or mask to look for
        return _array_to_real(_asarray(value, name), name, dtype, context, shape_check)
    if value is None:
        raise TypeError(f"{name} is None; expected an array of numbers")
    if hasattr(value, "toarray") and hasattr(value, "nnz"):
        raise TypeError(f"{name} is a sparse matrix; nnfast needs a dense array (call .toarray())")
    kind = pandas_kind(value)
    if kind == "frame":
        return _frame_to_real(value, name, dtype, context, shape_check)
    if kind is not None:
        return _series_to_real(_as_series(value, kind), name, dtype, context, shape_check)
    if isinstance(value, np.ma.MaskedArray):
        if shape_check is not None:
            shape_check(value.shape)
        if np.ma.getmask(value) is np.ma.nomask or not np.ma.getmaskarray(value).any():
            return real_array(np.ma.getdata(value), name, dtype, context=context)
        data = real_array(np.ma.getdata(value), name, None, context=context)
        return np.where(np.ma.getmaskarray(value), np.nan, data).astype(dtype or np.float64)  # masked: missing
    return _array_to_real(_asarray(value, name), name, dtype, context, shape_check)


def _asarray(value: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} cannot be read as an array: {exc}") from None


def _array_to_real(arr: np.ndarray, name: str, dtype: Any, context: str, shape_check: ShapeCheck) -> np.ndarray:
    if arr.dtype.kind == "O":
        return _objects_to_real(arr, name, dtype, context, shape_check=shape_check)
    if arr.dtype.kind in "biuf":
        if shape_check is not None:
            shape_check(arr.shape)
        return arr
    kind = _column_kind(arr.dtype)
    what = {"text": "strings", "datetime": "dates or times", "complex": "complex numbers"}.get(kind, "such values")
    raise TypeError(f"{name} must hold real numbers{context}, not {what} ({arr.dtype})"
                    f"{_hints([kind], columns=arr.ndim == 2)}")


def _series_to_real(series: _Column, name: str, dtype: Any, context: str, shape_check: ShapeCheck) -> np.ndarray:
    kind = _column_kind(series.dtype)
    if kind in ("number", "nullable") and shape_check is not None:
        shape_check(series.shape)
    if kind == "number":
        return series.to_numpy()
    if kind == "nullable":
        return series.to_numpy(dtype=np.dtype(dtype or np.float64), na_value=np.nan)
    if kind == "object":
        return _objects_to_real(series.to_numpy(), name, dtype, context, shape_check=shape_check)
    raise TypeError(f"{name} must hold real numbers{context}, but it {_kind_text(kind, dtype=series.dtype)} "
                    f"({series.dtype}){_hints([kind], columns=False)}")


def _frame_to_real(frame: _Frame, name: str, dtype: Any, context: str, shape_check: ShapeCheck) -> np.ndarray:
    dtypes = list(frame.dtypes)
    if dtypes and isinstance(dtypes[0], np.dtype) and dtypes[0].kind in "biuf" and all(t == dtypes[0]
                                                                                        for t in dtypes):
        if shape_check is not None:
            shape_check(frame.shape)
        return frame.to_numpy()  # one NumPy dtype: the frame's array (a view when it is one block)
    kinds = [_column_kind(t) for t in dtypes]
    objects = {j: frame.iloc[:, j].to_numpy() for j, kind in enumerate(kinds) if kind == "object"}
    object_types = {j: set(map(type, values)) for j, values in objects.items()}
    refused: List[Tuple[int, str, str]] = []  # (column, kind, what it holds)
    for j, kind in enumerate(kinds):
        if kind in ("number", "nullable"):
            continue
        if kind == "object":
            odd = _odd_types(object_types[j])
            if not odd:
                continue
            first = next(v for v in objects[j] if type(v) in odd)
            kind = _object_kind(type(first))
            refused.append((j, kind, f"{_kind_text(kind, type(first))} (e.g. {short_repr(first)})"))
        else:
            text = _kind_text(kind, dtype=dtypes[j])
            refused.append((j, kind, text if kind in ("category", "other") else f"{text} ({dtypes[j]})"))
    if refused:
        labels = list(frame.columns)
        parts = [f"{column_name(labels, j)} {text}" for j, _, text in refused]
        raise TypeError(f"{name} must hold real numbers{context}, but {_listed(parts)}"
                        f"{_hints([kind for _, kind, _ in refused])}")
    if shape_check is not None:
        shape_check(frame.shape)
    target = np.dtype(dtype or np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # values beyond the dtype are explained by the caller
        if frame.size <= _SMALL_FRAME and "object" not in kinds:
            return np.ascontiguousarray(frame.to_numpy(dtype=target, na_value=np.nan))  # pandas gives F order
        out = np.empty(frame.shape, dtype=target)
        j, d = 0, len(kinds)
        while j < d:
            if kinds[j] == "number":  # a run of columns of one NumPy dtype: one 2-D copy, cast on the way
                k = j + 1
                while k < d and kinds[k] == "number" and dtypes[k] == dtypes[j]:
                    k += 1
                out[:, j:k] = frame.iloc[:, j:k].to_numpy()
                j = k
                continue
            if kinds[j] == "nullable":
                out[:, j] = frame.iloc[:, j].to_numpy(dtype=target, na_value=np.nan)
            else:
                _objects_to_real(objects[j], name, target, context, out=out[:, j], types=object_types[j])
            j += 1
    return out


def _odd_types(types: Set[type]) -> Set[type]:
    """Of the types of an object array's values, those that are neither numbers nor missing values."""
    return {t for t in types if not (_is_number_type(t) or _is_missing_type(t))}


def _objects_to_real(values: np.ndarray, name: str, dtype: Any, context: str,
                     out: Optional[np.ndarray] = None, types: Optional[Set[type]] = None,
                     shape_check: ShapeCheck = None) -> np.ndarray:
    """An object array of numbers in ``dtype`` (float64 when None), into ``out`` when given;
    None, NA and NaT become NaN. Other objects are a TypeError naming where they are.
    ``types``: the types of the values, when the caller has them already."""
    if types is None:
        types = set(map(type, values.flat))
    odd = _odd_types(types)
    if odd:
        raise TypeError(_odd_objects_message(values, name, context, odd))
    if shape_check is not None:
        shape_check(values.shape)
    if any(_is_missing_type(t) for t in types):
        values = np.where(_mask(values, lambda v: _is_missing_type(type(v))), np.nan, values)
    if out is None:
        out = np.empty(values.shape, dtype=np.dtype(dtype or np.float64))
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            out[...] = values
        except OverflowError:  # a Python int beyond float64: infinite here, "outside the range" for the caller
            out[...] = np.fromiter((_float(v) for v in values.flat), np.float64, values.size).reshape(values.shape)
    return out


def _float(v: Any) -> float:
    try:
        return float(v)
    except OverflowError:  # copysign would convert v to float too
        return math.inf if v > 0 else -math.inf


def _mask(values: np.ndarray, test: Callable[[Any], bool]) -> np.ndarray:
    return np.fromiter((test(v) for v in values.flat), bool, values.size).reshape(values.shape)


def _odd_objects_message(values: np.ndarray, name: str, context: str, odd: Set[type]) -> str:
    """Where an object array holds things that are not numbers: per column for 2-D arrays."""
    def first_odd(column: np.ndarray) -> Optional[Tuple[int, Any]]:
        return next(((i, v) for i, v in enumerate(column) if type(v) in odd), None)

    if values.ndim == 2:
        parts, kinds = [], []
        for j in range(values.shape[1]):
            found = first_odd(values[:, j])
            if found is not None:
                kind = _object_kind(type(found[1]))
                kinds.append(kind)
                parts.append(f"column {j} {_kind_text(kind, type(found[1]))} "
                             f"({short_repr(found[1])} in row {found[0]})")
        return f"{name} must hold real numbers{context}, but {_listed(parts)}{_hints(kinds)}"
    found = first_odd(values.reshape(-1))
    assert found is not None  # odd holds the types of values in there
    i, v = found
    kind = _object_kind(type(v))
    where = f" at position {i}" if values.ndim == 1 else ""
    return (f"{name} must hold real numbers{context}, but it {_kind_text(kind, type(v))} "
            f"({short_repr(v)}{where}){_hints([kind], columns=False)}")


# --- what is wrong with values that are not finite ---------------------------------------------

def nonfinite_error(name: str, out: np.ndarray, value: Any) -> ValueError:
    """The error for ``out`` (``value`` converted to its dtype) holding NaN or infinities:
    which columns (1-D: which rows) hold missing values, infinities, or finite values that
    became infinite in ``out``'s dtype, and how many rows each."""
    if out.ndim != 1 and out.ndim != 2:  # a single value, or rows of images: one column per value of a row
        out = out.reshape(-1) if out.ndim == 0 else out.reshape(len(out), -1)
        value = np.asarray(value).reshape(out.shape)
    labels = list(value.columns) if pandas_kind(value) == "frame" else None
    source = _source_columns(value)
    columns = [out] if out.ndim == 1 else [out[:, j] for j in range(out.shape[1])]
    missing, infinite, outside = [], [], []
    for j, column in enumerate(columns):
        nan = np.isnan(column)
        inf = np.isinf(column)
        if inf.any():
            already = _infinite_in(source(j))
            outside.append((j, inf & ~already))
            infinite.append((j, inf & already))
        missing.append((j, nan))
    n = len(out)
    parts = []
    for what, found in ((MISSING, missing), ("infinite values", infinite),
                        (_outside_text(out.dtype), outside)):
        where = _where(found, labels, n, out.ndim)
        if where:
            parts.append(f"{what} {where}")
    fixes = []
    if any(mask.any() for _, mask in missing):
        fixes.append(f"fill {'them' if len(parts) == 1 else 'the missing values'} or drop those rows")
    if any(mask.any() for _, mask in outside):
        fixes.append(("use dtype='float64' or rescale " if out.dtype == np.float32 else "rescale ") + name)
    return ValueError(f"{name} has " + "; ".join(parts) + (": " + "; ".join(fixes) if fixes else ""))


def _outside_text(dtype: np.dtype) -> str:
    return f"values outside {dtype.name}'s range (|x| > {np.finfo(dtype).max:.3g})"


def _where(found: List[Tuple[int, np.ndarray]], labels: Optional[Sequence[Any]], n: int, ndim: int) -> str:
    """ "in 3 of 40 rows (the first at position 7)" for 1-D, "in column 'a' (3 of 40 rows), ..."
    for 2-D; empty when no mask has a True."""
    counted = [(j, int(np.count_nonzero(mask)), mask) for j, mask in found]
    counted = [c for c in counted if c[1]]
    if not counted:
        return ""
    if ndim == 1:
        _, count, mask = counted[0]
        return f"in {count} of {n} rows (the first at position {int(np.argmax(mask))})"
    parts = [f"{column_name(labels, j)} ({count} of {n} rows)" for j, count, _ in counted]
    return "in " + _listed(parts)


def _source_columns(value: Any) -> Callable[[int], np.ndarray]:
    """Column ``j`` of what the user passed, as numbers as wide as they came (or objects),
    to tell values that were infinite from values that became infinite."""
    kind = pandas_kind(value)
    if kind == "frame":
        return lambda j: _reference(value.iloc[:, j])
    if kind is not None:
        series = _as_series(value, kind)
        return lambda j: _reference(series)
    arr = np.ma.getdata(value) if isinstance(value, np.ma.MaskedArray) else np.asarray(value)
    return lambda j: arr if arr.ndim == 1 else arr[:, j]


def _reference(series: _Column) -> np.ndarray:
    if _column_kind(series.dtype) == "nullable":
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    return series.to_numpy()


def _infinite_in(column: np.ndarray) -> np.ndarray:
    if column.dtype.kind == "f":
        inf: np.ndarray = np.isinf(column)
        return inf
    if column.dtype.kind == "O":
        return _mask(column, _is_inf)
    return np.zeros(column.shape, dtype=bool)


def _is_inf(v: Any) -> bool:
    try:
        return math.isinf(v)
    except (TypeError, ValueError, OverflowError):  # not a number, or an int beyond float64: finite
        return False


# --- targets -----------------------------------------------------------------------------------

def target_array(y: Any, name: str = "y") -> np.ndarray:
    """Targets y as a plain NumPy array whose dtype says what they hold.

    pandas Series and frames become NumPy arrays (a categorical gives its categories'
    values; nullable numbers their NumPy dtype); object arrays of numbers alone become
    int64 (integers and booleans) or float64. Class labels that are strings or other
    objects stay objects.

    Raises
    ------
    ValueError
        For missing values (None, NaN, NA, NaT), saying how many and where the first is.
    TypeError
        For numbers mixed with strings, naming one of each and its position.
    """
    if y is None:
        raise TypeError(f"{name} is None; expected the targets, one per sample")
    kind = pandas_kind(y)
    if kind == "frame":
        return _frame_targets(y, name)
    if kind is not None:
        arr = _series_targets(_as_series(y, kind), name)
    else:
        if isinstance(y, np.ma.MaskedArray):  # np.asarray would drop the mask: masked entries are missing
            mask = np.ma.getmaskarray(y)
            if mask.ndim in (1, 2):
                _refuse_missing(mask, name, len(mask))
        try:
            arr = np.asarray(y)
        except Exception as exc:  # ragged lists and the like
            raise ValueError(f"{name} cannot be read as an array: {exc}") from None
        if arr.dtype.kind in "US" and arr.ndim == 1 and not isinstance(y, np.ndarray):
            _refuse_mixed(np.array(list(y), dtype=object), name)  # [1, "a"]: NumPy made the 1 a string
    return _plain_targets(arr, name)


def _series_targets(series: _Column, name: str) -> np.ndarray:
    if is_categorical(series):
        # a categorical Series reads through its .cat accessor, a CategoricalIndex directly (untyped pandas)
        cat: Any = series.cat if hasattr(series, "cat") else series
        codes = cat.codes.to_numpy() if hasattr(series, "cat") else np.asarray(cat.codes)
        _refuse_missing(codes < 0, name, len(codes))
        labels: np.ndarray = np.asarray(cat.categories)[codes]
        return labels
    kind = _column_kind(series.dtype)
    if kind == "number":
        return series.to_numpy()
    _refuse_missing(np.asarray(series.isna()), name, len(series))
    if kind == "nullable":
        numpy_dtype = getattr(series.dtype, "numpy_dtype", None)
        return series.to_numpy(dtype=numpy_dtype) if numpy_dtype is not None else series.to_numpy()
    if kind == "text":
        return series.to_numpy(dtype=object)
    return series.to_numpy()


def _frame_targets(frame: _Frame, name: str) -> np.ndarray:
    if all(_column_kind(t) in ("number", "nullable") for t in frame.dtypes):
        arr = real_array(frame, name)  # nullable columns come back as floats, NA as NaN
        if arr.dtype.kind == "f" and arr.size and np.isnan(arr.min()):
            raise nonfinite_error(name, arr, frame)
        return arr
    missing = np.asarray(frame.isna())
    if missing.any():
        parts = [(j, missing[:, j]) for j in range(missing.shape[1])]
        raise ValueError(f"{name} has {MISSING} {_where(parts, list(frame.columns), len(frame), 2)}"
                         f": fill them or drop those rows")
    return _plain_targets(frame.to_numpy(dtype=object), name)


def _plain_targets(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.ndim == 0:  # not targets at all: the caller says what shape it needs
        return arr
    kind = arr.dtype.kind
    if kind == "f":
        if arr.size and np.isnan(arr.min()):
            _refuse_missing(np.isnan(arr), name, len(arr))
        return arr
    if kind in "mM":
        _refuse_missing(np.isnat(arr), name, len(arr))
        return arr
    if kind != "O":
        return arr
    types = set(map(type, arr.flat))
    if any(_is_missing_type(t) for t in types) or any(issubclass(t, (float, np.floating, decimal.Decimal,
                                                                      np.datetime64, np.timedelta64))
                                                       for t in types):
        _refuse_missing(_mask(arr, _is_missing), name, len(arr))
    if types and all(_is_number_type(t) for t in types):
        if all(issubclass(t, (numbers.Integral, np.bool_)) for t in types):
            if all(issubclass(t, (bool, np.bool_)) for t in types):
                return arr.astype(bool)
            try:
                return arr.astype(np.int64)
            except OverflowError:  # integers beyond int64 stay Python ints
                return arr
        return arr.astype(np.float64)
    _refuse_mixed(arr, name, types)
    return arr


def _refuse_missing(mask: np.ndarray, name: str, n: int) -> None:
    if mask.any():
        if mask.ndim > 2:
            mask = mask.reshape(len(mask), -1)
        if mask.ndim == 1:
            where = _where([(0, mask)], None, n, 1)
        else:
            where = _where([(j, mask[:, j]) for j in range(mask.shape[1])], None, n, 2)
        raise ValueError(f"{name} has {MISSING} {where}: fill them or drop those rows")


def _refuse_mixed(arr: np.ndarray, name: str, types: Optional[Set[type]] = None) -> None:
    """TypeError when an object array holds numbers and strings side by side."""
    types = set(map(type, arr.flat)) if types is None else types
    if not (any(issubclass(t, (str, bytes)) for t in types) and any(_is_number_type(t) for t in types)):
        return
    flat = arr.reshape(-1)
    number = next(i for i, v in enumerate(flat) if _is_number_type(type(v)))
    text = next(i for i, v in enumerate(flat) if isinstance(v, (str, bytes)))
    first, second = sorted((number, text))
    raise TypeError(f"{name} mixes numbers and strings ({short_repr(flat[first])} at position {first}, "
                    f"{short_repr(flat[second])} at position {second}): class labels must be all numbers or all "
                    f"strings (e.g. {name}.astype(str)), and values all numbers")
