"""One MNIST-shaped training epoch through ``Sequential.fit``, for before/after comparisons.

60,000 x 784 inputs, 784-256-128-10, Adam, batch 128, float32: once as a classifier (the
accuracy metric) and once as a regression on 10 outputs (R^2: the metric's per-batch sums,
the path the centred float64 moments run on). Prints the best of ``--repeats`` epochs, in
seconds, with the thread count; the data are random (speed does not depend on them).

Compare two builds in one session, alternating, e.g.::

    for i in 1 2 3; do PYTHONPATH=/tmp/old python bench/epoch.py; python bench/epoch.py; done
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import nnfast as nf


def epoch_seconds(task: str, X: np.ndarray, y: np.ndarray, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats + 1):  # the first is a warm-up
        out = nf.Dense(10, "softmax" if task == "classification" else "identity")
        model = nf.Sequential([nf.Dense(256, "relu"), nf.Dense(128, "relu"), out], inputs=784, seed=0)
        start = time.perf_counter()
        model.fit(X, y, optimizer=nf.Adam(lr=1e-3), epochs=1, batch_size=128, verbose=False)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=60000)
    args = parser.parse_args()
    r = np.random.default_rng(0)
    X = r.random((args.rows, 784), dtype=np.float32)
    labels = r.integers(0, 10, args.rows)
    values = r.normal(size=(args.rows, 10)).astype(np.float32)
    cls = epoch_seconds("classification", X, labels, args.repeats)
    reg = epoch_seconds("regression", X, values, args.repeats)
    print(f"{nf.__file__.rsplit('/', 2)[0]}  threads {nf.get_num_threads()}  classification {cls:.3f} s  "
          f"regression {reg:.3f} s")


if __name__ == "__main__":
    main()
