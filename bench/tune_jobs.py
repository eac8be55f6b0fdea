"""What n_jobs buys a study: the same grid of configurations on one and on two jobs.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/tune_jobs.py [--epochs 30]

A 12-point grid (hidden width x learning rate x batch size) on the bundled digits, fixed
epochs, no early stopping and no pruning, so every run trains exactly the same work. Runs:
one job (its trials may use every core through nnfast's own threads, which on these small
batches mostly stay on one); two jobs on threads (the default executor: training releases
the GIL, each trial gets cores / 2 nnfast threads); two jobs on processes (spawned, so each
pays an interpreter start and imports). Wall time of the whole study, in memory.
"""

from __future__ import annotations

import argparse
import sys
import time

import nnfast as nf
from nnfast import tune


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=30)
    args = ap.parse_args()
    X, y = nf.data.load_digits()
    hp = nf.Hyperparameters(epochs=args.epochs, patience=None, standardize=True, seed=0)
    space = {"hidden": tune.choice([(128,), (256, 128)]), "lr": tune.choice([1e-3, 3e-3, 1e-2]),
             "batch_size": tune.choice([32, 128])}
    runs = [("1 job", 1, None), ("2 jobs, threads", 2, None), ("2 jobs, processes", 2, "processes")]
    print(f"digits, 12-point grid, {args.epochs} epochs each, pruning off")
    seconds = {}
    for name, jobs, executor in runs:
        start = time.perf_counter()
        study = tune.search(hp, space, train=(X, y), strategy="grid", n_jobs=jobs, executor=executor,
                            pruning=False, progress=False)
        seconds[name] = time.perf_counter() - start
        trained = sum(t.seconds for t in study.trials)
        print(f"  {name:<18} {seconds[name]:6.2f} s   (sum of trial times {trained:6.2f} s, "
              f"speed-up over 1 job {seconds['1 job'] / seconds[name]:.2f}x)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
