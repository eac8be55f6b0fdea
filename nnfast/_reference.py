"""A readable NumPy twin of the compiled core, one function per kernel.

Nothing here is used to train; tests run the same cases through ``nnfast._core`` and
these functions and compare. Read it as the definition of what each kernel computes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import DTypeLike, NDArray

    _F = NDArray[np.floating[Any]]

# NumPy's stubs type some expressions as Any (reductions along an axis such as sum and mean,
# arithmetic on some ufunc results): a function returning one puts it in a variable of the
# array type first.


def activate(z: _F, name: str, alpha: float = 0.0) -> _F:
    """f(z) element-wise (row-wise for softmax)."""
    if name == "identity":
        return z.copy()
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, alpha * z)
    if name == "elu":
        return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))
    out: _F
    if name == "sigmoid":
        out = 0.5 * (1 + np.tanh(0.5 * z))  # = 1 / (1 + exp(-z)), without overflow
        return out
    if name == "tanh":
        return np.tanh(z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        out = e / e.sum(axis=1, keepdims=True)
        return out
    raise ValueError(name)


def bias_activation_forward(z: _F, b: _F, name: str, alpha: float = 0.0) -> _F:
    """a (B,O) = f(z + b)"""
    return activate(z + b, name, alpha)


def activation_backward(da: _F, a: _F, name: str, alpha: float = 0.0) -> _F:
    """dz (B,O) = da * f'(z), with f' written in terms of a = f(z)."""
    if name == "identity":
        return da.copy()
    if name == "relu":
        return da * (a > 0)
    if name == "leaky_relu":
        return da * np.where(a > 0, 1.0, alpha)
    if name == "elu":
        return da * np.where(a > 0, 1.0, a + alpha)
    if name == "sigmoid":
        return da * a * (1 - a)
    if name == "tanh":
        return da * (1 - a * a)
    if name == "softmax":
        dz: _F = a * (da - (da * a).sum(axis=1, keepdims=True))
        return dz
    raise ValueError(name)


def dense_forward(x: _F, w: _F) -> _F:
    """z (B,O) = x (B,I) @ w (I,O)"""
    return x @ w


def dense_backward(dz: _F, x: _F, w: _F, want_dx: bool = True) -> Tuple[Optional[_F], _F, _F]:
    """(dx (B,I) or None, dw (I,O), db (O))"""
    return (dz @ w.T if want_dx else None), x.T @ dz, dz.sum(axis=0)


def _clip(dtype: DTypeLike) -> float:
    return 1e-7 if dtype == np.float32 else 1e-12


def per_sample_loss(name: str, y: _F, a: _F, z: Optional[_F] = None) -> _F:
    """l_i (B,): mse and mae and binary cross-entropy average over outputs, cross-entropy sums.
    With logits z given, the cross-entropies are computed from z (softmax / sigmoid outputs)."""
    eps = _clip(a.dtype)
    l: _F
    if name == "mse":
        l = ((a - y) ** 2).mean(axis=1)
    elif name == "mae":
        l = np.abs(a - y).mean(axis=1)
    elif name == "binary_cross_entropy":
        if z is not None:
            l = (np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z)))).mean(axis=1)
        else:
            p = np.clip(a, eps, 1 - eps)
            l = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(axis=1)
    elif name == "cross_entropy":
        if z is not None:
            m = z.max(axis=1, keepdims=True)
            lse = m + np.log(np.exp(z - m).sum(axis=1, keepdims=True))
            l = (y * (lse - z)).sum(axis=1)
        else:
            l = -(y * np.log(np.maximum(a, eps))).sum(axis=1)
    else:
        raise ValueError(name)
    return l


def loss_gradient_wrt_a(name: str, y: _F, a: _F) -> _F:
    """dl_i/da (B,O) of :func:`per_sample_loss` on probabilities (the clipped forms)."""
    eps = _clip(a.dtype)
    O = a.shape[1]
    da: _F
    if name == "mse":
        da = 2 * (a - y) / O
        return da
    if name == "mae":
        da = np.sign(a - y) / O
        return da
    if name == "binary_cross_entropy":
        p = np.clip(a, eps, 1 - eps)
        inside = (a > eps) & (a < 1 - eps)
        return np.where(inside, (-y / p + (1 - y) / (1 - p)) / O, 0.0)
    if name == "cross_entropy":
        return np.where(a > eps, -y / np.maximum(a, eps), 0.0)
    raise ValueError(name)


def loss_forward_backward(name: str, out: str, alpha: float, z: Optional[_F], a: _F,
                          y: _F, w: Optional[_F], want_grad: bool, scale: float = 1.0
                          ) -> Tuple[float, Optional[_F]]:
    """(sum_i w_i l_i, dz): dz = scale * w_i * dl_i/dz through the output activation ``out``."""
    fused = (name, out) in (("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid"))
    weights = np.ones(len(a), dtype=a.dtype) if w is None else w
    l = per_sample_loss(name, y, a, z if fused else None)
    total = float((weights.astype(np.float64) * l).sum())
    if not want_grad:
        return total, None
    g = (scale * weights)[:, None]
    if fused and name == "cross_entropy":
        dz = g * (a * y.sum(axis=1, keepdims=True) - y)
    elif fused:
        dz = g * (a - y) / a.shape[1]
    else:
        dz = activation_backward(g * loss_gradient_wrt_a(name, y, a), a, out, alpha)
    return total, dz.astype(a.dtype)


def optimizer_step(kind: str, p: _F, g: _F, s1: _F, s2: _F, n_decay: int, t: int,
                   lr: float, momentum: float = 0.0, nesterov: bool = False, beta1: float = 0.9,
                   beta2: float = 0.999, rho: float = 0.9, eps: float = 1e-8, weight_decay: float = 0.0,
                   l1: float = 0.0, l2: float = 0.0, clip_norm: float = 0.0) -> Tuple[float, float]:
    """One step, in place, exactly as documented in :mod:`nnfast.optimizers`;
    returns (penalty before the step, gradient norm or NaN when not clipping)."""
    w = p[:n_decay]
    full = g.astype(np.float64).copy()
    full[:n_decay] += l2 * w + l1 * np.sign(w)
    penalty = float(l1 * np.abs(w.astype(np.float64)).sum() + 0.5 * l2 * (w.astype(np.float64) ** 2).sum())
    norm = float("nan")
    if clip_norm > 0:
        norm = float(np.sqrt((full**2).sum()))
        if norm > clip_norm:
            full *= clip_norm / norm
    full = full.astype(p.dtype)
    if kind == "sgd":
        if momentum == 0:
            p -= lr * full
        else:
            s1[:] = momentum * s1 + full
            p -= lr * (full + momentum * s1 if nesterov else s1)
    elif kind == "adagrad":
        s1 += full * full
        p -= lr * full / (np.sqrt(s1) + eps)
    elif kind == "rmsprop":
        s1[:] = rho * s1 + (1 - rho) * full * full
        p -= lr * full / (np.sqrt(s1) + eps)
    elif kind in ("adam", "adamw"):
        if kind == "adamw":
            p[:n_decay] -= lr * weight_decay * p[:n_decay]
        s1[:] = beta1 * s1 + (1 - beta1) * full
        s2[:] = beta2 * s2 + (1 - beta2) * full * full
        m_hat = s1 / (1 - beta1**t)
        v_hat = s2 / (1 - beta2**t)
        p -= lr * m_hat / (np.sqrt(v_hat) + eps)
    else:
        raise ValueError(kind)
    return penalty, norm


def network_cost_and_gradient(X: _F, Y: _F, Ws: Sequence[_F], bs: Sequence[_F],
                              activations: Sequence[str], loss: str, alphas: Sequence[float],
                              w: Optional[_F] = None, l1: float = 0.0, l2: float = 0.0,
                              masks: Optional[Sequence[Optional[_F]]] = None) -> Tuple[float, List[_F], List[_F]]:
    """Cost (weighted mean loss + penalty) of a dense network and its gradient by backprop.

    ``masks[l]`` (B, inputs of layer l), optional, is the inverted-dropout multiplier
    (0 or 1/keep) applied to the inputs of layer l. Returns (cost, [dW], [db]).
    """
    L = len(Ws)
    masks = masks or [None] * L
    inputs: List[_F] = []
    a = X
    z: Optional[_F] = None
    for l in range(L):
        mask = masks[l]
        if mask is not None:
            a = a * mask
        inputs.append(a)
        z = a @ Ws[l] + bs[l]
        a = activate(z, activations[l], alphas[l])
    weights = np.ones(len(X), dtype=X.dtype) if w is None else w
    total, dz = loss_forward_backward(loss, activations[-1], alphas[-1], z, a, Y, w, True, 1.0 / weights.sum())
    cost = total / float(weights.sum())
    dWs: List[_F] = []  # from the last layer to the first, reversed at the end
    dbs: List[_F] = []
    for l in range(L - 1, -1, -1):
        assert dz is not None  # asked for: want_grad=True above, want_dx=True below
        dx, dW, db = dense_backward(dz, inputs[l], Ws[l], want_dx=l > 0)
        dWs.append(dW + l2 * Ws[l] + l1 * np.sign(Ws[l]))
        dbs.append(db)
        cost += l1 * np.abs(Ws[l]).sum() + 0.5 * l2 * (Ws[l] ** 2).sum()
        if l > 0:
            assert dx is not None
            mask = masks[l]
            if mask is not None:
                dx = dx * mask
            below = inputs[l] if mask is None else _undo_mask(inputs[l], mask)
            dz = activation_backward(dx, below, activations[l - 1], alphas[l - 1])
    return float(cost), dWs[::-1], dbs[::-1]


def _undo_mask(a_masked: _F, mask: _F) -> _F:
    # activation before dropout where kept (a = masked / multiplier); dropped entries get no gradient anyway
    safe = np.where(mask > 0, mask, 1.0)
    return a_masked / safe


def named_parameters(Ws: Sequence[_F], bs: Sequence[_F]) -> Dict[str, _F]:
    out: Dict[str, _F] = {}
    for l, (W, b) in enumerate(zip(Ws, bs), start=1):
        out[f"W{l}"], out[f"b{l}"] = W, b
    return out


def r2_score(y: _F, a: _F, w: Optional[_F] = None) -> float:
    """R^2 of predictions a (B,O) for targets y (B,O), rows weighted by w (B) or not,
    averaged uniformly over the outputs, in float64 whatever the inputs' dtype: per output
    ``1 - sum w (y - a)^2 / sum w (y - mean)^2``, the denominator from a second, centred
    pass (with the first-order correction for the rounding of the mean); an output whose
    targets are constant scores 1 when predicted exactly, else 0 (scikit-learn's r2_score
    with force_finite). The twin of the core's metric sums (csrc/losses.hpp), whatever way
    it splits the rows."""
    y, a = np.asarray(y, np.float64), np.asarray(a, np.float64)
    w = np.ones(len(y)) if w is None else np.asarray(w, np.float64)
    total = math.fsum(w)
    scores = []
    for k in range(y.shape[1]):
        mean = math.fsum(w * y[:, k]) / total
        d = y[:, k] - mean
        c = math.fsum(w * d)
        sst = max(math.fsum(w * d * d) - c * c / total, 0.0)
        sse = math.fsum(w * (y[:, k] - a[:, k]) ** 2)
        scores.append(1.0 - sse / sst if sst > 0 else (1.0 if sse == 0 else 0.0))
    return float(np.mean(scores))
