"""A cheap proof that a network's outputs and cost are finite on data of bounded size.

Training promises never to return a model whose outputs on its training data are NaN or
infinite. Checking that by running the model over every row costs about a third of an
epoch; this module usually makes the pass unnecessary. If every input satisfies
``|x_j| <= x_max``, then a dense layer's logits satisfy ``|z| <= |W|^T m + |b|`` where ``m``
bounds its inputs, and each activation bounds its outputs in turn (``|relu(z)| <= |z|``,
``|tanh(z)| <= 1``, ...). Carried through the layers in float64 with a margin for rounding,
that bound costs O(parameters) and no pass over the data. When it stays far below the
largest number of the model's dtype, every value the forward pass and the cost compute
is finite; when it does not (huge inputs, huge weights, very deep networks), the caller
runs the model over the data instead.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from . import _core

if TYPE_CHECKING:
    from numpy.typing import NDArray

_A = _core.Activation
# rows of W per block when summing |W|: bounds the temporaries, whatever the layer's size
_BLOCK_ELEMENTS = 1 << 16


def certify_finite(net: _core.Network32 | _core.Network64, x_max: float, y_max: Optional[float], w_max: float, n_rows: int) -> bool:
    """Whether, for every row with ``|x_j| <= x_max`` (and targets ``|y| <= y_max`` for
    losses on values, None for classes), the network's logits, outputs and the summed cost
    of ``n_rows`` rows weighted up to ``w_max`` are finite. False means "not proven", not
    "overflows". O(n_params); reads the parameters, never the data.
    """
    info = np.finfo(np.float32 if net.params.dtype == np.float32 else np.float64)
    u = float(info.eps) / 2  # unit roundoff
    limit = float(info.max) / 16  # headroom for sums of two bounded values and rounding
    with np.errstate(over="ignore", invalid="ignore"):
        m = np.full(net.inputs, float(x_max))
        scaling = net.standardization()
        if scaling is not None:  # x' = (x - mean) * (1 / std), each step rounded in the dtype
            mean, std = (np.asarray(a, dtype=np.float64) for a in scaling)
            m = (m + np.abs(mean)) / std * (1 + 4 * u)
        z_max = 0.0
        for l, spec in enumerate(net.layers):
            if not _finite_below(m, limit):
                return False
            W, b = net.layer_views(l)
            fan_in = W.shape[0]
            if (fan_in + 2) * u > 0.25:  # the rounding bound below needs n u << 1
                return False
            z = np.abs(b).astype(np.float64)
            step = max(1, _BLOCK_ELEMENTS // max(1, W.shape[1]))
            for start in range(0, fan_in, step):
                z += m[start:start + step] @ np.abs(W[start:start + step]).astype(np.float64)
            # a dot product of n terms, then the bias: computed within (1 + 2 (n + 1) u) of the exact bound
            z *= 1 + 2 * (fan_in + 2) * u
            if not _finite_below(z, limit):
                return False
            z_max = float(z.max())
            m = _activation_bound(spec.activation, spec.alpha, z) * (1 + 8 * u)
        a_max = float(m.max())
        if not a_max <= limit:
            return False
        if y_max is not None and not a_max + y_max <= limit:  # the difference a - y is taken in the dtype
            return False
        # the loss of a row, a sum in float64: squared or absolute differences, or log-sum-exp
        # terms of logits (cross-entropies, at most 2 z_max plus a log), whichever is larger
        d = a_max + (y_max or 1.0)
        row_loss = d * d + d + 2 * z_max + 64.0
        total = row_loss * max(w_max, 1.0) * max(n_rows, 1)
    return bool(math.isfinite(total) and total <= float(np.finfo(np.float64).max) / 16)


def _finite_below(v: NDArray[np.float64], limit: float) -> bool:
    return bool(np.isfinite(v).all() and v.max(initial=0.0) <= limit)


def _activation_bound(activation: _core.Activation, alpha: float, z: NDArray[np.float64]) -> NDArray[np.float64]:
    """Bounds on |f(z)| per unit, given bounds z on |z|."""
    if activation in (_A.sigmoid, _A.tanh, _A.softmax):
        return np.ones_like(z)
    if activation == _A.leaky_relu:
        return z * max(1.0, abs(alpha))
    if activation == _A.elu:  # alpha (e^z - 1) lies in (-alpha, 0] for z <= 0
        return np.maximum(z, abs(alpha))
    return z  # identity, relu
