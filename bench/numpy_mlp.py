"""A plain-NumPy multilayer perceptron: the peer that shows what nnfast's C++ loop buys.

It does the same work as nnfast's training epoch, the way a competent NumPy user would
write it: vectorised, float32 throughout, ``@`` for every matrix product (so the GEMMs
run in NumPy's own OpenBLAS), in-place updates where they are natural, no tricks.

The math is nnfast's:
  * hidden layers ``a = relu(x @ W + b)``, output ``softmax(x @ W + b)``;
  * cost: softmax cross-entropy from the logits (log-sum-exp), mean over the batch;
  * backward: ``dW = a_prev.T @ dz``, ``db = sum_rows dz``, ``da = dz @ W.T`` (not for the
    input layer), ``dz = da * [a > 0]``;
  * Adam with bias correction folded into the step, eps 1e-8:
    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``;
  * each epoch a fresh permutation of the rows, batches gathered by fancy indexing.

Like nnfast's epoch it accumulates the training loss; it does not compute accuracy
(nnfast's epoch does, so this comparison leans, slightly, towards NumPy).
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

__all__ = ["NumpyMLP"]


class NumpyMLP:
    """ReLU hidden layers and a softmax output, trained with Adam on softmax cross-entropy.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths from the input to the output, e.g. ``(784, 256, 128, 10)``.
    seed : int
        Seeds the initial weights (He normal for the hidden layers, Xavier normal for
        the output, as nnfast's ``init="auto"``) and the batch order.
    """

    def __init__(self, sizes: Sequence[int], seed: int = 0, lr: float = 1e-3, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8, dtype=np.float32) -> None:
        if len(sizes) < 2:
            raise ValueError("need at least an input and an output width")
        self.dtype = np.dtype(dtype)
        self.rng = np.random.default_rng(seed)
        last = len(sizes) - 2
        self.W: List[np.ndarray] = []
        self.b: List[np.ndarray] = []
        for l, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            std = np.sqrt(2.0 / (fan_in + fan_out)) if l == last else np.sqrt(2.0 / fan_in)
            self.W.append((self.rng.standard_normal((fan_in, fan_out)) * std).astype(self.dtype))
            self.b.append(np.zeros(fan_out, dtype=self.dtype))
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = [np.zeros_like(p) for p in self.W + self.b]
        self.v = [np.zeros_like(p) for p in self.W + self.b]
        self.t = 0

    # --- forward ----------------------------------------------------------------------

    def _forward(self, x: np.ndarray) -> Tuple[List[np.ndarray], np.ndarray]:
        """Activations of the input and every hidden layer, and the output logits."""
        acts = [x]
        for W, b in zip(self.W[:-1], self.b[:-1]):
            h = x @ W
            h += b
            np.maximum(h, 0, out=h)
            acts.append(h)
            x = h
        z = x @ self.W[-1]
        z += self.b[-1]
        return acts, z

    def logits(self, X: np.ndarray) -> np.ndarray:
        return self._forward(X)[1]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class indices (the arg-max of the logits, which is that of the softmax)."""
        return self._forward(X)[1].argmax(axis=1)

    # --- training ---------------------------------------------------------------------

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One Adam step on the batch x (B, inputs), y (B,) integer classes; returns the mean loss."""
        B = x.shape[0]
        acts, z = self._forward(x)

        # softmax cross-entropy from the logits, stably: l = logsumexp(z) - z_y
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        s = p.sum(axis=1)
        rows = np.arange(B)
        loss = float(np.mean(np.log(s) - z[rows, y]))
        p /= s[:, None]
        dz = p  # d(mean loss)/dz = (softmax - onehot) / B
        dz[rows, y] -= 1
        dz *= 1.0 / B

        grads_W: List[np.ndarray] = [None] * len(self.W)  # type: ignore[list-item]
        grads_b: List[np.ndarray] = [None] * len(self.b)  # type: ignore[list-item]
        for l in range(len(self.W) - 1, -1, -1):
            a_prev = acts[l]
            grads_W[l] = a_prev.T @ dz
            grads_b[l] = dz.sum(axis=0)
            if l > 0:
                da = dz @ self.W[l].T
                da *= a_prev > 0  # relu'(z) from the activation itself
                dz = da
        self._adam(grads_W + grads_b)
        return loss

    def _adam(self, grads: List[np.ndarray]) -> None:
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        step = self.lr / (1.0 - b1 ** self.t)
        inv_sqrt_bc2 = 1.0 / np.sqrt(1.0 - b2 ** self.t)
        for p, g, m, v in zip(self.W + self.b, grads, self.m, self.v):
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            p -= step * m / (np.sqrt(v) * inv_sqrt_bc2 + self.eps)

    def fit_epoch(self, X: np.ndarray, y: np.ndarray, batch_size: int) -> float:
        """One pass over X (n, inputs), y (n,) in shuffled mini-batches; returns the mean loss."""
        n = X.shape[0]
        order = self.rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            total += self.train_step(X[idx], y[idx]) * len(idx)
        return total / n

    def fit(self, X: np.ndarray, y: np.ndarray, batch_size: int, epochs: int) -> List[float]:
        X = np.ascontiguousarray(X, dtype=self.dtype)
        y = np.asarray(y, dtype=np.intp)
        return [self.fit_epoch(X, y, batch_size) for _ in range(epochs)]
