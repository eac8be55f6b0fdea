"""How targets y map to the network's outputs, and outputs back to predictions.

The loss decides the task:
  cross_entropy          classes: labels (any sortable hashables) -> one-hot; or a 2-D
                         array of one-hot / probability rows
  binary_cross_entropy   two classes -> one output; or a 2-D 0/1 array (multi-label)
  mse, mae               real values, 1-D (one output) or 2-D (several)
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from . import _core
from ._convert import is_categorical, target_array
from ._validation import check_labels, check_real

CLASSIFICATION_LOSSES = ("cross_entropy", "binary_cross_entropy")


def _labels(y: Any, name: str = "y") -> np.ndarray:
    """1-D class labels as a NumPy array: missing, infinite and mixed labels are refused
    (see :func:`nnfast._validation.check_labels`); a pandas categorical gives its values."""
    arr = check_labels(y, name)
    if arr.ndim != 1:
        raise ValueError(f"class labels must be 1-D, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has no samples")
    return arr


def looks_like_labels(y: Any) -> bool:
    """Whether y, left to "auto", means classes: 1-D integer, boolean, string or object
    labels (a pandas categorical whatever its categories), or a 2-D one-hot array.
    Floating-point y means regression. y is read as every entry point reads it (a pandas
    Series by its values, object arrays of numbers as numbers), so missing values and
    numbers mixed with strings raise here, before anything is made of y."""
    arr = target_array(y)
    if is_categorical(y):
        return True
    if arr.ndim == 1:
        return arr.dtype.kind in "biuUSO"
    if arr.ndim == 2 and arr.dtype.kind in "biuf" and arr.size:
        return bool(np.isin(arr, (0, 1)).all() and (arr.sum(axis=1) == 1).all())
    return False


class Targets:
    """Encoder of y for one loss. ``fit`` learns the classes; ``transform`` checks and encodes."""

    def __init__(self, loss: str) -> None:
        self.loss = loss
        self.kind: Optional[str] = None  # "categorical", "soft", "binary", "multilabel", "continuous"
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
    def metric(self) -> str:
        return "accuracy" if self.is_classifier else "r2"

    @property
    def core_metric(self):
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
                    raise ValueError(f"classification needs at least two classes; y has only {self.classes_.tolist()}")
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

    @staticmethod
    def _unique(labels: np.ndarray) -> np.ndarray:
        try:
            return np.unique(labels)
        except TypeError:
            raise TypeError("class labels must be mutually comparable (e.g. all numbers or all strings)") from None

    def transform(self, y: Any, dtype: np.dtype, name: str = "y") -> np.ndarray:
        """y encoded as a C-ordered (samples, outputs) array of ``dtype``."""
        if self.kind in ("categorical", "binary"):
            labels = _labels(y, name)
            try:
                index = np.searchsorted(self.classes_, labels)
            except TypeError:
                raise ValueError(f"{name} labels are of another type ({labels.dtype}) than in training "
                                 f"({self.classes_.dtype})") from None
            index = np.clip(index, 0, len(self.classes_) - 1)
            unseen = self.classes_[index] != labels
            if unseen.any():
                raise ValueError(f"{name} has labels not seen in training: {np.unique(labels[unseen])[:10].tolist()}; "
                                 f"known: {self.classes_.tolist()}")
            if self.kind == "binary":
                return np.ascontiguousarray(index[:, None], dtype=dtype)
            Y = np.zeros((len(labels), self.n_outputs), dtype=dtype)
            Y[np.arange(len(labels)), index] = 1
            return Y
        Y = check_real(y, name, dtype, context=f" for loss {self.loss!r}")  # finite, C-ordered, in dtype
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

    def decode(self, A: np.ndarray) -> np.ndarray:
        """Predictions from output activations A (samples, outputs)."""
        if self.kind in ("categorical", "soft"):
            return self.classes_[np.argmax(A, axis=1)]
        if self.kind == "binary":
            return self.classes_[(A[:, 0] > 0.5).astype(np.intp)]
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
