"""What a prediction computes, read once from a model for every exporter.

A prediction of nnfast's core (``csrc/network.hpp``, ``forward_infer``) is, for one row x:

1. when the model standardises its inputs: ``x' = (x - mean) * inv_std`` with
   ``inv_std = 1 / std`` rounded to the model's dtype;
2. for each dense layer: ``a = f(x' @ W + b)``, W of shape (inputs, units), f one of
   identity, relu, leaky_relu (``x if x > 0 else alpha x``), elu
   (``x if x > 0 else alpha expm1(x)``), sigmoid, tanh, softmax (last layer only);
3. the outputs read by the targets' kind: class probabilities and labels for classifiers
   (``binary``: one sigmoid unit, P(classes_[1]), label ``classes_[p > 0.5]``;
   ``categorical``/``soft``: the arg-max of the softmax; ``multilabel``: each output
   ``> 0.5``), values for regression (1-D when trained on 1-D y).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import numpy as np
from numpy.typing import NDArray

from ..model import Sequential


@dataclass(frozen=True)
class Layer:
    """One dense layer: ``activation(x @ W + b)``.

    Attributes
    ----------
    W : ndarray of shape (inputs, units)
        The weights, in the model's dtype (float32 or float64).
    b : ndarray of shape (units,)
        The biases, in the model's dtype.
    activation : str
        "identity", "relu", "leaky_relu", "elu", "sigmoid", "tanh" or "softmax".
    alpha : numpy.float32 or numpy.float64
        The leaky_relu slope or the elu scale, in the model's dtype (0 for the others).
    """

    W: NDArray[np.floating[Any]]
    b: NDArray[np.floating[Any]]
    activation: str
    alpha: np.floating[Any]


@dataclass(frozen=True)
class NetworkDescription:
    """A trained (or only built) model as plain arrays.

    Attributes
    ----------
    dtype : numpy.dtype
        float32 or float64: the dtype of every array here (but ``classes``).
    n_inputs : int
        Features per row.
    n_outputs : int
        Outputs per row (units of the last layer).
    mean : ndarray of shape (n_inputs,), or None
        The input standardisation is ``(x - mean) * inv_std``; None when the model
        does not standardise.
    inv_std : ndarray of shape (n_inputs,), or None
        ``1 / std`` rounded to ``dtype`` as the core rounds it; None with ``mean``.
    layers : tuple of Layer
        The dense layers, first to last.
    kind : str or None
        The targets' kind ("categorical", "soft", "binary", "multilabel",
        "continuous"), or None for a model that has not been fitted (its outputs are
        then the output layer's activations).
    classes : ndarray of shape (n_classes,), or None
        The class labels of a classifier, in their own dtype (int64, str, bool, ...);
        None for a regressor or an unfitted model.
    flat : bool
        Whether a regressor was trained on 1-D y (its predictions are then 1-D).
    feature_names : tuple of str, or None
        The names of the input columns, in order, when the model was fitted on a
        DataFrame or a CSV with a header (``feature_names_in_``); else None.
    """

    dtype: np.dtype
    n_inputs: int
    n_outputs: int
    mean: Optional[NDArray[np.floating[Any]]]
    inv_std: Optional[NDArray[np.floating[Any]]]
    layers: Tuple[Layer, ...]
    kind: Optional[str]
    classes: Optional[np.ndarray]
    flat: bool
    feature_names: Optional[Tuple[str, ...]] = None

    @property
    def is_classifier(self) -> bool:
        """Whether the model classifies (any kind but "continuous" and None)."""
        return self.kind in ("categorical", "soft", "binary", "multilabel")

    @property
    def has_labels(self) -> bool:
        """Whether a row has one class label (not multilabel)."""
        return self.kind in ("categorical", "soft", "binary")


def network_of(model: Sequential) -> NetworkDescription:
    """The description of ``model`` (copies of its parameters: later training does not change it).

    Parameters
    ----------
    model : nnfast.Sequential
        A built model, float32 or float64.

    Returns
    -------
    NetworkDescription
        Its arrays in the model's dtype.

    Raises
    ------
    TypeError
        If ``model`` is not an :class:`nnfast.Sequential`.
    RuntimeError
        If it has not been built.
    ValueError
        If a parameter is NaN or infinite (nothing finite could be exported).
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"expected an nnfast.Sequential, got {type(model).__name__}")
    net = model._core_net()
    dtype = np.dtype(model.dtype)
    params = model.parameters()
    layers: List[Layer] = []
    for l, spec in enumerate(net.layers):
        W, b = params[f"W{l + 1}"].copy(), params[f"b{l + 1}"].copy()
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            raise ValueError(f"layer {l + 1} of the model has NaN or infinite parameters; there is nothing to export")
        layers.append(Layer(W, b, spec.activation.name, dtype.type(spec.alpha)))
    scaling = net.standardization()
    mean = inv_std = None
    if scaling is not None:
        mean = np.array(scaling[0], dtype=dtype)
        inv_std = (dtype.type(1) / np.array(scaling[1], dtype=dtype)).astype(dtype)  # as the core rounds it
    targets = model._targets
    return NetworkDescription(dtype=dtype, n_inputs=net.inputs, n_outputs=net.outputs, mean=mean, inv_std=inv_std,
                              layers=tuple(layers), kind=None if targets is None else targets.kind,
                              classes=None if targets is None else targets.classes_,
                              flat=bool(targets is not None and targets.flat),
                              feature_names=None if model.feature_names_in_ is None
                              else tuple(str(n) for n in model.feature_names_in_.tolist()))
