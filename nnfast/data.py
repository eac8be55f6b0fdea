"""Data helpers: the bundled dataset, seeded (stratified) splits, standardisation, one-hot.

Hyperparameters are chosen on a validation set and the test set is looked at once, at
the end; these helpers make that split reproducible.
"""

from __future__ import annotations

from importlib import resources
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from . import _core
from ._targets import looks_like_labels
from ._convert import target_array
from ._validation import (all_finite, check_float, check_int, check_labels, check_matrix, check_real,
                          matrix_shape)

__all__ = ["load_digits", "split_indices", "fold_indices", "train_test_split", "train_val_test_split", "Standardizer", "one_hot"]


def load_digits() -> Tuple[np.ndarray, np.ndarray]:
    """The 8x8 handwritten digits (UCI ML repository, Alpaydin & Kaynak, 1998; CC BY 4.0).

    Returns
    -------
    X : ndarray of shape (1797, 64), float32
        Pixel intensities 0..16.
    y : ndarray of shape (1797,), int64
        The digit, 0..9.
    """
    with resources.files("nnfast.datasets").joinpath("digits.npz").open("rb") as f:
        data = np.load(f, allow_pickle=False)
        return data["images"].astype(np.float32), data["target"].astype(np.int64)


def split_indices(n: int, sizes: Sequence[float], seed: int = 0,
                  stratify: Optional[Any] = None) -> List[np.ndarray]:
    """Shuffled row indices cut into parts with fractions ``sizes`` (the rest is the first part).

    With ``stratify`` (labels), each class is cut in the same proportions, so every part
    keeps the class balance of the whole.

    Parameters
    ----------
    n : int
        Number of rows (at least 1).
    sizes : sequence of float
        Fractions in (0, 1) of the parts after the first, summing to less than 1.
    seed : int
        Non-negative seed of the shuffle.
    stratify : array of shape (n,), optional
        Class labels (a pandas Series by its values; see :func:`train_test_split`).

    Returns
    -------
    list of ndarray of int64
        ``len(sizes) + 1`` disjoint parts covering ``range(n)``.

    Raises
    ------
    TypeError, ValueError
        For a non-integer ``n`` or one whose indices do not fit in the memory this process
        can still have, bad sizes or seed, labels of the wrong
        length, missing labels or numbers mixed with strings, or a part left empty.
    """
    n = check_int(n, "n", low=1)
    _require_index_memory(n, "splitting")
    fractions = _fractions(sizes, "sizes")
    seed = check_int(seed, "seed", low=0)
    labels = None
    if stratify is not None:
        labels = check_labels(stratify, "stratify")
        if labels.ndim != 1 or len(labels) != n:
            raise ValueError(f"stratify must hold one label per row, shape ({n},); got shape {labels.shape}")
    return _split(n, fractions, seed, labels, sizes)


def _require_index_memory(n: int, doing: str) -> None:
    """ValueError when a few int64 arrays of ``n`` row indices cannot be had in memory: asked
    before allocating, as Linux may grant more than there is and kill the process later."""
    copies = 4  # the indices, their permutation, the parts and their joined copy
    if n > np.iinfo(np.int64).max // (8 * copies):
        raise ValueError(f"n={n} rows are too many to index in memory")
    try:
        _core.require_allocatable(n * 8 * copies, f"{doing} n={n} rows")
    except MemoryError as exc:
        raise ValueError(str(exc)) from None


def fold_indices(n: int, k: int, seed: int = 0, stratify: Optional[Any] = None) -> List[np.ndarray]:
    """Shuffled row indices cut into ``k`` folds for k-fold cross-validation.

    The rows are shuffled with the seed and dealt out to the folds in turn, so the folds
    differ in size by at most one row. With ``stratify`` (labels), the shuffled rows are
    grouped by class before they are dealt out, so each class is spread over the folds as
    evenly as its count allows (as scikit-learn's ``StratifiedKFold`` spreads it).

    Parameters
    ----------
    n : int
        Number of rows, at least ``k``.
    k : int
        Number of folds, at least 2.
    seed : int
        Non-negative seed of the shuffle.
    stratify : array of shape (n,), optional
        Class labels; every class needs at least ``k`` rows.

    Returns
    -------
    list of ndarray of int64
        ``k`` disjoint, sorted parts covering ``range(n)``: fold ``i`` validates on part ``i``
        and trains on the others.

    Raises
    ------
    TypeError, ValueError
        For a non-integer ``n`` or ``k``, an ``n`` whose indices do not fit in the memory
        this process can still have, ``k < 2`` or ``k > n``, a bad seed, labels of the
        wrong length, or a class with fewer than ``k`` rows (a fold would never validate it).
    """
    n = check_int(n, "n", low=1)
    k = check_int(k, "k", low=2)
    if k > n:
        raise ValueError(f"k={k} folds need at least {k} rows; there are {n}")
    seed = check_int(seed, "seed", low=0)
    _require_index_memory(n, "cutting into folds")
    order = np.random.default_rng(seed).permutation(n)
    if stratify is not None:
        labels = check_labels(stratify, "stratify")
        if labels.ndim != 1 or len(labels) != n:
            raise ValueError(f"stratify must hold one label per row, shape ({n},); got shape {labels.shape}")
        try:
            classes, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
        except TypeError:
            raise TypeError("stratify labels must be mutually comparable (e.g. all numbers or all strings)") from None
        if counts.min() < k:
            rare = classes[counts.argmin()]
            rare = rare.item() if isinstance(rare, np.generic) else rare
            raise ValueError(f"class {rare!r} has {counts.min()} rows, fewer than the {k} folds: every fold must "
                             f"validate every class; use at most {counts.min()} folds")
        order = order[np.argsort(codes.reshape(-1)[order], kind="stable")]  # by class, shuffled within
    fold = np.empty(n, dtype=np.int64)
    fold[order] = np.arange(n) % k
    return [np.flatnonzero(fold == i) for i in range(k)]


def _fractions(sizes: Any, name: str) -> List[float]:
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise TypeError(f"{name} must be a sequence of fractions such as [0.2], got {sizes!r}")
    fractions = [check_float(s, "split size", low=0.0, high=1.0, low_open=True, high_open=True) for s in sizes]
    if sum(fractions) >= 1.0:
        raise ValueError(f"split sizes {list(sizes)} leave nothing for the first part")
    return fractions


def _split(n: int, fractions: List[float], seed: int, labels: Optional[np.ndarray],
           sizes: Sequence[float]) -> List[np.ndarray]:
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)]
    if labels is not None:
        try:
            _, codes = np.unique(labels, return_inverse=True)
        except TypeError:
            raise TypeError("stratify labels must be mutually comparable (e.g. all numbers or all strings)") from None
        codes = codes.reshape(-1)
        groups = [np.flatnonzero(codes == c) for c in range(codes.max() + 1)]
    groups = [rng.permutation(group) for group in groups]
    counts = _part_counts(n, fractions, np.array([len(g) for g in groups]), rng)  # (parts, groups)
    parts: List[List[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for g, group in enumerate(groups):
        edges = np.concatenate([[0], np.cumsum(counts[:, g])])
        for k in range(len(parts)):
            parts[k].append(group[edges[k]:edges[k + 1]])
    out = [rng.permutation(np.concatenate(p)) for p in parts]
    for k, part in enumerate(out):
        if len(part) == 0:
            raise ValueError(f"part {k} of the split is empty; {n} samples are too few for sizes {list(sizes)}")
    return out


def _part_counts(n: int, fractions: List[float], group_sizes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rows per part and group, shape (parts, groups): each part after the first takes
    ``fraction * n`` rows (rounded half up) of the whole, shared out between the groups in
    proportion to their sizes, largest remainders first (ties in random order), so that
    part sizes do not depend on how many groups there are; the first part takes the rest.
    (The same apportionment as scikit-learn's StratifiedShuffleSplit, which fixes the
    test size first and then shares it between the classes.)"""
    remaining = group_sizes.astype(np.int64).copy()
    counts = np.zeros((len(fractions) + 1, len(group_sizes)), dtype=np.int64)
    for k, fraction in enumerate(fractions, start=1):
        total = min(int(np.floor(fraction * n + 0.5)), int(remaining.sum()))
        ideal = total * group_sizes / n
        take = np.minimum(np.floor(ideal).astype(np.int64), remaining)
        short = total - int(take.sum())
        if short > 0:
            # largest remainders first, ties broken at random; groups that still have rows
            order = np.lexsort((rng.random(len(group_sizes)), -(ideal - np.floor(ideal))))
            while short > 0:
                for g in order:
                    if short == 0:
                        break
                    if take[g] < remaining[g]:
                        take[g] += 1
                        short -= 1
        counts[k] = take
        remaining -= take
    counts[0] = remaining
    return counts


def _samples(value: Any, name: str) -> np.ndarray:
    """Features as an array of finite real numbers with one entry per sample along its first
    axis, converted as every entry point converts them (frames, nullable and object numbers;
    its numeric dtype kept, float64 for what needs converting)."""
    if value is None:
        raise TypeError(f"{name} is None; expected an array with one entry per sample")
    return check_real(value, name, shape_check=_per_sample(name, value))


def _targets(value: Any, name: str) -> np.ndarray:
    """Targets (labels or values) as a NumPy array with one entry per sample (missing ones refused)."""
    arr = target_array(value, name)
    _per_sample(name, value)(arr.shape)
    return arr


def _per_sample(name: str, value: Any) -> Callable[[Tuple[int, ...]], None]:
    def check(shape: Tuple[int, ...]) -> None:
        if len(shape) == 0:
            raise ValueError(f"{name} must hold one entry per sample, got a single value {value!r}")
    return check


def _stratify_by(y: np.ndarray, stratify: Any) -> Optional[np.ndarray]:
    if isinstance(stratify, str):
        if stratify != "auto":
            raise ValueError(f"stratify must be 'auto', True or False, got {stratify!r}")
        stratify = y.ndim == 1 and looks_like_labels(y)
    elif not (stratify is None or isinstance(stratify, (bool, np.bool_))):
        raise TypeError(f"stratify must be 'auto', True or False, got {stratify!r}")
    if not stratify:
        return None
    if y.ndim != 1:
        raise ValueError("stratified splits need 1-D class labels")
    return y


def train_test_split(X: Any, y: Any, test_size: float = 0.25, seed: int = 0, stratify: Any = "auto"
                     ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, X_test, y_train, y_test)``: a seeded split, stratified for class labels.

    ``stratify`` is ``"auto"`` (stratified when y holds class labels), True or False.
    ``X`` has shape (n_samples, n_features) and ``y`` (n_samples,) or (n_samples,
    n_outputs); each part keeps those trailing dimensions. ``test_size`` is a fraction of
    the rows, in (0, 1).

    X and y are read as training reads them, and come back as NumPy arrays: X as finite
    real numbers (an array of numbers keeps its dtype; a pandas frame, nullable or object
    numbers become float64), y as numbers or labels (a pandas Series by its values).

    Raises
    ------
    TypeError, ValueError
        As ``nnfast.train`` would for X and y (categorical or string columns, missing or
        infinite values, missing or mixed labels, ...), for lengths that differ, and for
        bad sizes or seed.
    """
    X, y = _samples(X, "X"), _targets(y, "y")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
    check_float(test_size, "test_size", low=0.0, high=1.0, low_open=True, high_open=True)
    train, test = split_indices(len(X), [test_size], seed, _stratify_by(y, stratify))
    return X[train], X[test], y[train], y[test]


def train_val_test_split(X: Any, y: Any, val_size: float = 0.15, test_size: float = 0.15, seed: int = 0,
                         stratify: Any = "auto"
                         ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, X_val, X_test, y_train, y_val, y_test)``: tune on val, look at test once.

    Reads X, of shape (n_samples, n_features), and y, of shape (n_samples,) or
    (n_samples, n_outputs), and ``stratify``, as :func:`train_test_split` does;
    ``val_size`` and ``test_size`` are fractions of the rows. X keeps its numeric dtype
    (float64 for what needs converting: nullable or object numbers, mixed DataFrame columns);
    training converts it to the model's dtype later.

    Raises
    ------
    TypeError
        As ``nnfast.train`` would for X and y (categorical or string columns, mixed
        labels, ...), for a ``val_size`` or ``test_size`` that is not a number, a
        ``seed`` that is not an integer, or a ``stratify`` that is neither a string nor
        a bool (nor None).
    ValueError
        As ``nnfast.train`` would for X and y (missing or infinite values, missing
        labels, ...); if X and y have different numbers of samples; if ``val_size`` or
        ``test_size`` is not strictly between 0 and 1, or together they reach 1; if
        ``seed`` is negative; if ``stratify`` is a string other than "auto", or True
        with y not 1-D labels; or if a part would be left empty (too few rows, or too few
        of a class when stratified).
    """
    X, y = _samples(X, "X"), _targets(y, "y")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
    check_float(val_size, "val_size", low=0.0, high=1.0, low_open=True, high_open=True)
    check_float(test_size, "test_size", low=0.0, high=1.0, low_open=True, high_open=True)
    train, val, test = split_indices(len(X), [val_size, test_size], seed, _stratify_by(y, stratify))
    return X[train], X[val], X[test], y[train], y[val], y[test]


class Standardizer:
    """Per-feature ``(x - mean) / std``, fitted on training data only.

    Features with zero variance keep a scale of 1. Statistics are accumulated in float64
    over blocks of rows, so fitting needs no copy of X.
    """

    def __init__(self) -> None:
        self.mean_: Optional[np.ndarray] = None
        self.scale_: Optional[np.ndarray] = None

    def fit(self, X: Any) -> "Standardizer":
        """Learn the mean and std of each column of X (samples, features), finite numbers.

        An array of numbers is read in place (no copy); a frame, nullable or object numbers
        are converted to float64 once, as training converts them.

        Raises
        ------
        TypeError, ValueError
            For X that is not a non-empty 2-D array of finite real numbers (naming the
            columns that hold missing values, infinities, categories, strings, ...).
        """
        return self._fit_rows(check_real(X, "X", shape_check=matrix_shape("X", None)), None)

    def _fit_rows(self, X: np.ndarray, rows: Optional[np.ndarray]) -> "Standardizer":
        """Fit on X's ``rows`` (all when None), gathered a block at a time: no copy of X."""
        with np.errstate(over="ignore", invalid="ignore"):
            mean, std = self._moments(X, rows, 1.0)
            if not (np.isfinite(mean).all() and np.isfinite(std).all()):
                # finite values beyond ~1e154 overflow the squares: measure X in units of its largest |x|
                mean, std = self._moments(X, rows, max(float(-X.min()), float(X.max())))
        if not (np.isfinite(mean).all() and np.isfinite(std).all()):
            raise ValueError("X contains NaN or infinite values")
        std[std < 1e-12 * np.maximum(1.0, np.abs(mean))] = 1.0
        self.mean_, self.scale_ = mean, std
        return self

    @staticmethod
    def _moments(X: np.ndarray, rows: Optional[np.ndarray], unit: float) -> Tuple[np.ndarray, np.ndarray]:
        """Column means and standard deviations of X (its ``rows``), accumulated in float64
        over blocks of 4096 rows, of X / unit, scaled back."""
        n = X.shape[0] if rows is None else len(rows)

        def block(start: int) -> np.ndarray:
            part = (X[start:start + 4096] if rows is None else X[rows[start:start + 4096]]).astype(np.float64)
            return part if unit == 1.0 else part / unit

        total, squares = np.zeros(X.shape[1]), np.zeros(X.shape[1])
        for start in range(0, n, 4096):
            total += block(start).sum(axis=0)
        mean = total / n
        for start in range(0, n, 4096):
            part = block(start) - mean
            squares += np.einsum("ij,ij->j", part, part)
        return mean * unit, np.sqrt(squares / n) * unit

    def transform(self, X: Any) -> np.ndarray:
        """``(X - mean_) / scale_`` in X's floating dtype (float64 for other dtypes).

        Raises ValueError for X that is not a finite (samples, features) array, and when
        a result falls beyond the range of its dtype.
        """
        X, dtype = self._checked(X)
        with np.errstate(over="ignore", invalid="ignore"):
            return self._finite((X - self.mean_) / self.scale_, dtype)

    def fit_transform(self, X: Any) -> np.ndarray:
        """:meth:`fit` on ``X``, then ``X`` standardised (a new array).

        ``X`` has shape (n_samples, n_features); the result has X's shape, in X's floating
        dtype (float64 for other dtypes)."""
        return self.fit(X).transform(X)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """``X * scale_ + mean_``: back to the original units.

        ``X`` has shape (n_samples, n_features); the result has X's shape, in X's floating
        dtype (float64 for other dtypes)."""
        X, dtype = self._checked(X)
        with np.errstate(over="ignore", invalid="ignore"):
            return self._finite(X * self.scale_ + self.mean_, dtype)

    def _checked(self, X: Any) -> Tuple[np.ndarray, np.dtype]:
        if self.mean_ is None:
            raise RuntimeError("fit the Standardizer before transforming")
        kind = getattr(getattr(X, "dtype", None), "kind", None)
        dtype = X.dtype if kind == "f" and X.dtype.itemsize >= 4 else np.dtype(np.float64)
        return check_matrix(X, "X", dtype, len(self.mean_)), dtype

    @staticmethod
    def _finite(Z: np.ndarray, dtype: np.dtype) -> np.ndarray:
        out = Z.astype(dtype)
        if not all_finite(out):
            raise ValueError(f"the result has values beyond the range of {dtype.name}; scale X"
                             + (" or use float64" if dtype != np.float64 else ""))
        return out


def one_hot(y: Any, classes: Optional[Any] = None, dtype: Any = np.float32) -> Tuple[np.ndarray, np.ndarray]:
    """``(Y, classes)``: labels as rows of a one-hot matrix.

    Parameters
    ----------
    y : array of shape (samples,)
        Class labels (numbers or strings; no NaN).
    classes : array of shape (classes,), optional
        The columns, in this order; default: the sorted distinct labels of y.
    dtype : numeric dtype of Y

    Returns
    -------
    Y : ndarray of shape (samples, classes)
    classes : ndarray of shape (classes,)

    Raises
    ------
    TypeError
        If ``dtype`` is not a numeric dtype (booleans, integers, floats), or if ``y``
        or ``classes`` mixes numbers and strings (labels that cannot be sorted).
    ValueError
        If ``y`` or ``classes`` is not 1-D or holds missing labels (NaN, None);
        if ``classes`` repeats a label or is empty while ``y`` is not; or if ``y``
        has labels that are not in ``classes`` (the message lists up to 10; numbers
        given against string ``classes`` are such labels).
    """
    y = _labels(y, "y")
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf":
        raise TypeError(f"dtype must be a numeric dtype, got {dtype}")
    if classes is None:
        classes = _unique(y, "y")
        order = np.arange(len(classes))
        ordered = classes
    else:
        classes = _labels(classes, "classes")
        order = np.argsort(classes, kind="stable") if classes.dtype != object else \
            np.array(sorted(range(len(classes)), key=lambda k: classes[k]), dtype=np.intp)
        ordered = classes[order]
        if len(ordered) > 1 and (ordered[1:] == ordered[:-1]).any():
            raise ValueError("classes has repeated labels")
    if len(ordered) == 0:
        if len(y):
            raise ValueError("classes is empty but y has labels")
        return np.zeros((0, 0), dtype=dtype), classes
    try:
        index = np.clip(np.searchsorted(ordered, y), 0, len(ordered) - 1)
        unseen = ordered[index] != y
    except TypeError:
        raise TypeError("y and classes must hold labels of one kind (e.g. all numbers or all strings)") from None
    if np.any(unseen):
        raise ValueError(f"y has labels that are not in classes: {np.unique(y[unseen])[:10].tolist()}")
    Y = np.zeros((len(y), len(classes)), dtype=dtype)
    Y[np.arange(len(y)), order[index]] = 1
    return Y, classes


def _labels(values: Any, name: str) -> np.ndarray:
    arr = check_labels(values, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D labels, got shape {arr.shape}")
    return arr


def _unique(labels: np.ndarray, name: str) -> np.ndarray:
    try:
        return np.unique(labels)
    except TypeError:
        raise TypeError(f"{name} labels must be mutually comparable (e.g. all numbers or all strings)") from None
