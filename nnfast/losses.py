"""Cost functions, computed by the compiled core.

The cost of a batch is the weighted mean of per-sample losses,
``sum_i w_i l_i / sum_i w_i`` (``w_i = 1`` without sample weights), where

================== ======================================================
``mse``            ``mean_k (p_k - y_k)^2``
``mae``            ``mean_k |p_k - y_k|``
``binary_cross_entropy``  ``mean_k -[y_k log p_k + (1 - y_k) log(1 - p_k)]``
``cross_entropy``  ``sum_k -y_k log p_k``
================== ======================================================

for predictions ``p`` and targets ``y`` of shape (samples, outputs). Inside a model,
cross-entropies are computed from the logits of their softmax or sigmoid output, which
is exact where ``p`` rounds to 0 or 1; the functions here take probabilities and clip
them to ``[eps, 1 - eps]``.

Examples
--------
>>> import numpy as np, nnfast as nf
>>> round(nf.losses.mse(np.array([1.0, 2.0]), np.array([1.5, 2.0])), 4)
0.125
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core
from ._validation import c_array, check_name, check_sample_weight

__all__ = ["LOSSES", "mse", "mae", "binary_cross_entropy", "cross_entropy", "loss", "gradient"]

#: loss name -> core enum
LOSSES = {name: getattr(_core.Loss, name) for name in _core.Loss.__members__}
#: the output activation each loss pairs with when left to "auto"
DEFAULT_OUTPUT = {"mse": "identity", "mae": "identity", "binary_cross_entropy": "sigmoid",
                  "cross_entropy": "softmax"}


def _prepare(y_true: Any, y_pred: Any, sample_weight: Any):
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if y.shape != p.shape:
        raise ValueError(f"y_true has shape {y.shape} but y_pred has shape {p.shape}")
    if y.ndim == 1:
        y, p = y[:, None], p[:, None]
    if y.ndim != 2 or y.shape[0] == 0:
        raise ValueError("y_true and y_pred must be non-empty 1-D or 2-D arrays")
    if not (np.isfinite(y).all() and np.isfinite(p).all()):
        raise ValueError("y_true and y_pred must be finite")
    w = check_sample_weight(sample_weight, y.shape[0], np.float64)
    return c_array(y, np.float64), c_array(p, np.float64), w


def loss(name: str, y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """The cost ``name`` of predictions ``y_pred`` against ``y_true`` (weighted mean over samples)."""
    check_name(name, "loss", LOSSES)
    y, p, w = _prepare(y_true, y_pred, sample_weight)
    total, _ = _core.loss_forward_backward(LOSSES[name], _core.Activation.identity, 0.0, None, p, y, w, False)
    return float(total / (w.sum() if w is not None else y.shape[0]))


def gradient(name: str, y_true: Any, y_pred: Any, sample_weight: Any = None) -> np.ndarray:
    """The gradient of :func:`loss` with respect to ``y_pred``, in ``y_pred``'s shape."""
    check_name(name, "loss", LOSSES)
    shape = np.shape(y_pred)
    y, p, w = _prepare(y_true, y_pred, sample_weight)
    scale = 1.0 / (w.sum() if w is not None else y.shape[0])
    _, grad = _core.loss_forward_backward(LOSSES[name], _core.Activation.identity, 0.0, None, p, y, w, True, scale)
    return grad.reshape(shape)


def mse(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """Mean squared error."""
    return loss("mse", y_true, y_pred, sample_weight)


def mae(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """Mean absolute error."""
    return loss("mae", y_true, y_pred, sample_weight)


def binary_cross_entropy(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """Binary cross-entropy of probabilities ``y_pred`` in [0, 1]."""
    return loss("binary_cross_entropy", y_true, y_pred, sample_weight)


def cross_entropy(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """Categorical cross-entropy of one-hot (or soft) targets and class probabilities."""
    return loss("cross_entropy", y_true, y_pred, sample_weight)
