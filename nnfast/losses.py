"""Cost functions, computed by the compiled core.

The cost of a batch is the weighted mean of per-sample losses,
``sum_i w_i l_i / sum_i w_i`` (``w_i = 1`` without sample weights), where

========================  ======================================================
``mse``                   ``mean_k (p_k - y_k)^2``
``mae``                   ``mean_k |p_k - y_k|``
``binary_cross_entropy``  ``mean_k -[y_k log p_k + (1 - y_k) log(1 - p_k)]``
``cross_entropy``         ``sum_k -y_k log p_k``
========================  ======================================================

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

from typing import Any, Optional, TypeVar

import numpy as np
from numpy.typing import NDArray

from . import _core
from ._validation import check_name, check_real, check_sample_weight

__all__ = ["LOSSES", "mse", "mae", "binary_cross_entropy", "cross_entropy", "loss", "gradient"]

#: loss name -> core enum
LOSSES = {name: getattr(_core.Loss, name) for name in _core.Loss.__members__}
#: the output activation each loss pairs with when left to "auto"
DEFAULT_OUTPUT = {"mse": "identity", "mae": "identity", "binary_cross_entropy": "sigmoid",
                  "cross_entropy": "softmax"}


#: losses whose targets and predictions are probabilities
_PROBABILITY_LOSSES = ("binary_cross_entropy", "cross_entropy")


_F64 = NDArray[np.float64]


def _prepare(name: str, y_true: Any, y_pred: Any, sample_weight: Any) -> tuple[_F64, _F64, Optional[_F64]]:
    """y_true, y_pred as C-ordered float64 (samples, outputs) arrays and the weights, checked."""
    y = check_real(y_true, "y_true", np.float64)
    p = check_real(y_pred, "y_pred", np.float64)
    if y.shape != p.shape:
        raise ValueError(f"y_true has shape {y.shape} but y_pred has shape {p.shape}")
    if y.ndim == 1:
        y, p = y[:, None], p[:, None]
    if y.ndim != 2 or y.shape[0] == 0:
        raise ValueError(f"y_true and y_pred must be non-empty 1-D or 2-D arrays, got shape {np.shape(y_true)}")
    if y.shape[1] == 0:
        raise ValueError(f"y_true and y_pred have no outputs (shape {np.shape(y_true)}); a loss needs at least "
                         f"one column")
    if name in _PROBABILITY_LOSSES:
        for arr, label in ((y, "y_true"), (p, "y_pred")):
            if ((arr < 0) | (arr > 1)).any():
                raise ValueError(f"{label} must hold probabilities in [0, 1] for {name}; it holds values from "
                                 f"{arr.min():g} to {arr.max():g}")
    w = check_sample_weight(sample_weight, y.shape[0], np.float64)
    return y, p, w


_Value = TypeVar("_Value", float, _F64)


def _finite(value: _Value, name: str) -> _Value:
    if not np.all(np.isfinite(value)):
        raise ValueError(f"the {name} overflows float64: y_true and y_pred (or the weights) are too large; scale them")
    return value


def loss(name: str, y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """The cost ``name`` of predictions ``y_pred`` against ``y_true`` (weighted mean over samples).

    Parameters
    ----------
    name : str
        One of :data:`LOSSES`.
    y_true, y_pred : array of shape (n_samples,) or (n_samples, n_outputs)
        Finite real numbers; probabilities in [0, 1] for the cross-entropies.
    sample_weight : array of shape (n_samples,), optional
        Finite, non-negative, not all zero.

    Returns
    -------
    float
        The weighted mean over samples of the per-sample losses of the module's table.

    Raises
    ------
    TypeError, ValueError
        For inputs outside those forms, and when the result would overflow float64.
    """
    check_name(name, "loss", LOSSES)
    y, p, w = _prepare(name, y_true, y_pred, sample_weight)
    total, _ = _core.loss_forward_backward(LOSSES[name], _core.Activation.identity, 0.0, None, p, y, w, False)
    return float(_finite(total / (w.sum() if w is not None else y.shape[0]), name))


def gradient(name: str, y_true: Any, y_pred: Any, sample_weight: Any = None) -> np.ndarray:
    """The gradient of :func:`loss` with respect to ``y_pred``, in ``y_pred``'s shape (float64).

    Parameters
    ----------
    name : str
        One of :data:`LOSSES`.
    y_true, y_pred : array of shape (n_samples,) or (n_samples, n_outputs)
        As for :func:`loss`.
    sample_weight : array of shape (n_samples,), optional
        As for :func:`loss`.

    Returns
    -------
    ndarray of float64, the shape of ``y_pred``
        ``d loss / d y_pred``, including the ``1 / sum_i w_i`` of the weighted mean.

    Raises
    ------
    TypeError, ValueError
        As :func:`loss` raises them, and when a gradient is not finite.
    """
    check_name(name, "loss", LOSSES)
    y, p, w = _prepare(name, y_true, y_pred, sample_weight)
    shape = np.shape(y_pred)
    scale = 1.0 / (w.sum() if w is not None else y.shape[0])
    _, grad = _core.loss_forward_backward(LOSSES[name], _core.Activation.identity, 0.0, None, p, y, w, True, scale)
    assert grad is not None  # want_grad=True: the core returns the gradient
    return _finite(grad, f"gradient of {name}").reshape(shape)


def mse(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """Mean squared error, ``mean_k (p_k - y_k)^2`` averaged over samples.

    Parameters
    ----------
    y_true, y_pred : array of shape (n_samples,) or (n_samples, n_outputs)
        Real numbers, converted to float64; finite.
    sample_weight : array of shape (n_samples,), optional
        Finite, non-negative, not all zero; the cost is ``sum_i w_i l_i / sum_i w_i``.

    Returns
    -------
    float
        The weighted mean over samples, in the units of ``y`` squared.

    Raises
    ------
    TypeError, ValueError
        As :func:`loss` raises them.

    References
    ----------
    As scikit-learn's ``mean_squared_error`` (multioutput averaged uniformly),
    https://scikit-learn.org/stable/modules/model_evaluation.html#mean-squared-error
    """
    return loss("mse", y_true, y_pred, sample_weight)


def mae(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """Mean absolute error, ``mean_k |p_k - y_k|`` averaged over samples.

    Parameters
    ----------
    y_true, y_pred : array of shape (n_samples,) or (n_samples, n_outputs)
        Real numbers, converted to float64; finite.
    sample_weight : array of shape (n_samples,), optional
        Finite, non-negative, not all zero; the cost is ``sum_i w_i l_i / sum_i w_i``.

    Returns
    -------
    float
        The weighted mean over samples, in the units of ``y``.

    Raises
    ------
    TypeError, ValueError
        As :func:`loss` raises them.

    References
    ----------
    As scikit-learn's ``mean_absolute_error`` (multioutput averaged uniformly),
    https://scikit-learn.org/stable/modules/model_evaluation.html#mean-absolute-error
    """
    return loss("mae", y_true, y_pred, sample_weight)


def binary_cross_entropy(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """Binary cross-entropy of probabilities ``y_pred`` in [0, 1]:
    ``mean_k -[y_k log p_k + (1 - y_k) log(1 - p_k)]`` averaged over samples.

    Parameters
    ----------
    y_true, y_pred : array of shape (n_samples,) or (n_samples, n_outputs)
        Real numbers, converted to float64; ``y_pred`` in [0, 1], clipped
        to ``[eps, 1 - eps]``; ``y_true`` in [0, 1].
    sample_weight : array of shape (n_samples,), optional
        Finite, non-negative, not all zero; the cost is ``sum_i w_i l_i / sum_i w_i``.

    Returns
    -------
    float
        The weighted mean over samples, in the units of nats (natural logarithm).

    Raises
    ------
    TypeError, ValueError
        As :func:`loss` raises them.

    References
    ----------
    The negative Bernoulli log-likelihood: Goodfellow, Bengio and Courville (2016), *Deep
    Learning*, section 6.2.2.2; as PyTorch's ``BCELoss`` with ``reduction="mean"`` over
    outputs, https://pytorch.org/docs/stable/generated/torch.nn.BCELoss.html
    """
    return loss("binary_cross_entropy", y_true, y_pred, sample_weight)


def cross_entropy(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """Categorical cross-entropy of one-hot (or soft) targets and class probabilities:
    ``sum_k -y_k log p_k`` averaged over samples.

    Parameters
    ----------
    y_true, y_pred : array of shape (n_samples,) or (n_samples, n_outputs)
        Real numbers, converted to float64; rows of ``y_pred`` are class
        probabilities in [0, 1] (clipped to ``[eps, 1 - eps]``), one column per class.
    sample_weight : array of shape (n_samples,), optional
        Finite, non-negative, not all zero; the cost is ``sum_i w_i l_i / sum_i w_i``.

    Returns
    -------
    float
        The weighted mean over samples, in the units of nats (natural logarithm).

    Raises
    ------
    TypeError, ValueError
        As :func:`loss` raises them.

    References
    ----------
    The negative multinomial log-likelihood: Bishop (2006), *Pattern Recognition and Machine
    Learning*, eq. 4.108; as scikit-learn's ``log_loss`` for one-hot ``y_true``,
    https://scikit-learn.org/stable/modules/model_evaluation.html#log-loss
    """
    return loss("cross_entropy", y_true, y_pred, sample_weight)
