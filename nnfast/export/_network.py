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
    """One dense layer: ``activation(x @ W + b)``; W (inputs, units), b (units,), alpha the
    leaky_relu slope or elu scale in the model's dtype (0 for the others)."""

    W: NDArray[np.floating[Any]]
    b: NDArray[np.floating[Any]]
    activation: str
    alpha: np.floating[Any]


@dataclass(frozen=True)
class NetworkDescription:
    """A trained (or only built) model as plain arrays. ``kind`` is the targets' kind
    ("categorical", "soft", "binary", "multilabel", "continuous") or None for a model
    that has not been fitted (its outputs are then the output layer's activations)."""

    dtype: np.dtype
    n_inputs: int
    n_outputs: int
    mean: Optional[NDArray[np.floating[Any]]]
    inv_std: Optional[NDArray[np.floating[Any]]]
    layers: Tuple[Layer, ...]
    kind: Optional[str]
    classes: Optional[np.ndarray]
    flat: bool

    @property
    def is_classifier(self) -> bool:
        return self.kind in ("categorical", "soft", "binary", "multilabel")

    @property
    def has_labels(self) -> bool:
        """Whether a row has one class label (not multilabel)."""
        return self.kind in ("categorical", "soft", "binary")


def network_of(model: Sequential) -> NetworkDescription:
    """The description of ``model`` (copies of its parameters: later training does not change it).

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
                              flat=bool(targets is not None and targets.flat))
