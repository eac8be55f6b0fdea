"""The task a run learns, and how targets y map to the network's outputs and back.

Every entry point (``nnfast.train``, ``Sequential.fit``, ``tune.search``, the
scikit-learn estimators, the command line) decides the task with :func:`resolve_task`,
the one place where a guess is made, and said:

- a ``loss`` other than "auto" decides it (cross-entropies classify, mse and mae regress);
- else ``task`` ("classification" or "regression") does;
- else ``task="auto"`` reads y: booleans, strings and other objects are class labels,
  floating-point values are a regression target, one-hot rows are classes, and integers
  are class labels unless they have more than :data:`AUTO_MAX_CLASSES` distinct values
  that are also more than one in :data:`AUTO_MIN_ROWS_PER_CLASS` rows: then they are
  taken as quantities (counts, prices in cents, ages), with an :class:`AutoTaskWarning`
  that names ``task=``.

Class labels given as a column, shape (n, 1), are read as the 1-D labels they are, with
a :class:`LabelColumnWarning` (scikit-learn's rule for classifiers).

The loss then decides the encoding:
  cross_entropy          classes: labels (any sortable hashables) -> one-hot; or a 2-D
                         array of one-hot / probability rows
  binary_cross_entropy   two classes -> one output; or a 2-D 0/1 array (multi-label)
  mse, mae               real values, 1-D (one output) or 2-D (several)
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Dict, Literal, Optional, Tuple, Union

import numpy as np

from . import _core, _silence
from ._convert import is_categorical, target_array
from ._validation import check_labels, check_real

CLASSIFICATION_LOSSES = ("cross_entropy", "binary_cross_entropy")
REGRESSION_LOSSES = ("mse", "mae")
#: what Hyperparameters(task=...) accepts
TASKS = ("auto", "classification", "regression")
#: task="auto" always takes integer targets with at most this many distinct values as classes
AUTO_MAX_CLASSES = 20
#: ... and more distinct values too, as long as there are at least this many rows per value on average
AUTO_MIN_ROWS_PER_CLASS = 20

#: class_weight as the record and fit keep it: None, "balanced" or ((label, weight), ...) sorted by label
ClassWeight = Union[None, str, Tuple[Tuple[Any, float], ...]]
#: how Targets encodes y (see Targets.fit)
TargetKind = Literal["categorical", "soft", "binary", "multilabel", "continuous"]


class TargetWarning(UserWarning):
    """nnfast read the targets in a way the call did not spell out; the message says how and
    which argument makes it explicit. Filter this class to silence all such warnings."""


class LabelColumnWarning(TargetWarning):
    """Class labels came as a column, shape (n, 1), and were read as ``y.ravel()``."""


class AutoTaskWarning(TargetWarning):
    """``task="auto"`` took integer targets for a regression target (too many distinct
    values to be class labels); ``task=`` says which is meant."""


def task_of_loss(loss: str) -> str:
    """"classification" for the cross-entropies, "regression" for mse and mae."""
    return "classification" if loss in CLASSIFICATION_LOSSES else "regression"


@dataclass(frozen=True)
class TaskChoice:
    """What :meth:`nnfast.Hyperparameters.resolve_task` decided for some targets.

    Attributes
    ----------
    task : str
        "classification" or "regression".
    loss : str
        The loss training uses (a name of :data:`nnfast.losses.LOSSES`).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        The targets as training reads them: y as given, except a column of class labels
        of shape (n_samples, 1), made a 1-D array.
    reason : str
        How the task was decided, for messages.
    """

    task: str  # "classification" or "regression"
    loss: str  # the loss training uses
    y: Any  # the targets as training reads them (a column of class labels made 1-D)
    reason: str  # how the task was decided, for messages


def _is_one_hot(arr: np.ndarray) -> bool:
    return bool(arr.ndim == 2 and arr.dtype.kind in "biuf" and arr.size and np.isin(arr, (0, 1)).all()
                and (arr.sum(axis=1) == 1).all())


def _guess(arr: np.ndarray) -> Tuple[str, str, bool]:
    """(task, reason, whether to warn) that task="auto" reads from y (a column made 1-D)."""
    if arr.ndim == 1:
        kind = arr.dtype.kind
        if kind in "bUSO":
            return "classification", f"y holds {arr.dtype.name if kind != 'O' else 'object'} labels", False
        if kind in "iu":
            distinct = len(np.unique(arr))
            if distinct > AUTO_MAX_CLASSES and distinct * AUTO_MIN_ROWS_PER_CLASS > len(arr):
                return "regression", f"y holds {distinct} distinct integers in {len(arr)} rows", True
            return "classification", f"y holds {distinct} distinct integers in {len(arr)} rows", False
        return "regression", f"y holds {arr.dtype.name} values", False
    if _is_one_hot(arr):
        return "classification", "y holds one-hot rows", False
    return "regression", f"y has shape {arr.shape} and is not one-hot", False


def resolve_task(y: Any, task: str = "auto", loss: str = "auto", output: str = "auto", *, warn: bool = True,
                 column_warning: type = LabelColumnWarning, stacklevel: int = 1) -> TaskChoice:
    """The task, the loss and the targets a run trains on, decided once for every entry point.

    Parameters
    ----------
    y : array-like
        The targets as given.
    task : {"auto", "classification", "regression"}
    loss : str
        "auto" or a loss name; a named loss decides the task.
    output : str
        The output activation ("auto", or e.g. "softmax", which asks for cross-entropy).
    warn : bool
        Emit the warnings (a :class:`LabelColumnWarning` for a column of labels, an
        :class:`AutoTaskWarning` when ``task="auto"`` takes integers for quantities);
        False for a second look at targets already resolved.
    column_warning : subclass of LabelColumnWarning
        The class of the column warning (scikit-learn's estimators add their own base).
    stacklevel : int
        Of the warnings: 1 points at the caller of this function, 2 at its caller, ...

    Raises
    ------
    ValueError
        If ``task`` and ``loss`` contradict each other, and for missing values in y.
    TypeError
        For y that mixes numbers and strings.
    """
    arr = target_array(y)  # as every entry point reads y: a Series by its values, object numbers as numbers
    if loss != "auto":
        chosen, reason = task_of_loss(loss), f"loss={loss!r}"
        if task not in ("auto", chosen):
            raise ValueError(f"loss {loss!r} is a {chosen} loss but task={task!r}; give a "
                             f"{task} loss or loss='auto'")
    elif task != "auto":
        chosen, reason = task, f"task={task!r}"
    else:
        column = arr.ndim == 2 and arr.shape[1] == 1
        chosen, reason, doubtful = (("classification", "y is categorical", False) if is_categorical(y)
                                    else _guess(arr[:, 0] if column else arr))
        reason = "task='auto': " + reason
        if doubtful and warn:
            _silence.warn(f"{reason}, too many to be class labels (more than {AUTO_MAX_CLASSES} values with fewer "
                          f"than {AUTO_MIN_ROWS_PER_CLASS} rows each on average), so they are a regression target; "
                          f"pass task='regression' to say so, or task='classification' if they are classes",
                          AutoTaskWarning, stacklevel=stacklevel + 1)
    if chosen == "classification" and arr.ndim == 2 and arr.shape[1] == 1:
        if warn:
            # no single quote in this message: scikit-learn's checks look for its repr in single quotes
            _silence.warn(f"A column-vector y was passed when a 1d array was expected: class labels of shape "
                          f"{arr.shape} are read as y.ravel(); pass 1-D labels"
                          + (' (task="auto" took them for labels: pass task="regression" for numbers to predict)'
                             if task == "auto" and loss == "auto" else ""), column_warning, stacklevel=stacklevel + 1)
        arr = arr.ravel()
        y = arr
    if loss == "auto":
        if chosen == "regression":
            loss = "mse"
        elif arr.ndim == 2 or output == "softmax":
            loss = "cross_entropy"
        else:
            loss = "binary_cross_entropy" if len(Targets._unique(_labels(arr))) == 2 else "cross_entropy"
    return TaskChoice(chosen, loss, y, reason)


def check_class_weight(value: Any, name: str = "class_weight") -> ClassWeight:
    """class_weight as the record keeps it: None, "balanced", or ((label, weight), ...)
    sorted by label, from a dict or a list of pairs (JSON has no integer keys: pairs
    round-trip integer labels). Labels are strings, integers, floats or booleans; weights
    finite and non-negative.

    Raises
    ------
    TypeError, ValueError
        Naming ``name``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if value != "balanced":
            raise ValueError(f"{name} must be 'balanced', a dict label -> weight or None, got {value!r}")
        return value
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
        pairs = [tuple(p) for p in value]
    else:
        raise TypeError(f"{name} must be 'balanced', a dict label -> weight or None, got {value!r}")
    out = []
    for label, weight in pairs:
        if isinstance(label, np.generic):
            label = label.item()
        if not isinstance(label, (str, numbers.Integral, float)) or (isinstance(label, float)
                                                                       and not math.isfinite(label)):
            raise TypeError(f"{name} labels must be strings, numbers or booleans, got {label!r}")
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not (math.isfinite(weight)
                                                                                   and float(weight) >= 0):
            raise ValueError(f"{name}[{label!r}] must be a finite, non-negative number, got {weight!r}")
        out.append((label, float(weight)))
    if len({label for label, _ in out}) != len(out):
        raise ValueError(f"{name} names a label twice")
    try:
        out.sort(key=lambda pair: pair[0])
    except TypeError:
        raise TypeError(f"{name} labels must be mutually comparable (all numbers or all strings)") from None
    return tuple(out)


def _labels(y: Any, name: str = "y") -> np.ndarray:
    """1-D class labels as a NumPy array: missing, infinite and mixed labels are refused
    (see :func:`nnfast._validation.check_labels`); a pandas categorical gives its values."""
    arr = check_labels(y, name)
    if arr.ndim != 1:
        raise ValueError(f"class labels must be 1-D, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has no samples")
    return arr


def _words(y: Any, limit: int = 3) -> list[str]:
    """Up to ``limit`` distinct values of y when y holds text and none of it reads as a
    number (class labels); empty otherwise (no text, or numbers written as text, perhaps
    with a missing-value marker such as 'n/a' among them)."""
    values = np.asarray(y, dtype=object).ravel()
    texts = list(dict.fromkeys(v for v in values if isinstance(v, (str, bytes))))  # np.str_ is a str
    for v in texts:
        try:
            float(v)
            return []
        except ValueError:
            pass
    return [v.decode(errors="replace") if isinstance(v, bytes) else v for v in texts[:limit]]


def classes_array(classes: Any, name: str = "classes") -> np.ndarray:
    """Every class label of a classification, given apart from y (scikit-learn's
    ``partial_fit(..., classes=)``): 1-D, sorted, each label once, at least two.

    Raises
    ------
    ValueError
        For labels that are not 1-D, missing, named twice, or fewer than two.
    TypeError
        For labels that are not mutually comparable.
    """
    labels = _labels(classes, name)
    unique = Targets._unique(labels)
    if len(unique) != len(labels):
        raise ValueError(f"{name} names a label twice: {classes!r}")
    if len(unique) < 2:
        raise ValueError(f"{name} must name at least two classes, got {unique.tolist()}")
    return unique


def looks_like_labels(y: Any) -> bool:
    """Whether y, left to "auto", means classes, by the task rule of :func:`resolve_task`:
    1-D boolean, string or object labels, integers unless there are too many distinct
    values for the rows (a regression target), a pandas categorical whatever its
    categories, or a 2-D one-hot array. Floating-point y means regression. y is read as every entry point reads it (a pandas
    Series by its values, object arrays of numbers as numbers), so missing values and
    numbers mixed with strings raise here, before anything is made of y."""
    arr = target_array(y)
    if is_categorical(y):
        return True
    if arr.ndim == 1:
        return arr.size > 0 and _guess(arr)[0] == "classification"  # the task rule's own answer
    return _is_one_hot(arr)


class Targets:
    """Encoder of y for one loss. ``fit`` learns the classes; ``transform`` checks and encodes."""

    def __init__(self, loss: str) -> None:
        self.loss = loss
        self.kind: Optional[TargetKind] = None
        self.classes_: Optional[np.ndarray] = None
        self.n_outputs = 0
        self.flat = False  # regression on 1-D y: predictions come back 1-D
        self._indices: Optional[bool] = None

    @property
    def classes_are_indices(self) -> bool:
        """Whether the classes are 0, 1, ... as int64, so an index is its own label."""
        if self._indices is None:
            c = self.classes_
            self._indices = bool(c is not None and c.dtype == np.int64 and np.array_equal(c, np.arange(len(c))))
        return self._indices

    @property
    def is_classifier(self) -> bool:
        return self.loss in CLASSIFICATION_LOSSES

    @property
    def task(self) -> str:
        """"classification" or "regression"."""
        return task_of_loss(self.loss)

    @property
    def metric(self) -> str:
        return "accuracy" if self.is_classifier else "r2"

    @property
    def core_metric(self) -> _core.Metric:
        if self.kind in ("binary", "multilabel"):
            return _core.Metric.threshold_accuracy
        return _core.Metric.accuracy if self.is_classifier else _core.Metric.r2

    def fit(self, y: Any) -> "Targets":
        arr = np.asarray(y)
        if self.loss == "cross_entropy":
            if arr.ndim == 2:
                self.kind, self.classes_ = "soft", np.arange(arr.shape[1])
            else:
                self.kind, self.classes_ = "categorical", self._unique(_labels(y))
                if len(self.classes_) < 2:
                    raise ValueError(f"classification needs at least two classes; y has only one class, "
                                     f"{self.classes_.tolist()}")
            self.n_outputs = len(self.classes_)
        elif self.loss == "binary_cross_entropy":
            if arr.ndim == 2:
                self.kind, self.classes_ = "multilabel", np.arange(arr.shape[1])
                self.n_outputs = arr.shape[1]
            else:
                self.kind, self.classes_ = "binary", self._unique(_labels(y))
                if len(self.classes_) != 2:
                    raise ValueError(f"binary_cross_entropy needs exactly two classes in y, got "
                                     f"{len(self.classes_)}; use cross_entropy for more")
                self.n_outputs = 1
        else:
            if arr.ndim not in (1, 2):
                raise ValueError(f"y must be 1-D or 2-D, got shape {arr.shape}")
            self.kind, self.flat = "continuous", arr.ndim == 1
            self.n_outputs = 1 if arr.ndim == 1 else arr.shape[1]
        return self

    def _classes(self) -> np.ndarray:
        """classes_, which fit (or from_json) set for every kind of classification."""
        assert self.classes_ is not None, f"Targets of kind {self.kind!r} without classes"
        return self.classes_

    @staticmethod
    def _unique(labels: np.ndarray) -> np.ndarray:
        try:
            return np.unique(labels)
        except TypeError:
            raise TypeError("class labels must be mutually comparable (e.g. all numbers or all strings)") from None

    def transform(self, y: Any, dtype: np.dtype, name: str = "y", unseen_hint: str = "") -> np.ndarray:
        """y encoded as a C-ordered (samples, outputs) array of ``dtype``. Class labels
        given as a column (samples, 1) are read as 1-D, with a LabelColumnWarning;
        ``unseen_hint`` ends the error about labels outside the classes."""
        if self.kind in ("categorical", "binary"):
            arr = np.asarray(y)
            if arr.ndim == 2 and arr.shape[1] == 1:
                _silence.warn(f"A column-vector {name} was passed when a 1d array was expected: class labels of "
                              f"shape {arr.shape} are read as {name}.ravel(); pass 1-D labels", LabelColumnWarning,
                              stacklevel=3)
                y = arr.ravel()
            labels = _labels(y, name)
            classes = self._classes()
            try:
                index = np.searchsorted(classes, labels)
            except TypeError:
                raise ValueError(f"{name} labels are of another type ({labels.dtype}) than in training "
                                 f"({classes.dtype})") from None
            index = np.clip(index, 0, len(classes) - 1)
            unseen = classes[index] != labels
            if unseen.any():
                raise ValueError(f"{name} has labels not seen in training: {np.unique(labels[unseen])[:10].tolist()}; "
                                 f"known: {classes.tolist()}{unseen_hint}")
            if self.kind == "binary":
                return np.ascontiguousarray(index[:, None], dtype=dtype)
            Y = np.zeros((len(labels), self.n_outputs), dtype=dtype)
            Y[np.arange(len(labels)), index] = 1
            return Y
        try:
            Y = check_real(y, name, dtype, context=f" for loss {self.loss!r}")  # finite, C-ordered, in dtype
        except TypeError:
            words = _words(y) if self.kind == "continuous" else []
            if not words:
                raise
            raise TypeError(f"{name} holds words ({', '.join(map(repr, words))}): class labels, not numbers, and loss "
                            f"{self.loss!r} is a regression: for classes, use task='classification' (or a "
                            f"cross-entropy loss); for a regression, choose a numeric target") from None
        if self.kind == "continuous" and Y.ndim == 1:
            Y = Y[:, None]
        if Y.ndim != 2 or Y.shape[1] != self.n_outputs:
            raise ValueError(f"{name} must have shape (samples, {self.n_outputs}) here, got {np.shape(y)}")
        if Y.shape[0] == 0:
            raise ValueError(f"{name} has no samples")
        if self.kind in ("soft", "multilabel") and ((Y < 0) | (Y > 1)).any():
            raise ValueError(f"{name} must hold values in [0, 1] for loss {self.loss!r}")
        if self.kind == "soft" and not np.allclose(Y.sum(axis=1), 1.0, atol=1e-3):
            raise ValueError(f"each row of {name} must sum to 1 (one-hot or class probabilities)")
        return Y

    def class_weights(self, Y: np.ndarray, class_weight: Union[str, Tuple[Tuple[Any, float], ...]],
                      rows: Optional[np.ndarray] = None) -> np.ndarray:
        """Per-row weights, shape (samples,) float64, from the class of each row of the
        encoded targets Y (samples, outputs): a dict's weight (1 for classes it leaves
        out), or for "balanced" ``n / (n_classes * count of the row's class)`` counted over
        ``rows`` (all rows when None), as scikit-learn computes it.

        Raises
        ------
        ValueError
            For regression or multi-label targets, probability rows, and labels that are
            not classes of y.
        """
        if self.kind not in ("categorical", "binary", "soft"):
            what = "a regression" if self.kind == "continuous" else "multi-label classification"
            raise ValueError(f"class_weight applies to single-label classification, and this run is {what} (loss "
                             f"{self.loss!r}); weight rows with sample_weight instead")
        if self.kind == "binary":
            index = (Y[:, 0] > 0.5).astype(np.intp)
        else:
            if self.kind == "soft" and not (Y.max(axis=1) == 1).all():
                raise ValueError("class_weight needs one class per row; y holds class probabilities")
            index = np.argmax(Y, axis=1)
        classes = self._classes()
        n_classes = len(classes)
        if isinstance(class_weight, str):  # "balanced"
            counted = index if rows is None else index[rows]
            counts = np.bincount(counted, minlength=n_classes).astype(np.float64)
            per_class = np.zeros(n_classes)
            present = counts > 0
            per_class[present] = len(counted) / (np.count_nonzero(present) * counts[present])
        else:
            per_class = np.ones(n_classes)
            position = {label: i for i, label in enumerate(classes.tolist())}
            unknown = [label for label, _ in class_weight if label not in position]
            if unknown:
                hint = ""
                if any(isinstance(u, str) for u in unknown) and any(str(c) in unknown for c in position):
                    hint = " (keys read from JSON are strings: give [label, weight] pairs to keep numbers)"
                raise ValueError(f"class_weight names labels that are not classes of y: {unknown[:10]}; classes: "
                                 f"{classes.tolist()[:20]}{hint}")
            for label, weight in class_weight:
                per_class[position[label]] = weight
        return per_class[index]

    def decode(self, A: np.ndarray) -> np.ndarray:
        """Predictions from output activations A (samples, outputs)."""
        if self.kind in ("categorical", "soft"):
            predicted: np.ndarray = self._classes()[np.argmax(A, axis=1)]
            return predicted
        if self.kind == "binary":
            predicted = self._classes()[(A[:, 0] > 0.5).astype(np.intp)]
            return predicted
        if self.kind == "multilabel":
            return (A > 0.5).astype(np.int64)
        return A[:, 0].copy() if self.flat else A

    def proba(self, A: np.ndarray) -> np.ndarray:
        if self.kind == "binary":
            return np.column_stack([1.0 - A[:, 0], A[:, 0]]).astype(A.dtype)
        return A

    def to_json(self) -> Dict[str, Any]:
        classes = None
        if self.classes_ is not None:
            classes = {"values": self.classes_.tolist(), "dtype": self.classes_.dtype.str}
        return {"loss": self.loss, "kind": self.kind, "n_outputs": self.n_outputs, "flat": self.flat,
                "classes": classes}

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "Targets":
        t = cls(data["loss"])
        t.kind, t.n_outputs, t.flat = data["kind"], int(data["n_outputs"]), bool(data["flat"])
        if data["classes"] is not None:
            dtype = np.dtype(data["classes"]["dtype"])
            if dtype.kind == "O":
                t.classes_ = np.empty(len(data["classes"]["values"]), dtype=object)
                t.classes_[:] = data["classes"]["values"]
            else:
                t.classes_ = np.array(data["classes"]["values"], dtype=dtype)
        return t
